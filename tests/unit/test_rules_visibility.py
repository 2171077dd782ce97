"""Messages and their visibility: who may send, and who is shown what they send."""

from __future__ import annotations

import pytest

from coaching.domain.commands import (
    Accept,
    BargeIn,
    Coach,
    Command,
    Complete,
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
from coaching.domain.errors import InvalidState, NotFound
from coaching.domain.events import MessageVisibleToAgent, MessageVisibleToAll
from coaching.domain.transcript import EntryKind
from coaching.domain.values import ParticipantType, SupervisorMode
from coaching.testing import Runner, event, given

MULTIMEDIA = frozenset({"api-multimedia"})

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterAgent(actor="admin", agent_id="a2", username="bob", team="t1"),
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s2", username="sue", features=MULTIMEDIA,
                       teams=frozenset({"t1"})),
    OpenSession(actor="routing", session_id="x1", customer_id="c1", customer_nickname="Carol"),
)
"""Registered people, and session x1 (version 1) waiting for an agent."""


def supervised_by(set_up: type[Monitor | Coach | BargeIn]) -> list[Command]:
    """s1 supervises a1 in that mode ('Boss'), then a1 accepts x1: x1 is at version 4, s1 present."""
    return [set_up(actor="s1", agent_id="a1", nickname="Boss"),
            OfferSession(actor="routing", session_id="x1", agent_id="a1"),
            Accept(actor="a1", session_id="x1", nickname="Ali")]


def to_all(version: int, index: int, sender: str, sender_type: ParticipantType, nickname: str,
           text: str) -> MessageVisibleToAll:
    return event(MessageVisibleToAll, "session:x1", version, actor=sender, session_id="x1",
                 index=index, sender_id=sender, sender_type=sender_type, nickname=nickname, text=text)


def to_agents(version: int, index: int, sender: str, nickname: str, text: str) -> MessageVisibleToAgent:
    return event(MessageVisibleToAgent, "session:x1", version, actor=sender, session_id="x1",
                 index=index, sender_id=sender, nickname=nickname, text=text)


# --- who sees what ---------------------------------------------------------------------------------


def test_a_customer_message_is_visible_to_all_even_before_an_agent_joins(runner: Runner) -> None:
    runner.run(
        given(CAST)
        .when(SendMessage(actor="c1", session_id="x1", text="hello?"))
        .then(to_all(2, 0, "c1", ParticipantType.CUSTOMER, "Carol", "hello?"))
    )


def test_an_agent_message_is_visible_to_all(runner: Runner) -> None:
    runner.run(
        given(CAST, supervised_by(Coach))
        .when(SendMessage(actor="a1", session_id="x1", text="How can I help?"))
        .then(to_all(5, 0, "a1", ParticipantType.AGENT, "Ali", "How can I help?"))
    )


def test_a_coach_message_is_visible_to_the_agents_only(runner: Runner) -> None:
    runner.run(
        given(CAST, supervised_by(Coach))
        .when(SendMessage(actor="s1", session_id="x1", text="offer the discount"))
        .then(to_agents(5, 0, "s1", "Boss", "offer the discount"))
    )


def test_a_barge_in_message_is_visible_to_all(runner: Runner) -> None:
    runner.run(
        given(CAST, supervised_by(BargeIn))
        .when(SendMessage(actor="s1", session_id="x1", text="I am the manager"))
        .then(to_all(5, 0, "s1", ParticipantType.SUPERVISOR, "Boss", "I am the manager"))
    )


def test_a_monitoring_supervisor_cannot_send(runner: Runner) -> None:
    runner.run(
        given(CAST, supervised_by(Monitor))
        .when(SendMessage(actor="s1", session_id="x1", text="psst"))
        .then_raises(InvalidState, 2)
    )


def test_a_supervisor_who_intruded_as_coach_is_heard_by_agents_only(runner: Runner) -> None:
    runner.run(
        given(CAST, OfferSession(actor="routing", session_id="x1", agent_id="a1"),
              Accept(actor="a1", session_id="x1"),
              Intrude(actor="s2", agent_id="a1", session_id="x1",
                      supervisor_visibility_mode=SupervisorMode.COACH))
        .when(SendMessage(actor="s2", session_id="x1", text="slow down"))
        .then(to_agents(5, 0, "s2", "sue", "slow down"))
    )


def test_messages_are_numbered_in_the_order_they_are_sent(runner: Runner) -> None:
    runner.run(
        given(CAST, SendMessage(actor="c1", session_id="x1", text="hi"), supervised_by(Coach),
              SendMessage(actor="a1", session_id="x1", text="hello"),
              SendMessage(actor="s1", session_id="x1", text="greet by name"))
        .when(SendMessage(actor="a1", session_id="x1", text="Hello Carol"))
        .then(to_all(8, 3, "a1", ParticipantType.AGENT, "Ali", "Hello Carol"))
    )


