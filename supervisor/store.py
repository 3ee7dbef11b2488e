"""Versioned JSON state files, written atomically, never silently replaced.

Every file carries ``schema_version``. A write goes to a temporary file in the same folder, is
flushed and fsynced, then ``os.replace``d into place, so a kill -9 leaves either the old or the
new file, never a torn one. A file that does not parse is moved aside as ``NAME.corrupt-<time>``
and reported; one written by a newer version is refused, not rewritten.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from supervisor.errors import StateCorrupt, UserError

log = logging.getLogger("supervisor.store")

SCHEMA_VERSION = 1
JsonDict = dict[str, Any]
# kind -> {version: function taking a document of that version and returning version + 1}
Migrations = dict[int, Callable[[JsonDict], JsonDict]]
MIGRATIONS: dict[str, Migrations] = {}


def dumps(data: JsonDict) -> str:
    return json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write_json(path: Path, data: JsonDict) -> None:
    """Atomically write data (with schema_version) to path."""
    doc = {"schema_version": SCHEMA_VERSION, **data}
    write_text_atomic(path, dumps(doc))


def write_text_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_json(path: Path, kind: str = "") -> JsonDict | None:
    """Read a state file; None when it does not exist.

    Raises StateCorrupt (after moving the file aside) when it does not parse or is not an object,
    and UserError when it was written by a newer schema than this version knows.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return parse_json(path, raw, kind)


def parse_json(path: Path | str, raw: bytes, kind: str = "") -> JsonDict:
    """read_json's checks on bytes already read (see there)."""
    try:
        doc = json.loads(raw.decode("utf-8"))
        if not isinstance(doc, dict):
            raise ValueError(f"expected a JSON object, found {type(doc).__name__}")
        version = doc.get("schema_version")
        if not isinstance(version, int) or version < 1:
            raise ValueError("missing or invalid schema_version")
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        aside = quarantine(Path(path))
        raise StateCorrupt(
            f"state file {path} could not be read ({e}); it was moved aside to {aside.name}. "
            "Inspect it, then restore a repaired copy or leave it: "
            "the supervisor goes on without it."
        ) from e
    if version > SCHEMA_VERSION:
        raise UserError(
            f"{path} has schema_version {version}, newer than this supervisor understands "
            f"({SCHEMA_VERSION}): upgrade supervisor (pip install -U supervisor)"
        )
    return migrate(doc, kind)


def migrate(doc: JsonDict, kind: str) -> JsonDict:
    steps = MIGRATIONS.get(kind, {})
    while doc["schema_version"] < SCHEMA_VERSION:
        version = doc["schema_version"]
        if version not in steps:
            raise UserError(
                f"no migration for a {kind or 'state'} file from schema_version {version}"
            )
        doc = steps[version](doc)
        doc["schema_version"] = version + 1
    return doc


def quarantine(path: Path) -> Path:
    """Move a bad file aside (never delete it) and return where it went."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.corrupt-{stamp}")
    n = 1
    while aside.exists():
        n += 1
        aside = path.with_name(f"{path.name}.corrupt-{stamp}-{n}")
    os.replace(path, aside)
    log.error("moved unreadable state file %s aside to %s", path, aside.name)
    return aside


def corrupt_files(root: Path) -> list[Path]:
    """Every file that was moved aside under root, for status and doctor."""
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*.corrupt-*") if p.is_file())


def remove_stale_temp_files(root: Path) -> int:
    """Delete temporary files left by a write that a kill -9 interrupted."""
    count = 0
    if root.exists():
        for p in root.rglob(".*.tmp"):
            with contextlib.suppress(FileNotFoundError):
                p.unlink()
                count += 1
    return count
