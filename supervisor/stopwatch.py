"""Notice state/STOP within a second: a watchdog observer on state/, and a cheap fallback check."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer


class _QuietShutdown(logging.Filter):
    """watchdog logs an error when its inotify thread is stopped mid-read: benign, so dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "called when the thread is inactive" not in record.getMessage()


logging.getLogger("watchdog.observers.inotify").addFilter(_QuietShutdown())


class _Handler(FileSystemEventHandler):
    def __init__(self, stop_file: Path, event: threading.Event) -> None:
        self.stop_file = str(stop_file)
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        paths = {str(event.src_path), str(getattr(event, "dest_path", "") or "")}
        if self.stop_file in paths and Path(self.stop_file).exists():
            self.event.set()


class StopWatcher:
    """Sets `event` when the STOP file appears (or when `request()` is called, e.g. on SIGTERM)."""

    def __init__(self, stop_file: Path) -> None:
        self.stop_file = stop_file
        self.event = threading.Event()
        self.reason = ""
        self._observer: Any = None

    def start(self) -> None:
        self.stop_file.parent.mkdir(parents=True, exist_ok=True)
        self._observer = Observer(timeout=1)
        self._observer.schedule(
            _Handler(self.stop_file, self.event), str(self.stop_file.parent), recursive=False
        )
        self._observer.daemon = True
        self._observer.start()
        self.check()

    def check(self) -> bool:
        if not self.event.is_set() and self.stop_file.exists():
            self.event.set()
        if self.event.is_set() and not self.reason:
            self.reason = "state/STOP"
        return self.event.is_set()

    def request(self, reason: str) -> None:
        self.reason = reason
        self.event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to seconds; True as soon as a stop is requested."""
        remaining = seconds
        while remaining > 0:
            step = min(remaining, 5.0)  # the fallback check, in case an event was missed
            if self.event.wait(step) or self.check():
                return self.check()
            remaining -= step
        return self.check()

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
