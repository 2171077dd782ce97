"""Accept: every active supervision of the accepting agent joins, once; NextChat and AllChats."""

from __future__ import annotations

import pytest

from coaching.domain.commands import (
    Accept,
    BargeIn,
    CancelSupervisorMonitoring,
    Coach,
    Command,
    Invite,
    Monitor,
    OfferSession,
    OpenSession,
    RegisterAgent,
    RegisterSupervisor,
    Reject,
)
from coaching.domain.errors import AlreadyExists, InvalidState, NotFound
from coaching.domain.events import (
    AgentAccepted,
    AgentInvited,
    AgentRejected,
    SessionAccepted,
    SupervisionEnded,
    SupervisorAdded,
)
from coaching.domain.values import (
    InvitationKind,
    JoinedVia,
    MonitoringMode,
    SupervisionEndReason,
    SupervisorMode,
)
from coaching.testing import Runner, event, given

MULTIMEDIA = frozenset({"api-multimedia"})
ALL, NEXT = MonitoringMode.ALL_CHATS, MonitoringMode.NEXT_CHAT

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterAgent(actor="admin", agent_id="a2", username="bob", nickname="Bobby", team="t1"),
    # s1 may supervise a1; s2 (nickname "Coach Sue") every agent of team t1, so a1 and a2.
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    RegisterSupervisor(actor="admin", supervisor_id="s2", username="sue", nickname="Coach Sue",
                       features=MULTIMEDIA, teams=frozenset({"t1"})),
)


def offered(session_id: str, agent_id: str) -> list[Command]:
    """A session opened by a customer and offered to the agent."""
    return [OpenSession(actor="routing", session_id=session_id, customer_id=f"c-{session_id}",
                        customer_nickname="Carol"),
            OfferSession(actor="routing", session_id=session_id, agent_id=agent_id)]


def chatting(session_id: str, agent_id: str) -> list[Command]:
    """A session offered to the agent and accepted."""
    return [*offered(session_id, agent_id), Accept(actor=agent_id, session_id=session_id)]


def accepted(session: str, version: int, agent: str, nickname: str) -> AgentAccepted:
    return event(AgentAccepted, f"session:{session}", version, actor=agent, session_id=session,
                 agent_id=agent, nickname=nickname)


def added(session: str, version: int, agent: str, supervisor: str, mode: SupervisorMode,
          monitoring: MonitoringMode, nickname: str) -> SupervisorAdded:
    return event(SupervisorAdded, f"session:{session}", version, actor=agent, session_id=session,
                 supervisor_id=supervisor, supervised_agent_id=agent, mode=mode,
                 visibility=mode.visibility, monitoring_mode=monitoring, nickname=nickname,
                 via=JoinedVia.SUPERVISION)


def agent_accepted(agent: str, version: int, session: str, *supervisors: str) -> SessionAccepted:
    return event(SessionAccepted, f"agent:{agent}", version, actor=agent, agent_id=agent,
                 session_id=session, supervisors_added=supervisors)


def ended(agent: str, version: int, supervisor: str, session: str) -> SupervisionEnded:
    return event(SupervisionEnded, f"agent:{agent}", version, actor=agent, agent_id=agent,
                 supervisor_id=supervisor, session_id=session,
                 reason=SupervisionEndReason.NEXT_CHAT_USED)


# --- every active supervision joins ---------------------------------------------------------------


