"""The commented supervisor.yaml that `supervisor init` writes, rendered from the schema."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import yaml

from supervisor.config import (
    NOT_YET_USED,
    AgentSpec,
    Config,
    format_duration,
    public_fields,
    type_hints,
)


def render_default(overrides: Mapping[str, Any]) -> str:
    """The commented supervisor.yaml that `init` writes: every key, its default and what it means.

    overrides: dotted path -> value written instead of the default (e.g. target, forge).
    """
    out = [
        "# supervisor.yaml: the configuration of one supervisor home.",
        "# Every key is shown with its default; remove a key to get the default back.",
        "# Environment variables SUPERVISOR_<SECTION>_<KEY> override single values.",
        "",
    ]
    _render(Config, "", 0, overrides, out)
    return "\n".join(out) + "\n"


def _render(
    cls: type, prefix: str, depth: int, overrides: Mapping[str, Any], out: list[str]
) -> None:
    hints = type_hints(cls)
    pad = "  " * depth
    for f in public_fields(cls):
        path = f"{prefix}{f.name}"
        t = hints[f.name]
        note = " (not yet acted on by this version)" if path in NOT_YET_USED else ""
        doc = f.metadata.get("doc", "")
        if dataclasses.is_dataclass(t) and f.metadata.get("kind") != "agent":
            if depth == 0:
                out.append("")
            out.append(f"{pad}# {doc}{note}")
            out.append(f"{pad}{f.name}:")
            _render(t, path + ".", depth + 1, overrides, out)  # type: ignore[arg-type]
            continue
        default = f.default
        if default is dataclasses.MISSING:
            default = f.default_factory()  # type: ignore[operator]
        value = overrides.get(path, default)
        choices = f.metadata.get("choices")
        if choices:
            doc += f" ({' | '.join(choices)})"
        out.append(f"{pad}# {doc}{note}")
        out.append(f"{pad}{f.name}: {_yaml_value(value, f.metadata.get('kind'))}")


def _yaml_value(value: Any, kind: str | None) -> str:
    if kind == "duration" and isinstance(value, float):
        return format_duration(value)
    if isinstance(value, AgentSpec):
        if value.name == "command":
            return "{command: " + _flow(list(value.command)) + "}"
        return value.name
    return _flow(value)


def _flow(value: Any) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    return text[:-4].rstrip() if text.endswith("\n...") else text.removesuffix("...").strip()
