"""A tampered log never shows the customer what its visibility excludes.

The transcript of a stored log is folded from whatever the log holds. Rows are forged here the
way an attacker (or a bug in another writer) would: a ``MessageVisibleToAll`` written for a
coaching supervisor, a ``SupervisorAdded`` claiming visibility All for a monitoring supervisor, a
switch claiming a wider mode than the log records, the customer named as a supervisor. Each is
written straight into an SQLite store through eventsourcing's recorder (no rule runs), and the
customer's transcript, read back through :mod:`coaching.audit.history` and the CLI, must not hold
it; the agent's transcript must (the forged row was read, the test is not vacuous).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.application import Coaching
from coaching.audit.history import History
from coaching.cli import main
from coaching.domain.events import (
    AgentAccepted,
    AgentLeft,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionCompleted,
    SessionOpened,
    SessionQueued,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.values import (
    JoinedVia,
    MonitoringMode,
    ParticipantType,
    RevokeReason,
    SupervisorMode,
    Visibility,
)
from coaching.testing import StepClock

CUSTOMER, AGENT, COACH, MONITOR, BARGER = "c1", "a1", "s1", "s2", "s3"
SESSION = "session:x1"


def story() -> list[DomainEvent]:
    """A legal log: a coach, a monitor and a barging supervisor join a1's session; all speak."""
    app = Coaching.in_memory(clock=StepClock())
    app.register_agent(AGENT, "alice", team="t1")
    for sup, name in ((COACH, "sam"), (MONITOR, "sue"), (BARGER, "bo")):
        app.register_supervisor(sup, name, teams=frozenset({"t1"}))
    app.coach(COACH, AGENT)
    app.monitor(MONITOR, AGENT)
    app.barge_in(BARGER, AGENT, mode=MonitoringMode.NEXT_CHAT)
    app.open_session("x1", customer_id=CUSTOMER, customer_nickname="Carol")
    app.send_message(CUSTOMER, "x1", "hello?")
    app.offer_session("x1", AGENT)
    app.accept(AGENT, "x1")
    app.send_message(AGENT, "x1", "how can I help")
    app.send_message(COACH, "x1", "legal coaching")
    app.send_message(BARGER, "x1", "legal barge")
    return [event for _, event in app.all_events()]


STORY = story()
SESSION_EVENTS = [e for e in STORY if e.originator_id == SESSION]


def forge(cls: type[DomainEvent], **fields: Any) -> DomainEvent:
    """An event of the session with any fields; version and time are fixed by :func:`insert`."""
    base = {"originator_id": SESSION, "originator_version": 0, "timestamp": STORY[-1].timestamp,
            "actor": fields.pop("actor", "intruder"), "session_id": "x1"}
    return cls(**base, **fields)


def insert(log: Sequence[DomainEvent], at: int, forged: Sequence[DomainEvent]) -> list[DomainEvent]:
    """``log`` with ``forged`` events placed in the session's stream after its ``at``-th event.

    The session's later events are renumbered so the stream stays gapless (the store's primary
    key would refuse a duplicate version): a forger who can write rows can do that too.
    """
    out: list[DomainEvent] = []
    seen = 0
    for event in log:
        if event.originator_id == SESSION:
            if seen == at:
                when = out[-1].timestamp if out else event.timestamp
                out += [f.model_copy(update={"timestamp": when}) for f in forged]
            seen += 1
        out.append(event)
    if seen <= at:
        out += list(forged)
    version = 0
    renumbered = []
    for event in out:
        if event.originator_id == SESSION:
            version += 1
            renumbered.append(event.model_copy(update={"originator_version": version}))
        else:
            renumbered.append(event)
    return renumbered


def write_log(path: Path, events: Sequence[DomainEvent]) -> Path:
    """Store ``events`` as they are, in order, in a new SQLite store: no rule is applied."""
    app = Coaching.sqlite(str(path))
    try:
        app.recorder.insert_events([app.mapper.to_stored_event(e) for e in events])
    finally:
        app.close()
    return path


def shown(path: Path, viewer: str) -> list[tuple[str, str, str | None, str]]:
    """Kind, participant, text and visibility of each entry ``viewer`` was shown of x1."""
    with History(path) as history:
        return [(e.kind.value, e.participant_id, e.text, e.visibility.value)
                for e in history.transcript("x1", viewer)]


def cli(path: Path, viewer: str) -> str:
    out, err = io.StringIO(), io.StringIO()
    assert main(["transcript", str(path), "x1", "--as", viewer, "--no-progress"], out=out, err=err) == 0
    return out.getvalue()


# --- each forgery the issue names -------------------------------------------------------------------


def test_the_untampered_story_shows_the_customer_only_what_is_for_all(tmp_path: Path) -> None:
    path = write_log(tmp_path / "log.sqlite", STORY)
    texts = [text for kind, _, text, _ in shown(path, CUSTOMER) if kind == "Message"]
    assert texts == ["hello?", "how can I help", "legal barge"]
    assert "legal coaching" in [text for _, _, text, _ in shown(path, AGENT)]


