"""supervisor.yaml: the schema (one set of dataclasses), validation with line numbers, overrides.

The dataclasses below are the single source of truth: validation walks them, ``init`` renders the
commented default file from them, and the rest of the package reads typed attributes. Every key has
a default except ``target``. Environment variables ``SUPERVISOR_<SECTION>_<KEY>`` override single
values (``SUPERVISOR_LIMITS_ATTEMPTS=5``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from supervisor.errors import ConfigError

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}


def parse_duration(value: object) -> float:
    """'45m' -> 2700.0; a bare number is seconds."""
    if isinstance(value, bool):
        raise ValueError("a duration like 30s, 45m, 2h, 1d or 1w")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError("a duration that is finite and not negative")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ValueError("a duration like 30s, 45m, 2h, 1d or 1w")
    return float(m.group(1)) * _UNITS[m.group(2)]


def format_duration(seconds: float) -> str:
    for unit in ("w", "d", "h", "m"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def _m(doc: str, **kw: Any) -> dict[str, Any]:
    return {"doc": doc, **kw}


@dataclass(frozen=True)
class AgentSpec:
    """codex, claude, none, or {command: [prog, arg, ...]}."""

    name: str  # codex | claude | none | command
    command: tuple[str, ...] = ()

    def describe(self) -> str:
        return " ".join(self.command) if self.name == "command" else self.name


AGENT_NAMES = ("codex", "claude", "none")


@dataclass(frozen=True)
class GithubConfig:
    token_env: str = field(
        default="GITHUB_TOKEN", metadata=_m("environment variable with the token")
    )
    api_url: str = field(default="https://api.github.com", metadata=_m("REST API root"))
    timeout: float = field(
        default=30.0, metadata=_m("limit of one request to the API", kind="duration")
    )
    retries: int = field(
        default=5, metadata=_m("tries of a request that fails with 5xx or a timeout", min=1)
    )
    backoff: float = field(
        default=1.0, metadata=_m("first wait between tries; doubles each time", kind="duration")
    )


@dataclass(frozen=True)
class CiSource:
    workflow: list[str] = field(
        default_factory=list,
        metadata=_m("GitHub Actions workflow file(s), e.g. pd-tests.yaml; empty: off"),
    )
    branches: list[str] = field(
        default_factory=list, metadata=_m("only runs on these branches; empty: every branch")
    )
    since: float = field(
        default=7 * 86400.0, metadata=_m("first scan looks back this far", kind="duration")
    )
    logs_dir: str = field(default="", metadata=_m("or a folder of CI log files; empty: off"))


@dataclass(frozen=True)
class TasksSource:
    file: str = field(
        default="tasks.md",
        metadata=_m(
            "spec file in the target (at the base branch); "
            "each unchecked '- [ ] ...' line is a task; "
            "empty: off"
        ),
    )


@dataclass(frozen=True)
class IssuesSource:
    label: str = field(
        default="ai-task", metadata=_m("forge issues with this label are work; empty: off")
    )


@dataclass(frozen=True)
class Sources:
    ci: CiSource = field(default_factory=CiSource, metadata=_m("failed CI runs"))
    tasks: TasksSource = field(default_factory=TasksSource, metadata=_m("a spec file of tasks"))
    issues: IssuesSource = field(default_factory=IssuesSource, metadata=_m("labelled forge issues"))
    main: str = field(
        default="auto",
        metadata=_m(
            "prove every new SHA of the base branch with the gates; a red one becomes an item "
            "(auto: on for the local forge, off for GitHub)",
            choices=("auto", "on", "off"),
        ),
    )


@dataclass(frozen=True)
class Agents:
    worker: AgentSpec = field(
        default=AgentSpec("codex"),
        metadata=_m(
            "writes the change: codex | claude | {command: [prog, arg, ...]}", kind="agent"
        ),
    )
    reviewer: AgentSpec = field(
        default=AgentSpec("none"),
        metadata=_m(
            "judges the diff: codex | claude | none (the gates alone decide) | {command: [...]}",
            kind="agent",
        ),
    )
    analyst: AgentSpec = field(
        default=AgentSpec("none"),
        metadata=_m(
            "writes analysis and replies: codex | claude | none | {command: [...]}", kind="agent"
        ),
    )
    timeout: float = field(
        default=45 * 60.0, metadata=_m("wall-clock limit of one agent run", kind="duration")
    )
    grace: float = field(
        default=10.0, metadata=_m("after SIGTERM, wait this long before SIGKILL", kind="duration")
    )


@dataclass(frozen=True)
class Approval:
    mode: str = field(
        default="comment", metadata=_m("who says go", choices=("auto", "label", "comment"))
    )
    label: str = field(default="ai-fix-approved", metadata=_m("the approving label (mode: label)"))
    roles: list[str] = field(
        default_factory=lambda: ["OWNER", "MEMBER", "COLLABORATOR"],
        metadata=_m("author_association values allowed to approve"),
    )
    users: list[str] = field(default_factory=list, metadata=_m("logins allowed to approve"))
    merge: str = field(
        default="auto",
        metadata=_m(
            "local forge: auto lands a proven change at once; review waits for an approving "
            "review by an allowed person (on GitHub a person always merges)",
            choices=("auto", "review"),
        ),
    )


@dataclass(frozen=True)
class Gate:
    fast: list[str] = field(
        default_factory=list,
        metadata=_m(
            "commands run on every candidate in the gate worktree; "
            "{test} and {package} are filled in"
        ),
    )
    slow: list[str] = field(default_factory=list, metadata=_m("commands run once before a merge"))
    timeout: float = field(
        default=30 * 60.0, metadata=_m("limit for each gate command", kind="duration")
    )


@dataclass(frozen=True)
class Reproduce:
    runs: int = field(default=60, metadata=_m("stress runs of a flaky test", min=1))
    parallel: str = field(
        default="auto", metadata=_m("parallel runs: auto (cores) or a number", kind="parallel")
    )
    budget: float = field(
        default=600.0, metadata=_m("total time for one reproduction", kind="duration")
    )
    runner: str = field(
        default="auto",
        metadata=_m(
            "how a test is run: auto (go.mod: go, test_*.py: pytest), command, or none "
            "(the chain does not stress-run)",
            choices=("auto", "go", "pytest", "command", "none"),
        ),
    )
    command: str = field(
        default="",
        metadata=_m("runner command: a shell command with {test} {package} {tmpdir} {port} {run}"),
    )
    timeout: float = field(
        default=300.0, metadata=_m("one run's limit; a hung run is killed", kind="duration")
    )
    race: bool = field(default=False, metadata=_m("go: build and run with -race"))
    cpu: str = field(default="", metadata=_m("go: -cpu list, e.g. 1,2,4"))
    gomaxprocs: int = field(default=0, metadata=_m("go: GOMAXPROCS for the runs (0: unset)", min=0))
    shuffle: bool = field(default=False, metadata=_m("go: -shuffle on (a random test order)"))
    stress: int = field(
        default=0, metadata=_m("busy processes started beside the runs (CPU stress)", min=0)
    )


@dataclass(frozen=True)
class Schedule:
    every: float = field(default=600.0, metadata=_m("a chain runs this often", kind="duration"))
    scan_every: float = field(
        default=86400.0, metadata=_m("the CI scan runs this often", kind="duration")
    )


@dataclass(frozen=True)
class Workspace:
    copy_files: list[str] = field(
        default_factory=list,
        metadata=_m("untracked files copied from the target into every new worktree (e.g. .env)"),
    )


@dataclass(frozen=True)
class Hooks:
    post_merge: list[str] = field(default_factory=list, metadata=_m("commands run after a merge"))
    on_failure: list[str] = field(
        default_factory=list, metadata=_m("commands run when an item fails")
    )
    on_stop: list[str] = field(
        default_factory=list, metadata=_m("commands run when the supervisor stops")
    )
    health_url: str = field(default="", metadata=_m("polled after post_merge until it answers 2xx"))
    timeout: float = field(default=300.0, metadata=_m("limit for each hook", kind="duration"))


@dataclass(frozen=True)
class Limits:
    attempts: int = field(default=3, metadata=_m("attempts per item before it is failed", min=1))
    consecutive_failures: int = field(
        default=3, metadata=_m("the chain stops after this many failed items in a row", min=1)
    )
    replies_per_day: int = field(default=5, metadata=_m("analyst replies per item per day", min=0))
    review_rounds: int = field(
        default=3,
        metadata=_m("pull request review rounds before the item asks for a person", min=1),
    )


@dataclass(frozen=True)
class Notify:
    desktop: bool = field(default=False, metadata=_m("notify-send when present"))
    slack_webhook_env: str = field(default="", metadata=_m("env var holding a Slack webhook URL"))
    discord_webhook_env: str = field(
        default="", metadata=_m("env var holding a Discord webhook URL")
    )


@dataclass(frozen=True)
class Config:
    target: str = field(
        default="",
        metadata=_m(
            "the repository: a local path (forge: local), or owner/name or a URL (forge: github)",
            required=True,
        ),
    )
    base_branch: str = field(default="", metadata=_m("empty: the target's default branch"))
    forge: str = field(
        default="local",
        metadata=_m("where issues and pull requests live", choices=("local", "github")),
    )
    github: GithubConfig = field(default_factory=GithubConfig, metadata=_m("forge: github"))
    sources: Sources = field(default_factory=Sources, metadata=_m("where work comes from"))
    agents: Agents = field(default_factory=Agents, metadata=_m("the three agent roles"))
    approval: Approval = field(default_factory=Approval, metadata=_m("who may approve a fix"))
    gate: Gate = field(default_factory=Gate, metadata=_m("checks run in the gate worktree"))
    reproduce: Reproduce = field(
        default_factory=Reproduce, metadata=_m("stress runs of flaky tests")
    )
    schedule: Schedule = field(
        default_factory=Schedule, metadata=_m("how often chains and scans run")
    )
    workspace: Workspace = field(default_factory=Workspace, metadata=_m("worktree set-up"))
    hooks: Hooks = field(default_factory=Hooks, metadata=_m("commands run on events"))
    limits: Limits = field(default_factory=Limits, metadata=_m("caps"))
    notify: Notify = field(default_factory=Notify, metadata=_m("notifications"))
    # Not a key: where the file was read from (relative paths resolve against its folder).
    source_dir: Path = field(default=Path("."), metadata={"internal": True}, compare=False)

    def path(self, value: str) -> Path:
        """A path from the config: relative ones are relative to the config file's folder."""
        p = Path(value).expanduser()
        return (p if p.is_absolute() else self.source_dir / p).resolve()

    def target_path(self) -> Path:
        """The target as a local path (forge: local)."""
        return self.path(self.target)


