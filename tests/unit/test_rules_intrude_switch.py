"""Intrude, the explicit way into a session in progress; and the switches between modes."""

from __future__ import annotations

import pytest

from coaching.domain.commands import (
    Accept,
    CancelSupervisorMonitoring,
    Coach,
    Command,
    Intrude,
    Invite,
    Leave,
    Monitor,
    OfferSession,
    OpenSession,
    Queue,
    RegisterAgent,
    RegisterSupervisor,
    SwitchToBargeIn,
    SwitchToCoach,
    SwitchToMonitor,
)
from coaching.domain.errors import (
    AlreadyExists,
    Forbidden,
    InvalidState,
    MissingParameter,
    NoPermission,
    NotFound,
)
from coaching.domain.events import (
    AgentAccepted,
    SessionAccepted,
    SupervisionEnded,
    SupervisorAdded,
    SupervisorModeSwitched,
)
from coaching.domain.values import (
    JoinedVia,
    MonitoringMode,
    SupervisionEndReason,
    SupervisorMode,
    Visibility,
)
from coaching.testing import Runner, event, given

MULTIMEDIA = frozenset({"api-multimedia"})
MONITOR, COACH, BARGE_IN = SupervisorMode.MONITOR, SupervisorMode.COACH, SupervisorMode.BARGE_IN

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterAgent(actor="admin", agent_id="a2", username="bob", team="t2"),
    # s1 may supervise a1; s2 (nickname "Coach Sue") team t1; s3 lacks the api-multimedia feature.
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s2", username="sue", nickname="Coach Sue",
                       features=MULTIMEDIA, teams=frozenset({"t1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s3", username="syd", agents=frozenset({"a1"})),
)


def chatting(session_id: str, agent_id: str) -> list[Command]:
    """The agent accepted the session (at version 3); nobody supervises it yet."""
    return [OpenSession(actor="routing", session_id=session_id, customer_id=f"c-{session_id}",
                        customer_nickname="Carol"),
            OfferSession(actor="routing", session_id=session_id, agent_id=agent_id),
            Accept(actor=agent_id, session_id=session_id)]


def intruded(version: int, supervisor: str, mode: SupervisorMode, nickname: str,
             agent: str = "a1", session: str = "x1") -> SupervisorAdded:
    return event(SupervisorAdded, f"session:{session}", version, actor=supervisor, session_id=session,
                 supervisor_id=supervisor, supervised_agent_id=agent, mode=mode,
                 visibility=mode.visibility, monitoring_mode=None, nickname=nickname,
                 via=JoinedVia.INTRUDE)


def switched(version: int, supervisor: str, from_mode: SupervisorMode,
             to_mode: SupervisorMode) -> SupervisorModeSwitched:
    return event(SupervisorModeSwitched, "session:x1", version, actor=supervisor, session_id="x1",
                 supervisor_id=supervisor, from_mode=from_mode, to_mode=to_mode,
                 visibility=to_mode.visibility)


# --- Intrude --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(SupervisorMode))
def test_intrude_with_a_mode_joins_a_session_in_progress(runner: Runner, mode: SupervisorMode) -> None:
    world = runner.run(
        given(CAST, chatting("x1", "a1"))
        .when(Intrude(actor="s2", agent_id="a1", session_id="x1", supervisor_visibility_mode=mode))
        .then(intruded(4, "s2", mode, "Coach Sue"))
    )
    session = world.session("x1")
    assert session is not None
    assert session.supervisors["s2"].mode is mode


def test_intrude_without_a_mode_takes_the_mode_and_nickname_of_the_supervision(runner: Runner) -> None:
    # the canonical case: supervision set up while a1 was already in x1, so it did not join x1
    runner.run(
        given(CAST, chatting("x1", "a1"), Monitor(actor="s1", agent_id="a1", nickname="Shadow"))
        .when(Intrude(actor="s1", agent_id="a1", session_id="x1"))
        .then(intruded(4, "s1", MONITOR, "Shadow"))
    )


def test_a_mode_given_to_intrude_wins_over_the_supervisions(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"), Coach(actor="s1", agent_id="a1"))
        .when(Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=BARGE_IN))
        .then(intruded(4, "s1", BARGE_IN, "sam"))
    )


