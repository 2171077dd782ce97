"""Leave, Queue, Complete: Revoked once per supervisor present; what survives an agent leaving."""

from __future__ import annotations

import pytest

from coaching.domain.commands import (
    Accept,
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
    Reject,
    SendMessage,
    SwitchToBargeIn,
)
from coaching.domain.errors import AlreadyExists, InvalidState, NotFound
from coaching.domain.events import (
    AgentAccepted,
    AgentLeft,
    MessageVisibleToAgent,
    Revoked,
    SessionAccepted,
    SessionCompleted,
    SessionQueued,
    SupervisionEnded,
    SupervisorAdded,
    SupervisorLeft,
)
from coaching.domain.values import (
    CompletionReason,
    JoinedVia,
    MonitoringMode,
    RevokeReason,
    SessionStatus,
    SupervisionEndReason,
    SupervisorMode,
)
from coaching.testing import Runner, event, given

MULTIMEDIA = frozenset({"api-multimedia"})
ALL, NEXT = MonitoringMode.ALL_CHATS, MonitoringMode.NEXT_CHAT

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterAgent(actor="admin", agent_id="a2", username="bob", team="t1"),
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s2", username="sue", features=MULTIMEDIA,
                       teams=frozenset({"t1"})),
)

BUSY = (
    Coach(actor="s1", agent_id="a1"),
    Monitor(actor="s2", agent_id="a1"),
    OpenSession(actor="routing", session_id="x1", customer_id="c1", customer_nickname="Carol"),
    OfferSession(actor="routing", session_id="x1", agent_id="a1"),
    Accept(actor="a1", session_id="x1"),
)
"""a1 accepted x1 with s1 (Coach) and s2 (Monitor) added: x1 is at version 5, agent a1 at 4."""

CONFERENCE = (
    *BUSY,
    Invite(actor="a1", session_id="x1", agent_id="a2"),
    Accept(actor="a2", session_id="x1"),
)
"""BUSY, then a2 joined x1 too (nobody supervises a2): x1 is at version 7."""


def revoked(version: int, actor: str, supervisor: str, reason: RevokeReason) -> Revoked:
    return event(Revoked, "session:x1", version, actor=actor, session_id="x1", supervisor_id=supervisor,
                 reason=reason)


# --- Complete -------------------------------------------------------------------------------------


def test_complete_revokes_every_supervisor_present_once(runner: Runner) -> None:
    world = runner.run(
        given(CAST, BUSY)
        .when(Complete(actor="a1", session_id="x1"))
        .then(
            event(SessionCompleted, "session:x1", 6, actor="a1", session_id="x1",
                  reason=CompletionReason.COMPLETED_BY_AGENT, agents_removed=("a1",)),
            revoked(7, "a1", "s1", RevokeReason.COMPLETED),
            revoked(8, "a1", "s2", RevokeReason.COMPLETED),
        )
    )
    session = world.session("x1")
    assert session is not None
    assert session.status is SessionStatus.COMPLETED
    assert dict(session.supervisors) == {} and dict(session.agents) == {}
    assert [session.participant_type(u) for u in ("c1", "a1", "s1", "s2")] == [None] * 4


def test_complete_without_supervisors_revokes_nobody(runner: Runner) -> None:
    runner.run(
        given(CAST, BUSY[2:])
        .when(Complete(actor="a1", session_id="x1"))
        .then(event(SessionCompleted, "session:x1", 4, actor="a1", session_id="x1",
                    reason=CompletionReason.COMPLETED_BY_AGENT, agents_removed=("a1",)))
    )


def test_complete_in_a_conference_removes_every_agent(runner: Runner) -> None:
    runner.run(
        given(CAST, CONFERENCE)
        .when(Complete(actor="a2", session_id="x1"))
        .then(
            event(SessionCompleted, "session:x1", 8, actor="a2", session_id="x1",
                  reason=CompletionReason.COMPLETED_BY_AGENT, agents_removed=("a1", "a2")),
            revoked(9, "a2", "s1", RevokeReason.COMPLETED),
            revoked(10, "a2", "s2", RevokeReason.COMPLETED),
        )
    )


