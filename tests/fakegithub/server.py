"""FakeGitHub: a GitHub REST server on 127.0.0.1 for the tests, held to GitHub's API description.

    fake = FakeGitHub()
    fake.start()
    fake.add_user("bot", "ghp_token")
    fake.add_repo("acme", "widgets", git_dir=bare_repo, collaborators={"bot": "COLLABORATOR"})
    ... point the client at fake.url ...
    fake.stop()

State lives in memory (``fake.world``) behind one lock. People act through the helpers in
``people.People`` (``comment_as``, ``label_as``, ``merge_as``, ...). Every request is recorded in
``fake.requests``; every request and response is checked against the description, and what does
not match is collected in ``fake.violations`` (the ``fake_github`` fixture fails a test that has
any).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from fakegithub import contract as contract_mod
from fakegithub import faults as faults_mod
from fakegithub import handlers_issues, handlers_pulls, handlers_repo  # noqa: F401 (routes)
from fakegithub.httpd import GitHubHandler
from fakegithub.people import People
from fakegithub.render_pulls import RenderPulls
from fakegithub.state import ASSOCIATIONS, Bucket, Repo, User, World


@dataclass
class Recorded:
    """One request as the fake received it, and the status it answered (None: dropped)."""

    index: int
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    status: int | None = None
    template: str | None = None
    violations: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None


class FakeGitHub(People):
    """The fake server. ``start()`` it, use ``url``, ``stop()`` it (or use it as a context)."""

    def __init__(self, rate_limit: int = 5000, search_rate_limit: int = 30) -> None:
        self.world = World(rate_limit=rate_limit, search_rate_limit=search_rate_limit)
        self.lock = threading.RLock()
        self.requests: list[Recorded] = []
        self.violations: list[str] = []
        self.faults = faults_mod.Faults()
        self.stopping = threading.Event()
        self.contract = contract_mod.contract()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.render = RenderPulls("http://127.0.0.1:0", self.world)

    # lifecycle

    def start(self) -> FakeGitHub:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), GitHubHandler)
        httpd.daemon_threads = True
        httpd.fake = self  # type: ignore[attr-defined]
        self._httpd = httpd
        self.render.api = self.url
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> FakeGitHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeGitHub is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    # setup

    def add_user(self, login: str, token: str, scopes: tuple[str, ...] = ("repo",)) -> User:
        with self.lock:
            user = self.world.ensure_user(login)
            user.token, user.scopes = token, tuple(scopes)
            return user

    def add_repo(
        self,
        owner: str,
        name: str,
        default_branch: str = "main",
        git_dir: Path | None = None,
        collaborators: dict[str, str] | None = None,
        private: bool = False,
    ) -> Repo:
        """A repository; ``git_dir`` is a real bare repository (its path is the clone URL)."""
        for login, role in (collaborators or {}).items():
            if role not in ASSOCIATIONS:
                raise ValueError(f"{login}: role must be one of {ASSOCIATIONS}, not {role}")
        with self.lock:
            self.world.ensure_user(owner)
            repo = Repo(
                owner,
                name,
                self.world.new_id(),
                default_branch,
                Path(git_dir) if git_dir is not None else None,
                dict(collaborators or {}),
                private,
                self.world.clock.stamp(),
            )
            self.world.repos[repo.full_name.lower()] = repo
            return repo

    def set_rate_limit(self, limit: int, search_limit: int | None = None) -> None:
        """The limit per hour (and per minute for search) from the next window on, and now."""
        with self.lock:
            self.world.rate_limit = limit
            if search_limit is not None:
                self.world.search_rate_limit = search_limit
            for (_, resource), bucket in self.world.buckets.items():
                bucket.limit = self.world.search_rate_limit if resource == "search" else limit

    # faults

    def inject(
        self,
        fault: int | str,
        method: str | None = None,
        path_pattern: str | None = None,
        times: int = 1,
        seconds: float | None = None,
        status: int | None = None,
        after: bool = False,
    ) -> None:
        """Make the next ``times`` matching requests fail with ``fault`` (see ``faults.Fault``).

        after: the request is applied first and only its answer fails (a 502 after GitHub created
        the issue, a connection lost on the way back), the case a client must not retry blindly.
        """
        made = faults_mod.make_fault(fault, method, path_pattern, times, seconds, status, after)
        with self.lock:
            self.faults.add(made)

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    # used by the handler

    def record(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
    ) -> Recorded:
        with self.lock:
            entry = Recorded(len(self.requests), method, path, query, headers, body)
            self.requests.append(entry)
            return entry

    def take_fault(self, method: str, path: str) -> faults_mod.Fault | None:
        with self.lock:
            return self.faults.take(method, path)

    def user_for(self, token: str) -> User | None:
        with self.lock:
            return self.world.user_by_token(token) if token else None

    def exhaust(self, user: User, fault: faults_mod.Fault) -> None:
        """Use up the user's core bucket until ``fault.seconds`` from now."""
        with self.lock:
            bucket = self.world.bucket(user.login, "core")
            bucket.used = bucket.limit
            bucket.reset = int(self.world.clock.now() + fault.seconds) + 1

    def limit_headers(self, bucket: Bucket, resource: str) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(bucket.limit),
            "X-RateLimit-Remaining": str(bucket.remaining),
            "X-RateLimit-Reset": str(bucket.reset),
            "X-RateLimit-Used": str(bucket.used),
            "X-RateLimit-Resource": resource,
        }

    def blob(self, token: str) -> str | None:
        with self.lock:
            link = self.world.log_links.get(token)
            if link is None or link.expires < self.world.clock.now():
                return None
            return link.text

    def check_request(self, record: Recorded) -> None:
        found = self.contract.check_request(
            record.method, record.path, record.query, record.headers, record.body
        )
        if found:
            with self.lock:
                record.violations.extend(found)
                self.violations.extend(found)

    def check_response(
        self, record: Recorded, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        found = self.contract.check_response(
            record.method, record.path, record.template, status, headers, body
        )
        if found:
            with self.lock:
                record.violations.extend(found)
                self.violations.extend(found)

    def take_violations(self) -> list[str]:
        """The violations so far, forgotten (for tests that provoke them on purpose)."""
        with self.lock:
            found, self.violations = self.violations, []
            return found
