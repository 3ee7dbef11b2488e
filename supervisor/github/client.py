"""The GitHub REST client: one requests.Session, careful with GitHub and with the user's token.

- every call has a timeout and sends ``X-GitHub-Api-Version``; the token is only ever in the
  Authorization header (never logged, never written to state);
- pagination follows the ``Link`` header;
- conditional GETs send ``If-None-Match`` with the ETag kept by an EtagStore (state/cursors.json),
  so a re-scan with nothing new is answered 304 and costs no rate limit;
- the primary rate limit (``X-RateLimit-Remaining: 0``) is waited out until ``X-RateLimit-Reset``
  and the secondary one (403/429 with ``Retry-After`` or its message) for ``Retry-After`` (at least
  a minute without one), reported through ``on_wait`` so that ``status`` can say so;
- 5xx, connection errors and timeouts are retried with exponential back-off and jitter, a bounded
  number of times; a POST is not blindly retried (it may have been applied): it raises
  MaybeApplied and the forge looks for what it created before trying again;
- other 4xx are not retried; 401, 403 and 404 say which token scope or permission is needed.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from supervisor import __version__
from supervisor.errors import UserError
from supervisor.redact import add_secret

log = logging.getLogger("supervisor.github")

API_VERSION = "2022-11-28"
SCOPES_HELP = (
    "a classic token needs the 'repo' scope (and 'workflow' to read Actions logs of private "
    "repositories); a fine-grained token needs read/write access to Issues, Pull requests and "
    "Contents, and read access to Actions and Checks, for this repository"
)
_LINK = re.compile(r'<([^>]+)>;\s*rel="([^"]+)"')


class GitHubError(UserError):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class MaybeApplied(GitHubError):
    """A write failed in a way that leaves open whether GitHub applied it (5xx, timeout)."""


class EtagStore(Protocol):
    def get(self, key: str) -> str | None: ...

    def set(self, key: str, etag: str) -> None: ...


@dataclass(frozen=True)
class Reply:
    status: int
    data: Any
    headers: Mapping[str, str]

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class RetryPolicy:
    attempts: int = 5  # tries of one request on 5xx / connection errors / timeouts
    backoff_s: float = 1.0  # first back-off; doubles each time, plus jitter
    max_backoff_s: float = 60.0
    max_wait_s: float = 3 * 3600.0  # longest rate-limit wait before giving up
    secondary_default_s: float = 60.0  # secondary rate limit without Retry-After


class GitHubClient:
    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        etags: EtagStore | None = None,
        on_wait: Callable[[str, float], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.etags = etags
        self.on_wait = on_wait or (lambda reason, until: None)
        self.pending_etags: dict[str, str] = {}
        self.sleep = sleep
        self.clock = clock
        add_secret(token)
        self.session = requests.Session()
        self.session.headers.update(
            {
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {token}",
                "X-GitHub-Api-Version": API_VERSION,
                "User-Agent": f"supervisor/{__version__}",
            }
        )

    # -- the one request path -----------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        etag_key: str | None = None,
        allow_404: bool = False,
        allow_redirects: bool = True,
        defer_etag: bool = False,
        force: bool = False,
    ) -> Reply:
        """One request (see the module docstring). force: not conditional, but still remember
        the ETag of the answer."""
        url = path if path.startswith("http") else f"{self.api_url}{path}"
        headers: dict[str, str] = {}
        if etag_key and self.etags is not None and not force:
            etag = self.etags.get(etag_key)
            if etag:
                headers["If-None-Match"] = etag
        failures = 0
        while True:
            try:
                r = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers=headers,
                    timeout=self.timeout,
                    allow_redirects=allow_redirects,
                )
            except (requests.ConnectionError, requests.Timeout) as e:
                failures += 1
                if method == "POST":  # not idempotent: it may have been applied
                    raise MaybeApplied(f"{method} {_show(url)}: no answer from GitHub ({e})") from e
                if failures >= self.retry.attempts:
                    raise GitHubError(
                        f"GitHub could not be reached after {failures} tries: "
                        f"{method} {_show(url)}: {e}"
                    ) from e
                self._backoff(failures, f"{type(e).__name__} on {method} {_show(url)}")
                continue
            wait = self._rate_limit_wait(r)
            if wait is not None:
                reason, seconds = wait
                if seconds > self.retry.max_wait_s:
                    raise GitHubError(
                        f"GitHub {reason}: the wait of {seconds:.0f}s is longer "
                        f"than allowed; try again later",
                        r.status_code,
                    )
                log.warning("GitHub %s: waiting %.0fs", reason, seconds)
                self.on_wait(reason, self.clock() + seconds)
                self.sleep(seconds)
                self.on_wait("", 0.0)
                continue
            if r.status_code >= 500:
                failures += 1
                if method == "POST":  # not idempotent: it may have been applied
                    raise MaybeApplied(
                        f"{method} {_show(url)}: GitHub answered {r.status_code}", r.status_code
                    )
                if failures >= self.retry.attempts:
                    raise GitHubError(
                        f"GitHub answered {r.status_code} {failures} times to "
                        f"{method} {_show(url)}; try again later",
                        r.status_code,
                    )
                self._backoff(failures, f"{r.status_code} on {method} {_show(url)}")
                continue
            return self._reply(method, url, r, etag_key, allow_404, defer_etag)

    def _reply(
        self,
        method: str,
        url: str,
        r: requests.Response,
        etag_key: str | None,
        allow_404: bool,
        defer_etag: bool = False,
    ) -> Reply:
        if r.status_code == 304:
            return Reply(304, None, r.headers)
        if r.status_code == 404 and allow_404:
            return Reply(404, None, r.headers)
        if r.status_code >= 400:
            raise _client_error(method, url, r)
        data = _json(r) if r.content and "json" in r.headers.get("Content-Type", "") else r.text
        if etag_key and self.etags is not None and r.headers.get("ETag"):
            if defer_etag:  # kept until the caller has saved what it did with the answer
                self.pending_etags[etag_key] = r.headers["ETag"]
            else:
                self.etags.set(etag_key, r.headers["ETag"])
        return Reply(r.status_code, data, r.headers)

    def _rate_limit_wait(self, r: requests.Response) -> tuple[str, float] | None:
        if r.status_code not in (403, 429):
            return None
        retry_after = r.headers.get("Retry-After")
        if retry_after is not None:
            try:
                return "secondary rate limit", max(1.0, float(retry_after))
            except ValueError:
                return "secondary rate limit", self.retry.secondary_default_s
        if r.headers.get("X-RateLimit-Remaining") == "0":
            reset = float(r.headers.get("X-RateLimit-Reset", "0") or 0)
            return "rate limit exhausted", max(1.0, reset - self.clock() + 1)
        if "secondary rate limit" in _message(r).lower():
            return "secondary rate limit", self.retry.secondary_default_s
        return None

    def _backoff(self, failures: int, what: str) -> None:
        delay = min(self.retry.max_backoff_s, self.retry.backoff_s * 2 ** (failures - 1))
        delay += random.uniform(0, delay / 2)
        log.warning("GitHub: %s; retrying in %.1fs", what, delay)
        self.sleep(delay)

    @property
    def graphql_url(self) -> str:
        """api.github.com/graphql; on GitHub Enterprise Server, /api/v3 becomes /api/graphql."""
        if self.api_url.endswith("/api/v3"):
            return self.api_url.removesuffix("/v3") + "/graphql"
        return f"{self.api_url}/graphql"

    # -- conveniences -------------------------------------------------------------------------

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, allow_404: bool = False
    ) -> Any:
        return self.request("GET", path, params=params, allow_404=allow_404).data

    def paginate(
        self,
        path: str,
        params: Mapping[str, Any] | None = None,
        *,
        etag_key: str | None = None,
        key: str | None = None,
        defer_etag: bool = False,
    ) -> Iterator[Any] | None:
        """Every item of a listing, page by page (Link: rel="next").

        With etag_key, the first page is a conditional request: None when nothing changed (304).
        key: the listing sits under this key of each page (e.g. "workflow_runs").
        defer_etag: keep the new ETag aside until commit_etag(etag_key), so that a crash before
        the caller saved its work does not make the next request a 304 that hides that work.
        """
        first = self.request(
            "GET",
            path,
            params={"per_page": 100, **(params or {})},
            etag_key=etag_key,
            defer_etag=defer_etag,
        )
        if first.not_modified:
            return None
        return self._pages(first, key)

    def commit_etag(self, etag_key: str) -> None:
        etag = self.pending_etags.pop(etag_key, None)
        if etag and self.etags is not None:
            self.etags.set(etag_key, etag)

    def _pages(self, reply: Reply, key: str | None) -> Iterator[Any]:
        while True:
            page = reply.data[key] if key else reply.data
            yield from page
            nxt = links(reply.headers.get("Link", "")).get("next")
            if not nxt:
                return
            reply = self.request("GET", nxt)


def links(header: str) -> dict[str, str]:
    return {rel: url for url, rel in _LINK.findall(header)}


def _json(r: requests.Response) -> Any:
    try:
        return r.json()
    except ValueError as e:
        raise GitHubError(f"GitHub answered {r.status_code} with a body that is not JSON") from e


def _message(r: requests.Response) -> str:
    try:
        doc = r.json()
    except ValueError:
        return r.text[:300]
    return str(doc.get("message", "")) if isinstance(doc, dict) else ""


def _show(url: str) -> str:
    return url.split("?", 1)[0]


def _client_error(method: str, url: str, r: requests.Response) -> GitHubError:
    msg = _message(r)
    what = f"{method} {_show(url)}"
    if r.status_code == 401:
        return GitHubError(
            f"GitHub rejected the token (401 {msg or 'Bad credentials'}) on {what}:"
            f" check the token in the configured environment variable "
            f"(github.token_env); {SCOPES_HELP}",
            401,
        )
    if r.status_code == 403:
        return GitHubError(
            f"GitHub refused {what} (403 {msg}): the token lacks a permission; {SCOPES_HELP}", 403
        )
    if r.status_code == 404:
        return GitHubError(
            f"GitHub has no {what} (404): check the target owner/name, or the "
            f"token cannot see it; {SCOPES_HELP}",
            404,
        )
    detail = ""
    try:
        errors = r.json().get("errors")
        if errors:
            detail = f": {errors}"
    except (ValueError, AttributeError):
        pass
    return GitHubError(f"GitHub refused {what} ({r.status_code} {msg}){detail}", r.status_code)