def test_a_supervisor_who_left_is_not_revoked(runner: Runner) -> None:
    runner.run(
        given(CAST, BUSY, Leave(actor="s1", session_id="x1"))
        .when(Complete(actor="a1", session_id="x1"))
        .then(
            event(SessionCompleted, "session:x1", 7, actor="a1", session_id="x1",
                  reason=CompletionReason.COMPLETED_BY_AGENT, agents_removed=("a1",)),
            revoked(8, "a1", "s2", RevokeReason.COMPLETED),
        )
    )


# --- Queue ----------------------------------------------------------------------------------------


def test_queue_revokes_every_supervisor_and_empties_the_session(runner: Runner) -> None:
    world = runner.run(
        given(CAST, BUSY)
        .when(Queue(actor="a1", session_id="x1", queue_name="billing"))
        .then(
            event(SessionQueued, "session:x1", 6, actor="a1", session_id="x1", queue_name="billing",
                  agents_removed=("a1",)),
            revoked(7, "a1", "s1", RevokeReason.QUEUED),
            revoked(8, "a1", "s2", RevokeReason.QUEUED),
        )
    )
    session = world.session("x1")
    assert session is not None
    assert (session.status, session.queue_name) == (SessionStatus.WAITING, "billing")
    assert dict(session.supervisors) == {} and dict(session.agents) == {}
    assert session.participant_type("c1") is not None  # the customer waits in the queue


def test_after_the_queue_the_accepting_agents_supervisions_apply_afresh(runner: Runner) -> None:
    # s1 supervised a1 only; a2's supervision by s2 is what joins when a2 takes the session.
    runner.run(
        given(CAST, BUSY, Coach(actor="s2", agent_id="a2"),
              Queue(actor="a1", session_id="x1", queue_name="billing"),
              OfferSession(actor="routing", session_id="x1", agent_id="a2"))
        .when(Accept(actor="a2", session_id="x1"))
        .then(
            event(AgentAccepted, "session:x1", 10, actor="a2", session_id="x1", agent_id="a2",
                  nickname="bob"),
            event(SupervisorAdded, "session:x1", 11, actor="a2", session_id="x1", supervisor_id="s2",
                  supervised_agent_id="a2", mode=SupervisorMode.COACH,
                  visibility=SupervisorMode.COACH.visibility, monitoring_mode=ALL, nickname="sue",
                  via=JoinedVia.SUPERVISION),
            event(SessionAccepted, "agent:a2", 3, actor="a2", agent_id="a2", session_id="x1",
                  supervisors_added=("s2",)),
        )
    )


def test_back_from_the_queue_to_the_same_agent_its_all_chats_supervisors_rejoin(runner: Runner) -> None:
    runner.run(
        given(CAST, BUSY, Queue(actor="a1", session_id="x1", queue_name="billing"),
              OfferSession(actor="routing", session_id="x1", agent_id="a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            event(AgentAccepted, "session:x1", 10, actor="a1", session_id="x1", agent_id="a1",
                  nickname="alice"),
            event(SupervisorAdded, "session:x1", 11, actor="a1", session_id="x1", supervisor_id="s1",
                  supervised_agent_id="a1", mode=SupervisorMode.COACH,
                  visibility=SupervisorMode.COACH.visibility, monitoring_mode=ALL, nickname="sam",
                  via=JoinedVia.SUPERVISION),
            event(SupervisorAdded, "session:x1", 12, actor="a1", session_id="x1", supervisor_id="s2",
                  supervised_agent_id="a1", mode=SupervisorMode.MONITOR,
                  visibility=SupervisorMode.MONITOR.visibility, monitoring_mode=ALL, nickname="sue",
                  via=JoinedVia.SUPERVISION),
            event(SessionAccepted, "agent:a1", 5, actor="a1", agent_id="a1", session_id="x1",
                  supervisors_added=("s1", "s2")),
        )
    )


def test_back_from_the_queue_a_used_next_chat_does_not_rejoin(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT), BUSY[2:],
              Queue(actor="a1", session_id="x1", queue_name="billing"),
              OfferSession(actor="routing", session_id="x1", agent_id="a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            event(AgentAccepted, "session:x1", 8, actor="a1", session_id="x1", agent_id="a1",
                  nickname="alice"),
            event(SessionAccepted, "agent:a1", 5, actor="a1", agent_id="a1", session_id="x1",
                  supervisors_added=()),
        )
    )
    ends = [e for e in world.log() if isinstance(e, SupervisionEnded)]
    assert [(e.supervisor_id, e.session_id, e.reason) for e in ends] == [
        ("s1", "x1", SupervisionEndReason.NEXT_CHAT_USED)]


