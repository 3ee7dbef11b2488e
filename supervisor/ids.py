"""Typed identifiers used across the package."""

from __future__ import annotations

from typing import NewType

ItemId = NewType("ItemId", str)
IssueNumber = NewType("IssueNumber", int)
Sha = NewType("Sha", str)
