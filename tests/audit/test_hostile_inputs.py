"""Hostile inputs to the audit tools: each gets a sentence and its documented exit code, never a traceback."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from pathlib import Path

import orjson
import pytest

from coaching import Coaching
from coaching.cli import main
from coaching.simulation import Shift, ShiftPlan


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "shift.sqlite"
    shift = Shift(ShiftPlan(seed=3, sessions=20, agents=6, supervisors=2))
    app = Coaching.sqlite(str(path), clock=shift.clock)
    shift.run(app, lambda _done, _total: None)
    app.close()
    return path


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def tampered(store: Path, tmp_path: Path, sql: str, *params: object) -> Path:
    copy = tmp_path / "tampered.sqlite"
    shutil.copy(store, copy)
    with sqlite3.connect(copy) as db:
        db.execute(sql, params)
    return copy


def first_session_row(store: Path) -> tuple[int, str]:
    with sqlite3.connect(store) as db:
        rowid, originator_id = db.execute(
            "SELECT rowid, originator_id FROM stored_events WHERE originator_id LIKE 'session:%' "
            "AND topic LIKE '%MessageVisibleToAll%' ORDER BY rowid LIMIT 1").fetchone()
    return int(rowid), str(originator_id)


def test_validate_renders_json_like_the_fast_path(store: Path) -> None:
    # --validate decodes through pydantic: sender types are enum members, still plain JSON keys
    code, fast, _ = run("audit", str(store), "--format", "json", "--no-progress")
    code_v, validated, err = run("audit", str(store), "--format", "json", "--validate", "--no-progress")
    assert (code, code_v) == (0, 0), err
    by_sender = json.loads(validated)["messages"]["by_sender_type"]
    assert by_sender == json.loads(fast)["messages"]["by_sender_type"]
    assert set(by_sender) <= {"Customer", "Agent", "Supervisor"}


@pytest.mark.parametrize(("column", "value"), [("topic", None), ("topic", b"\xff"), ("originator_id", None),
                                               ("originator_version", "x")])
def test_a_null_or_foreign_column_is_a_finding_not_a_crash(store: Path, tmp_path: Path, column: str,
                                                           value: object) -> None:
    rowid, _ = first_session_row(store)
    copy = tampered(store, tmp_path, f"UPDATE stored_events SET {column} = ? WHERE rowid = ?", value, rowid)
    code, out, err = run("audit", str(copy), "--verify", "--no-progress")
    assert code == 1, err
    assert f"BROKEN at position {rowid}" in out
    code, out, err = run("audit", str(copy), "--validate", "--format", "json", "--no-progress")
    assert code == 1, err
    assert json.loads(out)["ok"] is False
    code, _, err = run("export", str(copy), str(tmp_path / "out.jsonl"), "--no-progress")
    assert code == 1 and f"position {rowid}" in err
    assert not (tmp_path / "out.jsonl").exists()


def test_a_recorded_time_without_a_zone_refuses_a_time_cut(store: Path, tmp_path: Path) -> None:
    rowid, originator_id = first_session_row(store)
    with sqlite3.connect(store) as db:
        (state,) = db.execute("SELECT state FROM stored_events WHERE rowid = ?", (rowid,)).fetchone()
    event = orjson.loads(state)
    event["timestamp"] = event["timestamp"].rstrip("Z")
    copy = tampered(store, tmp_path, "UPDATE stored_events SET state = ? WHERE rowid = ?",
                    orjson.dumps(event), rowid)
    session = originator_id.removeprefix("session:")
    code, _, err = run("state", str(copy), "--session", session, "--at", "2025-04-14T08:10:00Z",
                       "--no-progress")
    assert code == 3
    assert f"log position {rowid}" in err and "without a timezone" in err
    code, _, err = run("state", str(copy), "--session", session, "--at", str(rowid), "--no-progress")
    assert code == 0, err  # a position cut needs no time


@pytest.mark.parametrize("at", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00"])
def test_times_at_the_ends_of_the_calendar_answer(store: Path, at: str) -> None:
    _, originator_id = first_session_row(store)
    session = originator_id.removeprefix("session:")
    code, out, err = run("state", str(store), "--session", session, "--at", at, "--no-progress")
    if at.startswith("9999"):
        assert code == 0, err
        assert "9999-12-31" in out
    else:
        assert code == 1 and "did not exist yet" in err


def test_exporting_a_store_onto_itself_is_refused_even_with_force(store: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.sqlite"
    shutil.copy(store, copy)
    code, _, err = run("export", str(copy), str(copy), "--force", "--no-progress")
    assert code == 3 and "is the log being exported" in err
    assert copy.read_bytes()[:16] == b"SQLite format 3\x00"
    assert run("audit", str(copy), "--verify", "--no-progress")[0] == 0


def test_copying_a_bad_export_is_refused(store: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    assert run("export", str(store), str(good), "--no-progress")[0] == 0
    lines = good.read_bytes().splitlines(keepends=True)
    trailer = orjson.loads(lines[-1])
    cases = {
        "bad-line": [lines[0], b"garbage{\n", *lines[1:]],
        "cut-short": lines[:-1],
        "cut-short-keeping-a-trailer": [*lines[:-2], lines[-1]],
        "wrong-trailer": [*lines[:-1], orjson.dumps({**trailer, "records": trailer["records"] + 1}) + b"\n"],
    }
    for name, content in cases.items():
        bad = tmp_path / f"{name}.jsonl"
        bad.write_bytes(b"".join(content))
        copy = tmp_path / f"{name}-copy.jsonl"
        code, _, err = run("export", str(bad), str(copy), "--no-progress")
        assert code == 1 and "refused" in err, (name, err)
        assert not copy.exists(), name
    assert run("export", str(good), str(tmp_path / "copy.jsonl"), "--no-progress")[0] == 0