# --- an agent leaving -----------------------------------------------------------------------------


def test_an_agent_leaving_while_another_remains_removes_no_supervisor(runner: Runner) -> None:
    world = runner.run(
        given(CAST, CONFERENCE)
        .when(Leave(actor="a1", session_id="x1"))
        .then(event(AgentLeft, "session:x1", 8, actor="a1", session_id="x1", agent_id="a1"))
    )
    session = world.session("x1")
    assert session is not None
    assert session.status is SessionStatus.CHATTING
    assert list(session.agents) == ["a2"]
    assert list(session.supervisors) == ["s1", "s2"]  # s1 supervises a1, who left: it stays


def test_the_supervisor_of_an_agent_who_left_keeps_coaching_the_session(runner: Runner) -> None:
    runner.run(
        given(CAST, CONFERENCE, Leave(actor="a1", session_id="x1"))
        .when(SendMessage(actor="s1", session_id="x1", text="a2, take over"))
        .then(event(MessageVisibleToAgent, "session:x1", 9, actor="s1", session_id="x1", index=0,
                    sender_id="s1", nickname="sam", text="a2, take over"))
    )


def test_the_last_agent_leaving_completes_the_session(runner: Runner) -> None:
    world = runner.run(
        given(CAST, BUSY)
        .when(Leave(actor="a1", session_id="x1"))
        .then(
            event(AgentLeft, "session:x1", 6, actor="a1", session_id="x1", agent_id="a1"),
            event(SessionCompleted, "session:x1", 7, actor="a1", session_id="x1",
                  reason=CompletionReason.LAST_AGENT_LEFT, agents_removed=()),
            revoked(8, "a1", "s1", RevokeReason.COMPLETED),
            revoked(9, "a1", "s2", RevokeReason.COMPLETED),
        )
    )
    session = world.session("x1")
    assert session is not None
    assert session.status is SessionStatus.COMPLETED and dict(session.supervisors) == {}


def test_in_a_conference_the_second_agent_leaving_completes_the_session(runner: Runner) -> None:
    runner.run(
        given(CAST, CONFERENCE, Leave(actor="a1", session_id="x1"))
        .when(Leave(actor="a2", session_id="x1"))
        .then(
            event(AgentLeft, "session:x1", 9, actor="a2", session_id="x1", agent_id="a2"),
            event(SessionCompleted, "session:x1", 10, actor="a2", session_id="x1",
                  reason=CompletionReason.LAST_AGENT_LEFT, agents_removed=()),
            revoked(11, "a2", "s1", RevokeReason.COMPLETED),
            revoked(12, "a2", "s2", RevokeReason.COMPLETED),
        )
    )


# --- a supervisor leaving -------------------------------------------------------------------------


def test_a_supervisor_may_leave_and_its_supervision_goes_on(runner: Runner) -> None:
    world = runner.run(
        given(CAST, BUSY)
        .when(Leave(actor="s2", session_id="x1"))
        .then(event(SupervisorLeft, "session:x1", 6, actor="s2", session_id="x1", supervisor_id="s2"))
    )
    session, agent = world.session("x1"), world.agent("a1")
    assert session is not None and agent is not None
    assert list(session.supervisors) == ["s1"]
    assert list(agent.supervisions) == ["s1", "s2"]


def test_after_leaving_an_all_chats_supervisor_joins_the_agents_next_session(runner: Runner) -> None:
    runner.run(
        given(CAST, BUSY, Leave(actor="s2", session_id="x1"),
              OpenSession(actor="routing", session_id="x2", customer_id="c2", customer_nickname="Dan"),
              OfferSession(actor="routing", session_id="x2", agent_id="a1"))
        .when(Accept(actor="a1", session_id="x2"))
        .then(
            event(AgentAccepted, "session:x2", 3, actor="a1", session_id="x2", agent_id="a1",
                  nickname="alice"),
            event(SupervisorAdded, "session:x2", 4, actor="a1", session_id="x2", supervisor_id="s1",
                  supervised_agent_id="a1", mode=SupervisorMode.COACH,
                  visibility=SupervisorMode.COACH.visibility, monitoring_mode=ALL, nickname="sam",
                  via=JoinedVia.SUPERVISION),
            event(SupervisorAdded, "session:x2", 5, actor="a1", session_id="x2", supervisor_id="s2",
                  supervised_agent_id="a1", mode=SupervisorMode.MONITOR,
                  visibility=SupervisorMode.MONITOR.visibility, monitoring_mode=ALL, nickname="sue",
                  via=JoinedVia.SUPERVISION),
            event(SessionAccepted, "agent:a1", 5, actor="a1", agent_id="a1", session_id="x2",
                  supervisors_added=("s1", "s2")),
        )
    )


