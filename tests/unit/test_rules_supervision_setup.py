"""Supervision set-up (Monitor, Coach, BargeIn) and CancelSupervisorMonitoring, on the agent."""

from __future__ import annotations

import pytest

from coaching.domain.commands import (
    Accept,
    BargeIn,
    CancelSupervisorMonitoring,
    Coach,
    Command,
    Invite,
    Leave,
    Monitor,
    OfferSession,
    OpenSession,
    RegisterAgent,
    RegisterSupervisor,
    SendMessage,
)
from coaching.domain.errors import AlreadyExists, Forbidden, InvalidState, NoPermission, NotFound
from coaching.domain.events import (
    AgentAccepted,
    MessageVisibleToAgent,
    SessionAccepted,
    SupervisionCancelled,
    SupervisionStarted,
    SupervisorAdded,
    SupervisorLeft,
)
from coaching.domain.values import JoinedVia, MonitoringMode, SupervisorMode, Visibility
from coaching.testing import Runner, event, given

MULTIMEDIA = frozenset({"api-multimedia"})
ALL, NEXT = MonitoringMode.ALL_CHATS, MonitoringMode.NEXT_CHAT

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterAgent(actor="admin", agent_id="a2", username="bob", team="t1"),
    RegisterAgent(actor="admin", agent_id="a3", username="carl", team="t2"),
    # s1 may supervise a1 by name; s2 every agent of team t1; s3 lacks the api-multimedia feature.
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s2", username="sue", nickname="Coach Sue",
                       features=MULTIMEDIA, teams=frozenset({"t1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s3", username="syd", agents=frozenset({"a1"})),
)


def chatting(session_id: str, agent_id: str) -> list[Command]:
    """A session opened by a customer, offered to the agent and accepted."""
    return [OpenSession(actor="routing", session_id=session_id, customer_id=f"c-{session_id}",
                        customer_nickname="Carol"),
            OfferSession(actor="routing", session_id=session_id, agent_id=agent_id),
            Accept(actor=agent_id, session_id=session_id)]


def offered(session_id: str, agent_id: str) -> list[Command]:
    """A session opened by a customer and offered to the agent, not yet answered."""
    return chatting(session_id, agent_id)[:2]


def started(version: int, supervisor: str, mode: SupervisorMode, monitoring: MonitoringMode,
            nickname: str, agent: str = "a1") -> SupervisionStarted:
    return event(SupervisionStarted, f"agent:{agent}", version, actor=supervisor, agent_id=agent,
                 supervisor_id=supervisor, mode=mode, monitoring_mode=monitoring, nickname=nickname)


# --- set-up -----------------------------------------------------------------------------------


def test_coach_defaults_to_all_chats_and_the_supervisors_username(runner: Runner) -> None:
    runner.run(
        given(CAST)
        .when(Coach(actor="s1", agent_id="a1"))
        .then(started(2, "s1", SupervisorMode.COACH, ALL, "sam"))
    )


@pytest.mark.parametrize(("command", "mode"), [
    (Monitor, SupervisorMode.MONITOR),
    (Coach, SupervisorMode.COACH),
    (BargeIn, SupervisorMode.BARGE_IN),
])
def test_each_set_up_records_its_mode_monitoring_mode_and_nickname(
        runner: Runner, command: type[Monitor | Coach | BargeIn], mode: SupervisorMode) -> None:
    runner.run(
        given(CAST)
        .when(command(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT, nickname="Boss"))
        .then(started(2, "s1", mode, NEXT, "Boss"))
    )


def test_registered_nickname_is_the_default_and_team_gives_the_right(runner: Runner) -> None:
    runner.run(
        given(CAST)
        .when(Monitor(actor="s2", agent_id="a2"))
        .then(started(2, "s2", SupervisorMode.MONITOR, ALL, "Coach Sue", agent="a2"))
    )


