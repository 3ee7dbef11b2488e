"""The HTTP side of the fake: one request through faults, auth, rate limit, handler, pagination,
ETags, the contract checker, and out.
"""

from __future__ import annotations

import hashlib
import json
import math
import socket
import struct
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit

from fakegithub import faults as faults_mod
from fakegithub import graphql
from fakegithub.routes import Ctx, HttpError, Reply, Request, Route, match
from fakegithub.state import User

if TYPE_CHECKING:
    from fakegithub.server import FakeGitHub, Recorded

API_VERSIONS = ("2022-11-28", "2026-03-10")
BLOBS = "/_blobs/job-logs/"
NO_COST = ("/rate_limit",)


def etag_of(body: bytes) -> str:
    return 'W/"' + hashlib.sha256(body).hexdigest()[:40] + '"'


def etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    wanted = etag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") in (wanted, "*") for t in header.split(","))


def int_arg(query: dict[str, list[str]], name: str, default: int) -> int:
    values = query.get(name)
    try:
        return int(values[-1]) if values else default
    except ValueError:
        return default


class GitHubHandler(BaseHTTPRequestHandler):
    """One connection. ``server.fake`` is the FakeGitHub that owns the state."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server_version = "GitHub.com"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def fake(self) -> FakeGitHub:
        return self.server.fake  # type: ignore[attr-defined,no-any-return]

    def do_GET(self) -> None:
        self.answer()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    # the pipeline

    def answer(self) -> None:
        fake = self.fake
        split = urlsplit(self.path)
        path, query = split.path, parse_qs(split.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items()}
        record = fake.record(self.command, path, query, headers, body)
        blob = path.startswith(BLOBS)  # stands for another host: not part of the API
        gql = path == "/graphql" and self.command == "POST"  # not REST: see graphql.py
        if not blob and not gql:
            fake.check_request(record)
        found = None if blob or gql else match(self.command, path)
        record.template = found[0].template if found else None
        fault = fake.take_fault(self.command, path)
        if fault is not None and not fault.after and self.apply_fault(record, fault):
            return
        if blob:
            self.serve_blob(record, path.removeprefix(BLOBS))
            return
        if gql:
            self.serve_graphql(record, headers, body)
            return
        try:
            user = self.authenticate(headers)
            if fault is not None and fault.kind == "rate_limit_exhausted":
                fake.exhaust(user, fault)
            status, out, extra = self.dispatch(found, path, query, headers, body, user)
        except HttpError as error:
            status, out, extra = error.status, self.encode(error.body()), dict(error.headers)
        if fault is not None and fault.after and self.apply_fault(record, fault):
            return
        self.send(record, status, out, extra, validate=True)

    def authenticate(self, headers: dict[str, str]) -> User:
        auth = headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if not auth:
            raise HttpError(401, "Requires authentication")
        user = self.fake.user_for(token.strip()) if scheme.lower() in ("bearer", "token") else None
        if user is None:
            raise HttpError(401, "Bad credentials")
        version = headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            raise HttpError(400, f"API version {version} is not supported.")
        return user

    def dispatch(
        self,
        found: tuple[Route, dict[str, str]] | None,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        body: bytes,
        user: User,
    ) -> tuple[int, bytes, dict[str, str]]:
        fake = self.fake
        resource = "search" if path.startswith("/search/") else "core"
        costs = path not in NO_COST
        with fake.lock:
            bucket = fake.world.bucket(user.login, resource)
            limits = {
                "X-OAuth-Scopes": ", ".join(user.scopes),
                "X-Accepted-OAuth-Scopes": "repo",
            }
            if costs and bucket.remaining == 0:
                limits.update(fake.limit_headers(bucket, resource))
                raise HttpError(
                    403,
                    f"API rate limit exceeded for user ID {user.id}. If you reach out to GitHub "
                    "Support for help, please include the request ID 0000:0000:0000000.",
                    headers=limits,
                    documentation_url=faults_mod.PRIMARY_DOCS,
                )
            request = Request(self.command, path, query, headers, body, user)
            try:
                if found is None:
                    raise HttpError(
                        501,
                        f"fake github does not implement {self.command} {path} "
                        "(add a handler in tests/fakegithub/ and its path to "
                        "scripts/trim_openapi.py)",
                    )
                reply = found[0].handler(Ctx(fake.world, fake.render, request), **found[1])
                status, out, extra = self.materialize(reply, path, query)
            except HttpError as error:
                status, out, extra = error.status, self.encode(error.body()), dict(error.headers)
            except Exception:
                fake.violations.append(f"fake crashed on {self.command} {path}:\n{_tb()}")
                status, out, extra = 500, self.encode({"message": "fake github crashed"}), {}
            if self.command == "GET" and status == 200:
                extra["ETag"] = etag_of(out)
                extra["Cache-Control"] = "private, max-age=60, s-maxage=60"
                extra["Vary"] = "Accept, Authorization, Cookie, X-GitHub-OTP"
                if etag_matches(headers.get("If-None-Match"), extra["ETag"]):
                    status, out, costs = 304, b"", False
            if costs:
                bucket.used += 1
            extra.update(limits, **fake.limit_headers(bucket, resource))
        return status, out, extra

    def materialize(
        self, reply: Reply, path: str, query: dict[str, list[str]]
    ) -> tuple[int, bytes, dict[str, str]]:
        """The reply's bytes; ``items`` become one page and a ``Link`` header."""
        headers = dict(reply.headers)
        headers["Content-Type"] = reply.content_type
        data = reply.body
        if reply.items is not None:
            per_page = min(max(int_arg(query, "per_page", 30), 1), 100)
            page = max(int_arg(query, "page", 1), 1)
            chunk = reply.items[(page - 1) * per_page : page * per_page]
            rendered = [reply.render(i) for i in chunk] if reply.render else chunk
            if reply.envelope:
                data = {"total_count": len(reply.items), **reply.extra, reply.envelope: rendered}
            else:
                data = rendered
            last = max(1, math.ceil(len(reply.items) / per_page))
            link = self.link(path, query, page, last)
            if link:
                headers["Link"] = link
        return reply.status, (b"" if data is None else self.encode(data)), headers

    def link(self, path: str, query: dict[str, list[str]], page: int, last: int) -> str:
        def url(number: int) -> str:
            params = {k: v[-1] for k, v in query.items() if k != "page"}
            params["page"] = str(number)
            return f"{self.fake.url}{path}?{urlencode(params)}"

        rels = []
        if page > 1:
            rels.append((min(page - 1, last), "prev"))
        if page < last:
            rels += [(page + 1, "next"), (last, "last")]
        if page > 1:
            rels.append((1, "first"))
        return ", ".join(f'<{url(number)}>; rel="{rel}"' for number, rel in rels)

    # faults and blobs

    def apply_fault(self, record: Recorded, fault: faults_mod.Fault) -> bool:
        """Act out ``fault``; True when it answered (or dropped) the request."""
        kind = fault.kind
        if kind == "slow":
            self.fake.stopping.wait(fault.seconds)
            return False
        if kind == "rate_limit_exhausted":
            return False
        if kind in ("reset", "timeout"):
            if kind == "timeout":
                self.fake.stopping.wait(fault.seconds)
            self.drop()
            return True
        headers: dict[str, str] = {}
        if kind == "unauthorized":
            status, body = 401, {"message": "Bad credentials"}
        elif kind == "secondary_rate_limit":
            status = fault.status
            body = {"message": faults_mod.SECONDARY_MESSAGE}
            body["documentation_url"] = faults_mod.SECONDARY_DOCS
            headers["Retry-After"] = str(math.ceil(fault.seconds))
        else:
            assert isinstance(kind, int)
            status, body = kind, {"message": faults_mod.STATUS_MESSAGES[kind]}
        body.setdefault("documentation_url", "https://docs.github.com/rest")
        headers["Content-Type"] = "application/json; charset=utf-8"
        self.send(record, status, self.encode(body), headers, validate=False)
        return True

    def drop(self) -> None:
        """Close the connection without a word (an RST, so the client sees a reset)."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass

    def serve_blob(self, record: Recorded, token: str) -> None:
        text = self.fake.blob(token)
        if text is None:
            out = b"<?xml version='1.0'?><Error><Code>AuthenticationFailed</Code></Error>"
            self.send(record, 403, out, {"Content-Type": "application/xml"}, validate=False)
            return
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        self.send(record, 200, text.encode(), headers, validate=False)

    # output

    @staticmethod
    def encode(data: Any) -> bytes:
        return json.dumps(data, indent=2).encode()

    def serve_graphql(self, record: Recorded, headers: dict[str, str], body: bytes) -> None:
        try:
            self.authenticate(headers)
            with self.fake.lock:
                out = graphql.answer(self.fake.world, body)
            status = 200
        except HttpError as error:
            status, out = error.status, error.body()
        self.send(record, status, self.encode(out), {}, validate=False)

    def send(
        self, record: Recorded, status: int, body: bytes, headers: dict[str, str], validate: bool
    ) -> None:
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
        headers["X-GitHub-Media-Type"] = "github.v3; format=json"
        headers["X-GitHub-Api-Version-Selected"] = "2022-11-28"
        headers["X-GitHub-Request-Id"] = f"FAKE:{record.index:06d}"
        if status == 304:
            body = b""
            headers.pop("Content-Type", None)
        record.status = status
        if validate:
            self.fake.check_response(record, status, headers, body)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)


def _tb() -> str:
    return traceback.format_exc(limit=6)