@pytest.mark.parametrize(("history", "who"), [
    pytest.param([], "a2", id="agent-never-in-it"),
    pytest.param([Invite(actor="a1", session_id="x1", agent_id="a2")], "a2", id="agent-only-invited"),
    pytest.param([], "c1", id="customer"),
    pytest.param([Leave(actor="s1", session_id="x1")], "s1", id="supervisor-who-left"),
    pytest.param([Queue(actor="a1", session_id="x1", queue_name="q")], "s1", id="supervisor-revoked"),
    pytest.param([Queue(actor="a1", session_id="x1", queue_name="q")], "a1", id="agent-queued-out"),
    pytest.param([], "ghost", id="unknown-user"),
])
def test_leave_by_a_non_participant_is_refused(runner: Runner, history: list[Command], who: str) -> None:
    runner.run(
        given(CAST, BUSY, history)
        .when(Leave(actor=who, session_id="x1"))
        .then_raises(InvalidState, 2)
    )


@pytest.mark.parametrize("who", ["a2", "s1", "c1"])
@pytest.mark.parametrize("command", ["complete", "queue"])
def test_only_an_agent_in_the_session_may_complete_or_queue_it(
        runner: Runner, who: str, command: str) -> None:
    when: Command = (Complete(actor=who, session_id="x1") if command == "complete"
                     else Queue(actor=who, session_id="x1", queue_name="q"))
    runner.run(given(CAST, BUSY).when(when).then_raises(InvalidState, 2))


@pytest.mark.parametrize("when", [
    Complete(actor="a1", session_id="x9"),
    Queue(actor="a1", session_id="x9", queue_name="q"),
    Leave(actor="a1", session_id="x9"),
])
def test_lifecycle_commands_on_an_unknown_session_are_not_found(runner: Runner, when: Command) -> None:
    runner.run(given(CAST, BUSY).when(when).then_raises(NotFound, 6))


# --- nothing happens in a completed session -------------------------------------------------------


@pytest.mark.parametrize("when", [
    pytest.param(SendMessage(actor="c1", session_id="x1", text="hello?"), id="customer-message"),
    pytest.param(SendMessage(actor="a1", session_id="x1", text="bye"), id="agent-message"),
    pytest.param(Leave(actor="a1", session_id="x1"), id="agent-leave"),
    pytest.param(Leave(actor="s1", session_id="x1"), id="supervisor-leave"),
    pytest.param(Complete(actor="a1", session_id="x1"), id="complete"),
    pytest.param(Queue(actor="a1", session_id="x1", queue_name="q"), id="queue"),
    pytest.param(OfferSession(actor="routing", session_id="x1", agent_id="a2"), id="offer"),
    pytest.param(Accept(actor="a1", session_id="x1"), id="accept"),
    pytest.param(Reject(actor="a1", session_id="x1"), id="reject"),
    pytest.param(Invite(actor="a1", session_id="x1", agent_id="a2"), id="invite"),
    pytest.param(Intrude(actor="s1", agent_id="a1", session_id="x1",
                         supervisor_visibility_mode=SupervisorMode.COACH), id="intrude"),
    pytest.param(SwitchToBargeIn(actor="s1", session_id="x1"), id="switch"),
])
def test_every_command_on_a_completed_session_is_refused(runner: Runner, when: Command) -> None:
    runner.run(given(CAST, BUSY, Complete(actor="a1", session_id="x1")).when(when)
               .then_raises(InvalidState, 2))


def test_a_completed_sessions_id_cannot_be_opened_again(runner: Runner) -> None:
    runner.run(
        given(CAST, BUSY, Complete(actor="a1", session_id="x1"))
        .when(OpenSession(actor="routing", session_id="x1", customer_id="c1", customer_nickname="Carol"))
        .then_raises(AlreadyExists, 18)
    )
