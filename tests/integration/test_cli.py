"""The ``coaching`` command line: the demo's summary tells the truth about the log it wrote.

Every number the demo prints about events is recounted here from the SQLite file itself, so a
summary that drifts from the stored log fails; the replay check must say OK on a good log and
fail (exit 1, with the differences) on a tampered one.
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from coaching import replay
from coaching.cli import (
    EXIT_DATABASE,
    EXIT_OK,
    EXIT_REPLAY_MISMATCH,
    EXIT_SIMULATION,
    Progress,
    build_parser,
    main,
)
from coaching.replay import States
from coaching.simulation import Shift, ShiftStats
from coaching.store.codec import CODEC

NUMBER = r"([\d,]+)"


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def _section(text: str, header: str) -> dict[str, int]:
    """The ``name  number`` lines under a header of the summary, up to the next blank line."""
    lines = text.split(f"\n{header}\n", 1)[1].split("\n\n", 1)[0].splitlines()
    rows = {}
    for line in lines:
        match = re.fullmatch(rf"\s+(.+?)\s{{2,}}{NUMBER}", line)
        if match:
            rows[match[1].strip()] = int(match[2].replace(",", ""))
    return rows


def _log(path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """(aggregate id, event name, state) of every stored row, in log order, read with sqlite3 only."""
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT originator_id, topic, state FROM stored_events ORDER BY rowid").fetchall()
    return [(oid, topic.split(":")[1].split("@")[0], orjson.loads(state)) for oid, topic, state in rows]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int, str, str]:
    path = tmp_path_factory.mktemp("demo") / "shift.sqlite"
    code, out, err = _run(["demo", "--db", str(path), "--seed", "5", "--sessions", "40", "--agents", "8",
                           "--supervisors", "2"])
    return path, code, out, err


def test_demo_exits_zero_and_says_the_replay_check_is_ok(demo: tuple[Path, int, str, str]) -> None:
    path, code, out, _ = demo
    assert code == EXIT_OK, out
    log = _log(path)
    match = re.search(rf"^replay check: OK \({NUMBER} aggregates, {NUMBER} events\)$", out, re.MULTILINE)
    assert match, out
    assert int(match[1].replace(",", "")) == len({oid for oid, _, _ in log})
    assert int(match[2].replace(",", "")) == len(log)
    assert re.search(r"^elapsed: [\d.]+ s", out, re.MULTILINE)


def test_demo_summary_counts_match_the_stored_log(demo: tuple[Path, int, str, str]) -> None:
    path, _, out, _ = demo
    log = _log(path)
    names = Counter(name for _, name, _ in log)

    assert _section(out, "events by type") == dict(names)
    assert re.search(rf"events\s+{len(log):,} recorded", out)

    sessions = _section(out, "sessions")
    assert sessions["opened"] == names["SessionOpened"] == 40
    assert sessions["completed"] == names["SessionCompleted"]
    assert sessions["queued (re-offered later)"] == names["SessionQueued"]
    assert sessions["invitations rejected"] == names["AgentRejected"]
    reasons = Counter(d["reason"] for _, n, d in log if n == "SessionCompleted")
    for reason, count in reasons.items():
        assert sessions[f"completed: {reason}"] == count

    supervised: dict[str, set[str]] = {}
    for _, name, d in log:
        if name == "SupervisorAdded":
            supervised.setdefault(d["mode"], set()).add(d["session_id"])
            supervised.setdefault("any", set()).add(d["session_id"])
        elif name == "SupervisorModeSwitched":
            supervised.setdefault(d["to_mode"], set()).add(d["session_id"])
    by_mode = _section(out, "sessions supervised")
    assert by_mode["with any supervisor"] == len(supervised["any"]) > 0
    for mode in ("Monitor", "Coach", "BargeIn"):
        assert by_mode[f"in mode {mode}"] == len(supervised.get(mode, ()))

    joined = _section(out, "supervisors in sessions")
    via = Counter(d["via"] for _, n, d in log if n == "SupervisorAdded")
    assert {k: v for k, v in joined.items() if k.startswith("joined via ")} == {
        f"joined via {k}": v for k, v in via.items()}
    assert joined["mode switches"] == names["SupervisorModeSwitched"]
    assert joined["supervisors left"] == names["SupervisorLeft"]

    started = Counter((d["mode"], d["monitoring_mode"]) for _, n, d in log if n == "SupervisionStarted")
    matrix = {m[1]: (int(m[2].replace(",", "")), int(m[3].replace(",", "")))
              for m in re.finditer(rf"^\s+(Monitor|Coach|BargeIn)\s+{NUMBER}\s+{NUMBER}$", out, re.MULTILINE)}
    assert matrix == {mode: (started[mode, "NextChat"], started[mode, "AllChats"])
                      for mode in ("Monitor", "Coach", "BargeIn")}

    visibility = Counter(d["visibility"] for _, n, d in log if n.startswith("MessageVisibleTo"))
    messages = _section(out, "messages by visibility")
    assert (messages["All"], messages["Agents"]) == (visibility["All"], visibility["Agents"])
    senders = Counter(d["sender_type"] for _, n, d in log if n.startswith("MessageVisibleTo"))
    assert _section(out, "messages by sender") == dict(senders)


def test_demo_summary_lists_refusals_by_status_code(demo: tuple[Path, int, str, str]) -> None:
    _, _, out, _ = demo
    refusals = _section(out, "refusals by GWS status code")
    assert refusals, "the shift makes some deliberate mistakes"
    codes = {int(name.split()[0]) for name in refusals}
    assert codes <= {1, 2, 3, 5, 6, 10, 18}
    total = int(re.search(rf"{NUMBER} refused on purpose", out)[1].replace(",", ""))  # type: ignore[index]
    assert sum(refusals.values()) == total


def test_demo_draws_plain_progress_lines_when_stderr_is_not_a_terminal(
        demo: tuple[Path, int, str, str]) -> None:
    _, _, _, err = demo
    assert "\r" not in err
    assert re.search(r"^shift: 40/40 100% .*done in", err, re.MULTILINE), err
    assert re.search(r"^replay: ([\d,]+)/\1 100% .*done in", err, re.MULTILINE), err


def test_demo_as_a_module_in_a_subprocess(tmp_path: Path) -> None:
    path = tmp_path / "sub.sqlite"
    done = subprocess.run(
        [sys.executable, "-m", "coaching", "demo", "--db", str(path), "--sessions", "15", "--seed", "2",
         "--agents", "4", "--supervisors", "1"],
        capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == EXIT_OK, done.stdout + done.stderr
    assert "replay check: OK (" in done.stdout
    assert f"into {path}" in done.stdout
    assert "shift: 15/15 100%" in done.stderr
    assert len(_log(path)) > 100


def test_demo_refuses_a_file_that_already_holds_a_log_unless_fresh(tmp_path: Path) -> None:
    path = tmp_path / "again.sqlite"
    args = ["demo", "--db", str(path), "--sessions", "3", "--agents", "2", "--supervisors", "1",
            "--no-progress"]
    assert _run(args)[0] == EXIT_OK
    rows = len(_log(path))
    code, out, err = _run(args)
    assert code == EXIT_DATABASE and "--fresh" in err and out == ""
    assert len(_log(path)) == rows, "nothing was added"
    code, out, err = _run([*args, "--fresh"])
    assert code == EXIT_OK and err == ""
    assert len(_log(path)) == rows, "same seed, fresh file: the same log again"


def test_check_reports_a_log_whose_order_contradicts_its_streams(tmp_path: Path) -> None:
    path = tmp_path / "tampered.sqlite"
    code, _, _ = _run(["demo", "--db", str(path), "--sessions", "5", "--agents", "2", "--no-progress"])
    assert code == EXIT_OK
    code, out, _ = _run(["check", "--db", str(path), "--no-progress"])
    assert code == EXIT_OK and "replay check: OK" in out
    with sqlite3.connect(path) as db:
        (first, second) = db.execute(
            "SELECT rowid FROM stored_events WHERE originator_id = 'session:sms-00001' "
            "AND originator_version IN (2, 3) ORDER BY originator_version").fetchall()
        db.execute("UPDATE stored_events SET rowid = -1 WHERE rowid = ?", first)
        db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (first[0], second[0]))
        db.execute("UPDATE stored_events SET rowid = ? WHERE rowid = -1", second)
    code, out, _ = _run(["check", "--db", str(path), "--no-progress"])
    assert code == EXIT_REPLAY_MISMATCH
    assert "replay check: FAILED" in out
    assert "session:sms-00001: log position" in out and "expected 2" in out


def test_demo_fails_when_replayed_states_differ(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = replay.rebuild

    def lossy(events: Any) -> States:
        states = real(events)
        key, session = next(iter(states.sessions.items()))
        states.sessions[key] = dataclasses.replace(session, message_count=-1)
        return states

    monkeypatch.setattr("coaching.cli.rebuild", lossy)
    code, out, _ = _run(["demo", "--db", str(tmp_path / "x.sqlite"), "--sessions", "3", "--agents", "2",
                         "--no-progress"])
    assert code == EXIT_REPLAY_MISMATCH
    assert re.search(r"^  session:sms-\d+\.message_count: live \d+ / replayed -1$", out, re.MULTILINE), out


def test_demo_exits_4_when_the_simulation_meets_an_unexpected_outcome(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real_run = Shift.run

    def surprised(self: Shift, app: Any, progress: Any = None) -> ShiftStats:
        stats = real_run(self, app, progress)
        stats.unexpected.append("leave by non-participant: accepted, expected statusCode 2")
        return stats

    monkeypatch.setattr(Shift, "run", surprised)
    code, out, _ = _run(["demo", "--db", str(tmp_path / "s.sqlite"), "--sessions", "2", "--no-progress"])
    assert code == EXIT_SIMULATION
    assert "simulation: 1 unexpected outcomes" in out and "expected statusCode 2" in out


def test_an_empty_shift_still_replays(tmp_path: Path) -> None:
    code, out, err = _run(["demo", "--db", str(tmp_path / "e.sqlite"), "--sessions", "0"])
    assert code == EXIT_OK
    assert "replay check: OK" in out and "shift: 0/0 100%" in err


def test_check_on_a_missing_file_is_a_database_error(tmp_path: Path) -> None:
    code, _, err = _run(["check", "--db", str(tmp_path / "none.sqlite")])
    assert code == EXIT_DATABASE and "holds no events" in err


def test_help_teaches_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    subcommands = [name for action in build_parser()._actions
                   if isinstance(action, argparse._SubParsersAction) for name in action.choices]
    expected = {"demo", "check", "schema", "serve", "audit", "transcript", "state", "export", "import"}
    assert set(subcommands) == expected
    for name in subcommands:
        assert f"\n  {name} " in text, f"{name} is not explained"
        assert f"coaching {name}" in text, f"{name} has no example"
    assert "Supervisors" in text or "supervisor" in text
    assert "exit codes" in text


@pytest.mark.parametrize("sub", ["demo", "check", "schema", "serve", "audit", "transcript", "state", "export",
                                 "import"])
def test_every_subcommand_has_its_own_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([sub, "--help"])
    text = capsys.readouterr().out
    assert "example" in text
    assert "exit" in text, f"coaching {sub} --help does not explain its exit codes"


def test_bad_arguments_exit_with_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["demo", "--agents", "0"])
    assert exited.value.code == 2
    assert "at least 1" in capsys.readouterr().err


def test_schema_prints_every_topic_as_json() -> None:
    code, out, _ = _run(["schema"])
    assert code == EXIT_OK
    printed = orjson.loads(out)
    assert set(printed) == set(CODEC.classes)
    assert printed == CODEC.schemas()


def test_schema_out_writes_one_file_per_topic_and_check_finds_drift(tmp_path: Path) -> None:
    target = tmp_path / "events"
    assert _run(["schema", "--out", str(target)])[0] == EXIT_OK
    files = sorted(p.name for p in target.iterdir())
    assert "SupervisorAdded.v1.schema.json" in files and len(files) == len(CODEC.classes)
    assert _run(["schema", "--out", str(target), "--check"])[0] == EXIT_OK
    (target / "Revoked.v1.schema.json").write_text("{}")
    code, out, err = _run(["schema", "--out", str(target), "--check"])
    assert code == EXIT_REPLAY_MISMATCH
    assert "Revoked.v1.schema.json" in out and "upcaster" in err


def test_progress_redraws_one_line_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    ticks = iter(range(100))
    stream = Terminal()
    bar = Progress("work", 10, stream, width=10, clock=lambda: float(next(ticks)))
    for i in range(1, 11):
        bar.update(i)
    bar.finish()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.count("\r") >= 10
    assert "work   [#####.....] 5/10  50%" in text
    assert re.search(r"work   \[#{10}\] 10/10 100% [\d,]+/s done in 0:\d\d$", text.splitlines()[-1].rstrip())


def test_progress_can_be_silenced() -> None:
    stream = io.StringIO()
    bar = Progress("work", 3, stream, enabled=False)
    bar.update(3)
    bar.finish()
    assert stream.getvalue() == ""


def test_check_names_a_rule_the_stored_log_breaks(tmp_path: Path) -> None:
    """A coach's message rewritten to be visible to all is caught by the rules check, by name."""
    path = tmp_path / "leaky.sqlite"
    code, out, _ = _run(["demo", "--db", str(path), "--no-progress"])
    assert code == EXIT_OK and "rules check: OK" in out
    with sqlite3.connect(path) as db:
        rowid, state = db.execute(
            "SELECT rowid, state FROM stored_events WHERE topic = 'coaching:MessageVisibleToAgent@v1' "
            "ORDER BY rowid LIMIT 1").fetchone()
        leaked = state.replace(b'"visibility":"Agents"', b'"visibility":"All"')
        assert leaked != state
        db.execute("UPDATE stored_events SET topic = 'coaching:MessageVisibleToAll@v1', state = ? "
                   "WHERE rowid = ?", (leaked, rowid))
    code, out, _ = _run(["check", "--db", str(path), "--no-progress"])
    assert code == EXIT_REPLAY_MISMATCH
    assert "rules check: FAILED (1 violations)" in out
    assert "coach-messages-never-reach-the-customer" in out and f"positions [{rowid}]" in out
