"""The end of a night: the report is written, and the owner is told (a local HTTP receiver)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import init_home, make_target, run_cli


class Receiver:
    def __init__(self, status: int) -> None:
        self.status = status
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length", 0))
                outer.bodies.append(json.loads(self.rfile.read(n)))
                self.send_response(outer.status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secretpath"


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    r = Receiver(getattr(request, "param", 200))
    yield r
    r.server.shutdown()


def night(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str) -> Path:
    target = make_target(tmp_path / "t", ["Create done/a.txt", "Fail please"])
    home = init_home(tmp_path / "h", target)
    cfg = (home / "supervisor.yaml").read_text()
    (home / "supervisor.yaml").write_text(
        cfg.replace("slack_webhook_env: ''", "slack_webhook_env: NIGHT_SLACK")
    )
    monkeypatch.setenv("NIGHT_SLACK", url)
    return home


def test_a_person_is_told_once_and_the_night_ends_with_a_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    home = night(tmp_path, monkeypatch, receiver.url)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    texts = [b["text"] for b in receiver.bodies]
    assert len(texts) == 2, texts
    assert texts[0].startswith("supervisor: Fail please needs a person")
    assert texts[1].startswith("supervisor: the night is over")
    assert "1 merged, 1 pull request(s), 1 failed; 1 item(s) need a person" in texts[1]
    assert str(home / "logs" / "report.html") in texts[1]
    assert (home / "logs" / "report.html").read_text().count("Fail please") >= 1
    assert run_cli(home, "start", "--once").exit_code == 0
    assert sum("needs a person" in b["text"] for b in receiver.bodies) == 1  # not again
    for path in home.rglob("*"):
        if path.is_file():
            assert b"secretpath" not in path.read_bytes(), path


@pytest.mark.parametrize("receiver", [500], indirect=True)
def test_a_failing_webhook_never_stops_the_night(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, receiver: Receiver
) -> None:
    home = night(tmp_path, monkeypatch, receiver.url)
    r = run_cli(home, "start", "--until-idle")
    assert r.exit_code == 0, r.output
    assert receiver.bodies  # it tried
    log = (home / "logs" / "supervisor.log").read_text()
    assert "notification to slack failed: HTTP 500" in log and "secretpath" not in log
