"""Notifications: a desktop notification (notify-send), a Slack and a Discord webhook.

The webhook URLs are secrets: they are read from the environment variables that supervisor.yaml
names (``notify.slack_webhook_env``, ``notify.discord_webhook_env``), registered with
:func:`supervisor.redact.add_secret`, and never written anywhere: a failure is logged with the
channel and the HTTP status or the kind of error, never with the URL.

A notification must never stop the supervisor: :meth:`Notifier.send` never raises; it returns
the failures (``"slack: HTTP 500"``), each also logged as a warning.
"""

from __future__ import annotations

import email.utils
import errno
import logging
import os
import shutil
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import requests

from supervisor import shell
from supervisor.config import Notify
from supervisor.redact import add_secret, redact

log = logging.getLogger("supervisor.notify")

DEFAULT_TIMEOUT_S = 10.0
RETRY_DELAY_S = 1.0  # before the one retry after a 5xx or a connection error
MAX_RETRY_AFTER_S = 5.0  # a 429's Retry-After is honoured up to this
DISCORD_LIMIT = 2000  # characters in a Discord message's content
SLACK_LIMIT = 4000  # Slack truncates longer text (its hard limit is 40,000)
DESKTOP_LIMIT = 1000
NOTIFY_SEND = "notify-send"
ELLIPSIS = "…"
_BODY_CHARS = 100  # of an error response, in the warning


class Notifier:
    """Delivers a short plain-text message to every configured channel.

    env: where the webhook URL variables are read (default os.environ), once, here.
    timeout: seconds per HTTP request and for notify-send (killed after it).
    retry_delay: seconds before the one retry after a 5xx or a connection error.
    """

    def __init__(
        self,
        cfg: Notify,
        env: Mapping[str, str] | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        retry_delay: float = RETRY_DELAY_S,
    ) -> None:
        self.cfg = cfg
        self.timeout = timeout
        self.retry_delay = retry_delay
        env = os.environ if env is None else env
        # Each configured webhook: its URL, or None and why it is skipped (said once, on send).
        self._hooks: dict[str, str | None] = {}
        self._skipped: dict[str, str] = {}
        for channel, var in (
            ("slack", cfg.slack_webhook_env),
            ("discord", cfg.discord_webhook_env),
        ):
            if not var:
                continue
            url = env.get(var, "").strip()
            parts = urlsplit(url)
            if not url:
                self._skipped[channel] = f"the environment variable {var} is unset or empty"
            elif parts.scheme not in ("http", "https") or not parts.netloc:
                self._skipped[channel] = f"the environment variable {var} is not an http(s) URL"
            if url:
                _register(url)
            self._hooks[channel] = None if channel in self._skipped else url
        self._said: set[str] = set()

    def channels(self) -> list[str]:
        """The configured channels that can be used now (for `supervisor doctor`)."""
        out = ["desktop"] if self.cfg.desktop and shutil.which(NOTIFY_SEND) else []
        return out + [channel for channel, url in self._hooks.items() if url]

    def send(self, title: str, text: str, link: str | None = None) -> list[str]:
        """Deliver to every configured channel; the failures ("discord: HTTP 500"). Never raises."""
        failures: list[str] = []
        try:
            self._say_skipped()
            title, text, link = title.strip(), text.strip(), (link or "").strip()
            senders: list[tuple[str, Callable[[], str | None]]] = []
            if self.cfg.desktop:
                senders.append(("desktop", lambda: self._desktop(title, text, link)))
            for channel, url in self._hooks.items():
                if url is not None:
                    senders.append((channel, self._webhook_sender(channel, url, title, text, link)))
            for channel, deliver in senders:
                try:
                    error = deliver()
                except Exception as e:  # a notification must never stop the supervisor
                    error = f"unexpected {type(e).__name__}"
                if error:
                    log.warning("notification to %s failed: %s", channel, error)
                    failures.append(f"{channel}: {error}")
                else:
                    log.debug("notified %s", channel)
        except Exception as e:
            log.warning("notifications failed: unexpected %s", type(e).__name__)
            failures.append(f"notify: unexpected {type(e).__name__}")
        return failures

    # -- channels --------------------------------------------------------------------------------

    def _say_skipped(self) -> None:
        for channel, why in self._skipped.items():
            self._once(logging.WARNING, channel, f"{channel} notifications are off: {why}")

    def _once(self, level: int, key: str, message: str) -> None:
        if key not in self._said:
            self._said.add(key)
            log.log(level, "%s", message)

    def _desktop(self, title: str, text: str, link: str) -> str | None:
        program = shutil.which(NOTIFY_SEND)
        if program is None:
            self._once(
                logging.INFO,
                "desktop",
                f"desktop notifications are off: {NOTIFY_SEND} is not installed (not on PATH)",
            )
            return None
        body = fit(text, DESKTOP_LIMIT, link)
        try:
            result = shell.run(
                [program, "--app-name=supervisor", "--", title or "supervisor", body],
                timeout=self.timeout,
                check=False,
                grace_s=1.0,
            )
        except shell.CommandError as e:  # could not be started at all
            return e.result.stderr or "could not start it"
        if result.timed_out:
            return f"{NOTIFY_SEND} timed out after {self.timeout:g}s and was killed"
        if not result.ok:
            detail = shell.tail(result.stderr.strip(), 200)
            return f"{NOTIFY_SEND} exited with code {result.returncode}" + (
                f": {detail}" if detail else ""
            )
        return None

    def _webhook_sender(
        self, channel: str, url: str, title: str, text: str, link: str
    ) -> Callable[[], str | None]:
        message = f"{title}\n{text}" if title and text else title or text
        if channel == "slack":
            payload: dict[str, object] = {"text": slack_escape(fit(message, SLACK_LIMIT, link))}
        else:
            payload = {
                "content": fit(message, DISCORD_LIMIT, link),
                # Plain text: an "@everyone" in a title must not ping the server.
                "allowed_mentions": {"parse": []},
            }
        return lambda: self._post(channel, url, payload)

    def _post(self, channel: str, url: str, payload: dict[str, object]) -> str | None:
        """POST payload as JSON, with one retry after a 5xx, a 429 or a connection error; None on
        success, else the HTTP status or the kind of error (never the URL)."""
        error: str | None = None
        for attempt in (1, 2):
            delay = self.retry_delay
            try:
                resp = requests.post(url, json=payload, timeout=self.timeout, allow_redirects=False)
            except requests.ConnectionError as e:  # includes ConnectTimeout: nothing was sent
                error = _connection_error(e)
            except requests.Timeout:  # read timeout: it may have arrived; not sent twice
                return f"no answer within {self.timeout:g}s"
            except requests.RequestException as e:
                return type(e).__name__
            else:
                if 200 <= resp.status_code < 300:
                    return None
                error = f"HTTP {resp.status_code}"
                detail = _body_snippet(resp, url)
                if detail:
                    error += f": {detail}"
                if resp.status_code == 429:
                    delay = retry_after(resp.headers.get("Retry-After"), self.retry_delay)
                elif resp.status_code < 500:
                    return error
            if attempt == 1:
                log.info("notification to %s failed (%s); retrying in %gs", channel, error, delay)
                time.sleep(delay)
        return f"{error} (after a retry)"


