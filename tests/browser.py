"""Render a local, self-contained HTML file in headless Chromium and report what happened.

`render()` starts Debian's `chromium` with a fresh profile and speaks the Chrome DevTools
Protocol to it over `--remote-debugging-pipe` (Chromium reads NUL-terminated JSON messages from
fd 3 and writes its own to fd 4, so no websocket is needed). It opens the file, waits for the load
event, and returns the DOM after the page's scripts ran, every console error and uncaught
exception, the values of the caller's expressions, and a PNG screenshot. A page must be
self-contained: requests to anything but file:, data: and blob: URLs are blocked and reported as
errors (unless allow_network=True). Chromium is always killed (its whole process group) and its
profile removed; a hard timeout keeps a test from ever hanging.

`console_errors` holds one line per problem, in the order they happened:
  "Uncaught TypeError: ... (file:///...:LINE:COL)"   an uncaught exception (Runtime.exceptionThrown;
                                                     rejected promises: "Uncaught (in promise) ...")
  "console.error: boom (file:///...:LINE:COL)"       console.error / console.assert
                                                     (Runtime.consoleAPICalled)
  "network: Failed to load resource: ... (URL)"      what Chromium logs as an error (Log.entryAdded)
  "blocked: the page requests URL (...)"             a request to the network (Fetch.requestPaused)
  "the page did not finish loading within N s"

Standard library only (and pytest, for the skip marker). `read_png()` decodes the screenshot
(8-bit, non-interlaced PNGs) so a test can look at its pixels.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import struct
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Flags for a headless Chromium on a closed network, running as root in a container: no
# background connections (they would be refused), no sandbox (root), no GPU, nothing persisted.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-breakpad",
    "--disable-crash-reporter",
    "--no-zygote",
    "--disable-dev-shm-usage",
    "--disable-default-apps",
    "--hide-scrollbars",
    "--mute-audio",
    "--remote-debugging-pipe",
)

# How long Chromium may take to exit after Browser.close before it is killed.
CLOSE_SECONDS = 5.0
# How long the browser gets to reap its killed helpers.
REAP_SECONDS = 2.0

# URLs a self-contained page may load.
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")


class BrowserError(RuntimeError):
    """Chromium could not be started, died, refused a command, or ran out of time."""


def chromium() -> str | None:
    """The path of the Chromium binary ($CHROMIUM, else `chromium` on PATH), or None."""
    configured = os.environ.get("CHROMIUM")
    if configured:
        return shutil.which(configured)
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="Chromium is not installed (apt-get install chromium)"
)


@dataclass
class Rendered:
    """What a page did: its DOM after the scripts ran, its errors, and a screenshot."""

    dom: str
    console_errors: list[str]
    values: list[Any]
    screenshot: Path
    console: list[str] = field(default_factory=list)  # every console message, "type: text"
    seconds: float = 0.0  # wall time of the whole render, Chromium's start and exit included


def render(
    html: Path,
    screenshot: Path,
    *,
    width: int = 1280,
    height: int = 900,
    full_page: bool = False,
    evaluate: Iterable[str] = (),
    allow_network: bool = False,
    load_timeout: float = 20.0,
    timeout: float = 60.0,
) -> Rendered:
    """Open `html` in headless Chromium, write a PNG of it to `screenshot`, report what happened.

    The viewport is width x height CSS pixels (scale 1); full_page grows it to the page's height
    first. Each expression in `evaluate` runs in the page after it loaded (promises are awaited)
    and its JSON value lands in `values`; an expression that throws raises BrowserError. A load
    that takes longer than load_timeout is stopped and reported as an error; anything that takes
    the whole render past `timeout` seconds raises BrowserError.
    """
    html = Path(html).resolve()
    if not html.is_file():
        raise FileNotFoundError(html)
    binary = chromium()
    if binary is None:
        raise BrowserError("Chromium is not installed")
    start = time.monotonic()
    deadline = start + timeout
    work = Path(tempfile.mkdtemp(prefix="supervisor-chromium-"))
    try:
        with _Chromium(binary, work, deadline) as browser:
            page = _Page(browser, allow_network)
            rendered = page.run(
                html.as_uri(),
                screenshot,
                width=width,
                height=height,
                full_page=full_page,
                evaluate=list(evaluate),
                load_until=min(deadline, time.monotonic() + load_timeout),
                load_timeout=load_timeout,
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rendered.seconds = time.monotonic() - start
    return rendered


class _Chromium:
    """A Chromium process with a DevTools pipe; killed with its process group on exit."""

    def __init__(self, binary: str, work: Path, deadline: float) -> None:
        self.deadline = deadline
        self.stderr_path = work / "stderr.log"
        profile = work / "profile"
        profile.mkdir()
        env = dict(os.environ)
        # Nothing of Chromium's (caches, crash reports, fontconfig) lands in the real home.
        env.update(
            HOME=str(work),
            XDG_CONFIG_HOME=str(work / "config"),
            XDG_CACHE_HOME=str(work / "cache"),
        )
        to_chrome_r, self.to_chrome = os.pipe()
        self.from_chrome, from_chrome_w = os.pipe()

        def child_fds() -> None:
            # Chromium wants the pipes on fds 3 and 4. Copy both ends above 4 first (to free
            # descriptors), so neither dup2 clobbers the other when os.pipe() handed out 3 or 4.
            high_r = fcntl.fcntl(to_chrome_r, fcntl.F_DUPFD, 5)
            high_w = fcntl.fcntl(from_chrome_w, fcntl.F_DUPFD, 5)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.buffer = b""
        self.next_id = 0
        with open(self.stderr_path, "wb") as stderr:
            try:
                self.proc = subprocess.Popen(
                    [binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    env=env,
                    cwd=work,
                    pass_fds=(3, 4),
                    preexec_fn=child_fds,
                    start_new_session=True,  # its own process group, killed as a whole
                )
            except BaseException:
                os.close(self.to_chrome)
                os.close(self.from_chrome)
                raise
            finally:
                os.close(to_chrome_r)
                os.close(from_chrome_w)

    def __enter__(self) -> _Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        # Chromium's helpers (renderers, GPU, network service) are children of the browser
        # process: killed after it, they would be left to init, which in some containers never
        # reaps them. So: Browser.close first (the browser kills and reaps its helpers, even
        # those of a hung page, and exits). If it does not exit in time (or the pipe is gone),
        # kill the helpers and give the browser a moment to reap them. Then kill whatever is
        # left of the process group while its leader is not yet reaped (so the group id cannot
        # have been reused), and reap the leader.
        pid = self.proc.pid
        exited = False
        with contextlib.suppress(BrowserError, OSError):
            self.send("Browser.close")
            exited = self._wait_exit(pid, CLOSE_SECONDS)
        if not exited:
            # Again and again: the browser relaunches a helper that dies (the GPU process).
            until = time.monotonic() + REAP_SECONDS
            while time.monotonic() < until:
                helpers = {p: state for p, state in _group(pid).items() if p != pid}
                if not helpers:
                    break
                for helper, state in helpers.items():
                    if state != "Z":
                        with contextlib.suppress(OSError):
                            os.kill(helper, signal.SIGKILL)
                time.sleep(0.02)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self.proc.wait()
        for fd in (self.to_chrome, self.from_chrome):
            with contextlib.suppress(OSError):
                os.close(fd)

    @staticmethod
    def _wait_exit(pid: int, seconds: float) -> bool:
        """Whether the process exited within `seconds` (left unreaped)."""
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT):
                return True
            time.sleep(0.02)
        return False

    def stderr_tail(self) -> str:
        """The end of Chromium's log, without the noise of a machine with no D-Bus."""
        try:
            lines = self.stderr_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join([line for line in lines if "dbus" not in line.lower()][-15:])

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> int:
        self.next_id += 1
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self.to_chrome, data) :]
        except BrokenPipeError:
            raise BrowserError(f"Chromium exited\n{self.stderr_tail()}") from None
        return self.next_id

    def receive(self, until: float) -> dict[str, Any] | None:
        """The next message, or None when `until` passed; BrowserError past the deadline."""
        while b"\0" not in self.buffer:
            now = time.monotonic()
            if now >= self.deadline:
                raise BrowserError(f"Chromium did not answer in time\n{self.stderr_tail()}")
            if now >= until:
                return None
            ready, _, _ = select.select([self.from_chrome], [], [], min(until, self.deadline) - now)
            if not ready:
                continue
            chunk = os.read(self.from_chrome, 1 << 20)
            if not chunk:
                raise BrowserError(f"Chromium exited\n{self.stderr_tail()}")
            self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        result: dict[str, Any] = json.loads(message)
        return result