def test_a_coach_message_written_as_visible_to_all_never_reaches_the_customer(tmp_path: Path) -> None:
    forged = [forge(MessageVisibleToAll, index=99, sender_id=COACH, sender_type=ParticipantType.SUPERVISOR,
                    nickname="sam", text="FORGED coach to all"),
              # the same words disguised as the agent's: still the coach (the sender id says so)
              forge(MessageVisibleToAll, index=100, sender_id=COACH, sender_type=ParticipantType.AGENT,
                    nickname="alice", text="FORGED coach as agent")]
    path = write_log(tmp_path / "log.sqlite", insert(STORY, len(SESSION_EVENTS), forged))
    customer = shown(path, CUSTOMER)
    assert not [entry for entry in customer if entry[2] and entry[2].startswith("FORGED")]
    assert {v for *_, v in customer} == {"All"}
    agent_texts = [text for _, _, text, _ in shown(path, AGENT)]
    assert {"FORGED coach to all", "FORGED coach as agent"} <= set(agent_texts)  # read, and kept
    assert "FORGED" not in cli(path, CUSTOMER)
    assert "FORGED coach to all" in cli(path, AGENT)


def test_a_monitor_added_with_visibility_all_is_never_shown_to_the_customer(tmp_path: Path) -> None:
    forged = [forge(SupervisorAdded, supervisor_id="s9", supervised_agent_id=AGENT,
                    mode=SupervisorMode.MONITOR, visibility=Visibility.ALL, monitoring_mode=None,
                    nickname="Hidden", via=JoinedVia.INTRUDE),
              forge(MessageVisibleToAll, index=99, sender_id="s9", sender_type=ParticipantType.SUPERVISOR,
                    nickname="Hidden", text="FORGED monitor speaks")]
    path = write_log(tmp_path / "log.sqlite", insert(STORY, len(SESSION_EVENTS), forged))
    assert "s9" not in [who for _, who, _, _ in shown(path, CUSTOMER)]
    assert "s9" not in [who for _, who, _, _ in shown(path, AGENT)]  # a monitor is for supervisors
    assert ("ParticipantJoined", "s9", None, "Supervisors") in shown(path, COACH)
    assert ("Message", "s9", "FORGED monitor speaks", "Supervisors") in shown(path, COACH)
    assert "Hidden" not in cli(path, CUSTOMER)


def test_a_switch_claiming_more_than_the_recorded_mode_is_judged_by_the_log(tmp_path: Path) -> None:
    # the log records s2 in Monitor; the forged switch claims it came from BargeIn, to All
    forged = [forge(SupervisorModeSwitched, supervisor_id=MONITOR, from_mode=SupervisorMode.BARGE_IN,
                    to_mode=SupervisorMode.COACH, visibility=Visibility.ALL),
              forge(MessageVisibleToAll, index=99, sender_id=MONITOR, sender_type=ParticipantType.SUPERVISOR,
                    nickname="sue", text="FORGED after switch")]
    path = write_log(tmp_path / "log.sqlite", insert(STORY, len(SESSION_EVENTS), forged))
    customer = shown(path, CUSTOMER)
    assert [e for e in customer if e[1] == MONITOR] == []
    assert ("ParticipantJoined", MONITOR, None, "Agents") in shown(path, AGENT)  # it never saw a monitor
    assert ("Message", MONITOR, "FORGED after switch", "Agents") in shown(path, AGENT)


def test_the_customer_named_as_a_supervisor_is_still_shown_what_a_customer_may_see(tmp_path: Path) -> None:
    forged = [forge(SupervisorAdded, supervisor_id=CUSTOMER, supervised_agent_id=AGENT,
                    mode=SupervisorMode.COACH, visibility=Visibility.AGENTS, monitoring_mode=None,
                    nickname="Carol", via=JoinedVia.INTRUDE),
              forge(MessageVisibleToAgent, index=99, sender_id=COACH, nickname="sam",
                    text="FORGED after the customer became a supervisor")]
    path = write_log(tmp_path / "log.sqlite", insert(STORY, len(SESSION_EVENTS), forged))
    customer = shown(path, CUSTOMER)
    assert {v for *_, v in customer} == {"All"}
    assert "legal coaching" not in [text for _, _, text, _ in customer]
    with History(path) as history:
        roles = {v.participant_id: v.type for v in history.viewers("x1")}
    assert roles[CUSTOMER] is ParticipantType.CUSTOMER


def test_departures_of_supervisors_never_present_do_not_break_the_fold(tmp_path: Path) -> None:
    forged = [forge(Revoked, supervisor_id="s8", reason=RevokeReason.COMPLETED),
              forge(SupervisorLeft, supervisor_id="s7"),
              forge(MessageVisibleToAll, index=99, sender_id="s7", sender_type=ParticipantType.SUPERVISOR,
                    nickname="ghost", text="FORGED from nobody")]
    path = write_log(tmp_path / "log.sqlite", insert(STORY, 3, forged))
    assert [e for e in shown(path, CUSTOMER) if e[1] in ("s7", "s8")] == []
    assert ("Message", "s7", "FORGED from nobody", "Supervisors") in shown(path, COACH)


