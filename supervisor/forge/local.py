"""The local forge: issues and pull requests as JSON files under state/forge/.

    state/forge/issues/<n>.json   {number, title, body, state, labels, author, comments: [...]}
    state/forge/pulls/<n>.json    {number, title, body, head, base, state, draft, merged_sha}

Issues and pull requests share one number sequence, as on GitHub. A number is claimed by creating
numbers/<n> exclusively (two writers never get the same number); the file itself is then written
atomically, so a crash never leaves a half-written issue.

People use it by editing these files (or with `supervisor` commands in later versions); a file a
person wrote by hand only needs ``title`` and ``labels``: everything else has a default.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from supervisor import store
from supervisor.errors import UserError
from supervisor.forge.base import Comment, Issue, Pull, find_marker
from supervisor.ids import IssueNumber
from supervisor.items import now_utc

AUTHOR = "supervisor"


class LocalForge:
    name = "local"

    def __init__(self, root: Path) -> None:
        self.root = root
        self.issues_dir = root / "issues"
        self.pulls_dir = root / "pulls"
        self.claims_dir = root / "numbers"

    # -- files --------------------------------------------------------------------------------

    def _load(self, path: Path) -> dict[str, Any] | None:
        """A forge file; one a person wrote by hand needs no schema_version or number."""
        try:
            raw = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        except ValueError:
            raw = None  # store.read_json moves it aside and reports it
        if isinstance(raw, dict) and "schema_version" not in raw:
            doc: dict[str, Any] | None = {**raw, "schema_version": store.SCHEMA_VERSION}
        else:
            doc = store.read_json(path, "forge")
        if doc is not None:
            doc.setdefault("number", int(path.stem))
        return doc

    def _read(self, path: Path) -> dict[str, Any]:
        doc = self._load(path)
        if doc is None:
            raise UserError(f"the local forge has no {path.parent.name[:-1]} {path.stem} ({path})")
        return doc

    def _docs(self, folder: Path) -> list[dict[str, Any]]:
        docs = []
        if folder.exists():
            for path in sorted(
                (p for p in folder.glob("*.json") if p.stem.isdigit()), key=lambda p: int(p.stem)
            ):
                doc = self._load(path)
                if doc is not None:
                    docs.append(doc)
        return docs

    def _next_number(self) -> int:
        numbers = [
            int(p.name.removesuffix(".json"))
            for d in (self.issues_dir, self.pulls_dir, self.claims_dir)
            if d.exists()
            for p in d.iterdir()
            if p.name.removesuffix(".json").isdigit()
        ]
        return max(numbers, default=0) + 1

    def _create(self, folder: Path, doc: dict[str, Any]) -> dict[str, Any]:
        """Claim the next number (shared by issues and pulls), then write the file atomically.

        A number is claimed by creating numbers/<n> exclusively, which fails if another writer
        claimed it first; a crash after the claim only leaves a gap in the numbering.
        """
        self.claims_dir.mkdir(parents=True, exist_ok=True)
        while True:
            number = self._next_number()
            try:
                os.close(os.open(self.claims_dir / str(number), os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue
            doc = {**doc, "number": number}
            store.write_json(folder / f"{number}.json", doc)
            return {**doc, "schema_version": store.SCHEMA_VERSION}

    # -- issues -------------------------------------------------------------------------------

    @staticmethod
    def _issue(doc: dict[str, Any]) -> Issue:
        return Issue(
            number=IssueNumber(int(doc["number"])),
            title=str(doc.get("title", "")),
            body=str(doc.get("body", "")),
            state=str(doc.get("state", "open")),
            labels=tuple(doc.get("labels", [])),
            url=f"local:issues/{doc['number']}",
            author=str(doc.get("author", "")),
        )

    def find_issue(self, marker_text: str) -> Issue | None:
        for doc in self._docs(self.issues_dir):
            if marker_text in str(doc.get("body", "")):
                return self._issue(doc)
        return None

    def create_issue(self, title: str, body: str, labels: list[str]) -> Issue:
        doc = self._create(
            self.issues_dir,
            {
                "title": title,
                "body": body,
                "state": "open",
                "labels": labels,
                "author": AUTHOR,
                "created_at": now_utc(),
                "comments": [],
            },
        )
        return self._issue(doc)

    def list_issues_if_changed(self, label: str) -> list[Issue] | None:
        return self.list_issues(label)

    def get_issue(self, number: IssueNumber) -> Issue:
        return self._issue(self._read(self.issues_dir / f"{number}.json"))

    def list_issues(self, label: str, state: str = "open") -> list[Issue]:
        return [
            self._issue(d)
            for d in self._docs(self.issues_dir)
            if label in d.get("labels", []) and d.get("state", "open") == state
        ]

    def update_issue_body(self, number: IssueNumber, body: str) -> None:
        self._update(self.issues_dir, number, body=body)

    def _update(self, folder: Path, number: int, **changes: Any) -> dict[str, Any]:
        path = folder / f"{number}.json"
        doc = self._read(path)
        doc.update(changes)
        doc.pop("schema_version", None)
        store.write_json(path, doc)
        return doc

    def comment(self, number: int, body: str) -> Comment:
        folder = (
            self.issues_dir if (self.issues_dir / f"{number}.json").exists() else self.pulls_dir
        )
        doc = self._read(folder / f"{number}.json")
        comments: list[dict[str, Any]] = list(doc.get("comments", []))
        mark = find_marker(body)
        if mark:
            for c in comments:
                if mark in str(c.get("body", "")):
                    return _comment(c)
        new = {
            "id": max((int(c.get("id", 0)) for c in comments), default=0) + 1,
            "author": AUTHOR,
            "body": body,
            "created_at": now_utc(),
            "author_association": "NONE",
        }
        self._update(folder, number, comments=[*comments, new])
        return _comment(new)

    def list_comments(self, number: int, since_id: int = 0) -> list[Comment]:
        folder = (
            self.issues_dir if (self.issues_dir / f"{number}.json").exists() else self.pulls_dir
        )
        doc = self._read(folder / f"{number}.json")
        return [_comment(c) for c in doc.get("comments", []) if int(c.get("id", 0)) > since_id]

    def close_issue(self, number: IssueNumber, reason: str) -> None:
        doc = self._read(self.issues_dir / f"{number}.json")
        if doc.get("state") != "closed":
            self._update(
                self.issues_dir, number, state="closed", closed_reason=reason, closed_at=now_utc()
            )

    # -- pull requests ------------------------------------------------------------------------

    @staticmethod
    def _pull(doc: dict[str, Any]) -> Pull:
        return Pull(
            number=int(doc["number"]),
            title=str(doc.get("title", "")),
            head=str(doc["head"]),
            base=str(doc["base"]),
            state=str(doc.get("state", "open")),
            draft=bool(doc.get("draft", False)),
            merged_sha=doc.get("merged_sha"),
            url=f"local:pulls/{doc['number']}",
            body=str(doc.get("body", "")),
        )

    def find_pull(self, head: str) -> Pull | None:
        found = [d for d in self._docs(self.pulls_dir) if d.get("head") == head]
        return self._pull(found[-1]) if found else None

    def create_pull(self, title: str, body: str, head: str, base: str, draft: bool) -> Pull:
        doc = self._create(
            self.pulls_dir,
            {
                "title": title,
                "body": body,
                "head": head,
                "base": base,
                "state": "open",
                "draft": draft,
                "merged_sha": None,
                "created_at": now_utc(),
                "comments": [],
            },
        )
        return self._pull(doc)

    def get_pull(self, number: int) -> Pull:
        return self._pull(self._read(self.pulls_dir / f"{number}.json"))

    def mark_pull_merged(self, number: int, sha: str) -> None:
        self._update(
            self.pulls_dir, number, state="merged", merged_sha=sha, draft=False, merged_at=now_utc()
        )


def _comment(c: dict[str, Any]) -> Comment:
    return Comment(
        id=int(c.get("id", 0)),
        author=str(c.get("author", "")),
        body=str(c.get("body", "")),
        created_at=str(c.get("created_at", "")),
        author_association=str(c.get("author_association", "NONE")),
    )
