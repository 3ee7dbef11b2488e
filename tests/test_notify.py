"""Notifications: real HTTP to a local receiver, a fake notify-send on PATH; no secret written."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest

from supervisor.config import Notify
from supervisor.notify import DISCORD_LIMIT, MAX_RETRY_AFTER_S, Notifier, fit, retry_after

SLACK_PATH = "/services/T0SLACK/B0SLACK/slack-secret-7f3a9c"
DISCORD_PATH = "/api/webhooks/123456/discord-secret-b41e2d"
SLACK = Notify(slack_webhook_env="TEST_SLACK_WEBHOOK")
DISCORD = Notify(discord_webhook_env="TEST_DISCORD_WEBHOOK")
BOTH = Notify(slack_webhook_env="TEST_SLACK_WEBHOOK", discord_webhook_env="TEST_DISCORD_WEBHOOK")
FAST = {"retry_delay": 0.05}
DROP = 0  # a "status" that closes the connection without an answer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> object:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1: answers from a script of (status, headers, body),
    then with the default; records every request."""

    port: int
    script: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    default: tuple[int, dict[str, str], bytes] = (200, {}, b"ok")
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def answer(self, *answers: int | tuple[int, dict[str, str], bytes]) -> None:
        self.script.extend(a if isinstance(a, tuple) else (a, {}, b"") for a in answers)

    def next_answer(self) -> tuple[int, dict[str, str], bytes]:
        with self.lock:
            return self.script.pop(0) if self.script else self.default


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Loopback only: a proxy in the environment must not see the test requests."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    box: list[Receiver] = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            rec = box[0]
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with rec.lock:
                rec.received.append(
                    Received(self.path, dict(self.headers.items()), body, time.monotonic())
                )
            status, headers, payload = rec.next_answer()
            if status == DROP:
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            if status != 204:
                self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if status != 204:
                self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:
            pass  # the default writes the path (the secret) to stderr

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.append(Receiver(server.server_address[1]))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield box[0]
    server.shutdown()
    server.server_close()
    thread.join(5)


def env_for(receiver: Receiver) -> dict[str, str]:
    return {
        "TEST_SLACK_WEBHOOK": receiver.url(SLACK_PATH),
        "TEST_DISCORD_WEBHOOK": receiver.url(DISCORD_PATH),
    }


def closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def assert_secret_free(text: str, *urls: str) -> None:
    for secret in (SLACK_PATH, DISCORD_PATH, "slack-secret", "discord-secret", *urls):
        assert secret not in text


def notify_logs(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "supervisor.notify" and r.levelno == level
    ]


# -- Slack and Discord ---------------------------------------------------------------------------


def test_slack_payload_is_received_exactly(receiver: Receiver) -> None:
    n = Notifier(SLACK, env_for(receiver))
    assert n.channels() == ["slack"]
    link = "https://github.com/o/r/pull/7?a=1&b=2"
    assert n.send("Item 7: merged", "fix a < b & c > d", link) == []
    [req] = receiver.received
    assert req.path == SLACK_PATH
    assert req.headers["Content-Type"] == "application/json"
    # Slack's incoming-webhook format; &, < and > escaped as Slack documents.
    assert req.json() == {
        "text": "Item 7: merged\nfix a &lt; b &amp; c &gt; d\nhttps://github.com/o/r/pull/7?a=1&amp;b=2"
    }


def test_discord_payload_is_received_exactly(receiver: Receiver) -> None:
    receiver.default = (204, {}, b"")
    n = Notifier(DISCORD, env_for(receiver))
    assert n.channels() == ["discord"]
    assert n.send("Night report", "3 merged, 1 failed @everyone", "/home/me/report.md") == []
    [req] = receiver.received
    assert req.path == DISCORD_PATH
    assert req.headers["Content-Type"] == "application/json"
    assert req.json() == {
        "content": "Night report\n3 merged, 1 failed @everyone\n/home/me/report.md",
        "allowed_mentions": {"parse": []},  # plain text: pings nobody
    }


def test_both_webhooks_and_no_link(receiver: Receiver) -> None:
    n = Notifier(BOTH, env_for(receiver))
    assert n.channels() == ["slack", "discord"]
    assert n.send("  Stopped  ", "  budget spent\n") == []
    by_path = {r.path: r.json() for r in receiver.received}
    assert by_path[SLACK_PATH] == {"text": "Stopped\nbudget spent"}
    assert by_path[DISCORD_PATH] == {
        "content": "Stopped\nbudget spent",
        "allowed_mentions": {"parse": []},
    }


def test_discord_text_is_truncated_at_2000_keeping_the_link(receiver: Receiver) -> None:
    n = Notifier(DISCORD, env_for(receiver))
    link = "https://github.com/o/r/pull/123"
    assert n.send("Title", "x" * 5000, link) == []
    content = receiver.received[0].json()["content"]  # type: ignore[index]
    assert len(content) == DISCORD_LIMIT
    assert content.startswith("Title\nxxx")
    assert content.endswith("x…\n" + link)

    # Words: cut at a word boundary.
    assert n.send("Title", "word " * 1000, link) == []
    content = receiver.received[1].json()["content"]  # type: ignore[index]
    assert DISCORD_LIMIT - 10 <= len(content) <= DISCORD_LIMIT
    assert content.endswith("word…\n" + link)