# Keys that are validated and documented but not yet acted on by this version.
NOT_YET_USED: tuple[str, ...] = ()


def type_hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def public_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if not f.metadata.get("internal")]


class _Lines:
    """Line numbers of keys in the YAML document, by dotted path."""

    def __init__(self, text: str) -> None:
        self.lines: dict[str, int] = {}
        self.env: dict[str, str] = {}  # dotted path -> the environment variable that set it
        try:
            node = yaml.compose(text)
        except yaml.YAMLError:
            return
        if node is not None:
            self._walk(node, "")

    def _walk(self, node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}{key.value}"
                self.lines[path] = key.start_mark.line + 1
                self._walk(value, path + ".")

    def at(self, path: str) -> str:
        line = self.lines.get(path)
        return f" (line {line})" if line else ""


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate supervisor.yaml.

    Raises ConfigError naming the key, its line and what is allowed.
    """
    if not path.exists():
        raise ConfigError(
            f"no config at {path}: run `supervisor init --target PATH` in this folder, "
            "or pass --home DIR (or set SUPERVISOR_HOME) to use another one"
        )
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(f"{path}{where}: not valid YAML: {problem}") from e
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: the top level must be a mapping of keys (target: ..., forge: ...)"
        )
    lines = _Lines(text)
    lines.env = _apply_env(data, os.environ if env is None else env)
    cfg: Config = _build(Config, data, "", lines, str(path))
    cfg = dataclasses.replace(cfg, source_dir=path.parent.resolve())
    if not cfg.target:
        raise ConfigError(
            f"{path}: 'target' is missing: set it to the repository to work on "
            "(a local path, or owner/name with forge: github)"
        )
    return cfg


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, str]:
    """Apply SUPERVISOR_<KEY> overrides; returns {dotted path: variable name} of those applied."""
    applied: dict[str, str] = {}
    for path, _ in leaf_paths(Config):
        name = "SUPERVISOR_" + path.replace(".", "_").upper()
        if name not in env:
            continue
        try:
            value = yaml.safe_load(env[name])
        except yaml.YAMLError as e:
            raise ConfigError(f"environment variable {name}: not a valid value ({e})") from e
        node = data
        *parents, leaf = path.split(".")
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = {}
                node[key] = child
            node = child
        node[leaf] = value
        applied[path] = name
    return applied


def leaf_paths(cls: type, prefix: str = "") -> list[tuple[str, dataclasses.Field[Any]]]:
    out: list[tuple[str, dataclasses.Field[Any]]] = []
    hints = type_hints(cls)
    for f in public_fields(cls):
        t = hints[f.name]
        if dataclasses.is_dataclass(t) and f.metadata.get("kind") != "agent":
            out.extend(leaf_paths(t, f"{prefix}{f.name}."))  # type: ignore[arg-type]
        else:
            out.append((f"{prefix}{f.name}", f))
    return out


def _build(cls: type, data: object, prefix: str, lines: _Lines, file: str) -> Any:
    where = prefix.rstrip(".") or "the top level"
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: '{where}'{lines.at(where)} must be a mapping of keys")
    fields = {f.name: f for f in public_fields(cls)}
    for key in data:
        if key not in fields:
            path = f"{prefix}{key}"
            raise ConfigError(
                f"{file}: unknown key '{path}'{lines.at(path)}; allowed in {where}: "
                + ", ".join(sorted(fields))
            )
    hints = type_hints(cls)
    values: dict[str, Any] = {}
    for name, f in fields.items():
        if name not in data:
            continue
        path = f"{prefix}{name}"
        t = hints[name]
        if dataclasses.is_dataclass(t) and f.metadata.get("kind") != "agent":
            values[name] = _build(t, data[name] or {}, path + ".", lines, file)  # type: ignore[arg-type]
        else:
            try:
                values[name] = _scalar(t, f, data[name])
            except ValueError as e:
                if path in lines.env:
                    raise ConfigError(
                        f"environment variable {lines.env[path]} is {data[name]!r}; "
                        f"expected {e} (it overrides '{path}' of {file})"
                    ) from None
                raise ConfigError(
                    f"{file}: '{path}'{lines.at(path)} is {data[name]!r}; expected {e}"
                ) from None
    return cls(**values)


def _scalar(t: Any, f: dataclasses.Field[Any], value: object) -> Any:
    meta = f.metadata
    kind = meta.get("kind")
    if kind == "duration":
        return parse_duration(value)
    if kind == "agent":
        return parse_agent(value)
    if kind == "parallel":
        if value == "auto" or (
            isinstance(value, int) and not isinstance(value, bool) and value >= 1
        ):
            return str(value)
        raise ValueError("'auto' or a whole number of at least 1")
    if t is bool:
        if not isinstance(value, bool):
            raise ValueError("true or false")
        return value
    if t is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValueError("a whole number")
        if "min" in meta and value < meta["min"]:
            raise ValueError(f"a whole number of at least {meta['min']}")
        return value
    if t is str:
        choices = meta.get("choices")
        if isinstance(value, bool) and choices and {"on", "off"} <= set(choices):
            value = "on" if value else "off"  # YAML reads a bare on/off as a boolean
        if not isinstance(value, str):
            raise ValueError("a string")
        if choices and value not in choices:
            raise ValueError("one of " + ", ".join(choices))
        return value
    origin = typing.get_origin(t)
    if origin is list:
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("a list of strings")
        return list(value)
    raise ValueError(f"a value of type {t}")  # pragma: no cover - schema bug


def parse_agent(value: object) -> AgentSpec:
    if isinstance(value, str):
        if value in AGENT_NAMES:
            return AgentSpec(value)
        raise ValueError("codex, claude, none, or {command: [prog, arg, ...]}")
    if isinstance(value, dict) and set(value) == {"command"}:
        cmd = value["command"]
        if isinstance(cmd, str):
            import shlex

            cmd = shlex.split(cmd)
        if isinstance(cmd, list) and cmd and all(isinstance(c, str) and c for c in cmd):
            return AgentSpec("command", tuple(cmd))
        raise ValueError("{command: [prog, arg, ...]} with a non-empty list of strings")
    raise ValueError("codex, claude, none, or {command: [prog, arg, ...]}")


__all__ = ["AgentSpec", "Config", "load_config", "parse_duration"]
