"""How to run one test once: Go (built once, the test binary run many times), pytest, a command.

Every run gets its own temporary folder (``$TMPDIR``, so Go's t.TempDir and pytest's tmp_path land
there), a free loopback port (``$PORT``, ``$SUPERVISOR_PORT``), and its index
(``$SUPERVISOR_RUN_INDEX``); a command template can use them as ``{tmpdir}``, ``{port}`` and
``{run}``, and the test as ``{test}`` and ``{package}``.
"""

from __future__ import annotations

import re
import shlex
import socket
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path

from supervisor import shell
from supervisor.errors import StopRequested, UserError

RUNNERS = ("go", "pytest", "command")


@dataclass(frozen=True)
class Amplifiers:
    """Opt-in conditions that often surface flakiness (Go's flags; GOMAXPROCS)."""

    race: bool = False
    cpu: str = ""  # Go's -cpu list, e.g. "1,2,4"
    gomaxprocs: int = 0
    shuffle: bool = False

    def describe(self) -> str:
        parts = ["-race"] if self.race else []
        parts += [f"-cpu {self.cpu}"] if self.cpu else []
        parts += [f"GOMAXPROCS={self.gomaxprocs}"] if self.gomaxprocs else []
        parts += ["-shuffle on"] if self.shuffle else []
        return " ".join(parts)


@dataclass
class RunSpec:
    runner: str
    test: str
    argv: list[str]  # {tmpdir} {port} {run} are filled in per run
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)
    shown: str = ""  # the command in words, for the report

    def for_run(self, index: int, tmpdir: Path) -> tuple[list[str], dict[str, str]]:
        port = free_port()
        values = {"tmpdir": str(tmpdir), "port": str(port), "run": str(index)}
        argv = [_fill(a, values) for a in self.argv]
        env = {
            **self.env,
            "TMPDIR": str(tmpdir),
            "PORT": str(port),
            "SUPERVISOR_PORT": str(port),
            "SUPERVISOR_RUN_INDEX": str(index),
        }
        return argv, env


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def detect(path: Path) -> str:
    """go when a go.mod is here or above, pytest when Python tests are here; else an error."""
    for d in (path, *path.parents):
        if (d / "go.mod").is_file():
            return "go"
    if any(path.glob("**/test_*.py")) or any(path.glob("**/*_test.py")):
        return "pytest"
    raise UserError(
        f"cannot tell how to run tests in {path} (no go.mod, no test_*.py): "
        "give --runner go|pytest|command (with reproduce.command in supervisor.yaml)"
    )


def package_dir(root: Path, package: str) -> Path:
    """The folder of a package named in a CI log: a path in the repository, or a Go import path
    (matched against every go.mod's module line; the longest match wins, as Go resolves it)."""
    if not package:
        return root
    if (root / package).is_dir():
        return root / package
    best: tuple[int, Path] | None = None
    for mod in root.glob("**/go.mod"):
        if "vendor" in mod.parts or "testdata" in mod.parts:
            continue
        m = re.search(r"^module\s+(\S+)", mod.read_text(errors="replace"), re.M)
        if not m:
            continue
        module = m.group(1)
        if package == module or package.startswith(module + "/"):
            folder = mod.parent / package[len(module) :].lstrip("/")
            if folder.is_dir() and (best is None or len(module) > best[0]):
                best = (len(module), folder)
    if best is None:
        raise UserError(f"package {package} is not in the repository (no go.mod names it)")
    return best[1]


def go_pattern(test: str) -> str:
    """-run pattern for a test or a subtest: TestSuite/TestCase -> ^TestSuite$/^TestCase$."""
    return "/".join(f"^{re.escape(part)}$" for part in test.split("/"))


def go_spec(
    test: str,
    path: Path,
    build_dir: Path,
    amp: Amplifiers,
    timeout: float,
    stop_event: threading.Event | None = None,
) -> RunSpec:
    """Build the package's test binary once (the runs then skip go's build and cache)."""
    binary = build_dir / "pkg.test"
    build = ["go", "test", "-c", "-o", str(binary), *(["-race"] if amp.race else []), "."]
    r = shell.run(build, cwd=path, timeout=timeout, check=False, stop_event=stop_event)
    if r.stopped:
        raise StopRequested("stopped while building the test binary")
    if not r.ok or not binary.exists():
        tail = (r.stdout + r.stderr).strip()[-1500:]
        if "no test files" in tail or (r.ok and not binary.exists()):
            raise UserError(f"{path} has no Go tests to build (go test -c built nothing)")
        raise UserError(f"the test binary does not build in {path}: {tail}")
    argv = [str(binary), "-test.run", go_pattern(test), "-test.count=1", "-test.v"]
    if amp.cpu:
        argv += ["-test.cpu", amp.cpu]
    if amp.shuffle:
        argv += ["-test.shuffle=on"]
    env = {"GOMAXPROCS": str(amp.gomaxprocs)} if amp.gomaxprocs else {}
    shown = f"go test -run '{go_pattern(test)}' -count=1" + (
        f" {amp.describe()}" if amp.describe() else ""
    )
    return RunSpec("go", test, argv, path, env, shown)


def pytest_spec(test: str, path: Path) -> RunSpec:
    """The node id (tests/test_x.py::test_y) run by the Python that runs the supervisor."""
    argv = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider"]
    argv += ["--basetemp", "{tmpdir}/pytest", test]
    return RunSpec("pytest", test, argv, path, {}, f"pytest {test}")


def command_spec(test: str, path: Path, template: str, package: str = "") -> RunSpec:
    if not template.strip():
        raise UserError(
            "--runner command needs reproduce.command in supervisor.yaml, e.g. "
            "\"go test ./{package} -run '^{test}$' -count=1\""
        )
    text = template.replace("{test}", shlex.quote(test)).replace("{package}", shlex.quote(package))
    return RunSpec("command", test, ["sh", "-c", text], path, {}, text)
