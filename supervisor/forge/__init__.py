"""Where issues and pull requests live: the Forge interface and its implementations."""

from __future__ import annotations

from supervisor.forge.base import Comment, Forge, Issue, Pull, marker

__all__ = ["Comment", "Forge", "Issue", "Pull", "marker"]
