"""Where the GitHub token comes from, and which repository the target names."""

from __future__ import annotations

import os
import re
import shutil

from supervisor import shell
from supervisor.config import Config
from supervisor.errors import UserError
from supervisor.redact import add_secret

_SLUG = re.compile(
    r"^(?:https?://[^/]+/|git@[^:]+:)?([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+?)(?:\.git)?/?$"
)


def parse_target(target: str) -> tuple[str, str]:
    """owner/name, or a GitHub URL (https or ssh), as (owner, name)."""
    m = _SLUG.match(target.strip())
    if not m:
        raise UserError(
            f"target {target!r} is not a GitHub repository: write it as owner/name "
            "(e.g. tikv/pd) or as its URL"
        )
    return m.group(1), m.group(2)


def resolve_token(cfg: Config) -> str:
    """The token from github.token_env, else from `gh auth token` when the gh CLI is there."""
    name = cfg.github.token_env
    token = os.environ.get(name, "").strip()
    if not token and shutil.which("gh"):
        r = shell.run(["gh", "auth", "token"], check=False, timeout=20, quiet=True)
        if r.ok:
            token = r.stdout.strip()
    if not token:
        raise UserError(
            f"no GitHub token: set ${name} to a token with the 'repo' scope (or, for a "
            "fine-grained token, read/write Issues, Pull requests and Contents), or log in "
            "with `gh auth login`"
        )
    add_secret(token)
    return token
