"""Findings become items: one item per fingerprint, every sighting kept as an occurrence."""

from __future__ import annotations

from supervisor.ci.scan import Finding
from supervisor.ids import ItemId
from supervisor.items import Item, ItemStore

TITLES = {
    "flaky": "Flaky test",
    "regression": "Regression",
    "infra": "CI infrastructure failure",
    "unknown": "CI failure",
}
EXCERPT_CHARS = 6000


def title(finding: Finding) -> str:
    f = finding.failure
    what = f.test or (f"package {f.package}" if f.package else f.kind)
    where = f" in {f.package}" if f.test and f.package else ""
    return f"{TITLES.get(f.category, 'CI failure')}: {what}{where}"[:200]


def body(finding: Finding) -> str:
    f = finding.failure
    reasons = "\n".join(f"- {r}" for r in f.reasons) or "- (no reasons recorded)"
    excerpt = f.excerpt[-EXCERPT_CHARS:]
    return (
        f"`{f.test or '(package-level)'}` failed ({f.kind}) in `{f.package or 'unknown package'}`."
        f"\n\nClassified as **{f.category}** because:\n{reasons}\n\n"
        f"Signature:\n\n~~~~text\n{f.signature}\n~~~~\n\nLog excerpt:\n\n~~~~text\n{excerpt}\n~~~~"
    )


def history(items: ItemStore) -> dict[str, list[str]]:
    """Per fingerprint, the distinct commits it failed at (from the items' occurrences)."""
    out: dict[str, list[str]] = {}
    for item in items.all():
        if item.source.get("type") == "ci":
            shas = [str(o["sha"]) for o in item.occurrences if o.get("sha")]
            out[item.fingerprint] = list(dict.fromkeys(shas))
    return out


def upsert(items: ItemStore, findings: list[Finding]) -> tuple[int, int]:
    """Create an item per new fingerprint; add occurrences to known ones. (created, updated)."""
    created = updated = 0
    known = len(list(items.folder.glob("*.json")))
    for finding in findings:
        f = finding.failure
        item_id = ItemId(f.fingerprint)
        item = items.get(item_id)
        if item is not None:
            if any(o.get("key") == finding.occurrence["key"] for o in item.occurrences):
                continue
            item.occurrences.append(finding.occurrence)
            items.save(item)
            items.events.append(
                {"event": "occurrence", "item": item.id, "occurrences": len(item.occurrences)}
            )
            updated += 1
            continue
        item = Item(
            id=item_id,
            kind=f.category or "unknown",
            title=title(finding),
            body=body(finding),
            fingerprint=f.fingerprint,
            seq=known + created + 1,
            occurrences=[finding.occurrence],
            source={
                "type": "ci",
                "test": f.test,
                "package": f.package,
                "failure_kind": f.kind,
                "category": f.category,
                "reasons": list(f.reasons),
                "signature": f.signature,
            },
        )
        items.create(item, f"{f.category} failure found in CI: " + "; ".join(f.reasons)[:300])
        created += 1
    return created, updated
