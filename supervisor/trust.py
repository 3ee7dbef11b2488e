"""Who may say go: the one place that decides whose words the supervisor acts on.

Allowed: a person whose ``author_association`` is one of ``approval.roles``, or whose login is in
``approval.users``. Everyone else's words are data: quoted and marked untrusted for an agent,
never a reason for the supervisor to act.
"""

from __future__ import annotations

import re

from supervisor.config import Approval
from supervisor.forge.base import Comment, Forge, find_marker

BOT = re.compile(r"(\[bot\]|[-_]bot)$", re.I)


def how_to_approve(approval: Approval) -> str:
    who = ", ".join(approval.roles) or "no role"
    if approval.users:
        who += f", or {', '.join('@' + u for u in approval.users)}"
    if approval.mode == "label":
        return f"a maintainer ({who}) adds the label `{approval.label}`"
    if approval.mode == "comment":
        return f"a maintainer ({who}) comments `/ai-fix`"
    return "nobody: approval.mode is auto"


class People:
    """Who is who in a conversation."""

    def __init__(self, approval: Approval, forge: Forge) -> None:
        self.roles = {r.upper() for r in approval.roles}
        self.users = {u.lower() for u in approval.users}
        self.forge = forge

    def allowed(self, login: str, association: str) -> bool:
        return login.lower() in self.users or association.upper() in self.roles

    def standing(self, login: str, association: str) -> str:
        if login.lower() in self.users:
            return "listed in approval.users"
        if association.upper() in ("", "NONE"):
            return "no role in the repository"
        return f"{association.upper()} of the repository"

    def own(self, c: Comment) -> bool:
        """The supervisor's own comment: its marker, written by its login. (When it acts with a
        maintainer's token, that maintainer's own comments, without a marker, are still theirs.)"""
        return bool(find_marker(c.body)) and c.author == self.forge.own_login()

    @staticmethod
    def bot(login: str) -> bool:
        return bool(BOT.search(login))