def test_two_supervisors_may_supervise_the_same_agent(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"))
        .when(Monitor(actor="s2", agent_id="a1", supervisor_monitoring_mode=NEXT))
        .then(started(3, "s2", SupervisorMode.MONITOR, NEXT, "Coach Sue"))
    )
    agent = world.agent("a1")
    assert agent is not None
    assert [s.supervisor_id for s in agent.supervisions.values()] == ["s1", "s2"]


@pytest.mark.parametrize("again", [Coach, Monitor, BargeIn])
def test_repeat_set_up_by_the_same_supervisor_on_the_same_agent_is_refused(
        runner: Runner, again: type[Monitor | Coach | BargeIn]) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT))
        .when(again(actor="s1", agent_id="a1"))
        .then_raises(AlreadyExists, 18)
    )


def test_set_up_without_the_api_multimedia_feature_is_forbidden(runner: Runner) -> None:
    runner.run(given(CAST).when(Coach(actor="s3", agent_id="a1")).then_raises(Forbidden, 3))


@pytest.mark.parametrize("agent", [
    "a3",  # another team, not named
    "a2",  # a1's team mate: s1 is granted a1 by name only
])
def test_set_up_without_the_right_to_supervise_the_agent_is_refused(runner: Runner, agent: str) -> None:
    runner.run(given(CAST).when(Monitor(actor="s1", agent_id=agent)).then_raises(NoPermission, 5))


@pytest.mark.parametrize(("supervisor", "agent"), [
    ("s1", "nobody"),  # unknown agent
    ("ghost", "a1"),  # unknown supervisor
    ("a2", "a1"),  # an agent is not a supervisor
])
def test_set_up_with_an_unknown_id_is_not_found(runner: Runner, supervisor: str, agent: str) -> None:
    runner.run(given(CAST).when(BargeIn(actor=supervisor, agent_id=agent)).then_raises(NotFound, 6))


def test_set_up_while_the_agent_is_in_a_session_does_not_join_it(runner: Runner) -> None:
    world = runner.run(
        given(CAST, chatting("x1", "a1"))
        .when(Coach(actor="s1", agent_id="a1"))
        .then(started(3, "s1", SupervisorMode.COACH, ALL, "sam"))
    )
    session = world.session("x1")
    assert session is not None
    assert dict(session.supervisors) == {}
    assert session.participant_type("s1") is None


def test_a_later_accept_in_that_same_session_does_not_pull_the_supervision_in(runner: Runner) -> None:
    # s1 supervises a1 only; a2 joining x1 by conference is an accept, but not a1's.
    runner.run(
        given(CAST, chatting("x1", "a1"), Coach(actor="s1", agent_id="a1"),
              Invite(actor="a1", session_id="x1", agent_id="a2"))
        .when(Accept(actor="a2", session_id="x1"))
        .then(
            event(AgentAccepted, "session:x1", 5, actor="a2", session_id="x1", agent_id="a2",
                  nickname="bob"),
            event(SessionAccepted, "agent:a2", 2, actor="a2", agent_id="a2", session_id="x1",
                  supervisors_added=()),
        )
    )


def test_set_up_while_in_a_session_joins_the_next_accepted_session_only(runner: Runner) -> None:
    world = runner.run(
        given(CAST, chatting("x1", "a1"), Coach(actor="s1", agent_id="a1"), offered("x2", "a1"))
        .when(Accept(actor="a1", session_id="x2"))
        .then(
            event(AgentAccepted, "session:x2", 3, actor="a1", session_id="x2", agent_id="a1",
                  nickname="alice"),
            event(SupervisorAdded, "session:x2", 4, actor="a1", session_id="x2", supervisor_id="s1",
                  supervised_agent_id="a1", mode=SupervisorMode.COACH,
                  visibility=Visibility.AGENTS, monitoring_mode=ALL, nickname="sam",
                  via=JoinedVia.SUPERVISION),
            event(SessionAccepted, "agent:a1", 4, actor="a1", agent_id="a1", session_id="x2",
                  supervisors_added=("s1",)),
        )
    )
    first = world.session("x1")
    assert first is not None
    assert "s1" not in first.supervisors


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_ends_an_active_supervision(runner: Runner) -> None:
    world = runner.run(
        given(CAST, BargeIn(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT))
        .when(CancelSupervisorMonitoring(actor="s1", agent_id="a1"))
        .then(event(SupervisionCancelled, "agent:a1", 3, actor="s1", agent_id="a1",
                    supervisor_id="s1", mode=SupervisorMode.BARGE_IN, monitoring_mode=NEXT))
    )
    agent = world.agent("a1")
    assert agent is not None
    assert dict(agent.supervisions) == {}


