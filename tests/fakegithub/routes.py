"""What a handler sees and returns, GitHub's error bodies, and the table of routes."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

if TYPE_CHECKING:
    from fakegithub.render_pulls import RenderPulls
    from fakegithub.state import Issue, Repo, User, World

DOCS = "https://docs.github.com/rest"


class HttpError(Exception):
    """An answer other than success, with GitHub's JSON error body."""

    def __init__(
        self,
        status: int,
        message: str,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        documentation_url: str = DOCS,
    ) -> None:
        super().__init__(f"{status} {message}")
        self.status = status
        self.message = message
        self.errors = errors
        self.headers = headers or {}
        self.documentation_url = documentation_url

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "message": self.message,
            "documentation_url": self.documentation_url,
        }
        if self.errors is not None:
            body["errors"] = self.errors
        body["status"] = str(self.status)
        return body


def missing_field(resource: str, name: str) -> HttpError:
    return HttpError(
        422, "Validation Failed", [{"resource": resource, "code": "missing_field", "field": name}]
    )


def invalid_field(resource: str, name: str, value: Any = None) -> HttpError:
    error: dict[str, Any] = {"resource": resource, "code": "invalid", "field": name}
    if isinstance(value, str | int):
        error["value"] = value
    return HttpError(422, "Validation Failed", [error])


def not_implemented(what: str) -> HttpError:
    return HttpError(501, f"fake github does not implement {what}")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    user: User

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        """The JSON body (``None`` when there is none); 400 as GitHub answers unparsable JSON."""
        if not self.body.strip():
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            raise HttpError(400, "Problems parsing JSON") from None

    def object(self) -> dict[str, Any]:
        """The body as a JSON object (empty when absent)."""
        data = self.json()
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise HttpError(400, "Problems parsing JSON")
        return data

    def refuse(self, *names: str) -> None:
        """501 for query parameters the fake does not implement (never silently ignored)."""
        for name in names:
            if name in self.query:
                raise not_implemented(f"the {name!r} parameter of {self.method} {self.path}")


@dataclass
class Reply:
    """A handler's answer. ``items`` (rendered by ``render``) are paginated by the server."""

    status: int = 200
    body: Any = None
    items: list[Any] | None = None
    render: Callable[[Any], Any] | None = None
    envelope: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json; charset=utf-8"


class Ctx:
    """A handler's view of the world: lookups that answer 404 as GitHub does."""

    def __init__(self, world: World, render: RenderPulls, request: Request) -> None:
        self.world = world
        self.render = render
        self.request = request

    @property
    def login(self) -> str:
        return self.request.user.login

    def repo(self, owner: str, name: str) -> Repo:
        repo = self.world.repo(owner, name)
        if repo is None or (repo.private and repo.association(self.login) == "NONE"):
            raise HttpError(404, "Not Found")
        return repo

    def issue(self, repo: Repo, number: str) -> Issue:
        issue = repo.issues.get(int(number)) if number.isdigit() else None
        if issue is None:
            raise HttpError(404, "Not Found")
        return issue

    def pull(self, repo: Repo, number: str) -> Issue:
        issue = self.issue(repo, number)
        if issue.pull is None:
            raise HttpError(404, "Not Found")
        return issue

    def require_push(self, repo: Repo) -> None:
        if repo.association(self.login) == "NONE":
            raise HttpError(403, "Must have admin rights to Repository.")


Handler = Callable[..., Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler


ROUTES: list[Route] = []


def route(
    method: str, template: str, multi_segment: tuple[str, ...] = ()
) -> Callable[[Handler], Handler]:
    """Register ``handler`` for ``method template``. ``{name}`` matches one path segment, or, for
    the names in ``multi_segment`` (GitHub's ``x-multi-segment`` parameters, such as the ``ref`` of
    ``git/refs/{ref}``), one or more (``heads/supervisor/issue-3``); ``%2F`` works as well."""

    def group(found: re.Match[str]) -> str:
        return f"(?P<{found[1]}>{'.+' if found[1] in multi_segment else '[^/]+'})"

    regex = re.sub(r"\{(\w+)\}", group, template)

    def register(handler: Handler) -> Handler:
        ROUTES.append(Route(method, template, re.compile(f"^{regex}$"), handler))
        return handler

    return register


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for candidate in ROUTES:
        if candidate.method == method and (found := candidate.pattern.match(path)):
            return candidate, {k: unquote(v) for k, v in found.groupdict().items()}
    return None
