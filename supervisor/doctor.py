"""`supervisor doctor`: check what the chain needs, and say what to fix for each failure."""

from __future__ import annotations

import shutil
from dataclasses import dataclass

from supervisor import git
from supervisor.app import check_agent_available
from supervisor.config import NOT_YET_USED, Config, leaf_paths, load_config
from supervisor.errors import UserError
from supervisor.home import Home

MIN_FREE_BYTES = 2 * 1024**3


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    warning: bool = False


def run_checks(home: Home) -> list[Check]:
    checks: list[Check] = []
    try:
        v = git.version()
        ok = v >= git.MIN_VERSION
        checks.append(
            Check(
                "git",
                ok,
                f"git {v[0]}.{v[1]}",
                "" if ok else f"install git {git.MIN_VERSION[0]}.{git.MIN_VERSION[1]} or newer",
            )
        )
    except UserError as e:
        checks.append(Check("git", False, str(e), "install git"))
    try:
        cfg = load_config(home.config_file)
        checks.append(Check("config", True, str(home.config_file)))
    except UserError as e:
        checks.append(Check("config", False, str(e), "correct supervisor.yaml as the message says"))
        cfg = None
    if cfg is not None:
        checks += _target(cfg)
        checks += _agents(cfg)
        unused = _unused_keys(cfg)
        if unused:
            checks.append(
                Check(
                    "unused keys",
                    True,
                    "set but not yet acted on by this version: " + ", ".join(unused),
                    warning=True,
                )
            )
    free = shutil.disk_usage(home.root if home.root.exists() else home.root.parent).free
    checks.append(
        Check(
            "disk",
            free >= MIN_FREE_BYTES,
            f"{free / 1024**3:.1f} GiB free",
            "free some disk space: worktrees need room for copies of the target",
        )
    )
    if home.stop_file.exists():
        checks.append(
            Check(
                "STOP", False, f"{home.stop_file} exists: start will refuse", f"rm {home.stop_file}"
            )
        )
    return checks


def _target(cfg: Config) -> list[Check]:
    if cfg.forge != "local":
        return [
            Check(
                "target", True, f"{cfg.target} (forge {cfg.forge}: not checked here)", warning=True
            )
        ]
    path = cfg.target_path()
    if not git.is_repo(path):
        return [
            Check(
                "target",
                False,
                f"{path} is not a git repository",
                "set 'target' to a local git repository",
            )
        ]
    branch = cfg.base_branch or git.default_branch(path)
    if git.try_rev_parse(path, f"refs/heads/{branch}") is None:
        return [Check("target", False, f"{path} has no branch {branch}", "set base_branch")]
    return [Check("target", True, f"{path} (base branch {branch})")]


def _agents(cfg: Config) -> list[Check]:
    out = []
    for role in ("worker", "reviewer"):
        spec = getattr(cfg.agents, role)
        if spec.name == "none":
            if role == "worker":
                out.append(Check(role, False, "agents.worker is none", "configure a worker"))
            continue
        if spec.name != "command":
            out.append(
                Check(
                    role,
                    False,
                    f"the built-in {spec.name} adapter is not part of this version",
                    f"use agents.{role}: {{command: [...]}} (see README)",
                )
            )
            continue
        try:
            check_agent_available(role, spec)
            out.append(Check(role, True, spec.describe()))
        except UserError as e:
            out.append(Check(role, False, str(e), "install it or fix the path"))
    return out


def _unused_keys(cfg: Config) -> list[str]:
    default = Config(target=cfg.target)
    changed = []
    for path, _ in leaf_paths(Config):
        a, b = cfg, default
        for part in path.split("."):
            a, b = getattr(a, part), getattr(b, part)
        if a != b and any(path == k or path.startswith(k + ".") for k in NOT_YET_USED):
            changed.append(path)
    return changed


def render(checks: list[Check]) -> str:
    lines = []
    for c in checks:
        mark = "ok  " if c.ok and not c.warning else ("warn" if c.ok else "FAIL")
        lines.append(f"{mark}  {c.name}: {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"      fix: {c.fix}")
    return "\n".join(lines)
