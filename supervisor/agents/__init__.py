"""Coding-agent adapters behind one interface (see base.Agent)."""

from __future__ import annotations

from supervisor.agents.base import Agent, AgentRun, RunControl
from supervisor.agents.factory import build_agent

__all__ = ["Agent", "AgentRun", "RunControl", "build_agent"]
