"""`supervisor start`: the loop of chains under the home's lock, until STOP, idle, or a limit."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import FrameType

from filelock import FileLock, Timeout

from supervisor import app, store
from supervisor.agents import RunControl
from supervisor.chain import Chain, ChainReport
from supervisor.config import Config
from supervisor.errors import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USER,
    AlreadyRunning,
    ChainHalted,
    StopRequested,
    UsageLimited,
    UserError,
)
from supervisor.home import Home
from supervisor.hooks import HookRunner
from supervisor.items import now_utc
from supervisor.morning import end_of_night
from supervisor.notify import Notifier
from supervisor.process import ProcessState
from supervisor.stopwatch import StopWatcher
from supervisor.workspace import Workspace

log = logging.getLogger("supervisor.runner")
HEARTBEAT_S = 30.0
USAGE_LIMIT_MIN_WAIT_S = 60.0  # a reset time already past must not make the chain spin


@dataclass(frozen=True)
class StartOptions:
    once: bool = False
    until_idle: bool = False
    max_items: int | None = None


def refuse_if_stopped(home: Home) -> None:
    if home.stop_file.exists():
        raise UserError(
            f"{home.stop_file} exists, so the supervisor was asked to stop. Remove it "
            f"to start again: rm {home.stop_file}"
        )


@contextmanager
def home_lock(home: Home) -> Iterator[None]:
    home.state.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(home.lock_file))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        running = ProcessState(home).read() or {}
        raise AlreadyRunning(
            f"already running (pid {running.get('pid', '?')}) on {home.root}; "
            "`supervisor status` shows what it does, `supervisor stop` stops it"
        ) from None
    try:
        yield
    finally:
        lock.release()


def start(home: Home, cfg: Config, opts: StartOptions, echo: Callable[[str], None]) -> int:
    refuse_if_stopped(home)
    with home_lock(home):
        home.ensure_dirs()
        proc = ProcessState(home)
        if proc.reap_orphans():
            echo("killed an agent process left behind by a supervisor that was killed")
        store.remove_stale_temp_files(home.state)
        Workspace(home, cfg).remove_stale_locks()
        watcher = StopWatcher(home.stop_file)
        control = RunControl(
            stop_event=watcher.event, grace_s=cfg.agents.grace, on_start=proc.child_started
        )
        deps = app.build_deps(
            home,
            cfg,
            control,
            on_wait=lambda reason, until: proc.update(
                waiting={"reason": reason, "until": until} if reason else None
            ),
        )
        deps.set_phase = lambda phase, item: proc.update(phase=phase, item=item, child=None)
        deps.set_next = lambda chain_at, scan_at: proc.update(
            next_chain_at=chain_at, next_scan_at=scan_at
        )
        proc.begin({"once": opts.once, "until_idle": opts.until_idle, "max_items": opts.max_items})
        started = now_utc()
        notifier = Notifier(cfg.notify)
        if notifier.channels():
            deps.notify = notifier.send
        deps.hooks = HookRunner(
            home, cfg.hooks, deps.items.events, deps.notify, stop_event=watcher.event
        )
        watcher.start()
        previous = _install_signal_handlers(watcher)
        stop_beating = threading.Event()
        heart = proc.keep_beating(HEARTBEAT_S, stop_beating)
        reason = "finished"
        try:
            code, reason = _loop(Chain(deps), cfg, opts, watcher, echo)
            return code
        finally:
            _restore_signal_handlers(previous)
            watcher.close()
            stop_beating.set()
            heart.join(timeout=5)
            deps.hooks.run("on_stop", {"SUPERVISOR_STOP_REASON": reason})
            if reason.startswith("stopped"):  # STOP or a signal: what hooks started ends too
                deps.hooks.stop_tracked()  # (after --once or idle it runs on, tracked)
            proc.end(reason)
            log.info("supervisor exited: %s", reason)
            end_of_night(home, cfg, started, reason)


def _loop(
    chain: Chain, cfg: Config, opts: StartOptions, watcher: StopWatcher, echo: Callable[[str], None]
) -> tuple[int, str]:
    remaining = opts.max_items
    while True:
        try:
            report = chain.run(max_items=remaining)
        except StopRequested:
            return _stopped(watcher, echo)
        except ChainHalted as e:
            echo(f"stopping: {e}")
            return EXIT_USER, str(e)
        except UsageLimited as e:
            wait = max(USAGE_LIMIT_MIN_WAIT_S, e.until - time.time())
            until = time.strftime("%Y-%m-%d %H:%M", time.localtime(time.time() + wait))
            echo(f"{e}; waiting until {until} (no attempt is spent)")
            chain.d.set_phase("waiting", None)
            if watcher.wait(wait):
                return _stopped(watcher, echo)
            continue
        if watcher.check():
            return _stopped(watcher, echo)
        if not report.idle:
            echo(report.summary())
        if remaining is not None:
            remaining -= report.worked
            if remaining <= 0:
                echo(f"stopping: --max-items {opts.max_items} reached")
                return EXIT_OK, "max items reached"
        if opts.once:
            return EXIT_OK, "one chain done (--once)"
        if opts.until_idle and report.idle:
            echo("nothing left to do (--until-idle)")
            return EXIT_OK, "idle"
        if not report.idle:
            continue  # more may be possible right away (e.g. items waiting on the next step)
        chain.d.set_phase("waiting", None)
        chain.d.set_next(time.time() + cfg.schedule.every, chain.ci_scan_due())
        if watcher.wait(cfg.schedule.every):
            return _stopped(watcher, echo)


def _stopped(watcher: StopWatcher, echo: Callable[[str], None]) -> tuple[int, str]:
    reason = watcher.reason or "state/STOP"
    echo(f"stopped ({reason}); items are left where they were and resume on the next start")
    return (EXIT_INTERRUPTED if reason.startswith("signal") else EXIT_OK), f"stopped: {reason}"


def _install_signal_handlers(watcher: StopWatcher) -> dict[int, object]:
    def handler(signum: int, frame: FrameType | None) -> None:
        watcher.request(f"signal {signal.Signals(signum).name}")

    previous: dict[int, object] = {}
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread (e.g. in-process tests)
            previous[sig] = signal.signal(sig, handler)
    return previous


def _restore_signal_handlers(previous: dict[int, object]) -> None:
    for sig, old in previous.items():
        signal.signal(sig, old)  # type: ignore[arg-type]


def start_background(home: Home, args: list[str], echo: Callable[[str], None]) -> int:
    """Start `supervisor start ARGS` detached from the terminal; return once it holds the lock."""
    refuse_if_stopped(home)
    running = ProcessState(home).running()
    if running:
        raise AlreadyRunning(f"already running (pid {running.pid}) on {home.root}")
    home.logs.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SUPERVISOR_BACKGROUND": "1"}
    with open(home.log_file, "ab") as out:
        child = subprocess.Popen(
            [sys.executable, "-m", "supervisor", "--home", str(home.root), "start", *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            start_new_session=True,
            env=env,
            cwd=str(home.root),
        )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        code = child.poll()
        if code is not None:
            raise UserError(f"the supervisor exited at once (code {code}); see {home.log_file}")
        running = ProcessState(home).running()
        if running and running.pid == child.pid:
            echo(f"supervisor started in the background (pid {child.pid}); log: {home.log_file}")
            echo("stop it with `supervisor stop` (or touch state/STOP)")
            return EXIT_OK
        time.sleep(0.1)
    raise UserError(
        f"the supervisor (pid {child.pid}) did not report as started within 30s; "
        f"see {home.log_file}"
    )


def scan_only(home: Home, cfg: Config, echo: Callable[[str], None]) -> int:
    """`supervisor scan`: discovery and triage (forge issues opened or updated), no agent runs."""
    refuse_if_stopped(home)
    with home_lock(home):
        home.ensure_dirs()
        store.remove_stale_temp_files(home.state)
        deps = app.build_deps(home, cfg, RunControl(), agents=False)
        chain = Chain(deps)
        chain.force_ci_scan = True  # asked for by name: the schedule does not apply
        deps.workspace.ensure_mirror(fetch=True)
        report = ChainReport(new_items=chain.scan())
        chain.triage_new(deps.items.all(), report)
        echo(f"scan done: {report.new_items} new items, {len(report.blocked)} blocked")
        return EXIT_OK
