"""Two Accepts by the same agent race for one NextChat supervision, on SQLite and PostgreSQL.

Both accepts write to the agent's stream, so they conflict there: the loser decides afresh, sees
the NextChat supervision already used, and joins its session without a supervisor.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import Recording

from coaching.application import Coaching, Outcome
from coaching.domain.events import AgentAccepted, SessionAccepted, SupervisionEnded, SupervisorAdded
from coaching.domain.values import MonitoringMode
from coaching.testing import fixed_clock
from tests.pg import new_schema

ROUNDS = 5


class LockstepCoaching(Coaching):
    """Each racing thread's first save waits for the other's: both decide on the same state."""

    def __init__(self, path: str, env: dict[str, str] | None = None) -> None:
        super().__init__(env or {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path},
                         clock=fixed_clock())
        self.barrier: threading.Barrier | None = None
        self._waited = threading.local()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[str]]:
        if self.barrier is not None and not getattr(self._waited, "done", False):
            self._waited.done = True
            self.barrier.wait(timeout=10)
        return super().save(*objs, **kwargs)


def set_up(app: Coaching) -> None:
    """s1 coaches a1 for its next chat only; two sessions are offered to a1."""
    app.register_agent("a1", "alice")
    app.register_supervisor("s1", "sam", agents=frozenset({"a1"}))
    app.coach("s1", "a1", mode=MonitoringMode.NEXT_CHAT)
    for session_id in ("x1", "x2"):
        app.open_session(session_id, f"c-{session_id}", "Carol")
        app.offer_session(session_id, "a1")


def race(app: Coaching) -> dict[str, Outcome]:
    """Accept x1 and x2 from two threads at once."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {s: pool.submit(app.accept, "a1", s) for s in ("x1", "x2")}
        return {s: f.result(timeout=30) for s, f in futures.items()}


def check_one_winner(app: Coaching, outcomes: dict[str, Outcome]) -> tuple[str, str]:
    """Exactly one session got the supervisor; the supervision ended once; nothing half-written."""
    with_supervisor = [s for s, o in outcomes.items()
                       if any(isinstance(e, SupervisorAdded) for e in o.events)]
    assert len(with_supervisor) == 1, outcomes
    winner = with_supervisor[0]
    loser = "x2" if winner == "x1" else "x1"
    assert outcomes[loser].attempts >= 1
    accepted = [e for e in outcomes[loser].events if isinstance(e, SessionAccepted)]
    assert [e.supervisors_added for e in accepted] == [()]
    assert not any(isinstance(e, SupervisionEnded) for e in outcomes[loser].events)

    log = [e for _, e in app.all_events()]
    ended = [e for e in log if isinstance(e, SupervisionEnded)]
    assert [(e.agent_id, e.supervisor_id, e.session_id) for e in ended] == [("a1", "s1", winner)]
    added = [e for e in log if isinstance(e, SupervisorAdded)]
    assert [(e.session_id, e.supervisor_id) for e in added] == [(winner, "s1")]
    # each session accepted once: the losing attempt left no trace in the log
    assert sorted(e.session_id for e in log if isinstance(e, AgentAccepted)) == ["x1", "x2"]
    assert [s.supervisor_id for s in app.get_session(winner).supervisors.values()] == ["s1"]
    assert dict(app.get_session(loser).supervisors) == {}
    assert dict(app.get_agent("a1").supervisions) == {}
    return winner, loser


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_racing_accepts_in_lockstep_one_gets_the_next_chat_supervisor(
        tmp_path: Path, round_number: int) -> None:
    app = LockstepCoaching(str(tmp_path / f"race-{round_number}.sqlite"))
    try:
        set_up(app)
        app.barrier = threading.Barrier(2)
        outcomes = race(app)
        winner, loser = check_one_winner(app, outcomes)
        # both decided on the same state, so the loser had to decide again
        assert (outcomes[winner].attempts, outcomes[loser].attempts) == (1, 2)
    finally:
        app.close()


@pytest.mark.parametrize("round_number", range(ROUNDS))
def test_racing_accepts_freely_one_gets_the_next_chat_supervisor(tmp_path: Path, round_number: int) -> None:
    app = Coaching.sqlite(str(tmp_path / f"free-{round_number}.sqlite"), clock=fixed_clock())
    try:
        set_up(app)
        check_one_winner(app, race(app))
    finally:
        app.close()


def test_racing_accepts_on_two_applications_sharing_one_file(tmp_path: Path) -> None:
    """Two processes' worth: each thread has its own application (and cache) on the same file."""
    path = str(tmp_path / "shared.sqlite")
    first = Coaching.sqlite(path, clock=fixed_clock())
    second = Coaching.sqlite(path, clock=fixed_clock())
    try:
        set_up(first)
        with ThreadPoolExecutor(max_workers=2) as pool:
            one = pool.submit(first.accept, "a1", "x1")
            two = pool.submit(second.accept, "a1", "x2")
            outcomes = {"x1": one.result(timeout=30), "x2": two.result(timeout=30)}
        check_one_winner(first, outcomes)
    finally:
        first.close()
        second.close()


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_available")
def test_racing_accepts_in_lockstep_on_postgres() -> None:
    """The same race on PostgreSQL: its unique (originator_id, version) makes the loser retry."""
    env, drop = new_schema()
    app = LockstepCoaching("", env)
    try:
        set_up(app)
        app.barrier = threading.Barrier(2)
        outcomes = race(app)
        winner, loser = check_one_winner(app, outcomes)
        assert (outcomes[winner].attempts, outcomes[loser].attempts) == (1, 2)
    finally:
        app.close()
        drop()


def test_a_streams_timestamps_never_go_back_when_another_writer_slips_in(tmp_path: Path) -> None:
    """Another process records an event in our session between our clock read and our load:
    our event must still be stamped no earlier than it (a time cut relies on it, ADR 0023)."""
    path = str(tmp_path / "log.sqlite")
    start = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    setup = Coaching.sqlite(path, clock=fixed_clock(start))
    set_up(setup)
    setup.accept("a1", "x1")
    setup.close()
    other = Coaching.sqlite(path, clock=lambda: start + timedelta(hours=2))
    readings = iter([start + timedelta(hours=1)] + [start + timedelta(hours=3)] * 10)
    slipped: list[bool] = []

    def ours_clock() -> datetime:
        now = next(readings)
        if not slipped:  # the other writer records its event right after our first clock read
            slipped.append(True)
            other.send_message("c-x1", "x1", "are you there?")
        return now

    ours = Coaching.sqlite(path, clock=ours_clock)
    ours.send_message("a1", "x1", "yes, one moment")
    stamps = [e.timestamp for e in ours.session_events("x1")]
    assert slipped
    assert stamps == sorted(stamps), f"the session's timestamps go back: {stamps}"
    other.close()
    ours.close()
