"""supervisor.yaml: defaults, validation with line numbers, environment overrides."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from conftest import run_cli

from supervisor.config import (
    AgentSpec,
    Config,
    format_duration,
    leaf_paths,
    load_config,
    parse_agent,
    parse_duration,
)
from supervisor.config_render import render_default
from supervisor.errors import ConfigError

# The example of DESIGN.md ("Config: supervisor.yaml"), verbatim.
DESIGN_EXAMPLE = """\
target: tikv/pd               # or a URL or a local path
base_branch: master
forge: github                 # or local
github: {token_env: GITHUB_TOKEN, api_url: https://api.github.com}
sources:
  ci: {workflow: pd-tests.yaml, since: 7d}     # or {logs_dir: ci-logs/}
  tasks: {file: specs/tasks.md}
  issues: {label: ai-task}
agents:
  worker: codex               # codex | claude | {command: [...]}
  reviewer: claude
  analyst: claude
  timeout: 45m
approval:
  mode: comment               # auto | label | comment
  label: ai-fix-approved
  roles: [OWNER, MEMBER, COLLABORATOR]
gate:
  fast: ["go test ./pkg/... -run {test} -count=1"]
  slow: ["make check"]
reproduce: {runs: 60, parallel: auto, budget: 10m}
schedule: {every: 10m, scan_every: 1d}
workspace: {copy_files: [.env]}
hooks: {post_merge: ["systemctl --user restart myapp"], health_url: "http://127.0.0.1:8080/health"}
limits: {attempts: 3, consecutive_failures: 3, replies_per_day: 5}
notify: {desktop: true, slack_webhook_env: SLACK_WEBHOOK_URL}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "supervisor.yaml"
    path.write_text(text)
    return path


def config_error(path: Path, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, env={} if env is None else env)
    return str(info.value)


# -- the default file ---------------------------------------------------------------------------


def test_render_default_loads_back_to_the_defaults(tmp_path: Path) -> None:
    path = write(tmp_path, render_default({"target": "../repo"}))
    cfg = load_config(path, env={})
    assert cfg == Config(target="../repo")
    assert cfg.source_dir == tmp_path.resolve()


def test_render_default_shows_every_key(tmp_path: Path) -> None:
    doc = yaml.safe_load(render_default({"target": "t"}))
    for path, _ in leaf_paths(Config):
        node = doc
        for key in path.split("."):
            assert key in node, f"{path} is missing from the default file"
            node = node[key]


def test_render_default_round_trips_the_values_init_writes(tmp_path: Path) -> None:
    worker = AgentSpec("command", ("python3", "my agent.py", "--note", "a: b # c"))
    text = render_default(
        {
            "target": "/srv/repo",
            "forge": "local",
            "base_branch": "main",
            "agents.worker": worker,
            "agents.reviewer": AgentSpec("claude"),
            "gate.fast": ["sh check.sh", "pytest -q -k 'not slow'"],
        }
    )
    cfg = load_config(write(tmp_path, text), env={})
    assert cfg.target == "/srv/repo"
    assert cfg.base_branch == "main"
    assert cfg.agents.worker == worker
    assert cfg.agents.reviewer == AgentSpec("claude")
    assert cfg.gate.fast == ["sh check.sh", "pytest -q -k 'not slow'"]
    assert cfg.limits.attempts == 3


# -- every documented key -----------------------------------------------------------------------


def test_every_key_of_the_design_example_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, DESIGN_EXAMPLE), env={})
    assert cfg.target == "tikv/pd"
    assert cfg.base_branch == "master"
    assert cfg.forge == "github"
    assert cfg.github.token_env == "GITHUB_TOKEN"
    assert cfg.github.api_url == "https://api.github.com"
    assert cfg.sources.ci.workflow == ["pd-tests.yaml"]  # a single name is a list of one
    assert cfg.sources.ci.since == 7 * 86400
    assert cfg.sources.tasks.file == "specs/tasks.md"
    assert cfg.sources.issues.label == "ai-task"
    assert cfg.agents.worker == AgentSpec("codex")
    assert cfg.agents.reviewer == AgentSpec("claude")
    assert cfg.agents.analyst == AgentSpec("claude")
    assert cfg.agents.timeout == 45 * 60
    assert cfg.approval.mode == "comment"
    assert cfg.approval.label == "ai-fix-approved"
    assert cfg.approval.roles == ["OWNER", "MEMBER", "COLLABORATOR"]
    assert cfg.gate.fast == ["go test ./pkg/... -run {test} -count=1"]
    assert cfg.gate.slow == ["make check"]
    assert (cfg.reproduce.runs, cfg.reproduce.parallel, cfg.reproduce.budget) == (60, "auto", 600)
    assert (cfg.schedule.every, cfg.schedule.scan_every) == (600, 86400)
    assert cfg.workspace.copy_files == [".env"]
    assert cfg.hooks.post_merge == ["systemctl --user restart myapp"]
    assert cfg.hooks.health_url == "http://127.0.0.1:8080/health"
    assert (cfg.limits.attempts, cfg.limits.consecutive_failures) == (3, 3)
    assert cfg.limits.replies_per_day == 5
    assert cfg.notify.desktop is True
    assert cfg.notify.slack_webhook_env == "SLACK_WEBHOOK_URL"