@pytest.mark.parametrize("history", [
    pytest.param([], id="never-set-up"),
    pytest.param([Coach(actor="s2", agent_id="a1")], id="another-supervisors-supervision"),
    pytest.param([Coach(actor="s1", agent_id="a1"), CancelSupervisorMonitoring(actor="s1", agent_id="a1")],
                 id="already-cancelled"),
    pytest.param([Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT), *chatting("x1", "a1")],
                 id="nextchat-used-up"),
])
def test_cancel_is_valid_only_while_the_supervision_is_active(runner: Runner, history: list[Command]) -> None:
    runner.run(
        given(CAST, history)
        .when(CancelSupervisorMonitoring(actor="s1", agent_id="a1"))
        .then_raises(InvalidState, 2)
    )


def test_cancel_without_the_api_multimedia_feature_is_forbidden(runner: Runner) -> None:
    runner.run(given(CAST).when(CancelSupervisorMonitoring(actor="s3", agent_id="a1"))
               .then_raises(Forbidden, 3))


@pytest.mark.parametrize(("supervisor", "agent"), [("s1", "nobody"), ("ghost", "a1")])
def test_cancel_with_an_unknown_id_is_not_found(runner: Runner, supervisor: str, agent: str) -> None:
    runner.run(given(CAST).when(CancelSupervisorMonitoring(actor=supervisor, agent_id=agent))
               .then_raises(NotFound, 6))


def test_cancel_does_not_remove_the_supervisor_from_a_session_in_progress(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"), chatting("x1", "a1"))
        .when(CancelSupervisorMonitoring(actor="s1", agent_id="a1"))
        .then(event(SupervisionCancelled, "agent:a1", 4, actor="s1", agent_id="a1",
                    supervisor_id="s1", mode=SupervisorMode.COACH, monitoring_mode=ALL))
    )
    session = world.session("x1")
    assert session is not None
    assert list(session.supervisors) == ["s1"]


def test_after_cancel_the_supervisor_still_coaches_the_session_in_progress(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"), chatting("x1", "a1"),
              CancelSupervisorMonitoring(actor="s1", agent_id="a1"))
        .when(SendMessage(actor="s1", session_id="x1", text="still here"))
        .then(event(MessageVisibleToAgent, "session:x1", 5, actor="s1", session_id="x1", index=0,
                    sender_id="s1", nickname="sam", text="still here"))
    )


def test_after_cancel_the_supervisor_must_leave_by_itself(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"), chatting("x1", "a1"),
              CancelSupervisorMonitoring(actor="s1", agent_id="a1"))
        .when(Leave(actor="s1", session_id="x1"))
        .then(event(SupervisorLeft, "session:x1", 5, actor="s1", session_id="x1", supervisor_id="s1"))
    )


def test_after_cancel_the_next_accepted_session_gets_no_supervisor(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"),
              CancelSupervisorMonitoring(actor="s1", agent_id="a1"), offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            event(AgentAccepted, "session:x1", 3, actor="a1", session_id="x1", agent_id="a1",
                  nickname="alice"),
            event(SessionAccepted, "agent:a1", 4, actor="a1", agent_id="a1", session_id="x1",
                  supervisors_added=()),
        )
    )


def test_after_cancel_a_new_set_up_is_allowed_in_another_mode(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"),
              CancelSupervisorMonitoring(actor="s1", agent_id="a1"))
        .when(Monitor(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT))
        .then(started(4, "s1", SupervisorMode.MONITOR, NEXT, "sam"))
    )
