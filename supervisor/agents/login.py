"""Checks done before an agent is first run: codex with no credentials would retry forever."""

from __future__ import annotations

from supervisor.agents.base import Agent
from supervisor.agents.codex import CodexAgent
from supervisor.errors import ChainHalted


def check_login(agent: Agent) -> None:
    """Halt the chain (nothing spent, the item resumes later) when codex is not logged in.

    Checked once per agent object (that is, once per supervisor run)."""
    if not isinstance(agent, CodexAgent) or agent.login_checked:
        return
    ok, text = agent.logged_in()
    if not ok:
        raise ChainHalted(
            f"codex is not logged in (`codex login status`: {text[:200]}): run `codex login`, "
            "then start again; the item resumes where it was"
        )
    agent.login_checked = True
