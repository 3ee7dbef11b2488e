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
        checks += _target(home, cfg)
        checks += _agents(cfg)
        checks += _notify(cfg)
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


def _github(home: Home, cfg: Config) -> list[Check]:
    """The token (present, valid, enough scope) and the repository (visible, pushable)."""
    from supervisor.app import github_client
    from supervisor.github.auth import parse_target
    from supervisor.github.client import SCOPES_HELP

    try:
        owner, name = parse_target(cfg.target)
        client, _ = github_client(home, cfg)
        me = client.request("GET", "/user")
    except UserError as e:
        fix = f"set ${cfg.github.token_env}; {SCOPES_HELP}"
        return [Check("github token", False, str(e), fix)]
    login = me.data.get("login", "?")
    scopes = me.headers.get("X-OAuth-Scopes")
    checks = []
    if scopes is not None:  # a classic token lists its scopes
        have = sorted({s.strip() for s in scopes.split(",") if s.strip()})
        ok = bool(set(have) & {"repo", "public_repo"})
        detail = f"{login}, scopes: {', '.join(have) or 'none'}"
        fix = f"create a token with the 'repo' scope; {SCOPES_HELP}"
        checks.append(Check("github token", ok, detail, fix))
    else:
        checks.append(Check("github token", True, f"{login} (fine-grained token)"))
    try:
        repo = client.get(f"/repos/{owner}/{name}")
    except UserError as e:
        return [*checks, Check("target", False, str(e), "check the target owner/name")]
    can_push = bool((repo.get("permissions") or {}).get("push"))
    detail = (
        f"{owner}/{name} (default branch {repo.get('default_branch')}, "
        f"{'can' if can_push else 'cannot'} push)"
    )
    fix = (
        f"the token's user needs write access to {owner}/{name} to push branches and open "
        "pull requests"
    )
    checks.append(Check("target", can_push, detail, fix))
    return checks


def _target(home: Home, cfg: Config) -> list[Check]:
    if cfg.forge == "github":
        return _github(home, cfg)
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


def _notify(cfg: Config) -> list[Check]:
    """The notification channels configured, and whether each can be used."""
    from supervisor.notify import Notifier

    n = cfg.notify
    wanted = [
        name
        for name, on in (
            ("desktop", n.desktop),
            ("slack", bool(n.slack_webhook_env)),
            ("discord", bool(n.discord_webhook_env)),
        )
        if on
    ]
    if not wanted:
        return []
    usable = Notifier(n).channels()
    missing = [w for w in wanted if w not in usable]
    if missing:
        return [
            Check(
                "notify",
                False,
                f"configured but not usable: {', '.join(missing)}",
                "install notify-send (desktop), or set the webhook URL in the environment "
                "variable that notify.*_webhook_env names",
            )
        ]
    return [Check("notify", True, ", ".join(usable))]


def _agents(cfg: Config) -> list[Check]:
    out = []
    for role in ("worker", "reviewer", "analyst"):
        spec = getattr(cfg.agents, role)
        if spec.name == "none":
            if role == "worker":
                out.append(Check(role, False, "agents.worker is none", "configure a worker"))
            continue
        if spec.name in ("codex", "claude"):
            out.append(_cli(role, spec.name))
            continue
        try:
            check_agent_available(role, spec)
            out.append(Check(role, True, spec.describe()))
        except UserError as e:
            out.append(Check(role, False, str(e), "install it or fix the path"))
    return out


INSTALL = {
    "codex": "npm install -g @openai/codex, then `codex login`",
    "claude": "npm install -g @anthropic-ai/claude-code, then `claude login`",
}


def _cli(role: str, name: str) -> Check:
    """A built-in agent CLI: installed, and (codex, which would retry forever) logged in."""
    if shutil.which(name) is None:
        return Check(role, False, f"{name} is not installed (not on PATH)", INSTALL[name])
    if name == "codex":
        from supervisor.agents import RunControl
        from supervisor.agents.codex import CodexAgent

        ok, text = CodexAgent(RunControl()).logged_in()
        if not ok:
            return Check(role, False, f"codex is not logged in: {text[:200]}", "run `codex login`")
    return Check(role, True, name)


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
