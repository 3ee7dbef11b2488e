"""GitHub: the REST client and the GitHub forge."""
