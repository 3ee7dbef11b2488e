"""`supervisor logs`: the supervisor's log, or one item's agent output, optionally followed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from supervisor.errors import UserError
from supervisor.home import Home
from supervisor.items import store_of


def log_path(home: Home, item_id: str | None) -> Path:
    if item_id is None:
        return home.log_file
    item = store_of(home.items_dir, home.events_file).get(item_id)
    if item is None:
        raise UserError(f"no item {item_id!r}: `supervisor items` lists them")
    att = item.current_attempt()
    if att is None or item.issue is None:
        raise UserError(f"item {item_id} has not been dispatched yet: no agent output")
    return home.attempt_dir(item.issue, att["n"]) / "agent.jsonl"


def show(
    path: Path,
    lines: int,
    follow: bool,
    echo: Callable[[str], None],
    should_stop: Callable[[], bool] = lambda: False,
) -> None:
    if not path.exists() and not follow:
        raise UserError(f"{path} does not exist yet")
    pos = 0
    if path.exists():
        data = path.read_bytes()
        text = data.decode("utf-8", errors="replace")
        for line in text.splitlines()[-lines:] if lines else []:
            echo(line)
        pos = len(data)
    while follow and not should_stop():
        time.sleep(0.5)
        if not path.exists():
            continue
        size = path.stat().st_size
        if size < pos:  # rotated or truncated
            pos = 0
        if size > pos:
            with open(path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
            pos += len(chunk)
            for line in chunk.decode("utf-8", errors="replace").splitlines():
                echo(line)
