"""Build the agent for a role from its AgentSpec: the one place adapters are chosen."""

from __future__ import annotations

from supervisor.agents.base import Agent, RunControl
from supervisor.agents.claude import ClaudeAgent
from supervisor.agents.codex import CodexAgent
from supervisor.agents.command import CommandAgent
from supervisor.config import AgentSpec
from supervisor.errors import UserError


def build_agent(role: str, spec: AgentSpec, control: RunControl) -> Agent | None:
    """The agent for role, or None for `none`."""
    if spec.name == "none":
        return None
    if spec.name == "command":
        return CommandAgent(spec.command, control)
    if spec.name == "codex":
        return CodexAgent(control)
    if spec.name == "claude":
        return ClaudeAgent(control)
    raise UserError(f"agents.{role}: unknown agent {spec.name!r}")
