"""A fake GitHub REST server for the tests, held to GitHub's OpenAPI description."""

from __future__ import annotations

from fakegithub.server import FakeGitHub, Recorded

__all__ = ["FakeGitHub", "Recorded"]