class _Page:
    """One tab: collects console errors while it drives the page."""

    def __init__(self, browser: _Chromium, allow_network: bool) -> None:
        self.browser = browser
        self.allow_network = allow_network
        self.session = ""
        self.loaded = False
        self.errors: list[str] = []
        self.console: list[str] = []
        self.blocked: set[str] = set()

    def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        """Send a command to the page's session and wait for its result (handling events)."""
        sent = self.browser.send(method, params, self.session)
        while True:
            message = self.browser.receive(self.browser.deadline)
            assert message is not None
            if message.get("id") == sent:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.handle(message)

    def pump(self, until: float) -> None:
        """Handle the events that arrive before `until` (or until the page loaded)."""
        while not self.loaded:
            message = self.browser.receive(until)
            if message is None:
                return
            if "method" in message:
                self.handle(message)

    def handle(self, event: dict[str, Any]) -> None:
        method = event["method"]
        params = event.get("params", {})
        if event.get("sessionId", "") != self.session:
            return
        if method == "Page.loadEventFired":
            self.loaded = True
        elif method == "Runtime.exceptionThrown":
            self.errors.append(_exception(params.get("exceptionDetails", {})))
        elif method == "Runtime.consoleAPICalled":
            kind = params.get("type", "log")
            text = " ".join(_remote(arg) for arg in params.get("args", []))
            self.console.append(f"{kind}: {text}")
            if kind in ("error", "assert"):
                self.errors.append(f"console.{kind}: {text}{_where(params.get('stackTrace'))}")
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            # A request the page may not make is reported once, as blocked.
            if entry.get("level") == "error" and entry.get("url") not in self.blocked:
                url = entry.get("url")
                self.errors.append(
                    f"{entry.get('source', 'log')}: {entry.get('text', '')}"
                    + (f" ({url})" if url else "")
                )
        elif method == "Fetch.requestPaused":
            url = params.get("request", {}).get("url", "")
            if self.allow_network or url.startswith(LOCAL_SCHEMES):
                self.browser.send(
                    "Fetch.continueRequest", {"requestId": params["requestId"]}, self.session
                )
            else:
                self.blocked.add(url)
                self.errors.append(f"blocked: the page requests {url} (it must be self-contained)")
                self.browser.send(
                    "Fetch.failRequest",
                    {"requestId": params["requestId"], "errorReason": "BlockedByClient"},
                    self.session,
                )
        elif method == "Page.javascriptDialogOpening":
            self.console.append(f"dialog {params.get('type')}: {params.get('message')}")
            self.browser.send("Page.handleJavaScriptDialog", {"accept": True}, self.session)
        elif method == "Inspector.targetCrashed":
            self.errors.append("the page crashed")
            raise BrowserError(f"the page crashed\n{self.browser.stderr_tail()}")

    def evaluate(self, expression: str) -> Any:
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression!r} threw: {_exception(result['exceptionDetails'])}")
        return result.get("result", {}).get("value")

    def run(
        self,
        url: str,
        screenshot: Path,
        *,
        width: int,
        height: int,
        full_page: bool,
        evaluate: list[str],
        load_until: float,
        load_timeout: float,
    ) -> Rendered:
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        attached = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})
        self.session = attached["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Inspector"):
            self.call(f"{domain}.enable")
        self.call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})
        metrics = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        self.call("Emulation.setDeviceMetricsOverride", metrics)
        navigated = self.call("Page.navigate", {"url": url})
        if navigated.get("errorText"):
            raise BrowserError(f"could not open {url}: {navigated['errorText']}")
        self.pump(load_until)
        if not self.loaded:
            self.errors.append(f"the page did not finish loading within {load_timeout:g} s")
            self.call("Page.stopLoading")
        # Two animation frames: whatever the load handlers scheduled has been laid out.
        self.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        values = [self.evaluate(expression) for expression in evaluate]
        dom = self.evaluate("document.documentElement.outerHTML")
        if full_page:
            page_height = self.evaluate(
                "Math.ceil(Math.max(document.documentElement.scrollHeight,"
                " document.body ? document.body.scrollHeight : 0))"
            )
            metrics["height"] = max(height, int(page_height or 0))
            self.call("Emulation.setDeviceMetricsOverride", metrics)
        shot = self.call("Page.captureScreenshot", {"format": "png"})
        screenshot = Path(screenshot)
        screenshot.parent.mkdir(parents=True, exist_ok=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        # Errors logged while the screenshot was taken (late timers, failed late loads).
        self.evaluate("0")
        return Rendered(
            dom=dom,
            console_errors=list(self.errors),
            values=values,
            screenshot=screenshot,
            console=list(self.console),
        )


def _remote(obj: dict[str, Any]) -> str:
    """A console argument (a CDP RemoteObject) as text."""
    if "value" in obj:
        value = obj["value"]
        return value if isinstance(value, str) else json.dumps(value)
    if "unserializableValue" in obj:
        return str(obj["unserializableValue"])
    return str(obj.get("description", obj.get("type", "?")))


def _where(stack: dict[str, Any] | None) -> str:
    frames = (stack or {}).get("callFrames") or []
    if not frames:
        return ""
    top = frames[0]
    return (
        f" ({top.get('url', '')}:{top.get('lineNumber', 0) + 1}:{top.get('columnNumber', 0) + 1})"
    )


def _exception(details: dict[str, Any]) -> str:
    """An uncaught exception (CDP ExceptionDetails) as one line with its location."""
    # "Uncaught TypeError: ...", "Uncaught (in promise) Error: ...", as Chrome's console has it.
    kind = str(details.get("text", "Uncaught"))
    exception = details.get("exception")
    text = f"{kind} {_remote(exception).splitlines()[0]}" if exception else kind
    url = details.get("url", "")
    line = details.get("lineNumber", 0) + 1
    column = details.get("columnNumber", 0) + 1
    return text + (f" ({url}:{line}:{column})" if url else "")


def _group(pgid: int) -> dict[int, str]:
    """The processes of a process group and their states ("Z": not yet reaped), from /proc."""
    pids = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            # The fields after the command (which may hold spaces): state, ppid, pgrp, ...
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                pids[int(stat.parent.name)] = fields[0]
    return pids


def read_png(path: Path) -> tuple[int, int, int, list[bytes]]:
    """An 8-bit, non-interlaced PNG as (width, height, bytes per pixel, unfiltered rows)."""
    data = Path(path).read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path} is not a PNG")
    pos, idat, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if (
            zlib.crc32(kind + body)
            != struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        ):
            raise ValueError(f"{path}: bad CRC in a {kind!r} chunk")
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    channels = {0: 1, 2: 3, 4: 2, 6: 4}.get(colour)
    if depth != 8 or channels is None or interlace:
        raise ValueError(f"{path}: unsupported PNG (depth {depth}, colour {colour})")
    raw = zlib.decompress(b"".join(idat))
    stride = width * channels
    rows: list[bytes] = []
    prior = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        _unfilter(kind, line, prior, channels)
        prior = bytes(line)
        rows.append(prior)
    return width, height, channels, rows


def _unfilter(kind: int, line: bytearray, prior: bytes, bpp: int) -> None:
    n = len(line)
    if kind == 0:
        return
    if kind == 1:  # Sub
        for i in range(bpp, n):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:  # Up
        for i in range(n):
            line[i] = (line[i] + prior[i]) & 0xFF
    elif kind == 3:  # Average
        for i in range(n):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + ((left + prior[i]) >> 1)) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(n):
            a = line[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            if pa <= pb and pa <= pc:
                predictor = a
            elif pb <= pc:
                predictor = b
            else:
                predictor = c
            line[i] = (line[i] + predictor) & 0xFF
    else:
        raise ValueError(f"unknown PNG filter {kind}")
