"""Build the agent for a role from its AgentSpec: the one place adapters are chosen."""

from __future__ import annotations

from supervisor.agents.base import Agent, RunControl
from supervisor.agents.command import CommandAgent
from supervisor.config import AgentSpec
from supervisor.errors import UserError

_EXAMPLES = {
    "codex": "{command: [codex, exec, --sandbox, workspace-write, -]}",
    "claude": "{command: [claude, -p, --permission-mode, acceptEdits]}",
}


def build_agent(role: str, spec: AgentSpec, control: RunControl) -> Agent | None:
    """The agent for role, or None for `none`."""
    if spec.name == "none":
        return None
    if spec.name == "command":
        return CommandAgent(spec.command, control)
    raise UserError(
        f"agents.{role}: the built-in '{spec.name}' adapter is not part of this version yet. "
        "Run the CLI through the command adapter instead, e.g. "
        f"agents.{role}: {_EXAMPLES[spec.name]}"
    )