def test_accept_without_supervision_adds_no_supervisor(runner: Runner) -> None:
    runner.run(
        given(CAST, offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(accepted("x1", 3, "a1", "alice"), agent_accepted("a1", 2, "x1"))
    )


def test_accept_uses_the_nickname_given_then_the_registered_one(runner: Runner) -> None:
    runner.run(
        given(CAST, offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1", nickname="Ali"))
        .then(accepted("x1", 3, "a1", "Ali"), agent_accepted("a1", 2, "x1"))
    )
    runner.run(
        given(CAST, offered("x1", "a2"))
        .when(Accept(actor="a2", session_id="x1"))
        .then(accepted("x1", 3, "a2", "Bobby"), agent_accepted("a2", 2, "x1"))
    )


def test_accept_adds_the_supervisor_of_an_all_chats_supervision(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1"), offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            accepted("x1", 3, "a1", "alice"),
            added("x1", 4, "a1", "s1", SupervisorMode.COACH, ALL, "sam"),
            agent_accepted("a1", 3, "x1", "s1"),
        )
    )
    session, agent = world.session("x1"), world.agent("a1")
    assert session is not None and agent is not None
    assert list(session.supervisors) == ["s1"]
    assert list(agent.supervisions) == ["s1"]  # AllChats goes on


def test_accept_adds_every_active_supervision_in_the_order_they_were_set_up(runner: Runner) -> None:
    runner.run(
        given(CAST, Monitor(actor="s2", agent_id="a1", nickname="Quiet Sue"),
              BargeIn(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT),
              offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            accepted("x1", 3, "a1", "alice"),
            added("x1", 4, "a1", "s2", SupervisorMode.MONITOR, ALL, "Quiet Sue"),
            added("x1", 5, "a1", "s1", SupervisorMode.BARGE_IN, NEXT, "sam"),
            agent_accepted("a1", 4, "x1", "s2", "s1"),
            ended("a1", 5, "s1", "x1"),
        )
    )


def test_a_supervisor_already_present_is_not_added_twice(runner: Runner) -> None:
    # s2 supervises both agents of a conference: it joined with a1, a2's accept must not add it again.
    world = runner.run(
        given(CAST, Coach(actor="s2", agent_id="a1"), Coach(actor="s2", agent_id="a2"),
              chatting("x1", "a1"), Invite(actor="a1", session_id="x1", agent_id="a2"))
        .when(Accept(actor="a2", session_id="x1"))
        .then(accepted("x1", 6, "a2", "Bobby"), agent_accepted("a2", 3, "x1"))
    )
    session = world.session("x1")
    assert session is not None
    assert list(session.supervisors) == ["s2"]
    assert session.supervisors["s2"].supervised_agent_id == "a1"


def test_in_a_conference_only_the_supervisors_not_yet_present_are_added(runner: Runner) -> None:
    # a2's supervisors are s2 (already in, through a1) and s4 (not yet in): only s4 is added.
    runner.run(
        given(CAST, RegisterSupervisor(actor="admin", supervisor_id="s4", username="sid",
                                       features=MULTIMEDIA, teams=frozenset({"t1"})),
              Coach(actor="s2", agent_id="a1"), Coach(actor="s1", agent_id="a1"),
              Monitor(actor="s2", agent_id="a2"), Monitor(actor="s4", agent_id="a2"),
              chatting("x1", "a1"), Invite(actor="a1", session_id="x1", agent_id="a2"))
        .when(Accept(actor="a2", session_id="x1"))
        .then(
            accepted("x1", 7, "a2", "Bobby"),
            added("x1", 8, "a2", "s4", SupervisorMode.MONITOR, ALL, "sid"),
            agent_accepted("a2", 4, "x1", "s4"),
        )
    )


# --- NextChat -------------------------------------------------------------------------------------


def test_next_chat_joins_the_first_accepted_session_then_ends(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT),
              offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            accepted("x1", 3, "a1", "alice"),
            added("x1", 4, "a1", "s1", SupervisorMode.COACH, NEXT, "sam"),
            agent_accepted("a1", 3, "x1", "s1"),
            ended("a1", 4, "s1", "x1"),
        )
    )
    agent = world.agent("a1")
    assert agent is not None
    assert dict(agent.supervisions) == {}


def test_next_chat_does_not_join_a_second_session(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT),
              chatting("x1", "a1"), offered("x2", "a1"))
        .when(Accept(actor="a1", session_id="x2"))
        .then(accepted("x2", 3, "a1", "alice"), agent_accepted("a1", 5, "x2"))
    )


def test_next_chat_ends_only_itself_all_chats_goes_on(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT),
              Monitor(actor="s2", agent_id="a1"), offered("x1", "a1"))
        .when(Accept(actor="a1", session_id="x1"))
        .then(
            accepted("x1", 3, "a1", "alice"),
            added("x1", 4, "a1", "s1", SupervisorMode.COACH, NEXT, "sam"),
            added("x1", 5, "a1", "s2", SupervisorMode.MONITOR, ALL, "Coach Sue"),
            agent_accepted("a1", 4, "x1", "s1", "s2"),
            ended("a1", 5, "s1", "x1"),
        )
    )
    agent = world.agent("a1")
    assert agent is not None
    assert list(agent.supervisions) == ["s2"]


