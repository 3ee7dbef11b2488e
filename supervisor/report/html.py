"""`supervisor stats --html`: one self-contained page (no network, no external script or font),
its charts inline SVG: the night's timeline per item, outcome counts, flaky rates before and
after, cost per night, and links to the issues and pull requests."""

from __future__ import annotations

import time
from html import escape
from typing import Any

from supervisor.report.collect import epoch
from supervisor.report.text import _duration

COLOURS = {
    "new": "#9aa5b1",
    "triaged": "#7b8794",
    "analyzed": "#6c8ebf",
    "awaiting_approval": "#c9a227",
    "approved": "#4c9f70",
    "fixing": "#2f80ed",
    "verifying": "#9b51e0",
    "reviewing": "#bb6bd9",
    "publishing": "#56ccf2",
    "pr_open": "#27ae60",
    "changes_requested": "#f2994a",
    "merged": "#219653",
    "closed_wontfix": "#828282",
    "duplicate": "#bdbdbd",
    "ignored": "#bdbdbd",
    "failed": "#eb5757",
}
CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1f2933}
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 8px}
.muted{color:#616e7c}table{border-collapse:collapse;margin:4px 0}
td,th{padding:3px 10px 3px 0;text-align:left;vertical-align:top}th{color:#52606d;font-weight:600}
.person{background:#fff4f4;border-left:4px solid #eb5757;padding:8px 12px;margin:8px 0}
.cards{display:flex;gap:12px;flex-wrap:wrap}.card{border:1px solid #e4e7eb;border-radius:6px;
padding:8px 14px;min-width:90px}.card b{display:block;font-size:20px}
svg text{font-size:11px;fill:#3e4c59}.legend span{display:inline-block;margin-right:10px}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:middle}
input{padding:4px 8px;margin:4px 0}
"""
SCRIPT = """
(function(){
  var box=document.getElementById('filter');
  if(box){box.addEventListener('input',function(){
    var q=box.value.toLowerCase();
    document.querySelectorAll('#timeline g.row').forEach(function(g){
      g.style.display=g.getAttribute('data-text').indexOf(q)>=0?'':'none';});});}
  document.body.setAttribute('data-rendered',
    String(document.querySelectorAll('svg.chart').length));
})();
"""


def _a(text: str, href: str | None) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>' if href else escape(text)


def render(s: dict[str, Any]) -> str:
    p = s["period"]
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        '<meta name=viewport content="width=device-width,initial-scale=1">',
        "<title>supervisor: the night's report</title>",
        f"<style>{CSS}</style></head><body>",
        "<h1>What the supervisor did</h1>",
        f"<div class=muted>{escape(p['since'] or 'the beginning')} to {escape(p['until'])} "
        f"({escape(p['by'])}); generated {escape(s['generated_at'])}</div>",
        _people(s),
        _cards(s),
        "<h2>Outcomes</h2>",
        _bars(
            [(k.replace("_", " "), float(v)) for k, v in s["outcomes"].items()],
            "outcomes",
            lambda v: f"{v:.0f}",
        ),
        "<h2>Timeline</h2>",
        _timeline(s),
        "<h2>Flaky tests: failure rate before and after the fix</h2>",
        _flaky(s),
        "<h2>Cost per night</h2>",
        _nights(s),
        "<h2>Agents</h2>",
        _agents(s),
        "<h2>Pull requests</h2>",
        _pulls(s),
        f"<script>{SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def _people(s: dict[str, Any]) -> str:
    if not s["needs_person"]:
        return "<p class=muted>Nothing needs a person.</p>"
    rows = [f"<h2>Needs a person ({len(s['needs_person'])})</h2>"]
    for n in s["needs_person"][:200]:
        link = n.get("pull") or n.get("issue")
        rows.append(
            f"<div class=person><b>{_a(n['item'], link)}</b> {escape(n['title'][:100])}"
            f"<br>{escape(n['why'][:400])}</div>"
        )
    if len(s["needs_person"]) > 200:
        rows.append(f"<p>and {len(s['needs_person']) - 200} more (supervisor stats)</p>")
    return "\n".join(rows)


def _cards(s: dict[str, Any]) -> str:
    a = s["attempts"]
    cost = sum(g["cost_usd"] or 0.0 for g in s["agents"])
    cards = [
        ("active items", str(s["items"]["active"])),
        ("merged", str(s["outcomes"]["merged"])),
        ("failed", str(s["outcomes"]["failed"])),
        ("attempts", str(a["total"])),
        ("agent runs", str(sum(g["runs"] for g in s["agents"]))),
        ("cost", f"${cost:.2f}"),
    ]
    steps = ", ".join(f"{k} {_duration(v)}" for k, v in s["time_per_step_s"].items())
    return (
        "<div class=cards>"
        + "".join(f"<div class=card><b>{escape(v)}</b>{escape(k)}</div>" for k, v in cards)
        + "</div>"
        + (f"<p class=muted>time per step: {escape(steps)}</p>" if steps else "")
    )


def _bars(rows: list[tuple[str, float]], name: str, fmt: Any, width: int = 640) -> str:
    if not rows:
        return "<p class=muted>none</p>"
    top = max((v for _, v in rows), default=0.0) or 1.0
    h = 20
    out = [
        f'<svg class=chart id="{name}" width="{width}" height="{h * len(rows) + 4}" '
        f'role="img" aria-label="{name}">'
    ]
    for i, (label, v) in enumerate(rows):
        w = (width - 260) * v / top
        y = i * h + 2
        out.append(
            f'<text x="0" y="{y + 13}">{escape(label)}</text>'
            f'<rect x="150" y="{y + 2}" width="{w:.1f}" height="{h - 6}" fill="#2f80ed"/>'
            f'<text x="{150 + w + 6:.1f}" y="{y + 13}">{escape(fmt(v))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _timeline(s: dict[str, Any]) -> str:
    rows = s["timeline"]
    if not rows:
        return "<p class=muted>Nothing happened in this period.</p>"
    first = [sp["from"] for r in rows for sp in r["spans"]] or [s["period"]["until"]]
    start = max(epoch(s["period"]["since"]), epoch(min(first)))  # from the first thing seen
    end = epoch(s["period"]["until"])
    span = max(1.0, end - start)
    left, width, h = 260, 640, 16
    used = sorted({sp["state"] for r in rows for sp in r["spans"]})
    legend = "".join(
        f'<span><i style="background:{COLOURS.get(st, "#999")}"></i>{escape(st)}</span>'
        for st in used
    )
    out = [
        '<input id=filter placeholder="filter items">',
        f"<div class=legend>{legend}</div>",
        f'<svg class=chart id=timeline width="{left + width + 10}" height="{h * len(rows) + 4}">',
    ]
    for i, r in enumerate(rows):
        y = i * h + 2
        label = f"{r['item']} {r['title']}"[:42]
        text = escape(f"{r['item']} {r['title']} {r['state']}".lower(), quote=True)
        href = r.get("pull") or r.get("issue")
        name = f'<a href="{escape(href)}">{escape(label)}</a>' if href else escape(label)
        out.append(f'<g class=row data-text="{text}"><text x="0" y="{y + 11}">{name}</text>')
        for sp in r["spans"]:
            x0 = left + width * max(0.0, epoch(sp["from"]) - start) / span
            x1 = left + width * min(span, epoch(sp["to"]) - start) / span
            out.append(
                f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(1.0, x1 - x0):.1f}" height="{h - 4}" '
                f'fill="{COLOURS.get(sp["state"], "#999")}"><title>{escape(str(sp["state"]))} '
                f"{escape(sp['from'])} to {escape(sp['to'])}</title></rect>"
            )
        out.append("</g>")
    out.append("</svg>")
    out.append(
        f'<div class=muted style="margin-left:{left}px;width:{width}px;display:flex;'
        f'justify-content:space-between"><span>{escape(_when(start))}</span>'
        f"<span>{escape(_when(end))}</span></div>"
    )
    if s["items"]["active"] > len(rows):
        out.append(
            f"<p class=muted>The {len(rows)} most recent of {s['items']['active']} items.</p>"
        )
    return "".join(out)


def _when(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _flaky(s: dict[str, Any]) -> str:
    rows = [f for f in s["flaky"] if f["before"]]
    if not rows:
        return "<p class=muted>No flaky test was stress-run in this period.</p>"
    h, left, width = 34, 260, 480
    highs = [(f[w] or {}).get("ci95", [0, 0])[1] for f in rows for w in ("before", "after")]
    top = max(highs) or 1.0
    out = [f'<svg class=chart id=flaky width="{left + width + 200}" height="{h * len(rows) + 24}">']
    for i, f in enumerate(rows):
        y = i * h + 4
        out.append(f'<text x="0" y="{y + 14}">{escape(str(f["test"])[:40])}</text>')
        for j, (which, colour) in enumerate((("before", "#eb5757"), ("after", "#27ae60"))):
            fig = f[which]
            if not fig:
                continue
            yy = y + j * 13
            w = width * fig["rate"] / top
            lo, hi = (width * v / top for v in fig["ci95"])
            out.append(
                f'<rect x="{left}" y="{yy}" width="{max(1.0, w):.1f}" height="10" fill="{colour}">'
                f"<title>{escape(fig['words'] or '')}</title></rect>"
                f'<line x1="{left + lo:.1f}" x2="{left + hi:.1f}" y1="{yy + 5}" y2="{yy + 5}" '
                f'stroke="#1f2933"/>'
                f'<text x="{left + max(w, hi) + 6:.1f}" y="{yy + 9}">{which} '
                f"{fig['rate'] * 100:.1f}% ({fig['failures']}/{fig['runs']})</text>"
            )
    out.append(
        f'<text x="{left}" y="{h * len(rows) + 18}">failure rate; lines: 95% interval</text></svg>'
    )
    return "".join(out)


def _nights(s: dict[str, Any]) -> str:
    nights = s["nights"][-60:]
    if not nights:
        return "<p class=muted>No agent ran yet.</p>"
    cost = any(n["cost_usd"] is not None for n in nights)
    rows = [
        (
            n["date"],
            float(n["cost_usd"] or 0.0) if cost else float(sum(n["tokens"].values())),
        )
        for n in nights
    ]
    fmt = (lambda v: f"${v:.2f}") if cost else (lambda v: f"{v:.0f} tokens")
    return _bars(rows, "nights", fmt)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """A table; the cells are HTML already (escaped by the caller)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _agents(s: dict[str, Any]) -> str:
    if not s["agents"]:
        return "<p class=muted>No agent ran in this period.</p>"
    return _table(
        ["agent", "role", "runs", "tokens in", "cached", "out", "cost"],
        [
            [
                escape(g["agent"]),
                escape(g["role"]),
                str(g["runs"]),
                str(g["tokens"]["input"]),
                str(g["tokens"]["cached_input"]),
                str(g["tokens"]["output"]),
                "" if g["cost_usd"] is None else f"${g['cost_usd']:.2f}",
            ]
            for g in s["agents"]
        ],
    )


def _pulls(s: dict[str, Any]) -> str:
    if not s["pull_requests"]:
        return "<p class=muted>No pull request in this period.</p>"
    return _table(
        ["pull request", "state", "item"],
        [
            [_a("#" + str(p["number"]), p.get("pull")), escape(p["state"]), escape(p["item"])]
            for p in s["pull_requests"][:500]
        ],
    )
