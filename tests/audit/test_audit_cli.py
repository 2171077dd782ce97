"""``coaching audit`` over stored logs: a log the domain wrote passes; hand-corrupted ones fail by name.

The corrupted logs are made the way an intruder or a buggy writer would: rows written straight
into a copy of a demo SQLite file with sqlite3 and the event codec, never through the
application. Each corruption must fail with exit status 1 and the right rule, naming the
session, the positions and the participants.
"""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
from collections.abc import Callable
from contextlib import redirect_stdout
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from coaching.application import Coaching
from coaching.audit.check import audit_path
from coaching.cli import main
from coaching.cli.audit import EXIT_CLEAN, EXIT_UNREADABLE, EXIT_VIOLATIONS
from coaching.domain.events import (
    MessageVisibleToAgent,
    MessageVisibleToAll,
    SupervisorAdded,
    SupervisorLeft,
)
from coaching.domain.values import JoinedVia, MonitoringMode, ParticipantType, SupervisorMode, Visibility
from coaching.invariants import LogChecker, Rule
from coaching.store.codec import CODEC

Row = tuple[str, int, str, bytes]
"""originator_id, originator_version, topic, state: a stored row without its position."""


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A simulated shift written by the domain (seeded, so every corruption below finds its target)."""
    path = tmp_path_factory.mktemp("audit") / "shift.sqlite"
    code, out, _ = _run(["demo", "--db", str(path), "--seed", "11", "--sessions", "80", "--agents", "8",
                         "--supervisors", "3", "--no-progress"])
    assert code == 0, out
    return path


def _rows(path: Path) -> list[Row]:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT originator_id, originator_version, topic, state FROM stored_events "
                          "ORDER BY rowid").fetchall()


def _corrupt(demo: Path, tmp_path: Path, edit: Callable[[list[Row]], list[Row]]) -> Path:
    """A copy of the demo store whose events table is rewritten, in order, as ``edit`` says."""
    path = tmp_path / "corrupted.sqlite"
    shutil.copy(demo, path)
    rows = edit(_rows(demo))
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM stored_events")
        db.executemany("INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                       "VALUES (?, ?, ?, ?, ?)", [(i, *row) for i, row in enumerate(rows, start=1)])
    return path


def _state(row: Row) -> dict[str, Any]:
    return dict(orjson.loads(row[3]))


def _name(row: Row) -> str:
    return row[2].split(":")[1].split("@")[0]


def _encode(event: Any) -> Row:
    topic, state = CODEC.encode(event)
    return event.originator_id, event.originator_version, topic, state


def _violations(code: int, out: str) -> list[dict[str, Any]]:
    data = json.loads(out)
    assert code == (EXIT_CLEAN if data["ok"] else EXIT_VIOLATIONS)
    return list(data["violations"])


def test_the_log_the_domain_wrote_passes_every_rule(demo: Path) -> None:
    code, out, _ = _run(["audit", str(demo), "--no-progress"])
    assert code == EXIT_CLEAN, out
    assert f"OK: {len(Rule)} rules over {len(_rows(demo)):,} events" in out


def test_json_says_ok_and_counts_every_event(demo: Path) -> None:
    code, out, _ = _run(["audit", str(demo), "--format", "json", "--no-progress"])
    data = json.loads(out)
    assert code == EXIT_CLEAN and data["ok"] is True
    assert data["log"]["events"] == len(_rows(demo))
    assert data["violations"] == [] and set(data["rules"]["violations"].values()) == {0}


def _mid_session(rows: list[Row]) -> tuple[int, dict[str, Any]]:
    """A message row of a session with an agent in it, and no supervisor present: (index, its state)."""
    present: dict[str, set[str]] = {}
    for i, row in enumerate(rows):
        name, state = _name(row), _state(row)
        if name == "SupervisorAdded":
            present.setdefault(state["session_id"], set()).add(state["supervisor_id"])
        elif name in ("SupervisorLeft", "Revoked"):
            present.get(state["session_id"], set()).discard(state["supervisor_id"])
        elif (name == "MessageVisibleToAll" and state["sender_type"] == "Agent"
              and not present.get(state["session_id"])):
            return i, state
    raise AssertionError("the demo log has no such message")


def test_an_extra_supervisor_added_on_a_session_in_progress_fails(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    at, state = _mid_session(rows)
    session_id, agent_id = state["session_id"], state["sender_id"]
    extra = SupervisorAdded(
        originator_id=f"session:{session_id}", originator_version=900,
        timestamp=datetime.fromisoformat(state["timestamp"]) + timedelta(milliseconds=1), actor=agent_id,
        session_id=session_id, supervisor_id="sup-01", supervised_agent_id=agent_id,
        mode=SupervisorMode.MONITOR, visibility=Visibility.SUPERVISORS,
        monitoring_mode=MonitoringMode.ALL_CHATS, nickname="Lead 1", via=JoinedVia.SUPERVISION)
    path = _corrupt(demo, tmp_path, lambda r: [*r[:at + 1], _encode(extra), *r[at + 1:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    found = [v for v in _violations(code, out) if v["rule"] == Rule.NO_JOIN_IN_PROGRESS.value]
    assert code == EXIT_VIOLATIONS
    assert found == [{"rule": Rule.NO_JOIN_IN_PROGRESS.value, "session_id": session_id,
                      "positions": [at + 2], "participants": ["sup-01", agent_id],
                      "detail": "a supervision joined other than at its agent's Accept"}]


def test_a_coach_message_delivered_to_the_customer_fails(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    coach = next(i for i, row in enumerate(rows) if _name(row) == "MessageVisibleToAgent")
    state = _state(rows[coach])
    leaked = MessageVisibleToAll(
        originator_id=rows[coach][0], originator_version=rows[coach][1],
        timestamp=datetime.fromisoformat(state["timestamp"]), actor=state["actor"],
        session_id=state["session_id"], index=state["index"], sender_id=state["sender_id"],
        sender_type=ParticipantType.SUPERVISOR, nickname=state["nickname"], text=state["text"])
    path = _corrupt(demo, tmp_path, lambda r: [*r[:coach], _encode(leaked), *r[coach + 1:]])
    code, out, _ = _run(["audit", str(path), "--no-progress"])
    assert code == EXIT_VIOLATIONS
    assert "rules        FAILED: 1 violations (coach-messages-never-reach-the-customer 1)" in out
    assert (f"coach-messages-never-reach-the-customer: session {state['session_id']}, "
            f"positions [{coach + 1}], "
            f"participants ['{state['sender_id']}']") in out


def test_a_missing_revoked_fails(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    gone = next(i for i, row in enumerate(rows) if _name(row) == "Revoked")
    state = _state(rows[gone])
    path = _corrupt(demo, tmp_path, lambda r: [*r[:gone], *r[gone + 1:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    found = _violations(code, out)
    assert code == EXIT_VIOLATIONS
    assert [(v["rule"], v["session_id"], v["participants"]) for v in found] == [
        (Rule.REVOKED_EXACTLY_ONCE.value, state["session_id"], [state["supervisor_id"]])]
    end = found[0]["positions"][0]
    assert _name(rows[end - 1]) in ("SessionCompleted", "SessionQueued")  # names the end it was owed at


def _nextchat_then_next_accept(rows: list[Row]) -> tuple[int, int]:
    """A used NextChat (its SupervisionEnded) and the agent's next Accept that no supervision joined,
    with no new set-up by the same supervisor in between: (index of each)."""
    for used, row in enumerate(rows):
        if _name(row) != "SupervisionEnded":
            continue
        agent_id, sup = _state(row)["agent_id"], _state(row)["supervisor_id"]
        for i in range(used + 1, len(rows) - 1):
            name, state = _name(rows[i]), _state(rows[i])
            if (name == "SupervisionStarted" and state["agent_id"] == agent_id
                    and state["supervisor_id"] == sup):
                break
            if (name == "AgentAccepted" and state["agent_id"] == agent_id
                    and _name(rows[i + 1]) == "SessionAccepted"):
                return used, i
    raise AssertionError("the demo log has no used NextChat followed by a plain Accept of its agent")


def test_a_second_nextchat_join_fails(demo: Path, tmp_path: Path) -> None:
    """A NextChat supervision that already had its session joins the agent's next Accept too."""
    rows = _rows(demo)
    used, nxt = _nextchat_then_next_accept(rows)
    ended = _state(rows[used])
    agent_id, sup = ended["agent_id"], ended["supervisor_id"]
    joined = next(_state(row) for row in rows[:used] if _name(row) == "SupervisorAdded"
                  and _state(row)["session_id"] == ended["session_id"]
                  and _state(row)["supervisor_id"] == sup)
    accepted = _state(rows[nxt])
    second = SupervisorAdded(**{**joined, "originator_id": rows[nxt][0], "originator_version": 900,
                                "session_id": accepted["session_id"], "timestamp": accepted["timestamp"]})
    closing = {**_state(rows[nxt + 1]), "supervisors_added": [sup]}
    patched = (rows[nxt + 1][0], rows[nxt + 1][1], rows[nxt + 1][2], orjson.dumps(closing))
    path = _corrupt(demo, tmp_path, lambda r: [*r[:nxt + 1], _encode(second), patched, *r[nxt + 2:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    found = [v for v in _violations(code, out) if v["rule"] == Rule.NEXTCHAT_AT_MOST_ONCE.value]
    assert code == EXIT_VIOLATIONS
    assert len(found) == 1 and found[0]["session_id"] == accepted["session_id"]
    assert found[0]["participants"] == [sup, agent_id]
    assert found[0]["positions"] == [used, nxt + 3]  # the first join's SessionAccepted, then this one


def test_a_supervisor_removed_while_another_agent_remains_fails(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    at, state = _mid_session(rows)
    session_id, agent_id = state["session_id"], state["sender_id"]
    extra = SupervisorAdded(
        originator_id=f"session:{session_id}", originator_version=901,
        timestamp=datetime.fromisoformat(state["timestamp"]), actor="sup-02", session_id=session_id,
        supervisor_id="sup-02", supervised_agent_id=agent_id, mode=SupervisorMode.COACH,
        visibility=Visibility.AGENTS, monitoring_mode=None, nickname="Lead 2", via=JoinedVia.INTRUDE)
    left = {**_state(rows[at]), "supervisor_id": "sup-02", "actor": agent_id}
    for key in ("index", "sender_id", "sender_type", "nickname", "text", "visibility"):
        left.pop(key)
    removed = (f"session:{session_id}", 902, "coaching:SupervisorLeft@v1", orjson.dumps(left))
    path = _corrupt(demo, tmp_path, lambda r: [*r[:at + 1], _encode(extra), removed, *r[at + 1:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    found = _violations(code, out)
    assert [(v["rule"], v["positions"], v["participants"]) for v in found] == [
        (Rule.AGENT_LEAVING_KEEPS_SUPERVISORS.value, [at + 3], ["sup-02", agent_id])]


def test_a_message_from_a_monitoring_supervisor_fails(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    at, state = _mid_session(rows)
    session_id, agent_id = state["session_id"], state["sender_id"]
    stamp = datetime.fromisoformat(state["timestamp"])
    intrude = SupervisorAdded(
        originator_id=f"session:{session_id}", originator_version=903, timestamp=stamp, actor="sup-03",
        session_id=session_id, supervisor_id="sup-03", supervised_agent_id=agent_id,
        mode=SupervisorMode.MONITOR, visibility=Visibility.SUPERVISORS, monitoring_mode=None,
        nickname="Lead 3", via=JoinedVia.INTRUDE)
    whisper = MessageVisibleToAgent(
        originator_id=f"session:{session_id}", originator_version=904, timestamp=stamp, actor="sup-03",
        session_id=session_id, index=99, sender_id="sup-03", nickname="Lead 3", text="psst")
    gone = SupervisorLeft(originator_id=f"session:{session_id}", originator_version=905, timestamp=stamp,
                          actor="sup-03", session_id=session_id, supervisor_id="sup-03")
    added = [_encode(e) for e in (intrude, whisper, gone)]
    path = _corrupt(demo, tmp_path, lambda r: [*r[:at + 1], *added, *r[at + 1:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    found = _violations(code, out)
    assert [(v["rule"], v["session_id"], v["positions"], v["participants"]) for v in found] == [
        (Rule.MONITOR_NEVER_SENDS.value, session_id, [at + 3], ["sup-03"])]


def test_an_accept_that_a_supervision_did_not_join_fails(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    gone = next(i for i, row in enumerate(rows)
                if _name(row) == "SupervisorAdded" and _state(row)["via"] == "Supervision")
    state = _state(rows[gone])
    # a consistent lie: the agent's SessionAccepted no longer claims the supervisor either
    closing = next(i for i in range(gone + 1, len(rows)) if _name(rows[i]) == "SessionAccepted")
    claimed = _state(rows[closing])
    claimed["supervisors_added"] = [s for s in claimed["supervisors_added"] if s != state["supervisor_id"]]
    patched = (*rows[closing][:3], orjson.dumps(claimed))
    path = _corrupt(demo, tmp_path, lambda r: [*r[:gone], *r[gone + 1:closing], patched, *r[closing + 1:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    found = [v for v in _violations(code, out) if v["rule"] == Rule.ALLCHATS_EVERY_ACCEPT.value]
    assert code == EXIT_VIOLATIONS
    assert [(v["session_id"], v["participants"]) for v in found] == [
        (state["session_id"], [state["supervisor_id"]])]


def test_a_record_that_does_not_decode_fails_and_is_named(demo: Path, tmp_path: Path) -> None:
    rows = _rows(demo)
    path = _corrupt(demo, tmp_path, lambda r: [*r[:5], (r[5][0], r[5][1], r[5][2], b"{not json"), *r[6:]])
    code, out, _ = _run(["audit", str(path), "--format", "json", "--no-progress"])
    data = json.loads(out)
    assert code == EXIT_VIOLATIONS and data["ok"] is False
    assert [r["position"] for r in data["undecodable"]["records"]] == [6]
    assert data["log"]["events"] == len(rows) - 1


def test_validate_decodes_every_record_through_the_contract(demo: Path, tmp_path: Path) -> None:
    """A value the rules never read is only caught by --validate (pydantic, the event contract)."""
    rows = _rows(demo)
    first = _state(rows[0])
    bad = (rows[0][0], rows[0][1], rows[0][2], orjson.dumps({**first, "username": 42}))
    path = _corrupt(demo, tmp_path, lambda r: [bad, *r[1:]])
    assert _run(["audit", str(path), "--no-progress"])[0] == EXIT_CLEAN
    code, out, _ = _run(["audit", str(path), "--validate", "--no-progress"])
    assert code == EXIT_VIOLATIONS and "records      FAILED: 1 do not decode" in out


def test_verify_walks_the_chain_in_the_same_pass(demo: Path, tmp_path: Path) -> None:
    code, out, _ = _run(["audit", str(demo), "--verify", "--format", "json", "--no-progress"])
    chain = json.loads(out)["chain"]
    assert code == EXIT_CLEAN and chain["ok"] is True and chain["records"] == len(_rows(demo))
    head = chain["head"]
    assert _run(["audit", str(demo), "--expect-head", head, "--no-progress"])[0] == EXIT_CLEAN
    assert _run(["audit", str(demo), "--expect-head", "0" * 64, "--no-progress"])[0] == EXIT_VIOLATIONS
    path = _corrupt(demo, tmp_path, lambda r: [*r[:9], (r[9][0], r[9][1], r[9][2], r[9][3] + b" "), *r[10:]])
    code, out, _ = _run(["audit", str(path), "--verify", "--no-progress"])
    assert code == EXIT_VIOLATIONS and "chain        BROKEN at position 10" in out


def test_an_unreadable_store_exits_3(tmp_path: Path) -> None:
    assert _run(["audit", str(tmp_path / "missing.sqlite")])[0] == EXIT_UNREADABLE
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    code, _, err = _run(["audit", str(junk), "--no-progress"])
    assert code == EXIT_UNREADABLE and "coaching audit:" in err


def test_the_python_api_gives_the_same_verdict(demo: Path, tmp_path: Path) -> None:
    result = audit_path(demo)
    assert result.ok and result.events == len(_rows(demo)) and result.violations == []
    rows = _rows(demo)
    gone = next(i for i, row in enumerate(rows) if _name(row) == "Revoked")
    broken = audit_path(_corrupt(demo, tmp_path, lambda r: [*r[:gone], *r[gone + 1:]]))
    assert not broken.ok and broken.counts == {Rule.REVOKED_EXACTLY_ONCE: 1}


def test_help_teaches_with_examples_and_exit_codes() -> None:
    out = io.StringIO()
    with redirect_stdout(out), pytest.raises(SystemExit) as exited:
        main(["audit", "--help"])
    text = out.getvalue()
    assert exited.value.code == 0
    for needle in ("examples:", "exit codes:", "--format", "--sessions", "--verify",
                   *(r.value for r in Rule)):
        assert needle in text, needle
    top = io.StringIO()
    with redirect_stdout(top), pytest.raises(SystemExit):
        main(["--help"])
    assert "  audit    check every supervision rule" in top.getvalue()


def test_a_coach_message_disguised_as_an_agent_s_still_fails() -> None:
    """Judged by who the sender is in the session, not by the sender type the record claims."""
    app = Coaching.in_memory()
    app.register_agent("a1", "alice")
    app.register_supervisor("s1", "sam", agents=frozenset({"a1"}))
    app.coach("s1", "a1")
    app.open_session("x1", customer_id="c1", customer_nickname="Carol")
    app.offer_session("x1", "a1")
    app.accept("a1", "x1")
    checker = LogChecker()
    log = list(app.all_events())
    for position, event in log:
        checker.feed(position, event)
    last = log[-1][0]
    stamp = log[-1][1].timestamp.isoformat()
    checker.feed_fields(last + 1, MessageVisibleToAll.TOPIC, {
        "timestamp": stamp, "actor": "s1", "session_id": "x1", "index": 0, "sender_id": "s1",
        "sender_type": "Agent", "nickname": "sam", "text": "psst", "visibility": "All"})
    assert [(v.rule, v.positions) for v in checker.finish()] == [(Rule.COACH_NEVER_TO_CUSTOMER, (last + 1,))]
