"""state/cursors.json: watermarks kept across runs (the last scan, GitHub ETags)."""

from __future__ import annotations

import logging
import threading
from typing import Any

from supervisor import store
from supervisor.errors import StateCorrupt
from supervisor.home import Home

log = logging.getLogger("supervisor.cursors")
_lock = threading.Lock()


def read(home: Home) -> dict[str, Any]:
    try:
        doc = store.read_json(home.cursors_file, "cursors") or {}
    except StateCorrupt as e:
        log.error("%s", e)
        doc = {}
    doc.pop("schema_version", None)
    return doc


def update(home: Home, key: str, value: Any) -> None:
    with _lock:
        doc = read(home)
        doc[key] = value
        store.write_json(home.cursors_file, doc)


class CursorEtags:
    """The GitHub client's ETags, by request, in state/cursors.json under "etags"."""

    def __init__(self, home: Home) -> None:
        self.home = home
        self._cache: dict[str, str] = dict(read(home).get("etags", {}))

    def get(self, key: str) -> str | None:
        return self._cache.get(key)

    def set(self, key: str, etag: str) -> None:
        if self._cache.get(key) != etag:
            self._cache[key] = etag
            update(self.home, "etags", dict(self._cache))
