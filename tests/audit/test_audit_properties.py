"""Properties of the audit: any legal history passes, both decoders agree, memory follows live sessions.

Legal histories come from seeded shifts of the simulator (random floors, sizes and seeds drawn by
hypothesis), written through the application and copied row for row into an SQLite file, so the
audit reads exactly what a store holds.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.application import Coaching
from coaching.audit.check import audit_path
from coaching.audit.report import ReportBuilder
from coaching.domain.events import (
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SupervisionStarted,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.invariants import LogChecker
from coaching.simulation import ShiftPlan, run_shift

plans = st.builds(
    ShiftPlan, seed=st.integers(0, 10_000), sessions=st.integers(0, 25), agents=st.integers(1, 7),
    supervisors=st.integers(0, 4), team_size=st.integers(1, 4), agent_capacity=st.integers(1, 3),
    queue_rate=st.sampled_from((0.0, 0.12, 0.5)), conference_rate=st.sampled_from((0.0, 0.02, 0.3)))


def _store(plan: ShiftPlan, path: Path) -> list[tuple[int, DomainEvent]]:
    """Simulate the plan in memory, copy every stored row into an SQLite file; the events in order."""
    source, stats = run_shift(plan)
    assert not stats.unexpected, stats.unexpected
    target = Coaching.sqlite(str(path))
    try:
        page = source.recorder.select_notifications(start=1, limit=1_000_000)
        if page:
            target.recorder.insert_events([StoredEvent(originator_id=n.originator_id,
                                                       originator_version=n.originator_version,
                                                       topic=n.topic, state=n.state) for n in page])
        return list(source.all_events())
    finally:
        source.close()
        target.close()


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(plan=plans)
def test_any_legal_history_passes_and_both_decoders_agree(tmp_path_factory: pytest.TempPathFactory,
                                                         plan: ShiftPlan) -> None:
    path = tmp_path_factory.mktemp("shift") / "shift.sqlite"
    events = _store(plan, path)
    fast = audit_path(path, sessions=[f"sms-{n:05d}" for n in range(1, 4)])
    assert fast.ok, [str(v) for v in fast.violations]
    assert fast.events == len(events)
    strict = audit_path(path, validate=True, sessions=[f"sms-{n:05d}" for n in range(1, 4)])
    # the raw-JSON fields and the validated events tell the rules and the report the same story
    assert strict.ok and strict.report.to_dict() == fast.report.to_dict()
    assert strict.report.timelines_dict() == fast.report.timelines_dict()
    _figures_match_a_recount(fast.report.to_dict(), events)


def _figures_match_a_recount(report: dict[str, object], events: list[tuple[int, DomainEvent]]) -> None:
    """The report's figures recounted here from the validated events, by a fold written separately."""
    by_type = Counter(type(e).__name__ for _, e in events)
    log: dict[str, object] = report["log"]  # type: ignore[assignment]
    assert log["events"] == len(events) and log["events_by_type"] == dict(sorted(by_type.items()))
    revoked = Counter(e.reason.value for _, e in events if isinstance(e, Revoked))
    assert report["revoked_by_reason"] == dict(sorted(revoked.items()))
    senders = Counter(e.sender_type.value for _, e in events
                      if isinstance(e, MessageVisibleToAll | MessageVisibleToAgent))
    assert report["messages"] == {"by_visibility": {"Agents": by_type["MessageVisibleToAgent"],
                                                    "All": by_type["MessageVisibleToAll"]},
                                  "by_sender_type": dict(sorted(senders.items()))}
    started = Counter((e.supervisor_id, e.agent_id, e.mode.value, e.monitoring_mode.value)
                      for _, e in events if isinstance(e, SupervisionStarted))
    assert {(s["supervisor_id"], s["agent_id"], s["mode"], s["monitoring_mode"]): s["started"]  # type: ignore[index]
            for s in report["supervisions"] if s["started"]} == dict(started)  # type: ignore[attr-defined, index]
    seconds: dict[str, Counter[str]] = {}
    since: dict[tuple[str, str], tuple[str, object]] = {}
    for _, e in events:
        if isinstance(e, SupervisorAdded):
            since[e.session_id, e.supervisor_id] = (e.mode.value, e.timestamp)
        elif isinstance(e, SupervisorModeSwitched | SupervisorLeft | Revoked):
            mode, start = since.pop((e.session_id, e.supervisor_id))
            seconds.setdefault(e.supervisor_id, Counter())[mode] += (e.timestamp - start).total_seconds()  # type: ignore[operator]
            if isinstance(e, SupervisorModeSwitched):
                since[e.session_id, e.supervisor_id] = (e.to_mode.value, e.timestamp)
    assert not since  # every shift ends with every session completed
    supervisors = report["supervisors"]
    for sup, per_mode in seconds.items():
        for mode, total in per_mode.items():
            assert abs(supervisors[sup]["seconds_by_mode"][mode] - total) < 0.01, (sup, mode)  # type: ignore[index]


@settings(max_examples=15, deadline=None)
@given(plan=plans)
def test_memory_follows_live_sessions_only(plan: ShiftPlan) -> None:
    """After a shift every session is completed: the checker and the report have forgotten them all."""
    app, stats = run_shift(plan)
    checker, builder = LogChecker(), ReportBuilder(timeline_limit=0)
    for position, event in app.all_events():
        checker.feed(position, event)
        builder.feed_fields(position, event.TOPIC, event.__dict__)
    assert checker.finish() == []
    assert checker.sessions == {} and checker.sessions_forgotten == stats.count("SessionOpened")
    assert builder._live == {}
    report = builder.finish()
    assert report.sessions["completed"] == report.sessions["opened"] == plan.sessions
    assert report.timelines == [] and report.sessions_without_timeline == plan.sessions