def test_fit_counts_like_discord_and_never_splits_a_character() -> None:
    assert fit("short", 2000, "L") == "short\nL"
    assert fit("", 2000, "L") == "L"
    emoji = fit("😀" * 1500, 2000)  # 2 UTF-16 code units each
    assert len(emoji.encode("utf-16-le")) // 2 <= 2000
    assert emoji.endswith("😀…")
    huge_link = "https://x/" + "a" * 3000
    assert len(fit("msg", 2000, huge_link)) == 2000


def test_a_500_then_200_is_retried_once_and_delivered(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="supervisor")
    receiver.answer(500)
    n = Notifier(SLACK, env_for(receiver), **FAST)
    assert n.send("t", "x") == []
    assert [r.path for r in receiver.received] == [SLACK_PATH, SLACK_PATH]
    assert receiver.received[0].body == receiver.received[1].body
    assert notify_logs(caplog, logging.WARNING) == []
    assert any("slack" in m and "500" in m for m in notify_logs(caplog, logging.INFO))
    assert_secret_free(caplog.text)


def test_always_500_fails_after_one_retry_and_the_url_is_never_logged(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="supervisor")
    url = receiver.url(SLACK_PATH)
    # A server that echoes the URL in its error page: still not logged.
    receiver.default = (500, {}, f"boom at {url} ({SLACK_PATH})".encode())
    n = Notifier(SLACK, env_for(receiver), **FAST)
    failures = n.send("t", "x")
    assert len(receiver.received) == 2  # one retry, no more
    assert len(failures) == 1
    assert failures[0].startswith("slack: HTTP 500")
    [warning] = notify_logs(caplog, logging.WARNING)
    assert "slack" in warning and "HTTP 500" in warning
    assert_secret_free(caplog.text + "".join(failures), url)


def test_a_4xx_is_not_retried(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    receiver.default = (404, {}, b"no_service")
    n = Notifier(SLACK, env_for(receiver), **FAST)
    assert n.send("t", "x") == ["slack: HTTP 404: no_service"]
    assert len(receiver.received) == 1


def test_429_waits_for_retry_after(receiver: Receiver) -> None:
    receiver.answer((429, {"Retry-After": "1"}, b'{"retry_after": 1.0}'), (204, {}, b""))
    n = Notifier(DISCORD, env_for(receiver), **FAST)
    assert n.send("t", "x") == []
    first, second = receiver.received
    assert second.at - first.at >= 0.95
    assert first.body == second.body


def test_retry_after_is_capped_and_read_in_both_forms() -> None:
    assert retry_after("1", 0.5) == 1.0
    assert retry_after("0.25", 0.5) == 0.25
    assert retry_after("3600", 0.5) == MAX_RETRY_AFTER_S
    assert retry_after(None, 0.5) == 0.5
    assert retry_after("soon", 0.5) == 0.5
    assert retry_after("-3", 0.5) == 0.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0.5) == 0.0  # in the past
    assert retry_after("Fri, 01 Jan 2100 00:00:00 GMT", 0.5) == MAX_RETRY_AFTER_S


def test_a_dropped_connection_is_retried(receiver: Receiver) -> None:
    receiver.answer(DROP)
    n = Notifier(SLACK, env_for(receiver), **FAST)
    assert n.send("t", "x") == []
    assert len(receiver.received) == 2


def test_an_unreachable_url_fails_fast_and_is_reported(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="supervisor")
    url = f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"
    n = Notifier(SLACK, {"TEST_SLACK_WEBHOOK": url}, **FAST)
    assert n.channels() == ["slack"]
    start = time.monotonic()
    failures = n.send("t", "x")
    assert time.monotonic() - start < 3
    assert len(failures) == 1
    assert failures[0].startswith("slack: connection error")
    assert "refused" in failures[0].lower()
    [warning] = notify_logs(caplog, logging.WARNING)
    assert "slack" in warning and "connection error" in warning
    assert_secret_free(caplog.text + "".join(failures), url)


