"""The one GraphQL mutation the supervisor needs: markPullRequestReadyForReview.

GitHub has no REST endpoint to take a pull request out of draft. GraphQL is not part of the REST
OpenAPI description, so these requests are exempt from the contract check; anything but this one
mutation is answered 501, never a made-up success.
"""

from __future__ import annotations

import json
from typing import Any

from fakegithub.render import node_id
from fakegithub.routes import HttpError
from fakegithub.state import World

MUTATION = "markPullRequestReadyForReview"


def answer(world: World, body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError as e:
        raise HttpError(400, "Problems parsing JSON") from e
    query = str(doc.get("query", ""))
    if MUTATION not in query:
        raise HttpError(
            501, "fake github implements only the markPullRequestReadyForReview GraphQL mutation"
        )
    wanted = str((doc.get("variables") or {}).get("id", ""))
    for repo in world.repos.values():
        for issue in repo.issues.values():
            if issue.pull is not None and node_id("PullRequest", issue.id) == wanted:
                issue.pull.draft = False
                return {
                    "data": {MUTATION: {"pullRequest": {"number": issue.number, "isDraft": False}}}
                }
    return {
        "data": None,
        "errors": [
            {
                "type": "NOT_FOUND",
                "path": [MUTATION],
                "message": f"Could not resolve to a node with the global id of '{wanted}'",
            }
        ],
    }