def test_next_chat_is_consumed_even_if_its_supervisor_is_already_present(runner: Runner) -> None:
    # ADR decision: the NextChat supervision of a2 by s2 is used up by a2's first accept, even
    # though s2 was already in the session through its supervision of a1.
    runner.run(
        given(CAST, Coach(actor="s2", agent_id="a1"),
              Monitor(actor="s2", agent_id="a2", supervisor_monitoring_mode=NEXT),
              chatting("x1", "a1"), Invite(actor="a1", session_id="x1", agent_id="a2"))
        .when(Accept(actor="a2", session_id="x1"))
        .then(
            accepted("x1", 6, "a2", "Bobby"),
            agent_accepted("a2", 3, "x1"),
            ended("a2", 4, "s2", "x1"),
        )
    )


def test_a_consumed_next_chat_does_not_join_the_agents_following_session(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s2", agent_id="a1"),
              Monitor(actor="s2", agent_id="a2", supervisor_monitoring_mode=NEXT),
              chatting("x1", "a1"), Invite(actor="a1", session_id="x1", agent_id="a2"),
              Accept(actor="a2", session_id="x1"), offered("x2", "a2"))
        .when(Accept(actor="a2", session_id="x2"))
        .then(accepted("x2", 3, "a2", "Bobby"), agent_accepted("a2", 5, "x2"))
    )


# --- AllChats -------------------------------------------------------------------------------------


def test_all_chats_joins_every_accepted_session(runner: Runner) -> None:
    world = runner.run(
        given(CAST, BargeIn(actor="s1", agent_id="a1"), chatting("x1", "a1"), chatting("x2", "a1"),
              offered("x3", "a1"))
        .when(Accept(actor="a1", session_id="x3"))
        .then(
            accepted("x3", 3, "a1", "alice"),
            added("x3", 4, "a1", "s1", SupervisorMode.BARGE_IN, ALL, "sam"),
            agent_accepted("a1", 5, "x3", "s1"),
        )
    )
    for session_id in ("x1", "x2", "x3"):
        session = world.session(session_id)
        assert session is not None
        assert list(session.supervisors) == ["s1"], session_id


def test_all_chats_stops_joining_after_cancel(runner: Runner) -> None:
    runner.run(
        given(CAST, BargeIn(actor="s1", agent_id="a1"), chatting("x1", "a1"),
              CancelSupervisorMonitoring(actor="s1", agent_id="a1"), offered("x2", "a1"))
        .when(Accept(actor="a1", session_id="x2"))
        .then(accepted("x2", 3, "a1", "alice"), agent_accepted("a1", 5, "x2"))
    )


# --- Reject consumes nothing ----------------------------------------------------------------------


def test_reject_ends_the_invitation_only(runner: Runner) -> None:
    world = runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT),
              offered("x1", "a1"))
        .when(Reject(actor="a1", session_id="x1"))
        .then(event(AgentRejected, "session:x1", 3, actor="a1", session_id="x1", agent_id="a1"))
    )
    agent, session = world.agent("a1"), world.session("x1")
    assert agent is not None and session is not None
    assert list(agent.supervisions) == ["s1"]
    assert dict(session.supervisors) == {} and dict(session.invitations) == {}


def test_after_a_reject_next_chat_still_joins_the_next_accepted_session(runner: Runner) -> None:
    runner.run(
        given(CAST, Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode=NEXT),
              offered("x1", "a1"), Reject(actor="a1", session_id="x1"), offered("x2", "a1"))
        .when(Accept(actor="a1", session_id="x2"))
        .then(
            accepted("x2", 3, "a1", "alice"),
            added("x2", 4, "a1", "s1", SupervisorMode.COACH, NEXT, "sam"),
            agent_accepted("a1", 3, "x2", "s1"),
            ended("a1", 4, "s1", "x2"),
        )
    )


def test_a_rejected_session_can_be_offered_again(runner: Runner) -> None:
    runner.run(
        given(CAST, offered("x1", "a1"), Reject(actor="a1", session_id="x1"))
        .when(OfferSession(actor="routing", session_id="x1", agent_id="a2"))
        .then(event(AgentInvited, "session:x1", 4, actor="routing", session_id="x1", agent_id="a2",
                    invitation=InvitationKind.OFFER))
    )