@pytest.mark.parametrize("env", [{}, {"TEST_SLACK_WEBHOOK": ""}, {"TEST_SLACK_WEBHOOK": "  "}])
def test_an_unset_webhook_variable_is_skipped_with_one_warning(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    n = Notifier(SLACK, env)
    assert n.channels() == []
    assert n.send("t", "x") == []
    assert n.send("t", "x") == []
    [warning] = notify_logs(caplog, logging.WARNING)
    assert "slack" in warning and "TEST_SLACK_WEBHOOK" in warning


def test_a_webhook_that_is_not_a_url_is_skipped_without_showing_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    n = Notifier(SLACK, {"TEST_SLACK_WEBHOOK": "T0SLACK/slack-secret-7f3a9c"})
    assert n.channels() == []
    assert n.send("t", "x") == []
    [warning] = notify_logs(caplog, logging.WARNING)
    assert "TEST_SLACK_WEBHOOK" in warning
    assert_secret_free(caplog.text)


def test_the_webhook_variable_is_read_at_construction(receiver: Receiver) -> None:
    env = env_for(receiver)
    n = Notifier(SLACK, env)
    env["TEST_SLACK_WEBHOOK"] = ""
    assert n.send("t", "x") == []
    assert len(receiver.received) == 1


def test_the_environment_is_the_default(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_SLACK_WEBHOOK", receiver.url(SLACK_PATH))
    assert Notifier(SLACK).send("t", "x") == []
    assert len(receiver.received) == 1


# -- desktop -------------------------------------------------------------------------------------


def fake_notify_send(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    script = bin_dir / "notify-send"
    script.write_text("#!/bin/sh\n" + body)
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    return script


def test_desktop_runs_notify_send_with_title_and_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    argv_file = tmp_path / "argv"
    fake_notify_send(tmp_path, monkeypatch, f"printf '%s\\0' \"$@\" > '{argv_file}'\n")
    n = Notifier(Notify(desktop=True), {})
    assert n.channels() == ["desktop"]
    assert n.send("Item 7: merged", "-rf fix the parser", "https://github.com/o/r/pull/7") == []
    args = argv_file.read_text().split("\0")[:-1]
    assert args[-2:] == ["Item 7: merged", "-rf fix the parser\nhttps://github.com/o/r/pull/7"]
    assert "--" in args  # a text that starts with "-" is not an option


def test_desktop_failure_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_notify_send(tmp_path, monkeypatch, "echo 'no D-Bus session' >&2\nexit 1\n")
    failures = Notifier(Notify(desktop=True), {}).send("t", "x")
    assert failures == ["desktop: notify-send exited with code 1: no D-Bus session"]


def test_a_hanging_notify_send_is_killed_at_the_timeout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    pid_file = tmp_path / "pid"
    fake_notify_send(tmp_path, monkeypatch, f"echo $$ > '{pid_file}'\nexec sleep 60\n")
    n = Notifier(Notify(desktop=True), {}, timeout=0.5)
    start = time.monotonic()
    failures = n.send("t", "x")
    assert time.monotonic() - start < 5
    assert len(failures) == 1
    assert failures[0].startswith("desktop: notify-send timed out")
    [warning] = notify_logs(caplog, logging.WARNING)
    assert "desktop" in warning and "timed out" in warning
    pid = int(pid_file.read_text())
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_desktop_without_notify_send_is_skipped_with_one_info(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="supervisor")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    n = Notifier(Notify(desktop=True), {})
    assert n.channels() == []
    assert n.send("t", "x") == []
    assert n.send("t", "x") == []
    [info] = notify_logs(caplog, logging.INFO)
    assert "notify-send" in info
    assert notify_logs(caplog, logging.WARNING) == []


# -- nothing configured; nothing written ---------------------------------------------------------


def test_nothing_configured_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="supervisor")
    argv_file = tmp_path / "argv"
    fake_notify_send(tmp_path, monkeypatch, f"echo called > '{argv_file}'\n")
    n = Notifier(Notify(), {"TEST_SLACK_WEBHOOK": "http://127.0.0.1:1/x"})
    assert n.channels() == []
    assert n.send("t", "x", "link") == []
    assert not argv_file.exists()
    assert caplog.records == []


def test_no_file_holds_a_webhook_url_after_the_runs(
    receiver: Receiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every channel, successes, retries and failures, logged at DEBUG into a file under
    tmp_path: no file there (nor in the test's HOME) holds a URL or its secret path."""
    log_file = tmp_path / "supervisor.log"
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    logger = logging.getLogger("supervisor")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        argv_file = tmp_path / "argv"
        fake_notify_send(tmp_path, monkeypatch, f"printf '%s\\n' \"$@\" >> '{argv_file}'\n")
        env = env_for(receiver)
        env["TEST_UNREACHABLE"] = f"http://127.0.0.1:{closed_port()}{SLACK_PATH}"
        both = Notifier(dataclasses.replace(BOTH, desktop=True), env, **FAST)
        # slack: 500, then delivered; discord: 429, then delivered
        receiver.answer(500, 200, (429, {"Retry-After": "0"}, b""))
        assert both.send("first", "retried", "https://example.com/pr/1") == []
        receiver.default = (500, {}, f"at {env['TEST_SLACK_WEBHOOK']}".encode())
        assert len(both.send("second", "fails")) == 2
        gone = Notifier(Notify(slack_webhook_env="TEST_UNREACHABLE"), env, **FAST)
        assert len(gone.send("third", "unreachable")) == 1
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(old_level)
    assert "notification to slack failed" in log_file.read_text()
    assert "first" in argv_file.read_text()
    for root in (tmp_path, Path(os.environ["HOME"])):
        for path in root.rglob("*"):
            if path.is_file():
                assert_secret_free(path.read_text(errors="replace"), *env.values())