# --- any forgery, anywhere --------------------------------------------------------------------------

PEOPLE = (CUSTOMER, AGENT, COACH, MONITOR, BARGER, "a2", "s9")
modes = st.sampled_from(tuple(SupervisorMode))
visibilities = st.sampled_from(tuple(Visibility))
people = st.sampled_from(PEOPLE)
forgeries = st.one_of(
    st.builds(lambda who, kind, n: forge(MessageVisibleToAll, index=n, sender_id=who, sender_type=kind,
                                         nickname="x", text=f"FORGED {n}"),
              people, st.sampled_from(tuple(ParticipantType)), st.integers(0, 999)),
    st.builds(lambda who, n: forge(MessageVisibleToAgent, index=n, sender_id=who, nickname="x",
                                   text=f"FORGED {n}"), people, st.integers(0, 999)),
    st.builds(lambda who, mode, vis: forge(SupervisorAdded, supervisor_id=who, supervised_agent_id=AGENT,
                                           mode=mode, visibility=vis, monitoring_mode=None,
                                           nickname="x", via=JoinedVia.INTRUDE),
              people, modes, visibilities),
    st.builds(lambda who, a, b, vis: forge(SupervisorModeSwitched, supervisor_id=who, from_mode=a,
                                           to_mode=b, visibility=vis), people, modes, modes, visibilities),
    st.builds(lambda who: forge(SupervisorLeft, supervisor_id=who), people),
    st.builds(lambda who: forge(Revoked, supervisor_id=who, reason=RevokeReason.QUEUED), people),
    st.builds(lambda who: forge(AgentAccepted, agent_id=who, nickname="x"), people),
    st.builds(lambda who: forge(AgentLeft, agent_id=who), people),
)


def customer_may_see(event: DomainEvent, modes: dict[str, SupervisorMode]) -> bool:
    """The customer-visibility rule restated from the seed, independently of the library.

    ``modes``: the supervisors the log shows present just before ``event``, with their mode.
    Only what a barging supervisor says or does, and what customers and agents do, is for all.
    """
    match event:
        case MessageVisibleToAll():
            if event.sender_id in modes:
                return modes[event.sender_id] is SupervisorMode.BARGE_IN
            return event.sender_type is not ParticipantType.SUPERVISOR
        case MessageVisibleToAgent():
            return False
        case SupervisorAdded():
            return event.mode is SupervisorMode.BARGE_IN and event.visibility is Visibility.ALL
        case SupervisorModeSwitched():
            was = modes.get(event.supervisor_id)
            return was is SupervisorMode.BARGE_IN or (
                event.to_mode is SupervisorMode.BARGE_IN and event.visibility is Visibility.ALL)
        case SupervisorLeft() | Revoked():
            return modes.get(event.supervisor_id) is SupervisorMode.BARGE_IN
        case SessionOpened() | AgentAccepted() | AgentLeft() | SessionQueued() | SessionCompleted():
            return True
    return False


def recorded_modes(events: Sequence[DomainEvent]) -> list[dict[str, SupervisorMode]]:
    """Before each event: the supervisors present and their mode, as the log records them."""
    modes: dict[str, SupervisorMode] = {}
    before = []
    for event in events:
        before.append(dict(modes))
        match event:
            case SupervisorAdded():
                modes[event.supervisor_id] = event.mode
            case SupervisorModeSwitched():
                modes[event.supervisor_id] = event.to_mode
            case SupervisorLeft() | Revoked():
                modes.pop(event.supervisor_id, None)
    return before


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(placed=st.lists(st.tuples(st.integers(1, len(SESSION_EVENTS)), st.lists(forgeries, min_size=1,
                                                                                 max_size=3)),
                       min_size=1, max_size=3),
       end=st.sampled_from((None, "complete", "queue")))
def test_no_forgery_shows_the_customer_what_its_visibility_excludes(
        tmp_path_factory: Any, placed: list[tuple[int, list[DomainEvent]]], end: str | None) -> None:
    log = list(STORY)
    for at, forged in placed:
        log = insert(log, at, forged)
    if end is not None:  # the session ends afterwards: the completion revokes whoever is present
        tail = (forge(SessionCompleted, reason="CompletedByAgent", agents_removed=(AGENT,))
                if end == "complete" else forge(SessionQueued, queue_name="q", agents_removed=(AGENT,)))
        log = insert(log, 10_000, [tail.model_copy(update={"timestamp": log[-1].timestamp
                                                           + timedelta(seconds=1)})])
    path = write_log(tmp_path_factory.mktemp("forged") / "log.sqlite", log)
    session = [e for e in log if e.originator_id == SESSION]
    before = recorded_modes(session)
    with History(path) as history:
        entries = history.transcript("x1", CUSTOMER)
    assert all(e.visibility is Visibility.ALL for e in entries)
    for entry in entries:
        i = entry.position - 1  # the entry's version in the stream
        assert customer_may_see(session[i], before[i]), (
            f"the customer was shown {session[i]!r} while the log records {before[i]}")
