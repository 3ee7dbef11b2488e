"""Trim GitHub's OpenAPI description to the operations the project uses.

Reads GitHub's official description (``../shared/data/github-openapi/api.github.com.json.gz``
relative to the repository root, or ``--source PATH``), keeps only the paths and methods listed in
``OPERATIONS`` and every component they reference (the transitive ``$ref`` closure), and writes
``tests/fakegithub/openapi-subset.json.gz`` with sorted keys, so that the same input always gives
the same bytes. The output is vendored: the tests run without ``../shared``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "github-openapi" / "api.github.com.json.gz"
DEFAULT_OUTPUT = ROOT / "tests" / "fakegithub" / "openapi-subset.json.gz"

R = "/repos/{owner}/{repo}"
OPERATIONS: dict[str, tuple[str, ...]] = {
    "/user": ("get",),
    R: ("get",),
    "/rate_limit": ("get",),
    f"{R}/issues": ("get", "post"),
    f"{R}/issues/{{issue_number}}": ("get", "patch"),
    f"{R}/issues/{{issue_number}}/comments": ("get", "post"),
    f"{R}/issues/comments/{{comment_id}}": ("patch",),
    f"{R}/issues/{{issue_number}}/labels": ("post",),
    f"{R}/issues/{{issue_number}}/events": ("get",),
    f"{R}/labels": ("post",),
    f"{R}/labels/{{name}}": ("get",),
    "/search/issues": ("get",),
    f"{R}/pulls": ("get", "post"),
    f"{R}/pulls/{{pull_number}}": ("get", "patch"),
    f"{R}/pulls/{{pull_number}}/merge": ("put",),
    f"{R}/pulls/{{pull_number}}/reviews": ("get",),
    f"{R}/pulls/{{pull_number}}/comments": ("get",),
    f"{R}/pulls/{{pull_number}}/comments/{{comment_id}}/replies": ("post",),
    f"{R}/collaborators/{{username}}/permission": ("get",),
    f"{R}/git/refs/{{ref}}": ("delete",),
    f"{R}/commits/{{ref}}/status": ("get",),
    f"{R}/commits/{{ref}}/check-runs": ("get",),
    f"{R}/actions/workflows/{{workflow_id}}/runs": ("get",),
    f"{R}/actions/runs/{{run_id}}/jobs": ("get",),
    f"{R}/actions/runs/{{run_id}}/attempts/{{attempt_number}}/jobs": ("get",),
    f"{R}/actions/jobs/{{job_id}}/logs": ("get",),
}
PATH_ITEM_KEYS = ("parameters", "servers")
REF_PREFIX = "#/components/"


def refs(node: Any) -> Iterator[str]:
    """Every ``$ref`` string anywhere inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def trim(spec: dict[str, Any]) -> dict[str, Any]:
    """The subset of ``spec`` holding ``OPERATIONS`` and the components they reference."""
    paths: dict[str, Any] = {}
    for path, methods in OPERATIONS.items():
        item = spec["paths"].get(path)
        if item is None:
            raise SystemExit(f"trim_openapi: {path} is not in the source description")
        kept = {key: item[key] for key in PATH_ITEM_KEYS if key in item}
        for method in methods:
            if method not in item:
                raise SystemExit(f"trim_openapi: {method.upper()} {path} is not in the source")
            kept[method] = item[method]
        paths[path] = kept

    components: dict[str, dict[str, Any]] = {}
    pending = list(refs(paths))
    seen: set[str] = set()
    while pending:
        ref = pending.pop()
        if ref in seen:
            continue
        seen.add(ref)
        if not ref.startswith(REF_PREFIX):
            raise SystemExit(f"trim_openapi: unsupported $ref {ref}")
        section, _, name = ref[len(REF_PREFIX) :].partition("/")
        value = spec["components"][section][name]
        components.setdefault(section, {})[name] = value
        pending.extend(refs(value))

    return {
        "openapi": spec["openapi"],
        "info": spec["info"],
        "servers": spec["servers"],
        "externalDocs": spec.get("externalDocs", {}),
        "paths": paths,
        "components": components,
    }


def render(spec: dict[str, Any]) -> bytes:
    """Deterministic gzip of the sorted JSON (no timestamp or file name in the gzip header)."""
    text = json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return gzip.compress(text.encode(), compresslevel=9, mtime=0)


def load(path: Path) -> dict[str, Any]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        spec: dict[str, Any] = json.load(handle)
    return spec


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="the full description")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="where to write")
    args = parser.parse_args(argv)
    data = render(trim(load(args.source)))
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