# -- message text ------------------------------------------------------------------------------


def fit(message: str, limit: int, link: str = "") -> str:
    """message, then link on a line of its own, in at most limit characters (counted as UTF-16
    code units, as the strictest chat API counts them): a long message is cut, at a word boundary
    when one is near, and ends with an ellipsis; the link is kept whole when it fits at all."""
    tail = f"\n{link}" if link and message else link
    if _length(message + tail) <= limit:
        return message + tail
    if _length(tail) + len(ELLIPSIS) > limit:  # a link longer than the limit: cut it all
        return _cut(message + tail, limit - len(ELLIPSIS)) + ELLIPSIS
    room = limit - _length(tail) - len(ELLIPSIS)
    head = _cut(message, room)
    space = max(head.rfind(" "), head.rfind("\n"))
    if space >= max(1, len(head) - 40):
        head = head[:space]
    return head.rstrip() + ELLIPSIS + tail


def _length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> str:
    """The longest prefix of text with at most limit UTF-16 code units."""
    if _length(text) <= limit:
        return text
    out, used = [], 0
    for ch in text:
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > limit:
            break
        out.append(ch)
    return "".join(out)


def slack_escape(text: str) -> str:
    """Slack's three control characters, escaped as its message formatting documents."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def retry_after(value: str | None, default: float) -> float:
    """A Retry-After header (seconds or an HTTP date) as seconds to wait, at most
    MAX_RETRY_AFTER_S; default when absent or unreadable."""
    if not value:
        return default
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return default
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if seconds != seconds:  # NaN
        return default
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


# -- secrets -----------------------------------------------------------------------------------


def _register(url: str) -> None:
    """Mask the URL, and its path (where the token is; urllib3 and servers log the path alone)."""
    add_secret(url)
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if len(path) >= 12:
        add_secret(path)
        add_secret(parts.path)


def _connection_error(e: requests.ConnectionError) -> str:
    """The kind of connection error, from the OS error underneath (whose text holds no URL)."""
    if isinstance(e, requests.ConnectTimeout):
        return "connection timed out"
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.errno:
            name = errno.errorcode.get(cause.errno, str(cause.errno))
            return f"connection error: {os.strerror(cause.errno)} ({name})"
        nested = [c for c in (cause.__cause__, cause.__context__) if c is not None]
        nested += [a for a in getattr(cause, "args", ()) if isinstance(a, BaseException)]
        reason = getattr(cause, "reason", None)
        if isinstance(reason, BaseException):
            nested.insert(0, reason)
        cause = next((c for c in nested if id(c) not in seen), None)
    return "connection error"


def _body_snippet(resp: requests.Response, url: str) -> str:
    """The start of an error answer (Slack says e.g. "no_service"), on one line, redacted."""
    try:
        text = resp.text
    except Exception:
        return ""
    text = " ".join(text.split())[:_BODY_CHARS]
    parts = urlsplit(url)
    return redact(text, extra=[url, parts.path]) if text else ""
