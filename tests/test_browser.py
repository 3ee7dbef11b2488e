"""The headless Chromium harness (tests/browser.py): a page renders (its DOM after the scripts,
a screenshot of the viewport with the page's colours in it), and what goes wrong is reported:
uncaught exceptions, console.error, requests to the network, a page that never finishes."""

from __future__ import annotations

import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest
from browser import BrowserError, needs_chromium, read_png, render

RED, GREEN, BLUE = (255, 0, 0), (0, 128, 0), (0, 0, 255)

PAGE = """\
<!doctype html>
<html>
<head><meta charset="utf-8"><title>chart</title>
<style>body { margin: 0; background: #fff; } #added { width: 60px; height: 40px; }</style>
</head>
<body>
<svg id="chart" width="200" height="120" viewBox="0 0 200 120">
  <rect x="0" y="0" width="100" height="120" fill="rgb(255,0,0)"/>
  <circle cx="150" cy="60" r="40" fill="rgb(0,0,255)"/>
</svg>
<script>
  const div = document.createElement("div");
  div.id = "added";
  div.style.background = "rgb(0,128,0)";
  div.textContent = "";
  document.body.appendChild(div);
  console.log("drawn", 1);
</script>
</body>
</html>
"""


@pytest.fixture(autouse=True)
def own_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Chromium's profile goes under this test's tmp_path, so the test can look for leftovers."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def leftovers(tmp_path: Path) -> list[str]:
    """Live processes started with a path under tmp_path (Chromium's profile), and work dirs."""
    found = [str(p) for p in tmp_path.glob("supervisor-chromium-*")]
    needle = str(tmp_path).encode()
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if needle in cmdline.read_bytes():
                found.append(cmdline.parent.name)
        except OSError:
            pass
    return found


def page(tmp_path: Path, body: str, name: str = "page.html") -> Path:
    path = tmp_path / name
    path.write_text(
        f"<!doctype html>\n<html><head><title>t</title></head><body>{body}</body></html>"
    )
    return path


def pixels(rows: list[bytes], channels: int) -> set[tuple[int, ...]]:
    return {tuple(row[i : i + 3]) for row in rows for i in range(0, len(row), channels)}


@needs_chromium
def test_page_renders_dom_and_screenshot(tmp_path: Path) -> None:
    html = tmp_path / "report.html"
    html.write_text(PAGE)
    shot = tmp_path / "shots" / "report.png"
    rendered = render(
        html,
        shot,
        width=320,
        height=240,
        evaluate=[
            "document.querySelectorAll('#chart rect, #chart circle').length",
            "document.title",
            "Promise.resolve(document.getElementById('added').offsetWidth)",
        ],
    )
    assert rendered.console_errors == []
    assert rendered.console == ["log: drawn 1"]
    assert '<div id="added"' in rendered.dom  # the script ran
    assert "<circle" in rendered.dom
    assert rendered.values == [2, "chart", 60]
    assert rendered.screenshot == shot
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (320, 240)  # IHDR: the viewport
    width, height, channels, rows = read_png(shot)
    assert (width, height, len(rows)) == (320, 240, 240)
    assert len(set(rows)) > 1  # not one colour
    colours = pixels(rows, channels)
    assert {RED, GREEN, BLUE, (255, 255, 255)} <= colours  # the SVG, the added div, the page
    assert 0 < rendered.seconds < 60
    assert leftovers(tmp_path) == []


@needs_chromium
def test_default_viewport_and_full_page(tmp_path: Path) -> None:
    html = page(tmp_path, '<div style="height: 2000px; background: rgb(0,0,255)"></div>')
    viewport = render(html, tmp_path / "viewport.png")
    assert read_png(viewport.screenshot)[:2] == (1280, 900)
    full = render(html, tmp_path / "full.png", width=400, height=300, full_page=True)
    width, height, channels, rows = read_png(full.screenshot)
    assert (width, height) == (400, 2000 + 2 * 8)  # the div and the body's default margins
    assert BLUE in pixels(rows[-10:], channels)
    assert viewport.console_errors == full.console_errors == []


@needs_chromium
def test_uncaught_exceptions_are_reported(tmp_path: Path) -> None:
    html = page(
        tmp_path,
        '<p id="before">before</p>\n'
        "<script>Promise.reject(new Error('later'));</script>\n"
        "<script>null.x;</script>\n"
        '<script>document.body.append("after")</script>',
    )
    rendered = render(html, tmp_path / "shot.png", width=200, height=100)
    assert len(rendered.console_errors) == 2, rendered.console_errors
    rejected, thrown = sorted(rendered.console_errors)
    assert thrown.startswith("Uncaught TypeError: Cannot read properties of null (reading 'x')")
    assert f"{html.as_uri()}:4:" in thrown  # where: the file, the line
    assert rejected.startswith("Uncaught (in promise) Error: later")
    assert 'id="before"' in rendered.dom
    assert "after" in rendered.dom  # a later script still ran


