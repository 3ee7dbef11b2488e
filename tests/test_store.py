"""Versioned JSON state: atomic writes, corrupt files moved aside, newer versions refused."""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from supervisor import store
from supervisor.errors import StateCorrupt, UserError


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_write_json_format(tmp_path: Path) -> None:
    path = tmp_path / "state" / "x.json"
    store.write_json(path, {"b": 1, "a": {"d": 2, "c": [1, 2]}, "u": "é"})
    assert path.read_text(encoding="utf-8") == (
        "{\n"
        '  "a": {\n'
        '    "c": [\n'
        "      1,\n"
        "      2\n"
        "    ],\n"
        '    "d": 2\n'
        "  },\n"
        '  "b": 1,\n'
        '  "schema_version": 1,\n'
        '  "u": "é"\n'
        "}\n"
    )
    assert store.read_json(path) == {
        "a": {"c": [1, 2], "d": 2},
        "b": 1,
        "schema_version": 1,
        "u": "é",
    }
    assert listing(path.parent) == ["x.json"]


def test_write_replaces_and_leaves_no_temp_file(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    store.write_json(path, {"n": 1})
    store.write_json(path, {"n": 2})
    assert json.loads(path.read_text()) == {"n": 2, "schema_version": 1}
    assert listing(tmp_path) == ["x.json"]


def test_unserialisable_value_leaves_the_old_file_intact(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    store.write_json(path, {"n": 1})
    before = path.read_bytes()
    with pytest.raises(TypeError):
        store.write_json(path, {"n": 2, "bad": object()})
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["x.json"]


def test_a_write_failing_half_way_leaves_the_old_file_intact(tmp_path: Path) -> None:
    # A lone surrogate serialises to JSON but cannot be encoded: the temporary file is half
    # written when the error comes.
    path = tmp_path / "x.json"
    store.write_json(path, {"n": 1})
    before = path.read_bytes()
    with pytest.raises(UnicodeEncodeError):
        store.write_json(path, {"a": "x" * 100_000, "b": "\ud800"})
    assert path.read_bytes() == before
    assert listing(tmp_path) == ["x.json"]


def test_read_of_a_missing_file_is_none(tmp_path: Path) -> None:
    assert store.read_json(tmp_path / "nope.json") is None


@pytest.mark.parametrize(
    ("content", "why"),
    [
        (b"\x00\x01garbage{{", "could not be read (Expecting value"),
        (b'{"schema_version": 1, "name": "\xff\xfe"}', "could not be read ('utf-8' codec"),
        (b'[{"schema_version": 1}]', "could not be read (expected a JSON object, found list)"),
        (b'{"name": "x"}', "could not be read (missing or invalid schema_version)"),
        (b'{"schema_version": "1"}', "could not be read (missing or invalid schema_version)"),
        (b"", "could not be read (Expecting value"),
    ],
)
def test_a_corrupt_file_is_moved_aside(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "item.json"
    path.write_bytes(content)
    with pytest.raises(StateCorrupt) as info:
        store.read_json(path)
    asides = [p for p in tmp_path.iterdir() if p.name.startswith("item.json.corrupt-")]
    assert len(asides) == 1
    aside = asides[0]
    assert aside.read_bytes() == content
    assert not path.exists()
    assert listing(tmp_path) == [aside.name]
    message = str(info.value)
    assert message.startswith(f"state file {path} {why}")
    assert f"it was moved aside to {aside.name}." in message
    assert store.corrupt_files(tmp_path) == [aside]


def test_corrupt_name_carries_a_utc_stamp(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("nope")
    aside = store.quarantine(path)
    assert aside.parent == tmp_path
    stamp = aside.name.removeprefix("x.json.corrupt-")
    parsed = time.strptime(stamp, "%Y%m%dT%H%M%S")
    assert abs(time.mktime(parsed) - time.mktime(time.gmtime())) < 60


def test_two_corruptions_in_the_same_second_get_distinct_names(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    frozen = time.gmtime(1_700_000_000)
    monkeypatch.setattr(
        store, "time", SimpleNamespace(strftime=time.strftime, gmtime=lambda: frozen)
    )
    path = tmp_path / "x.json"
    asides = []
    for content in (b"first", b"second", b"third"):
        path.write_bytes(content)
        with pytest.raises(StateCorrupt):
            store.read_json(path)
        asides.append(next(p for p in tmp_path.iterdir() if p not in asides))
    assert [p.name for p in asides] == [
        "x.json.corrupt-20231114T221320",
        "x.json.corrupt-20231114T221320-2",
        "x.json.corrupt-20231114T221320-3",
    ]
    assert [p.read_bytes() for p in asides] == [b"first", b"second", b"third"]


def test_a_moved_aside_file_is_never_overwritten_by_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text("{broken")
    with pytest.raises(StateCorrupt) as info:
        store.read_json(path)
    (aside,) = store.corrupt_files(tmp_path)
    store.write_json(path, {"fresh": True})
    assert aside.read_text() == "{broken"
    assert aside.name in str(info.value)
    assert store.read_json(path) == {"fresh": True, "schema_version": 1}


def test_a_newer_schema_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    content = b'{"schema_version": 7, "future": true}\n'
    path.write_bytes(content)
    with pytest.raises(UserError) as info:
        store.read_json(path)
    assert type(info.value) is UserError
    assert str(info.value) == (
        f"{path} has schema_version 7, newer than this supervisor understands (1): "
        "upgrade supervisor (pip install -U supervisor)"
    )
    assert path.read_bytes() == content
    assert listing(tmp_path) == ["x.json"]


def test_remove_stale_temp_files(tmp_path: Path) -> None:
    (tmp_path / "items").mkdir()
    (tmp_path / "items" / ".x.json.123.tmp").write_text("half")
    (tmp_path / ".cursors.json.abc_9.tmp").write_text("half")
    (tmp_path / "items" / "x.json").write_text("{}")
    (tmp_path / "keep.tmp").write_text("not ours")
    assert store.remove_stale_temp_files(tmp_path) == 2
    assert listing(tmp_path) == ["items", "keep.tmp"]
    assert listing(tmp_path / "items") == ["x.json"]
    assert store.remove_stale_temp_files(tmp_path / "absent") == 0


def test_corrupt_files_lists_moved_aside_files_recursively(tmp_path: Path) -> None:
    (tmp_path / "items").mkdir()
    a = tmp_path / "items" / "a.json"
    b = tmp_path / "cursors.json"
    for p in (a, b):
        p.write_text("garbage")
        store.quarantine(p)
    (tmp_path / "items" / "ok.json").write_text("{}")
    found = store.corrupt_files(tmp_path)
    assert [p.name.split(".corrupt-")[0] for p in found] == ["cursors.json", "a.json"]
    assert all(p.is_file() for p in found)
    assert store.corrupt_files(tmp_path / "absent") == []


def test_a_registered_migration_is_applied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def v1_to_v2(doc: dict[str, Any]) -> dict[str, Any]:
        doc["names"] = [doc.pop("name")]
        return doc

    monkeypatch.setitem(store.MIGRATIONS, "fake", {1: v1_to_v2})
    monkeypatch.setattr(store, "SCHEMA_VERSION", 2)
    path = tmp_path / "x.json"
    path.write_text('{"schema_version": 1, "name": "a"}')
    assert store.read_json(path, "fake") == {"schema_version": 2, "names": ["a"]}
    # Written back with the current version, it reads as is.
    store.write_json(path, {"names": ["b"]})
    assert json.loads(path.read_text())["schema_version"] == 2
    assert store.read_json(path, "fake") == {"schema_version": 2, "names": ["b"]}


def test_a_missing_migration_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store, "SCHEMA_VERSION", 2)
    path = tmp_path / "x.json"
    path.write_text('{"schema_version": 1}')
    with pytest.raises(UserError, match="no migration for a other file from schema_version 1"):
        store.read_json(path, "other")
    assert path.read_text() == '{"schema_version": 1}'
