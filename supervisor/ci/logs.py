"""Where CI logs come from on disk: a folder of log files, one log, or an info.json.

info.json (the CI-fix workflow of the design) is validated: ``{"raw-logs": "PATH" | "url": "...",
"prompt": "...", "deterministic": bool, "existing-test-path": "..."}``; a ``url`` needs the
GitHub Actions source (forge: github), so here it is an error that says so.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from supervisor.errors import UserError

LOG_SUFFIXES = (".log", ".txt", ".xml", ".json", ".out")


@dataclass(frozen=True)
class LogRef:
    """One log to triage, and what is known about the run that produced it."""

    path: Path
    key: str  # unique per log: a log already triaged is not triaged again
    run: str | None = None
    job: str | None = None
    attempt: int | None = None
    sha: str | None = None
    url: str | None = None
    time: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def occurrence(self) -> dict[str, Any]:
        occ = {"log": str(self.path), "key": self.key}
        for name in ("run", "job", "attempt", "sha", "url", "time"):
            value = getattr(self, name)
            if value is not None:
                occ[name] = value
        return occ


def file_ref(path: Path) -> LogRef:
    st = path.stat()
    return LogRef(
        path=path, key=f"file:{path.resolve()}:{st.st_size}:{int(st.st_mtime)}", run=path.stem
    )


def folder_logs(folder: Path) -> list[LogRef]:
    """Every log file under folder (info.json files are read as such); folder may also be one
    log file or one info.json."""
    if folder.is_file():
        return [info_json(folder) if folder.suffix == ".json" else file_ref(folder)]
    if not folder.is_dir():
        raise UserError(f"sources.ci.logs_dir: {folder} is not a folder of CI logs")
    refs = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.name == "info.json":
            refs.append(info_json(path))
        elif path.suffix in LOG_SUFFIXES and not path.name.endswith(".meta.json"):
            refs.append(file_ref(path))
    return refs


def info_json(path: Path) -> LogRef:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: not a readable JSON file ({e})") from e
    if not isinstance(doc, dict):
        raise UserError(f"{path}: expected a JSON object with raw-logs or url")
    allowed = {"prompt", "url", "raw-logs", "deterministic", "existing-test-path"}
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise UserError(
            f"{path}: unknown key(s) {', '.join(unknown)}; allowed: " + ", ".join(sorted(allowed))
        )
    for key in ("prompt", "url", "raw-logs", "existing-test-path"):
        if key in doc and not isinstance(doc[key], str):
            raise UserError(f"{path}: '{key}' must be a string")
    if "deterministic" in doc and not isinstance(doc["deterministic"], bool):
        raise UserError(f"{path}: 'deterministic' must be true or false")
    if "raw-logs" in doc:
        raw = Path(doc["raw-logs"])
        raw = raw if raw.is_absolute() else path.parent / raw
        if not raw.is_file():
            raise UserError(f"{path}: raw-logs {raw} does not exist")
        ref = file_ref(raw)
        extra = {k: doc[k] for k in ("prompt", "deterministic", "existing-test-path") if k in doc}
        return LogRef(path=ref.path, key=ref.key, run=ref.run, url=doc.get("url"), extra=extra)
    if "url" in doc:
        raise UserError(
            f"{path}: a 'url' is fetched through GitHub Actions (sources.ci.workflow "
            "with forge: github); for a local run give 'raw-logs': the log's path"
        )
    raise UserError(f"{path}: needs 'raw-logs' (a log file) or 'url'")
