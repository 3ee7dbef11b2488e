"""Holds each request the fake receives and each response it sends to GitHub's API description.

The description is the vendored subset (``openapi-subset.json.gz``, made by
``scripts/trim_openapi.py``), compiled once per process by openapi-core. ``check_request`` and
``check_response`` return readable violations (an empty list when all is well).

What is exempt, because GitHub sends it on any endpoint while its description lists it only on
some: a response whose status is in ``GENERIC`` (304, 401, 403, 404, 429, 5xx) and not documented
for the operation only has to be empty or a JSON object with a string ``message`` (GitHub's
``basic-error``). 501 is the fake's own "not implemented" and is never in the description; it gets
the same check. Injected faults and the job-log blob URL (which stands for another host) are not
passed here at all.

Two corrections are applied to GitHub's description before compiling (``correct``), each where the
description contradicts what GitHub documents and sends:

- ``nullable: true`` with an ``enum`` that lacks null (``check-run.conclusion``, ``job.conclusion``,
  ``issue.state_reason``, ...): OpenAPI 3.0 validators read that as "null is not allowed", while
  GitHub sends null (a check run in progress has no conclusion). null is added to such enums.
- the ``created`` query parameter of workflow runs is typed ``format: date-time``, yet its own
  text (and GitHub) takes search ranges such as ``>=2024-01-01``; the format is dropped.

One of GitHub's extensions is honoured: a path parameter marked ``x-multi-segment: true`` (the
``ref`` of ``git/refs/{ref}`` and ``commits/{ref}/...``) spans several segments
(``heads/supervisor/issue-3``), which OpenAPI 3.0 path templates cannot express (openapi-core
matches one segment). Before a path is checked, the slashes inside such a parameter are encoded as
``%2F`` (``flatten``), so the path matches its template and the value is still checked as a string.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from openapi_core import OpenAPI
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.testing import MockRequest, MockResponse

SUBSET = Path(__file__).with_name("openapi-subset.json.gz")
HOST = "https://api.github.com"
GENERIC = frozenset({304, 401, 403, 404, 429, 500, 501, 502, 503, 504})


def correct(node: Any) -> Any:
    """GitHub's description with the two corrections above (a new object; the input is kept)."""
    if isinstance(node, list):
        return [correct(value) for value in node]
    if not isinstance(node, dict):
        return node
    fixed = {key: correct(value) for key, value in node.items()}
    if fixed.get("nullable") is True and "enum" in fixed and None not in fixed["enum"]:
        fixed["enum"] = [*fixed["enum"], None]
    if fixed.get("in") == "query" and fixed.get("name") == "created":
        fixed["schema"] = {k: v for k, v in fixed["schema"].items() if k != "format"}
    return fixed


def multi_segment_templates(spec: dict[str, Any]) -> list[tuple[re.Pattern[str], set[str]]]:
    """For each path with an ``x-multi-segment`` parameter: its regex (such a parameter matches
    across slashes, any other one segment) and the names of those parameters."""
    found = []
    shared = spec.get("components", {}).get("parameters", {})
    for template, item in spec["paths"].items():
        multi: set[str] = set()
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for param in operation.get("parameters", []):
                if "$ref" in param:
                    param = shared.get(param["$ref"].rsplit("/", 1)[-1], {})
                if param.get("in") == "path" and param.get("x-multi-segment"):
                    multi.add(param["name"])
        if multi:
            found.append((template_regex(template, multi), multi))
    return found


def template_regex(template: str, multi: set[str]) -> re.Pattern[str]:
    """A path template as a regex: a parameter named in ``multi`` spans segments, others one."""
    parts = re.split(r"\{(\w+)\}", template)  # text, name, text, name, ..., text
    regex = "".join(
        re.escape(part) if i % 2 == 0 else f"(?P<{part}>{'.+' if part in multi else '[^/]+'})"
        for i, part in enumerate(parts)
    )
    return re.compile(f"^{regex}$")