def test_intrude_does_not_consume_a_next_chat_supervision(runner: Runner) -> None:
    world = runner.run(
        given(CAST, chatting("x1", "a1"),
              Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=MonitoringMode.NEXT_CHAT),
              Intrude(actor="s1", agent_id="a1", session_id="x1"),
              chatting("x2", "a1")[:2])
        .when(Accept(actor="a1", session_id="x2"))
        .then(
            event(AgentAccepted, "session:x2", 3, actor="a1", session_id="x2", agent_id="a1",
                  nickname="alice"),
            event(SupervisorAdded, "session:x2", 4, actor="a1", session_id="x2", supervisor_id="s1",
                  supervised_agent_id="a1", mode=COACH, visibility=Visibility.AGENTS,
                  monitoring_mode=MonitoringMode.NEXT_CHAT, nickname="sam",
                  via=JoinedVia.SUPERVISION),
            event(SessionAccepted, "agent:a1", 4, actor="a1", agent_id="a1", session_id="x2",
                  supervisors_added=("s1",)),
            event(SupervisionEnded, "agent:a1", 5, actor="a1", agent_id="a1", supervisor_id="s1",
                  session_id="x2", reason=SupervisionEndReason.NEXT_CHAT_USED),
        )
    )
    first = world.session("x1")
    assert first is not None
    assert list(first.supervisors) == ["s1"]


def test_a_supervisor_who_left_may_intrude_again(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"),
              Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=COACH),
              Leave(actor="s1", session_id="x1"))
        .when(Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=MONITOR))
        .then(intruded(6, "s1", MONITOR, "sam"))
    )


@pytest.mark.parametrize("history", [
    pytest.param([], id="never-supervised"),
    pytest.param([Coach(actor="s1", agent_id="a1"), CancelSupervisorMonitoring(actor="s1", agent_id="a1")],
                 id="supervision-cancelled"),
    pytest.param([Coach(actor="s2", agent_id="a1")], id="only-someone-elses-supervision"),
])
def test_intrude_without_a_mode_or_a_supervision_misses_a_parameter(
        runner: Runner, history: list[Command]) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"), history)
        .when(Intrude(actor="s1", agent_id="a1", session_id="x1"))
        .then_raises(MissingParameter, 1)
    )


def test_intrude_needs_the_right_to_supervise_the_agent(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x2", "a2"))
        .when(Intrude(actor="s1", agent_id="a2", session_id="x2", supervisor_visibility_mode=COACH))
        .then_raises(NoPermission, 5)
    )


def test_intrude_needs_the_api_multimedia_feature(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"))
        .when(Intrude(actor="s3", agent_id="a1", session_id="x1", supervisor_visibility_mode=COACH))
        .then_raises(Forbidden, 3)
    )


@pytest.mark.parametrize("history", [
    pytest.param([*chatting("x1", "a2")], id="agent-never-in-it"),
    pytest.param([*chatting("x1", "a2"), Invite(actor="a2", session_id="x1", agent_id="a1")],
                 id="agent-only-invited"),
    pytest.param([*chatting("x1", "a2"), Invite(actor="a2", session_id="x1", agent_id="a1"),
                  Accept(actor="a1", session_id="x1"), Leave(actor="a1", session_id="x1")],
                 id="agent-left"),
    pytest.param([*chatting("x1", "a1"), Queue(actor="a1", session_id="x1", queue_name="q")],
                 id="session-queued"),
])
def test_intrude_needs_the_agent_in_the_session(runner: Runner, history: list[Command]) -> None:
    runner.run(
        given(CAST, history)
        .when(Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=COACH))
        .then_raises(InvalidState, 2)
    )


@pytest.mark.parametrize("history", [
    pytest.param([Coach(actor="s1", agent_id="a1"), *chatting("x1", "a1")], id="joined-by-supervision"),
    pytest.param([*chatting("x1", "a1"),
                  Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=MONITOR)],
                 id="joined-by-intrude"),
])
def test_intrude_by_a_supervisor_already_present_is_refused(runner: Runner, history: list[Command]) -> None:
    runner.run(
        given(CAST, history)
        .when(Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=COACH))
        .then_raises(AlreadyExists, 18)
    )


