"""The shift simulator: a seed reproduces the stored log byte for byte, and the shift is realistic.

Reproducibility is what makes the demo and the benchmarks comparable from run to run, and what
lets a failing shift be replayed; realism (every event type, concurrent sessions, refusals
counted by status code) is what makes the demo worth reading.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from coaching.application import Coaching
from coaching.domain.events import ALL_EVENTS
from coaching.simulation import Shift, ShiftPlan, SimulatedClock, run_shift

Row = tuple[int, str, int, str, bytes]


def _rows(path: Path) -> list[Row]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT rowid, originator_id, originator_version, topic, state "
                          "FROM stored_events ORDER BY rowid")
        return [(r[0], r[1], r[2], r[3], bytes(r[4])) for r in rows]


def _simulate_into(path: Path, plan: ShiftPlan) -> list[Row]:
    shift = Shift(plan)
    app = Coaching.sqlite(str(path), clock=shift.clock)
    try:
        stats = shift.run(app)
    finally:
        app.close()
    assert stats.unexpected == []
    return _rows(path)


def _name(topic: str) -> str:
    return topic.split(":", 1)[1].split("@", 1)[0]


@pytest.fixture(scope="module")
def shift_log() -> tuple[list[tuple[str, int, str, dict[str, Any]]], Any]:
    """One in-memory shift big enough to show every kind of event, read back as plain rows."""
    app, stats = run_shift(ShiftPlan(seed=11, sessions=150))
    rows = []
    for _, event in app.all_events():
        data = orjson.loads(event.model_dump_json())
        rows.append((event.originator_id, event.originator_version, _name(event.TOPIC), data))
    return rows, stats


def test_same_seed_writes_the_same_stored_rows(tmp_path: Path) -> None:
    plan = ShiftPlan(seed=3, sessions=40, agents=6, supervisors=2)
    first = _simulate_into(tmp_path / "first.sqlite", plan)
    second = _simulate_into(tmp_path / "second.sqlite", plan)
    assert len(first) > 500
    assert first == second


def test_a_different_seed_writes_a_different_log(tmp_path: Path) -> None:
    plan = ShiftPlan(seed=3, sessions=40, agents=6, supervisors=2)
    first = _simulate_into(tmp_path / "first.sqlite", plan)
    other = _simulate_into(tmp_path / "other.sqlite", ShiftPlan(seed=4, sessions=40, agents=6, supervisors=2))
    assert first != other
    # not merely shifted in time: the stories differ
    assert [(r[1], r[3]) for r in first] != [(r[1], r[3]) for r in other]


def test_stats_agree_with_the_log(shift_log: tuple[list[Any], Any]) -> None:
    rows, stats = shift_log
    assert stats.unexpected == []
    assert stats.events == len(rows)
    assert Counter(name for _, _, name, _ in rows) == stats.events_by_type
    visibility = Counter(d["visibility"] for _, _, name, d in rows if name.startswith("MessageVisibleTo"))
    assert visibility == stats.messages_by_visibility
    assert stats.count("SessionOpened") == stats.plan.sessions
    assert stats.count("SessionCompleted") == stats.plan.sessions, "every session of the shift ends"


def test_a_shift_shows_every_kind_of_event(shift_log: tuple[list[Any], Any]) -> None:
    rows, _ = shift_log
    seen = {name for _, _, name, _ in rows}
    assert seen == {cls.__name__ for cls in ALL_EVENTS}


def test_a_shift_has_every_supervision_mode_and_refusals_by_status(shift_log: tuple[list[Any], Any]) -> None:
    _, stats = shift_log
    assert {mode for mode, _ in stats.supervisions_by_mode} == {"Monitor", "Coach", "BargeIn"}
    assert {mm for _, mm in stats.supervisions_by_mode} == {"NextChat", "AllChats"}
    assert set(stats.supervisors_joined_via) == {"Supervision", "Intrude"}
    assert set(stats.completions_by_reason) == {"CompletedByAgent", "LastAgentLeft"}
    assert set(stats.revoked_by_reason) == {"Completed", "Queued"}
    assert stats.refusals >= 10
    assert {2, 3, 6, 10, 18} <= set(stats.refusals_by_status)
    assert sum(stats.refusals_by_status.values()) == sum(stats.refusals_by_kind.values())
    assert stats.accepted + stats.refusals == stats.commands


def test_agents_hold_several_sessions_at_once(shift_log: tuple[list[Any], Any]) -> None:
    rows, _ = shift_log
    holding: dict[str, set[str]] = {}
    most = 0
    for _, _, name, d in rows:
        if name == "AgentAccepted":
            holding.setdefault(d["agent_id"], set()).add(d["session_id"])
        elif name == "AgentLeft":
            holding[d["agent_id"]].discard(d["session_id"])
        elif name in ("SessionQueued", "SessionCompleted"):
            for a in d["agents_removed"]:
                holding[a].discard(d["session_id"])
        most = max(most, *(len(s) for s in holding.values()), 0)
    assert most >= 2
    assert all(not s for s in holding.values()), "nobody is left in a session after the shift"


def test_monitoring_supervisors_never_send(shift_log: tuple[list[Any], Any]) -> None:
    rows, _ = shift_log
    mode: dict[tuple[str, str], str] = {}
    supervisor_messages = 0
    for _, _, name, d in rows:
        if name == "SupervisorAdded":
            mode[d["session_id"], d["supervisor_id"]] = d["mode"]
        elif name == "SupervisorModeSwitched":
            mode[d["session_id"], d["supervisor_id"]] = d["to_mode"]
        elif name.startswith("MessageVisibleTo") and d["sender_type"] == "Supervisor":
            supervisor_messages += 1
            assert mode[d["session_id"], d["sender_id"]] in ("Coach", "BargeIn"), d
    assert supervisor_messages > 0


def test_time_comes_from_the_simulated_clock(shift_log: tuple[list[Any], Any]) -> None:
    rows, stats = shift_log
    times = [datetime.fromisoformat(d["timestamp"]) for _, _, _, d in rows]
    assert times == sorted(times)
    assert times[0] == stats.plan.start == stats.simulated_start
    assert times[-1] == stats.simulated_end
    assert times[-1] - times[0] > timedelta(minutes=30), "a shift spans simulated time, not wall time"


def test_the_application_must_use_the_shift_clock() -> None:
    shift = Shift(ShiftPlan(sessions=1))
    with pytest.raises(ValueError, match="clock"):
        shift.run(Coaching.in_memory(clock=SimulatedClock(datetime(2025, 1, 1, tzinfo=UTC))))


def test_a_shift_runs_once() -> None:
    shift = Shift(ShiftPlan(sessions=2, agents=2, supervisors=1))
    shift.run(Coaching.in_memory(clock=shift.clock))
    with pytest.raises(RuntimeError, match="once"):
        shift.run(Coaching.in_memory(clock=shift.clock))


def test_progress_is_reported_per_finished_session() -> None:
    calls: list[tuple[int, int]] = []
    plan = ShiftPlan(seed=5, sessions=12, agents=3, supervisors=1)
    run_shift(plan, progress=lambda done, total: calls.append((done, total)))
    assert calls == [(i, 12) for i in range(1, 13)]


def test_tiny_and_empty_shifts_work() -> None:
    _, empty = run_shift(ShiftPlan(sessions=0, agents=1, supervisors=0))
    assert empty.unexpected == [] and empty.count("SessionOpened") == 0
    _, lone = run_shift(ShiftPlan(seed=2, sessions=15, agents=1, supervisors=1))
    assert lone.unexpected == [] and lone.count("SessionCompleted") == 15


@pytest.mark.parametrize("bad", [{"sessions": -1}, {"agents": 0}, {"supervisors": -1}, {"team_size": 0},
                                 {"start": datetime(2025, 1, 1)}])  # naive on purpose
def test_a_plan_refuses_nonsense(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ShiftPlan(**bad)
