"""``coaching transcript`` and ``coaching state``: what they print, and their exit codes."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import coaching.audit.history as history_module
from coaching.application import Coaching
from coaching.audit.history import History, Position
from coaching.audit.transfer import export_log
from coaching.cli import main
from coaching.cli.history import EXIT_NOT_FOUND, EXIT_OK, EXIT_STORE, EXIT_USAGE
from coaching.testing import StepClock


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """x1: Carol, agent Ann, a coach (Sam) who later barges in, a silent monitor (Sue)."""
    path = tmp_path_factory.mktemp("cli") / "day.sqlite"
    app = Coaching.sqlite(str(path), clock=StepClock())
    app.register_agent("a1", "alice", nickname="Ann", team="t1")
    app.register_supervisor("s1", "sam", nickname="Sam", teams=frozenset({"t1"}))
    app.register_supervisor("s2", "sue", nickname="Sue", teams=frozenset({"t1"}))
    app.coach("s1", "a1")
    app.monitor("s2", "a1")
    app.open_session("x1", customer_id="c1", customer_nickname="Carol")
    app.send_message("c1", "x1", "my parcel is late")
    app.offer_session("x1", "a1")
    app.accept("a1", "x1")
    app.send_message("s1", "x1", "offer the voucher")
    app.send_message("a1", "x1", "sorry, here is a voucher")
    app.switch_to_barge_in("s1", "x1")
    app.send_message("s1", "x1", "I am the team lead")
    app.open_session("x2", customer_id="c2", customer_nickname="Dan")
    app.close()
    yield path


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([*args, "--no-progress"] if args[0] in ("transcript", "state") else list(args),
                out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_the_customer_transcript_reads_as_a_conversation(store: Path) -> None:
    code, out, err = run("transcript", str(store), "x1", "--as", "c1")
    assert (code, err) == (EXIT_OK, "")
    lines = out.splitlines()
    assert lines[0] == "SMS session x1 as shown to Carol (c1, Customer), at the end of the log"
    assert lines[1].startswith("6 entries shown, from 10 of the session's 10 events (last event at log")
    header = lines[3].split()
    assert header == ["position", "time", "(UTC)", "visibility", "who", "what"]
    rows = lines[4:]
    assert len(rows) == 6
    assert '"my parcel is late"' in rows[1] and "Carol (c1, Customer)" in rows[1]
    assert "offer the voucher" not in out and "Sue" not in out  # the coach's words, the monitor
    assert "joined in BargeIn" in out and "switched" not in out and '"I am the team lead"' in out
    # aligned: every row starts its "who" column where the header does
    who = lines[3].index("who")
    assert all(row[who - 2:who] == "  " and row[who] != " " for row in rows)


def test_a_supervisor_sees_the_coaching_and_the_monitor(store: Path) -> None:
    code, out, _ = run("transcript", str(store), "x1", "--as", "s2")
    assert code == EXIT_OK
    assert "as shown to Sue (s2, Supervisor)" in out
    assert '"offer the voucher"' in out and "Agents" in out
    assert "joined in Monitor" in out and "Supervisors" in out


def test_json_says_what_the_api_says(store: Path) -> None:
    code, out, _ = run("transcript", str(store), "x1", "--as", "a1", "--format", "json", "--at", "12")
    assert code == EXIT_OK
    data: dict[str, Any] = json.loads(out)
    with History(store) as history:
        entries = history.transcript("x1", "a1", at=Position(12))
    assert data["viewer"] == {"id": "a1", "type": "Agent", "nickname": "Ann",
                              "joined_position": data["viewer"]["joined_position"],
                              "joined_at": data["viewer"]["joined_at"]}
    assert data["as_of"]["requested"] == {"position": 12, "time": None}
    assert data["count"] == len(entries) == len(data["entries"]) > 0
    assert [(e["version"], e["kind"], e["participant_id"], e["visibility"], e["text"], e["mode"])
            for e in data["entries"]] == [
        (e.position, e.kind.value, e.participant_id, e.visibility.value, e.text,
         e.mode.value if e.mode else None) for e in entries]
    with History(store) as history:
        stream = history.stream("session:x1", Position(12))
    assert [e["position"] for e in data["entries"]] == [stream.position_of(e.position) for e in entries]
    assert all(e["position"] <= 12 for e in data["entries"])
    assert data["entries"][0]["timestamp"].endswith("Z")


def test_state_of_a_session_then_and_now(store: Path) -> None:
    code, out, _ = run("state", str(store), "--session", "x1", "--at", "2026-01-05T09:00:10Z")
    assert code == EXIT_OK
    assert out.startswith("SMS session x1 as of 2026-01-05 09:00:10.000 UTC")
    assert "status       Chatting" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith("  s")}
    assert rows["s1"][1:5] == ["Supervisor", "Sam", "Agents", "Coach"]
    assert rows["s2"][1:5] == ["Supervisor", "Sue", "Supervisors", "Monitor"]
    code, out, _ = run("state", str(store), "--session", "x1", "--format", "json")
    data = json.loads(out)
    assert code == EXIT_OK and data["status"] == "Chatting" and data["message_count"] == 4
    modes = {p["id"]: (p["mode"], p["visibility"], p["via"]) for p in data["participants"]}
    assert modes["s1"] == ("BargeIn", "All", "Supervision") and modes["c1"] == (None, "All", None)
    code, out, _ = run("state", str(store), "--session", "x2", "--format", "json")
    assert json.loads(out)["status"] == "Waiting"


def test_state_of_an_agent_and_a_supervisor(store: Path) -> None:
    code, out, _ = run("state", str(store), "--agent", "a1")
    assert code == EXIT_OK and "active supervisions (2)" in out
    assert [line.split()[:3] for line in out.splitlines() if line.startswith(("  s1", "  s2"))] == [
        ["s1", "Coach", "AllChats"], ["s2", "Monitor", "AllChats"]]
    code, out, _ = run("state", str(store), "--agent", "a1", "--at", "4", "--format", "json")
    assert code == EXIT_OK and [s["supervisor_id"] for s in json.loads(out)["supervisions"]] == ["s1"]
    code, out, _ = run("state", str(store), "--supervisor", "s1", "--format", "json")
    data = json.loads(out)
    assert [s["agent_id"] for s in data["supervisions"]] == ["a1"]
    assert [(s["session_id"], s["mode"]) for s in data["sessions"]] == [("x1", "BargeIn")]
    code, out, _ = run("state", str(store), "--supervisor", "s1")
    assert "present in sessions (1)" in out and "supervisions held (1)" in out


def test_unknown_ids_exit_1_naming_what_exists(store: Path) -> None:
    code, out, err = run("transcript", str(store), "x9", "--as", "c1")
    assert (code, out) == (EXIT_NOT_FOUND, "")
    assert "no SMS session with id 'x9' in this log; it records: x1, x2" in err
    code, _, err = run("transcript", str(store), "x1", "--as", "c2")
    assert code == EXIT_NOT_FOUND
    assert "its viewers are: c1 (Customer), a1 (Agent), s1 (Supervisor), s2 (Supervisor)" in err
    code, _, err = run("state", str(store), "--session", "x2", "--at", "3")
    assert code == EXIT_NOT_FOUND and "did not exist yet as of log position 3" in err
    code, _, err = run("state", str(store), "--supervisor", "s7")
    assert code == EXIT_NOT_FOUND and "it records: s1, s2" in err


def test_bad_arguments_exit_2(store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for args in (["transcript", str(store), "x1", "--as", "c1", "--at", "2026-01-05T09:00:10"],
                 ["transcript", str(store), "bad id!", "--as", "c1"],
                 ["state", str(store), "--session", "x1", "--agent", "a1"],
                 ["state", str(store)]):
        with pytest.raises(SystemExit) as exited:
            main(args)
        assert exited.value.code == EXIT_USAGE
    err = capsys.readouterr().err
    assert "has no timezone; the log records UTC: write 2026-01-05T09:00:10Z for UTC" in err
    assert "is not a GWS identifier" in err


def test_an_unusable_store_exits_3(store: Path, tmp_path: Path) -> None:
    code, _, err = run("transcript", str(tmp_path / "missing.sqlite"), "x1", "--as", "c1")
    assert code == EXIT_STORE and "cannot read" in err
    empty = tmp_path / "empty.sqlite"
    sqlite3.connect(empty).close()
    code, _, err = run("state", str(empty), "--session", "x1")
    assert code == EXIT_STORE and "is not a coaching store" in err
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(store.read_bytes())
    with sqlite3.connect(broken) as db:
        (opened,) = db.execute("SELECT rowid FROM stored_events WHERE originator_id = 'session:x1' "
                               "AND originator_version = 1").fetchone()
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (b"garbage", opened))
    code, _, err = run("transcript", str(broken), "x1", "--as", "c1")
    assert code == EXIT_STORE and f"cannot decode the record at log position {opened}" in err


def test_an_export_file_is_scanned_with_a_progress_bar(store: Path, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_module, "PROGRESS_EVERY", 5)
    export = tmp_path / "day.jsonl"
    export_log(store, export)
    out, err = io.StringIO(), io.StringIO()
    assert main(["transcript", str(export), "x1", "--as", "c1"], out=out, err=err) == EXIT_OK
    assert err.getvalue().startswith("scan: ") and "done in" in err.getvalue().splitlines()[-1]
    assert out.getvalue() == run("transcript", str(store), "x1", "--as", "c1")[1]


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("transcript", "state"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "examples:" in text and "exit codes:" in text and "--at POS|TIME" in text
        for code in (EXIT_OK, EXIT_NOT_FOUND, EXIT_USAGE, EXIT_STORE):
            assert f"\n  {code}  " in text
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    assert "\n  transcript exactly what one viewer" in text and "\n  state    a session" in text
    assert "coaching transcript coaching-demo.sqlite sms-00003 --as cust-00003" in text