def test_the_design_example_here_is_the_one_in_design_md(shared_dir: Path) -> None:
    design = (shared_dir / "DESIGN.md").read_text()
    block = re.search(r"## Config: supervisor\.yaml\n\n```yaml\n(.*?)```", design, re.S)
    assert block is not None
    assert block.group(1) == DESIGN_EXAMPLE


def test_an_empty_section_means_its_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "target: t\nlimits:\nagents: {}\n"), env={})
    assert cfg.limits.attempts == 3
    assert cfg.agents.worker == AgentSpec("codex")


# -- errors name the key, the line and what is allowed ------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nforge: local\nschedulle: {every: 5m}\n")
    assert config_error(path) == (
        f"{path}: unknown key 'schedulle' (line 3); allowed in the top level: agents, approval, "
        "base_branch, forge, gate, github, hooks, limits, notify, reproduce, schedule, sources, "
        "target, workspace"
    )


def test_unknown_nested_key(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nsources:\n  tasks:\n    file: a.md\n    fiel: b.md\n")
    assert config_error(path) == (
        f"{path}: unknown key 'sources.tasks.fiel' (line 5); allowed in sources.tasks: file"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('limits: {attempts: "x"}', "'limits.attempts' (line 2) is 'x'; expected a whole number"),
        (
            "limits:\n  attempts: 0",
            "'limits.attempts' (line 3) is 0; expected a whole number of at least 1",
        ),
        (
            "limits: {attempts: true}",
            "'limits.attempts' (line 2) is True; expected a whole number",
        ),
        ('notify: {desktop: "yes"}', "'notify.desktop' (line 2) is 'yes'; expected true or false"),
        ("forge: gitlab", "'forge' (line 2) is 'gitlab'; expected one of local, github"),
        (
            "agents: {timeout: soon}",
            "'agents.timeout' (line 2) is 'soon'; expected a duration like 30s, 45m, 2h, 1d or 1w",
        ),
        ("gate: {fast: [1, 2]}", "'gate.fast' (line 2) is [1, 2]; expected a list of strings"),
        ("base_branch: 3", "'base_branch' (line 2) is 3; expected a string"),
        (
            "reproduce: {parallel: 0}",
            "'reproduce.parallel' (line 2) is 0; expected 'auto' or a whole number of at least 1",
        ),
        ("limits: 3", "'limits' (line 2) must be a mapping of keys"),
    ],
)
def test_a_wrong_value_names_key_line_and_expectation(
    tmp_path: Path, text: str, message: str
) -> None:
    path = write(tmp_path, f"target: t\n{text}\n")
    assert config_error(path) == f"{path}: {message}"


def test_missing_target(tmp_path: Path) -> None:
    path = write(tmp_path, "forge: local\n")
    assert config_error(path) == (
        f"{path}: 'target' is missing: set it to the repository to work on "
        "(a local path, or owner/name with forge: github)"
    )


def test_an_empty_file_is_missing_its_target(tmp_path: Path) -> None:
    path = write(tmp_path, "")
    assert "'target' is missing" in config_error(path)


def test_no_config_file_says_how_to_make_one(tmp_path: Path) -> None:
    message = config_error(tmp_path / "supervisor.yaml")
    assert message.startswith(f"no config at {tmp_path / 'supervisor.yaml'}: run `supervisor init")


def test_invalid_yaml_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nforge: local\ngate:\n  fast: [sh check.sh\n")
    message = config_error(path)
    assert message.startswith(f"{path} at line 5, column 1: not valid YAML: ")
    assert "expected ',' or ']'" in message


def test_invalid_indentation_reports_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\n  forge: local\n")
    assert config_error(path) == (
        f"{path} at line 2, column 8: not valid YAML: mapping values are not allowed here"
    )


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    path = write(tmp_path, "- target: t\n- forge: local\n")
    assert config_error(path) == (
        f"{path}: the top level must be a mapping of keys (target: ..., forge: ...)"
    )


def test_a_nan_duration_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nagents: {timeout: .nan}\n")
    assert "'agents.timeout' (line 2)" in config_error(path)


# -- environment overrides ----------------------------------------------------------------------


def test_env_overrides_a_single_value(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nlimits: {attempts: 2, consecutive_failures: 4}\n")
    cfg = load_config(path, env={"SUPERVISOR_LIMITS_ATTEMPTS": "5"})
    assert cfg.limits.attempts == 5
    assert cfg.limits.consecutive_failures == 4


def test_env_overrides_from_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "target: t\n")
    monkeypatch.setenv("SUPERVISOR_LIMITS_ATTEMPTS", "5")
    monkeypatch.setenv("SUPERVISOR_AGENTS_TIMEOUT", "2h")
    monkeypatch.setenv("SUPERVISOR_SOURCES_TASKS_FILE", "specs/todo.md")
    cfg = load_config(path)
    assert cfg.limits.attempts == 5
    assert cfg.agents.timeout == 7200
    assert cfg.sources.tasks.file == "specs/todo.md"


def test_env_can_supply_the_target(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, "forge: local\n"), env={"SUPERVISOR_TARGET": "../repo"})
    assert cfg.target == "../repo"


