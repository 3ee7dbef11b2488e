"""The one place that builds the real dependencies (config, store, forge, workspace, agents)."""

from __future__ import annotations

import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from supervisor import cursors
from supervisor.agents import RunControl, build_agent
from supervisor.config import AgentSpec, Config, load_config
from supervisor.cursors import CursorEtags
from supervisor.errors import UserError
from supervisor.forge.base import Forge
from supervisor.forge.local import LocalForge
from supervisor.github.auth import parse_target, resolve_token
from supervisor.github.client import GitHubClient, RetryPolicy
from supervisor.github.forge import GitHubForge
from supervisor.home import Home
from supervisor.items import EventLog, ItemStore
from supervisor.redact import redact
from supervisor.steps import Deps
from supervisor.workspace import Remote, Workspace


def load(home: Home) -> Config:
    return load_config(home.config_file)


def item_store(home: Home) -> ItemStore:
    return ItemStore(home.items_dir, EventLog(home.events_file))


def github_client(
    home: Home,
    cfg: Config,
    on_wait: Callable[[str, float], None] | None = None,
    remember: bool = True,
) -> tuple[GitHubClient, str]:
    """The client and its token. remember=False: ETags are not saved (a dry run writes no
    state)."""
    token = resolve_token(cfg)
    client = GitHubClient(
        cfg.github.api_url,
        token,
        timeout=cfg.github.timeout,
        retry=RetryPolicy(attempts=cfg.github.retries, backoff_s=cfg.github.backoff),
        etags=CursorEtags(home) if remember else None,
        on_wait=on_wait,
    )
    return client, token


def build_forge(
    home: Home, cfg: Config, on_wait: Callable[[str, float], None] | None = None
) -> Forge:
    if cfg.forge == "local":
        return LocalForge(home.forge_dir)
    owner, name = parse_target(cfg.target)
    return GitHubForge(github_client(home, cfg, on_wait)[0], owner, name)


def check_agent_available(role: str, spec: AgentSpec) -> None:
    """A missing agent program is a configuration problem, not a failed attempt."""
    if (
        spec.name == "command"
        and shutil.which(spec.command[0]) is None
        and not Path(spec.command[0]).is_file()
    ):
        raise UserError(
            f"agents.{role}: the program {spec.command[0]!r} is not installed or not "
            "on PATH: install it, or give its full path in supervisor.yaml"
        )


def build_deps(
    home: Home,
    cfg: Config,
    control: RunControl,
    on_wait: Callable[[str, float], None] | None = None,
    agents: bool = True,
) -> Deps:
    """agents=False: a scan only (no agent is built or checked)."""
    worker = reviewer = analyst = None
    if agents:
        worker = build_agent("worker", cfg.agents.worker, control)
        if worker is None:
            raise UserError("agents.worker cannot be none: the worker writes the changes")
        check_agent_available("worker", cfg.agents.worker)
        reviewer = build_agent("reviewer", cfg.agents.reviewer, control)
        if reviewer is not None:
            check_agent_available("reviewer", cfg.agents.reviewer)
        analyst = build_agent("analyst", cfg.agents.analyst, control)
        if analyst is not None:
            check_agent_available("analyst", cfg.agents.analyst)
    if cfg.forge == "github":
        owner, name = parse_target(cfg.target)
        client, token = github_client(home, cfg, on_wait)
        github = GitHubForge(client, owner, name)
        repo = github.repository(cursors.read(home).get("repository"))
        keep = ("full_name", "clone_url", "default_branch", "permissions")
        cursors.update(home, "repository", {k: repo.get(k) for k in keep})
        forge: Forge = github
        workspace = Workspace(home, cfg, Remote(str(repo["clone_url"]), token))
    else:
        forge = LocalForge(home.forge_dir)
        workspace = Workspace(home, cfg)
    return Deps(
        home=home,
        cfg=cfg,
        items=item_store(home),
        forge=forge,
        workspace=workspace,
        worker=worker,
        reviewer=reviewer,
        control=control,
        analyst=analyst,
    )


class _NotCommands(logging.Filter):
    """Keep the console readable: the `$ cmd` lines go to the log file only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.name != "supervisor.shell" or record.levelno >= logging.WARNING


class _ConsoleFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = record.getMessage()
        return text if record.levelno < logging.WARNING else f"{record.levelname.lower()}: {text}"


class _RedactFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = redact(record.getMessage())
        record.args = None
        return True


def teardown_logging() -> None:
    root = logging.getLogger("supervisor")
    for h in list(root.handlers):
        root.removeHandler(h)
        h.close()
    root.propagate = True
    root.setLevel(logging.NOTSET)


def setup_logging(home: Home, console: bool, verbose: bool = False) -> None:
    """logs/supervisor.log (always) and stderr (unless running in the background)."""
    root = logging.getLogger("supervisor")
    teardown_logging()
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    home.logs.mkdir(parents=True, exist_ok=True)
    file_handler = logging.FileHandler(home.log_file, encoding="utf-8")
    file_handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%Y-%m-%dT%H:%M:%S%z")
    )
    handlers: list[logging.Handler] = [file_handler]
    if console:
        stream = logging.StreamHandler(sys.stderr)
        stream.addFilter(_NotCommands())
        stream.setFormatter(_ConsoleFormatter())
        handlers.append(stream)
    for h in handlers:
        h.addFilter(_RedactFilter())
        root.addHandler(h)
    root.propagate = False
