"""CI failures as a source of work: logs in (a folder, one log, an info.json, GitHub Actions),
findings out (a triaged Failure and where it was seen)."""