@pytest.mark.parametrize(("supervisor", "agent", "session"), [
    ("ghost", "a1", "x1"),
    ("s1", "nobody", "x1"),
    ("s1", "a1", "x9"),
])
def test_intrude_with_an_unknown_id_is_not_found(
        runner: Runner, supervisor: str, agent: str, session: str) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"))
        .when(Intrude(actor=supervisor, agent_id=agent, session_id=session,
                      supervisor_visibility_mode=COACH))
        .then_raises(NotFound, 6)
    )


# --- switches -------------------------------------------------------------------------------------

SWITCH = {COACH: SwitchToCoach, BARGE_IN: SwitchToBargeIn, MONITOR: SwitchToMonitor}


@pytest.mark.parametrize(("from_mode", "to_mode"), [
    (MONITOR, COACH), (MONITOR, BARGE_IN),
    (COACH, BARGE_IN), (COACH, MONITOR),
    (BARGE_IN, COACH), (BARGE_IN, MONITOR),
])
def test_a_present_supervisor_switches_mode(
        runner: Runner, from_mode: SupervisorMode, to_mode: SupervisorMode) -> None:
    world = runner.run(
        given(CAST, chatting("x1", "a1"),
              Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=from_mode))
        .when(SWITCH[to_mode](actor="s1", session_id="x1"))
        .then(switched(5, "s1", from_mode, to_mode))
    )
    session = world.session("x1")
    assert session is not None
    assert session.supervisors["s1"].mode is to_mode
    assert session.supervisors["s1"].visibility is to_mode.visibility


def test_switches_chain_from_the_current_mode(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"), Coach(actor="s1", agent_id="a1"),
              Intrude(actor="s1", agent_id="a1", session_id="x1"),
              SwitchToBargeIn(actor="s1", session_id="x1"))
        .when(SwitchToMonitor(actor="s1", session_id="x1"))
        .then(switched(6, "s1", BARGE_IN, MONITOR))
    )


@pytest.mark.parametrize("mode", list(SupervisorMode))
def test_switching_to_the_mode_already_held_is_refused(runner: Runner, mode: SupervisorMode) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"),
              Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=mode))
        .when(SWITCH[mode](actor="s1", session_id="x1"))
        .then_raises(InvalidState, 2)
    )


@pytest.mark.parametrize("history", [
    pytest.param([], id="never-in-it"),
    pytest.param([Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=COACH),
                  Leave(actor="s1", session_id="x1")], id="left"),
    pytest.param([Intrude(actor="s1", agent_id="a1", session_id="x1", supervisor_visibility_mode=COACH),
                  Queue(actor="a1", session_id="x1", queue_name="q")], id="revoked"),
])
def test_only_a_supervisor_present_may_switch(runner: Runner, history: list[Command]) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"), history)
        .when(SwitchToBargeIn(actor="s1", session_id="x1"))
        .then_raises(InvalidState, 2)
    )


def test_an_agent_cannot_switch(runner: Runner) -> None:
    runner.run(given(CAST, chatting("x1", "a1")).when(SwitchToCoach(actor="a1", session_id="x1"))
               .then_raises(NotFound, 6))


@pytest.mark.parametrize(("supervisor", "session"), [("ghost", "x1"), ("s1", "x9")])
def test_switch_with_an_unknown_id_is_not_found(runner: Runner, supervisor: str, session: str) -> None:
    runner.run(given(CAST, chatting("x1", "a1")).when(SwitchToCoach(actor=supervisor, session_id=session))
               .then_raises(NotFound, 6))


def test_switch_needs_the_api_multimedia_feature(runner: Runner) -> None:
    # s3 cannot get in by any command; the Given records it as present, as a fact.
    runner.run(
        given(CAST, chatting("x1", "a1"), intruded(4, "s3", COACH, "syd"))
        .when(SwitchToBargeIn(actor="s3", session_id="x1"))
        .then_raises(Forbidden, 3)
    )