# --- refusals around invitations ------------------------------------------------------------------


@pytest.mark.parametrize("history", [
    pytest.param([OpenSession(actor="routing", session_id="x1", customer_id="c", customer_nickname="C")],
                 id="never-invited"),
    pytest.param([*offered("x1", "a1"), Reject(actor="a1", session_id="x1")], id="rejected"),
    pytest.param(chatting("x1", "a1"), id="already-accepted"),
    pytest.param(offered("x1", "a2"), id="someone-else-invited"),
])
@pytest.mark.parametrize("answer", [Accept, Reject])
def test_only_a_pending_invitation_can_be_accepted_or_rejected(
        runner: Runner, history: list[Command], answer: type[Accept | Reject]) -> None:
    runner.run(given(CAST, history).when(answer(actor="a1", session_id="x1"))
               .then_raises(InvalidState, 2))


@pytest.mark.parametrize(("agent", "session"), [("a1", "nowhere"), ("ghost", "x1")])
def test_accept_with_an_unknown_id_is_not_found(runner: Runner, agent: str, session: str) -> None:
    runner.run(given(CAST, offered("x1", "a1")).when(Accept(actor=agent, session_id=session))
               .then_raises(NotFound, 6))


def test_an_offer_goes_only_to_a_waiting_session(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"))
        .when(OfferSession(actor="routing", session_id="x1", agent_id="a2"))
        .then_raises(InvalidState, 2)
    )


def test_an_agent_is_offered_a_session_once(runner: Runner) -> None:
    runner.run(
        given(CAST, offered("x1", "a1"))
        .when(OfferSession(actor="routing", session_id="x1", agent_id="a1"))
        .then_raises(AlreadyExists, 18)
    )


def test_a_session_is_offered_to_one_agent_at_a_time(runner: Runner) -> None:
    """ADR 0010: two pending offers could let two agents both take the same customer."""
    runner.run(
        given(CAST, offered("x1", "a1"))
        .when(OfferSession(actor="routing", session_id="x1", agent_id="a2"))
        .then_raises(InvalidState, 2)
    )


def test_after_a_reject_the_session_can_be_offered_to_another_agent(runner: Runner) -> None:
    runner.run(
        given(CAST, offered("x1", "a1"), Reject(actor="a1", session_id="x1"))
        .when(OfferSession(actor="routing", session_id="x1", agent_id="a2"))
        .then(event(AgentInvited, "session:x1", 4, actor="routing", session_id="x1", agent_id="a2",
                    invitation=InvitationKind.OFFER))
    )


@pytest.mark.parametrize(("session", "agent"), [("nowhere", "a1"), ("x1", "ghost")])
def test_an_offer_with_an_unknown_id_is_not_found(runner: Runner, session: str, agent: str) -> None:
    runner.run(
        given(CAST, offered("x1", "a2"), Reject(actor="a2", session_id="x1"))
        .when(OfferSession(actor="routing", session_id=session, agent_id=agent))
        .then_raises(NotFound, 6)
    )


def test_invite_makes_a_conference_invitation(runner: Runner) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"))
        .when(Invite(actor="a1", session_id="x1", agent_id="a2"))
        .then(event(AgentInvited, "session:x1", 4, actor="a1", session_id="x1", agent_id="a2",
                    invitation=InvitationKind.CONFERENCE))
    )


def test_only_an_agent_in_the_session_may_invite(runner: Runner) -> None:
    runner.run(
        given(CAST, offered("x1", "a1"))
        .when(Invite(actor="a1", session_id="x1", agent_id="a2"))
        .then_raises(InvalidState, 2)
    )


@pytest.mark.parametrize("history", [
    pytest.param([Invite(actor="a1", session_id="x1", agent_id="a2")], id="already-invited"),
    pytest.param([Invite(actor="a1", session_id="x1", agent_id="a2"), Accept(actor="a2", session_id="x1")],
                 id="already-in"),
])
def test_an_agent_already_in_or_invited_cannot_be_invited(runner: Runner, history: list[Command]) -> None:
    runner.run(
        given(CAST, chatting("x1", "a1"), history)
        .when(Invite(actor="a1", session_id="x1", agent_id="a2"))
        .then_raises(AlreadyExists, 18)
    )