# --- who may not send ------------------------------------------------------------------------------


@pytest.mark.parametrize(("history", "sender"), [
    pytest.param([], "a1", id="agent-not-in-session"),
    pytest.param([OfferSession(actor="routing", session_id="x1", agent_id="a1")], "a1",
                 id="agent-only-invited"),
    pytest.param(supervised_by(Coach), "s2", id="supervisor-not-in-session"),
    pytest.param(supervised_by(Coach), "c2", id="another-customer"),
    pytest.param([*supervised_by(Coach), Leave(actor="s1", session_id="x1")], "s1",
                 id="supervisor-who-left"),
    pytest.param([*supervised_by(Coach), Invite(actor="a1", session_id="x1", agent_id="a2"),
                  Accept(actor="a2", session_id="x1"), Leave(actor="a1", session_id="x1")], "a1",
                 id="agent-who-left"),
    pytest.param([*supervised_by(BargeIn), Queue(actor="a1", session_id="x1", queue_name="sales")], "s1",
                 id="supervisor-revoked-by-queue"),
    pytest.param([*supervised_by(Coach), Queue(actor="a1", session_id="x1", queue_name="sales")], "a1",
                 id="agent-removed-by-queue"),
    pytest.param([*supervised_by(Coach), Complete(actor="a1", session_id="x1")], "c1",
                 id="customer-of-completed-session"),
])
def test_only_a_participant_of_an_open_session_may_send(
        runner: Runner, history: list[Command], sender: str) -> None:
    runner.run(
        given(CAST, history)
        .when(SendMessage(actor=sender, session_id="x1", text="anyone?"))
        .then_raises(InvalidState, 2)
    )


def test_a_message_to_an_unknown_session_is_not_found(runner: Runner) -> None:
    runner.run(given(CAST).when(SendMessage(actor="c1", session_id="x9", text="hi"))
               .then_raises(NotFound, 6))


# --- a switch changes visibility from then on, never for the past ----------------------------------


def test_after_switching_coach_to_barge_in_messages_are_visible_to_all(runner: Runner) -> None:
    world = runner.run(
        given(CAST, supervised_by(Coach), SendMessage(actor="s1", session_id="x1", text="whisper"),
              SwitchToBargeIn(actor="s1", session_id="x1"))
        .when(SendMessage(actor="s1", session_id="x1", text="aloud"))
        .then(to_all(7, 1, "s1", ParticipantType.SUPERVISOR, "Boss", "aloud"))
    )
    # the message sent while coaching keeps its visibility in the log ...
    earlier = [e for e in world.log() if e.originator_id == "session:x1" and e.originator_version == 5]
    assert [type(e) for e in earlier] == [MessageVisibleToAgent]
    # ... so the customer is shown the new message and not the old one
    said = [e.text for e in world.transcript("x1", "c1") if e.kind is EntryKind.MESSAGE]
    assert said == ["aloud"]


def test_after_switching_barge_in_to_coach_messages_reach_the_agents_only(runner: Runner) -> None:
    world = runner.run(
        given(CAST, supervised_by(BargeIn), SendMessage(actor="s1", session_id="x1", text="aloud"),
              SwitchToCoach(actor="s1", session_id="x1"))
        .when(SendMessage(actor="s1", session_id="x1", text="whisper"))
        .then(to_agents(7, 1, "s1", "Boss", "whisper"))
    )
    said = [e.text for e in world.transcript("x1", "c1") if e.kind is EntryKind.MESSAGE]
    assert said == ["aloud"]


def test_after_switching_monitor_to_coach_the_supervisor_may_send(runner: Runner) -> None:
    runner.run(
        given(CAST, supervised_by(Monitor), SwitchToCoach(actor="s1", session_id="x1"))
        .when(SendMessage(actor="s1", session_id="x1", text="now I can"))
        .then(to_agents(6, 0, "s1", "Boss", "now I can"))
    )


@pytest.mark.parametrize("set_up", [Coach, BargeIn])
def test_after_switching_to_monitor_the_supervisor_can_no_longer_send(
        runner: Runner, set_up: type[Coach | BargeIn]) -> None:
    runner.run(
        given(CAST, supervised_by(set_up), SendMessage(actor="s1", session_id="x1", text="before"),
              SwitchToMonitor(actor="s1", session_id="x1"))
        .when(SendMessage(actor="s1", session_id="x1", text="after"))
        .then_raises(InvalidState, 2)
    )
