"""Transcripts: what each viewer was shown, filtered by visibility, from joining to leaving."""

from __future__ import annotations

from coaching.domain.commands import (
    Accept,
    BargeIn,
    Coach,
    Intrude,
    Invite,
    Leave,
    Monitor,
    OfferSession,
    OpenSession,
    Queue,
    RegisterAgent,
    RegisterSupervisor,
    SendMessage,
    SwitchToBargeIn,
    SwitchToCoach,
    SwitchToMonitor,
)
from coaching.domain.transcript import EntryKind, TranscriptEntry
from coaching.domain.values import SupervisorMode, Visibility
from coaching.testing import Runner

MULTIMEDIA = frozenset({"api-multimedia"})
JOINED, LEFT, MESSAGE = EntryKind.JOINED, EntryKind.LEFT, EntryKind.MESSAGE
SWITCHED, QUEUED, REVOKED = EntryKind.MODE_SWITCHED, EntryKind.QUEUED, EntryKind.REVOKED

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterAgent(actor="admin", agent_id="a2", username="bob", team="t1"),
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s2", username="sue", features=MULTIMEDIA,
                       teams=frozenset({"t1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s4", username="bo", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
)

STORY = (
    Coach(actor="s1", agent_id="a1"),
    Monitor(actor="s2", agent_id="a1"),
    BargeIn(actor="s4", agent_id="a1"),
    OpenSession(actor="routing", session_id="x1", customer_id="c1", customer_nickname="Carol"),  # 1
    SendMessage(actor="c1", session_id="x1", text="hi"),  # 2
    OfferSession(actor="routing", session_id="x1", agent_id="a1"),  # 3: no transcript line
    Accept(actor="a1", session_id="x1"),  # 4: a1 joins; 5 s1 (Coach), 6 s2 (Monitor), 7 s4 (BargeIn)
    SendMessage(actor="a1", session_id="x1", text="hello"),  # 8
    SendMessage(actor="s1", session_id="x1", text="be polite"),  # 9: Coach, agents only
    SendMessage(actor="s4", session_id="x1", text="manager here"),  # 10: BargeIn, all
)
"""A session with one supervisor in each mode; numbers are positions in the session's stream."""

CONFERENCE = (
    *STORY,
    Invite(actor="a1", session_id="x1", agent_id="a2"),  # 11: no transcript line
    Accept(actor="a2", session_id="x1"),  # 12: a2 joins; nobody supervises a2
    Leave(actor="a1", session_id="x1"),  # 13: a1 leaves, a2 remains
    SendMessage(actor="c1", session_id="x1", text="still there?"),  # 14
    Leave(actor="s1", session_id="x1"),  # 15: the coach leaves
    SendMessage(actor="a2", session_id="x1", text="yes"),  # 16
)
"""STORY, then a2 joins, a1 leaves, and the coach leaves."""


def lines(entries: list[TranscriptEntry]) -> list[tuple[int, EntryKind, str, str | None]]:
    """Position, kind, participant and text of each entry: what the reader checks."""
    return [(e.position, e.kind, e.participant_id, e.text) for e in entries]


# --- the customer -----------------------------------------------------------------------------------


def test_the_customer_is_never_shown_a_coach_or_a_monitor(runner: Runner) -> None:
    world = runner.world(CAST, STORY)
    shown = world.transcript("x1", "c1")
    assert lines(shown) == [
        (1, JOINED, "c1", None),
        (2, MESSAGE, "c1", "hi"),
        (4, JOINED, "a1", None),
        (7, JOINED, "s4", None),  # the barging supervisor is seen by all
        (8, MESSAGE, "a1", "hello"),
        (10, MESSAGE, "s4", "manager here"),
    ]
    assert {e.visibility for e in shown} == {Visibility.ALL}


def test_the_customer_never_sees_the_coach_even_when_the_coach_leaves(runner: Runner) -> None:
    world = runner.world(CAST, CONFERENCE)
    shown = world.transcript("x1", "c1")
    assert not [e for e in shown if e.participant_id in {"s1", "s2"}]
    assert lines(shown)[-4:] == [
        (12, JOINED, "a2", None),
        (13, LEFT, "a1", None),
        (14, MESSAGE, "c1", "still there?"),
        (16, MESSAGE, "a2", "yes"),
    ]


# --- agents -----------------------------------------------------------------------------------------


def test_the_agent_is_shown_the_coach_but_not_the_monitor(runner: Runner) -> None:
    world = runner.world(CAST, STORY)
    assert lines(world.transcript("x1", "a1")) == [
        (1, JOINED, "c1", None),  # history before the agent joined ...
        (2, MESSAGE, "c1", "hi"),
        (4, JOINED, "a1", None),  # ... then everything it may see
        (5, JOINED, "s1", None),
        (7, JOINED, "s4", None),
        (8, MESSAGE, "a1", "hello"),
        (9, MESSAGE, "s1", "be polite"),
        (10, MESSAGE, "s4", "manager here"),
    ]


def test_an_agent_joining_later_is_shown_the_history_filtered_by_visibility(runner: Runner) -> None:
    world = runner.world(CAST, STORY, Invite(actor="a1", session_id="x1", agent_id="a2"),
                         Accept(actor="a2", session_id="x1"))
    assert lines(world.transcript("x1", "a2")) == [
        (1, JOINED, "c1", None),
        (2, MESSAGE, "c1", "hi"),
        (4, JOINED, "a1", None),
        (5, JOINED, "s1", None),
        (7, JOINED, "s4", None),
        (8, MESSAGE, "a1", "hello"),
        (9, MESSAGE, "s1", "be polite"),  # the coach's words reach every agent
        (10, MESSAGE, "s4", "manager here"),
        (12, JOINED, "a2", None),
    ]


def test_after_leaving_an_agent_is_shown_nothing_more(runner: Runner) -> None:
    world = runner.world(CAST, CONFERENCE)
    shown = lines(world.transcript("x1", "a1"))
    assert shown[-2:] == [(12, JOINED, "a2", None), (13, LEFT, "a1", None)]
    assert max(position for position, *_ in shown) == 13


def test_the_agent_who_remains_sees_the_coach_leave(runner: Runner) -> None:
    world = runner.world(CAST, CONFERENCE)
    assert lines(world.transcript("x1", "a2"))[-5:] == [
        (12, JOINED, "a2", None),
        (13, LEFT, "a1", None),
        (14, MESSAGE, "c1", "still there?"),
        (15, LEFT, "s1", None),
        (16, MESSAGE, "a2", "yes"),
    ]


# --- supervisors ------------------------------------------------------------------------------------


def test_a_monitoring_supervisor_is_shown_everything_from_the_start(runner: Runner) -> None:
    world = runner.world(CAST, STORY)
    assert [position for position, *_ in lines(world.transcript("x1", "s2"))] == [
        1, 2, 4, 5, 6, 7, 8, 9, 10]


def test_after_leaving_a_supervisor_is_shown_nothing_more(runner: Runner) -> None:
    world = runner.world(CAST, CONFERENCE)
    shown = lines(world.transcript("x1", "s1"))
    assert shown[-1] == (15, LEFT, "s1", None)
    # a supervisor sees the monitor (6); nothing after its own departure (16)
    assert [position for position, *_ in shown] == [1, 2, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15]


def test_a_revoked_supervisor_is_shown_the_queueing_and_its_revocation_then_nothing(
        runner: Runner) -> None:
    world = runner.world(CAST, STORY, Queue(actor="a1", session_id="x1", queue_name="billing"),
                         SendMessage(actor="c1", session_id="x1", text="hello?"))
    # 11 queued, then Revoked for s1 (12), s2 (13), s4 (14); 15 the customer waiting in the queue
    assert lines(world.transcript("x1", "s1"))[-2:] == [
        (11, QUEUED, "a1", "billing"), (12, REVOKED, "s1", None)]
    assert lines(world.transcript("x1", "a1"))[-1] == (11, QUEUED, "a1", "billing")
    assert lines(world.transcript("x1", "c1"))[-3:] == [
        (11, QUEUED, "a1", "billing"), (14, REVOKED, "s4", None), (15, MESSAGE, "c1", "hello?")]


def test_a_supervisor_intruding_later_is_shown_the_history_including_the_monitor(runner: Runner) -> None:
    world = runner.world(
        CAST, STORY, RegisterSupervisor(actor="admin", supervisor_id="s5", username="vi",
                                        features=MULTIMEDIA, teams=frozenset({"t1"})),
        Intrude(actor="s5", agent_id="a1", session_id="x1",
                supervisor_visibility_mode=SupervisorMode.MONITOR))
    assert [position for position, *_ in lines(world.transcript("x1", "s5"))] == [
        1, 2, 4, 5, 6, 7, 8, 9, 10, 11]


def test_someone_who_never_took_part_is_shown_nothing(runner: Runner) -> None:
    world = runner.world(CAST, STORY)
    assert world.transcript("x1", "a2") == []
    assert world.transcript("x1", "stranger") == []


# --- switching modes --------------------------------------------------------------------------------


def test_after_a_coach_barges_in_the_customer_sees_it_from_then_on(runner: Runner) -> None:
    world = runner.world(CAST, STORY, SwitchToBargeIn(actor="s1", session_id="x1"),  # 11
                         SendMessage(actor="s1", session_id="x1", text="let me help"))  # 12
    assert lines(world.transcript("x1", "c1"))[-3:] == [
        (10, MESSAGE, "s4", "manager here"),
        (11, JOINED, "s1", None),  # to the customer, a coach barging in is a supervisor joining
        (12, MESSAGE, "s1", "let me help"),
    ]
    assert "be polite" not in [e.text for e in world.transcript("x1", "c1")]


def test_a_barging_supervisor_going_quiet_reads_as_leaving_to_the_customer(runner: Runner) -> None:
    # the customer saw s1 barge in; when s1 switches back to Coach, the customer is told s1 left,
    # never that s1 stays on as a coach (that would reveal an Agents-only presence)
    world = runner.world(CAST, STORY, SwitchToBargeIn(actor="s1", session_id="x1"),  # 11
                         SwitchToCoach(actor="s1", session_id="x1"),  # 12
                         SendMessage(actor="s1", session_id="x1", text="psst"))  # 13
    seen = world.transcript("x1", "c1")
    assert lines(seen)[-2:] == [(11, JOINED, "s1", None), (12, LEFT, "s1", None)]
    assert [e.mode for e in seen if e.participant_id == "s1"] == [SupervisorMode.BARGE_IN] * 2
    assert lines(world.transcript("x1", "a1"))[-2:] == [(12, SWITCHED, "s1", None),
                                                         (13, MESSAGE, "s1", "psst")]


def test_a_switch_between_monitor_and_coach_is_never_shown_to_the_customer(runner: Runner) -> None:
    world = runner.world(CAST, STORY, SwitchToCoach(actor="s2", session_id="x1"),  # 11
                         SendMessage(actor="s2", session_id="x1", text="careful"),  # 12
                         SwitchToMonitor(actor="s2", session_id="x1"),  # 13
                         SendMessage(actor="c1", session_id="x1", text="ok"))  # 14
    assert [p for p, *_ in lines(world.transcript("x1", "c1"))] == [1, 2, 4, 7, 8, 10, 14]
    # the agent saw the monitor join as a coach, speak, and leave: it is never told that the
    # supervisor stays on, monitoring (ADR 0005)
    assert lines(world.transcript("x1", "a1"))[-4:] == [
        (11, JOINED, "s2", None),
        (12, MESSAGE, "s2", "careful"),
        (13, LEFT, "s2", None),
        (14, MESSAGE, "c1", "ok"),
    ]