def describe(exc: BaseException) -> str:
    """An openapi-core error as one line: the error, then each schema error with its place."""
    parts = [f"{type(exc).__name__}: {exc}".split("\n", 1)[0][:300]]
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for error in getattr(current, "schema_errors", ()) or ():
            place = getattr(error, "json_path", "$")
            detail = error.message
            if error.context:
                detail += " (" + "; ".join(sorted({e.message for e in error.context}))[:300] + ")"
            parts.append(f"at {place}: {detail}")
        current = current.__cause__ or current.__context__
    return " | ".join(parts)


def _mock_request(
    method: str,
    path: str,
    query: Mapping[str, list[str]],
    headers: Mapping[str, str],
    body: bytes,
) -> MockRequest:
    content_type = headers.get("Content-Type") or headers.get("content-type") or ""
    if not content_type and body:
        content_type = "application/json"
    return MockRequest(
        HOST,
        method.lower(),
        path,
        args=dict(query),
        headers=dict(headers),
        data=body or None,
        content_type=content_type.split(";", 1)[0].strip().lower(),
    )


class Contract:
    """GitHub's description, compiled: checks requests and responses against it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = correct(spec)
        self.openapi = OpenAPI.from_dict(self.spec)
        self.lock = threading.Lock()
        self.multi = multi_segment_templates(self.spec)

    def flatten(self, path: str) -> str:
        """``path`` with the slashes inside ``x-multi-segment`` parameters encoded as ``%2F``."""
        for pattern, names in self.multi:
            found = pattern.match(path)
            if found is None:
                continue
            out, last = [], 0
            for name in sorted(found.groupdict(), key=found.start):
                start, end = found.span(name)
                value = found[name]
                out += [path[last:start], value.replace("/", "%2F") if name in names else value]
                last = end
            return "".join(out) + path[last:]
        return path

    def documented(self, method: str, template: str) -> set[str]:
        """The status codes the description lists for one operation."""
        operation = self.spec["paths"].get(template, {}).get(method.lower(), {})
        return set(operation.get("responses", {}))

    def check_request(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[str]:
        request = _mock_request(method, self.flatten(path), query, headers, body)
        try:
            with self.lock:
                self.openapi.validate_request(request)
        except PathError as exc:
            return [f"request {method} {path}: not in GitHub's description (subset): {exc}"]
        except Exception as exc:  # openapi-core raises many types; every one is a violation
            return [f"request {method} {path}: {describe(exc)}"]
        return []

    def check_response(
        self,
        method: str,
        path: str,
        template: str | None,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> list[str]:
        where = f"response {status} to {method} {path}"
        if template is None or str(status) not in self.documented(method, template):
            if status in GENERIC:
                return self._check_generic(where, body)
            if template is None:
                return [f"{where}: the operation is not in GitHub's description"]
            return [f"{where}: status {status} is not documented for {method} {template}"]
        content_type = headers.get("Content-Type", "")
        response = MockResponse(
            body,
            status_code=status,
            headers=dict(headers),
            content_type=content_type.split(";", 1)[0].strip().lower(),
        )
        request = _mock_request(method, self.flatten(path), {}, {}, b"")
        try:
            with self.lock:
                self.openapi.validate_response(request, response)
        except Exception as exc:  # every openapi-core error is a violation
            return [f"{where}: {describe(exc)}"]
        return []

    @staticmethod
    def _check_generic(where: str, body: bytes) -> list[str]:
        if not body:
            return []
        try:
            data = json.loads(body)
        except ValueError:
            return [f"{where}: the error body is not JSON"]
        if not isinstance(data, dict) or not isinstance(data.get("message"), str):
            return [f"{where}: the error body has no string 'message' (basic-error)"]
        return []


@functools.cache
def contract() -> Contract:
    """The compiled description, once per process (compiling takes a fraction of a second)."""
    with gzip.open(SUBSET, "rt", encoding="utf-8") as handle:
        return Contract(json.load(handle))