def test_env_that_is_not_yaml_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\n")
    message = config_error(path, {"SUPERVISOR_LIMITS_ATTEMPTS": "[5"})
    assert message.startswith("environment variable SUPERVISOR_LIMITS_ATTEMPTS: not a valid value")


def test_env_with_a_wrong_value_names_the_variable(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nlimits:\n  attempts: 2\n")
    message = config_error(path, {"SUPERVISOR_LIMITS_ATTEMPTS": "many"})
    assert "SUPERVISOR_LIMITS_ATTEMPTS" in message
    assert "(line 3)" not in message


# -- durations and agents -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("45m", 2700.0), ("1d", 86400.0), (30, 30.0), ("1w", 604800.0), ("1.5h", 5400.0)],
)
def test_durations_parse(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["soon", "-5m", "5 minutes", True, -1, ""])
def test_bad_durations_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="a duration"):
        parse_duration(value)


def test_format_duration_is_the_inverse_for_whole_units() -> None:
    for text in ("45m", "1d", "1w", "2h", "30s", "90s"):
        assert format_duration(parse_duration(text)) == text
    assert format_duration(5400.0) == "90m"


@pytest.mark.parametrize(
    ("value", "spec"),
    [
        ("codex", AgentSpec("codex")),
        ("claude", AgentSpec("claude")),
        ("none", AgentSpec("none")),
        (
            {"command": ["python3", "agent.py", "--fast"]},
            AgentSpec("command", ("python3", "agent.py", "--fast")),
        ),
        ({"command": "python3 'my agent.py'"}, AgentSpec("command", ("python3", "my agent.py"))),
    ],
)
def test_agent_specs(value: object, spec: AgentSpec) -> None:
    assert parse_agent(value) == spec


@pytest.mark.parametrize(
    "value",
    [{"command": []}, {"command": ""}, {"command": [""]}, {"command": ["a"], "x": 1}, "gpt", None],
)
def test_bad_agent_specs_are_refused(value: object) -> None:
    with pytest.raises(ValueError):
        parse_agent(value)


def test_agent_command_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "target: t\nagents:\n  worker: {command: [python3, w.py]}\n")
    assert load_config(path, env={}).agents.worker == AgentSpec("command", ("python3", "w.py"))
    path = write(tmp_path, "target: t\nagents:\n  reviewer: {command: []}\n")
    assert config_error(path) == (
        f"{path}: 'agents.reviewer' (line 3) is {{'command': []}}; "
        "expected {command: [prog, arg, ...]} with a non-empty list of strings"
    )
    path = write(tmp_path, "target: t\nagents:\n  worker: gpt\n")
    assert config_error(path) == (
        f"{path}: 'agents.worker' (line 3) is 'gpt'; "
        "expected codex, claude, none, or {command: [prog, arg, ...]}"
    )


# -- paths --------------------------------------------------------------------------------------


def test_relative_target_resolves_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(write(home, "target: ../repo\n"), env={})
    assert cfg.target_path() == (tmp_path / "repo").resolve()
    absolute = load_config(write(home, f"target: {tmp_path / 'abs'}\n"), env={})
    assert absolute.target_path() == (tmp_path / "abs").resolve()


# -- through the command line -------------------------------------------------------------------


def test_start_with_a_bad_key_starts_nothing(home: Path) -> None:
    config = home / "supervisor.yaml"
    lines = config.read_text().splitlines(keepends=True)
    n = next(i for i, line in enumerate(lines) if line.strip() == "attempts: 3")
    lines[n] = lines[n].replace("attempts:", "atempts:")
    config.write_text("".join(lines))

    result = run_cli(home, "start", "--once")

    assert result.exit_code == 1, result.output
    assert result.stderr == (
        f"error: {config}: unknown key 'limits.atempts' (line {n + 1}); "
        "allowed in limits: attempts, consecutive_failures, replies_per_day, review_rounds\n"
    )
    assert not (home / "state" / "supervisor.json").exists()
    assert not (home / "logs" / "supervisor.log").exists()
    assert list((home / "worktrees").iterdir()) == []
    assert list((home / "state" / "items").iterdir()) == []