@needs_chromium
def test_console_errors_are_reported(tmp_path: Path) -> None:
    html = page(
        tmp_path,
        "<script>console.log('fine'); console.warn('careful'); console.error('boom', 42);"
        " console.assert(1 === 2, 'wrong');"
        " setTimeout(() => console.error('late'), 0);</script>",
    )
    rendered = render(html, tmp_path / "shot.png", width=200, height=100)
    assert [e.split(" (")[0] for e in rendered.console_errors] == [
        "console.error: boom 42",
        "console.assert: wrong",
        "console.error: late",
    ]
    assert f"({html.as_uri()}:2:" in rendered.console_errors[0]  # where: the file, the line
    assert "log: fine" in rendered.console
    assert "warning: careful" in rendered.console


@needs_chromium
def test_a_page_that_is_not_self_contained_is_reported(tmp_path: Path) -> None:
    html = page(
        tmp_path,
        '<script src="https://example.com/x.js"></script><img src="http://example.com/a.png">'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<p id="rest">rest</p>',
    )
    start = time.monotonic()
    rendered = render(html, tmp_path / "shot.png", width=200, height=100)
    assert time.monotonic() - start < 30
    assert rendered.console_errors == [
        "blocked: the page requests https://example.com/x.js (it must be self-contained)",
        "blocked: the page requests http://example.com/a.png (it must be self-contained)",
    ]
    assert 'id="rest"' in rendered.dom
    # Let through, the request fails on a closed network (or loads): either way it returns.
    start = time.monotonic()
    allowed = render(html, tmp_path / "shot.png", width=200, height=100, allow_network=True)
    assert time.monotonic() - start < 40
    assert not any(e.startswith("blocked") for e in allowed.console_errors)
    assert 'id="rest"' in allowed.dom
    assert leftovers(tmp_path) == []


@needs_chromium
def test_a_page_that_never_finishes_times_out_and_is_killed(tmp_path: Path) -> None:
    html = page(tmp_path, "<p>spinning</p><script>while (true) {}</script>")
    start = time.monotonic()
    with pytest.raises(BrowserError, match="did not answer in time"):
        render(html, tmp_path / "shot.png", load_timeout=1, timeout=3)
    assert time.monotonic() - start < 3 + 6  # the timeout, then the kill
    assert leftovers(tmp_path) == []


@needs_chromium
def test_an_expression_that_throws_is_an_error(tmp_path: Path) -> None:
    html = page(tmp_path, "<p>x</p>")
    with pytest.raises(BrowserError, match="no_such_thing"):
        render(html, tmp_path / "shot.png", width=200, height=100, evaluate=["no_such_thing.x"])
    assert leftovers(tmp_path) == []


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render(tmp_path / "missing.html", tmp_path / "shot.png")


def encode_png(rows: list[bytes], width: int, channels: int, filters: list[int]) -> bytes:
    """A PNG with the given filter on each row (colour type 2 or 6, 8 bits)."""

    def paeth(a: int, b: int, c: int) -> int:
        p = a + b - c
        pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
        return a if pa <= pb and pa <= pc else b if pb <= pc else c

    raw = b""
    prior = bytes(len(rows[0]))
    for row, kind in zip(rows, filters, strict=True):
        out = bytearray([kind])
        for i, x in enumerate(row):
            a = row[i - channels] if i >= channels else 0
            b = prior[i]
            c = prior[i - channels] if i >= channels else 0
            predictor = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            out.append((x - predictor) % 256)
        raw += bytes(out)
        prior = row

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    colour = {3: 2, 4: 6}[channels]
    header = struct.pack(">IIBBBBB", width, len(rows), 8, colour, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw)[:10])
        + chunk(b"IDAT", zlib.compress(raw)[10:])
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize("channels", [3, 4])
def test_read_png_undoes_every_filter(tmp_path: Path, channels: int) -> None:
    width = 5
    rows = [bytes((y * 37 + i * 11) % 256 for i in range(width * channels)) for y in range(6)]
    path = tmp_path / "x.png"
    path.write_bytes(encode_png(rows, width, channels, [0, 1, 2, 3, 4, 4]))
    assert read_png(path) == (width, 6, channels, rows)
    path.write_bytes(b"GIF89a")
    with pytest.raises(ValueError, match="not a PNG"):
        read_png(path)
