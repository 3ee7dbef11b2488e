"""The local forge: issues and pull requests as JSON files under state/forge/.

    state/forge/issues/<n>.json   {number, title, body, state, labels, author, comments: [...]}
    state/forge/pulls/<n>.json    {number, title, body, head, base, state, draft, merged_sha}

Issues and pull requests share one number sequence, as on GitHub. A number is claimed by creating
numbers/<n> exclusively (two writers never get the same number); the file itself is then written
atomically, so a crash never leaves a half-written issue.

People use it with `supervisor forge ...` (comment, label, review, close) or by editing these
files; a file a person wrote by hand only needs ``title`` and ``labels``: everything else has a
default. Who wrote what is the ``author`` the file names: the local forge is as trustworthy as the
folder it lives in, which only the owner of this machine can write. The machine's user is the
forge's OWNER; everyone else has no role, and approves only when listed in ``approval.users``.
A label counts as added by someone only through its event (``supervisor forge label`` writes
one); a label typed into the file by hand has no author, so it approves nothing.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

from supervisor import store
from supervisor.errors import UserError
from supervisor.forge.base import (
    Comment,
    Issue,
    LabelEvent,
    Pull,
    Review,
    ReviewComment,
    find_marker,
)
from supervisor.ids import IssueNumber
from supervisor.items import now_utc

AUTHOR = "supervisor"
REVIEW_STATES = ("APPROVED", "CHANGES_REQUESTED", "COMMENTED")


def machine_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        return "owner"


class LocalForge:
    name = "local"

    def __init__(self, root: Path, owner: str | None = None) -> None:
        self.root = root
        self.owner = owner or machine_user()
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

    def _folder(self, number: int) -> Path:
        """Issues and pull requests share numbers; comments go to whichever has it."""
        return self.issues_dir if (self.issues_dir / f"{number}.json").exists() else self.pulls_dir

    def comment(self, number: int, body: str, author: str = AUTHOR) -> Comment:
        folder = self._folder(number)
        doc = self._read(folder / f"{number}.json")
        comments: list[dict[str, Any]] = list(doc.get("comments", []))
        mark = find_marker(body) if author == AUTHOR else ""
        if mark:
            for c in comments:
                if c.get("author") == AUTHOR and mark in str(c.get("body", "")):
                    return self._comment(c)
        new = {
            "id": self._next_comment_id(doc),
            "author": author,
            "body": body,
            "created_at": now_utc(),
        }
        self._update(folder, number, comments=[*comments, new])
        return self._comment(new)

    def _next_comment_id(self, doc: dict[str, Any]) -> int:
        """Comment ids grow across the whole forge, as on GitHub (a watermark is an id); above
        any id already in doc, which a person may have written by hand."""
        self.claims_dir.mkdir(parents=True, exist_ok=True)
        floor = max(
            (
                int(c.get("id", 0))
                for key in ("comments", "reviews", "review_comments")
                for c in doc.get(key, [])
                if isinstance(c, dict) and str(c.get("id", "")).isdigit()
            ),
            default=0,
        )
        while True:
            ids = [int(p.name[2:]) for p in self.claims_dir.glob("c-*") if p.name[2:].isdigit()]
            n = max(*ids, floor, 0) + 1
            try:
                os.close(os.open(self.claims_dir / f"c-{n}", os.O_CREAT | os.O_EXCL, 0o644))
            except FileExistsError:
                continue
            return n

    def list_comments(self, number: int, since_id: int = 0) -> list[Comment]:
        doc = self._read(self._folder(number) / f"{number}.json")
        found = [self._comment(c) for c in doc.get("comments", [])]
        return sorted((c for c in found if c.id > since_id), key=lambda c: c.id)

    def update_comment(self, number: int, comment_id: int, body: str) -> None:
        folder = self._folder(number)
        doc = self._read(folder / f"{number}.json")
        comments = [
            {**c, "body": body, "updated_at": now_utc()} if int(c.get("id", 0)) == comment_id else c
            for c in doc.get("comments", [])
        ]
        self._update(folder, number, comments=comments)

    def _comment(self, c: dict[str, Any]) -> Comment:
        author = str(c.get("author", ""))
        return Comment(
            id=int(c.get("id", 0)),
            author=author,
            body=str(c.get("body", "")),
            created_at=str(c.get("created_at", "")),
            author_association=self.association(author),
        )

    # -- people -------------------------------------------------------------------------------

    def association(self, login: str) -> str:
        return "OWNER" if login == self.owner else "NONE"

    def own_login(self) -> str:
        return AUTHOR

    def label_events(self, number: IssueNumber) -> list[LabelEvent]:
        doc = self._read(self.issues_dir / f"{number}.json")
        return [
            LabelEvent(
                label=str(e.get("label", "")),
                actor=str(e.get("actor", "")),
                action=str(e.get("action", "labeled")),
                created_at=str(e.get("created_at", "")),
            )
            for e in doc.get("events", [])
            if isinstance(e, dict)
        ]

    def set_label(self, number: IssueNumber, label: str, actor: str, add: bool = True) -> None:
        """A person adds (or removes) a label; the event records who."""
        doc = self._read(self.issues_dir / f"{number}.json")
        labels = [lb for lb in doc.get("labels", []) if lb != label] + ([label] if add else [])
        event = {
            "label": label,
            "actor": actor,
            "action": "labeled" if add else "unlabeled",
            "created_at": now_utc(),
        }
        self._update(self.issues_dir, number, labels=labels, events=[*doc.get("events", []), event])

    def close_issue(self, number: IssueNumber, reason: str, by: str = AUTHOR) -> None:
        folder = self._folder(number)
        doc = self._read(folder / f"{number}.json")
        if doc.get("state") not in ("closed", "merged"):
            self._update(
                folder,
                number,
                state="closed",
                closed_reason=reason,
                closed_by=by,
                closed_at=now_utc(),
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
            head_sha=str(doc.get("head_sha") or ""),
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

    def update_pull_body(self, number: int, body: str) -> None:
        self._update(self.pulls_dir, number, body=body)

    def set_pull_head(self, number: int, sha: str) -> None:
        """The local forge's record of what the pull request proposes (GitHub knows by push)."""
        self._update(self.pulls_dir, number, head_sha=sha)

    # -- reviews (files in the pull request's record) -----------------------------------------

    def add_review(
        self,
        number: int,
        author: str,
        state: str,
        body: str,
        comments: list[dict[str, Any]] | None = None,
    ) -> Review:
        """A person's review; comments: [{"path", "line", "body"}] on the diff's lines."""
        if state not in REVIEW_STATES:
            raise UserError(f"a review is one of {', '.join(REVIEW_STATES)}, not {state!r}")
        doc = self._read(self.pulls_dir / f"{number}.json")
        review = {
            "id": self._next_comment_id(doc),
            "author": author,
            "state": state,
            "body": body,
            "commit_id": str(doc.get("head_sha") or ""),
            "submitted_at": now_utc(),
        }
        threads = list(doc.get("review_comments", []))
        for c in comments or []:
            threads.append(
                {
                    "id": self._next_comment_id({**doc, "review_comments": threads}),
                    "author": author,
                    "body": str(c.get("body", "")),
                    "path": str(c.get("path", "")),
                    "line": c.get("line"),
                    "review_id": review["id"],
                }
            )
        self._update(
            self.pulls_dir,
            number,
            reviews=[*doc.get("reviews", []), review],
            review_comments=threads,
        )
        return self._review(review)

    def _review(self, r: dict[str, Any]) -> Review:
        author = str(r.get("author", ""))
        return Review(
            id=int(r.get("id", 0)),
            author=author,
            state=str(r.get("state", "COMMENTED")).upper(),
            body=str(r.get("body", "")),
            commit_id=str(r.get("commit_id", "")),
            author_association=self.association(author),
            submitted_at=str(r.get("submitted_at", "")),
        )

    def list_reviews(self, number: int) -> list[Review]:
        doc = self._read(self.pulls_dir / f"{number}.json")
        return [self._review(r) for r in doc.get("reviews", []) if isinstance(r, dict)]

    def list_review_comments(self, number: int) -> list[ReviewComment]:
        doc = self._read(self.pulls_dir / f"{number}.json")
        return [
            ReviewComment(
                id=int(c.get("id", 0)),
                author=str(c.get("author", "")),
                body=str(c.get("body", "")),
                path=str(c.get("path", "")),
                line=c.get("line") if isinstance(c.get("line"), int) else None,
                in_reply_to=c.get("in_reply_to"),
                author_association=self.association(str(c.get("author", ""))),
            )
            for c in doc.get("review_comments", [])
            if isinstance(c, dict)
        ]

    def reply_review_comment(self, number: int, comment_id: int, body: str) -> None:
        doc = self._read(self.pulls_dir / f"{number}.json")
        threads = list(doc.get("review_comments", []))
        mark = find_marker(body)
        if any(
            c.get("in_reply_to") == comment_id and mark and mark in str(c.get("body", ""))
            for c in threads
        ):
            return
        parent: dict[str, Any] = next((c for c in threads if c.get("id") == comment_id), {})
        threads.append(
            {
                "id": self._next_comment_id(doc),
                "author": AUTHOR,
                "body": body,
                "path": parent.get("path", ""),
                "line": parent.get("line"),
                "in_reply_to": comment_id,
            }
        )
        self._update(self.pulls_dir, number, review_comments=threads)

    def failing_checks(self, sha: str) -> list[str]:
        return []  # no CI here: the gates, run by the supervisor itself, are the checks

    def delete_branch(self, branch: str) -> None:
        """The branch lives in the supervisor's mirror only; cleanup removes it there."""
