"""Fixtures for the fake's own tests: a bare repository, a fake with a repo, a client session.

``fake_github`` is imported here so these tests run before (and after) the top-level conftest
registers ``fakegithub.fixture`` as a plugin.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from fakegithub.fixture import fake_github
from fakegithub.server import FakeGitHub

__all__ = ["bare_repo", "fake_github", "gh"]

TOKEN = "ghp_faketoken000000000000000000000000000"
REPO = "acme/widgets"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def bare_repo(tmp_path: Path) -> Path:
    """A bare repository: ``main`` (README.md), ``fix`` (adds fix.txt), ``clash`` (edits README)."""
    work = tmp_path / "work"
    work.mkdir()
    git(work, "init", "-q", "-b", "main")
    (work / "README.md").write_text("hello\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "initial")
    git(work, "checkout", "-qb", "fix")
    (work / "fix.txt").write_text("fixed\n")
    git(work, "add", "-A")
    git(work, "commit", "-qm", "Fix the widget")
    git(work, "checkout", "-q", "main")
    git(work, "checkout", "-qb", "clash")
    (work / "README.md").write_text("clash\n")
    git(work, "commit", "-qam", "Clash")
    git(work, "checkout", "-q", "main")
    (work / "README.md").write_text("moved on\n")
    git(work, "commit", "-qam", "Main moves on")
    bare = tmp_path / "origin.git"
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True
    )
    return bare


@dataclass
class Client:
    """``requests`` against the fake, authenticated as the ``bot`` user."""

    fake: FakeGitHub
    session: requests.Session

    def call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        url = path if path.startswith("http") else self.fake.url + path
        return self.session.request(method, url, **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, **kwargs)


@pytest.fixture
def gh(fake_github: FakeGitHub, bare_repo: Path) -> Iterator[Client]:
    """The fake with users bot (collaborator), maint (member), owner acme, and ``acme/widgets``."""
    fake_github.add_user("bot", TOKEN)
    fake_github.add_repo(
        "acme",
        "widgets",
        git_dir=bare_repo,
        collaborators={"bot": "COLLABORATOR", "maint": "MEMBER"},
    )
    session = requests.Session()
    session.headers.update(
        {
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
    )
    with session:
        yield Client(fake_github, session)
