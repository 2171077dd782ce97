"""The SmsSession aggregate: participants, invitations and messages of one customer's session.

Rules found here, one function each:
- :func:`accept` — the supervisions of the accepting agent join, once each (never twice);
- :func:`send_message` — who may send, and the visibility of what is sent (Coach → Agents);
- :func:`leave` — an agent leaving while another remains removes no supervisor; the last agent
  leaving completes the session;
- :func:`queue` and :func:`complete` — every supervisor present is Revoked, once;
- :func:`intrude` — the only way into a session already in progress;
- :func:`switch` — a new mode from now on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from coaching.domain import agent as agent_rules
from coaching.domain.agent import Agent
from coaching.domain.errors import AlreadyExists, InvalidState, MissingParameter
from coaching.domain.events import (
    AgentAccepted,
    AgentInvited,
    AgentLeft,
    AgentRejected,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionCompleted,
    SessionEvent,
    SessionOpened,
    SessionQueued,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.stream import Stream, session_key
from coaching.domain.supervisor import Supervisor, check_may_supervise
from coaching.domain.values import (
    CompletionReason,
    InvitationKind,
    JoinedVia,
    MonitoringMode,
    ParticipantType,
    RevokeReason,
    SessionStatus,
    SupervisorMode,
    Visibility,
)


@dataclass(frozen=True, slots=True)
class SupervisorPresence:
    """A supervisor that is a participant of the session, and how."""

    supervisor_id: str
    nickname: str
    mode: SupervisorMode
    supervised_agent_id: str
    via: JoinedVia
    monitoring_mode: MonitoringMode | None

    @property
    def visibility(self) -> Visibility:
        """Who sees this supervisor (and its messages) now."""
        return self.mode.visibility


@dataclass(frozen=True, slots=True)
class SmsSession:
    """A session's state, rebuilt from its events by :func:`evolve`."""

    id: str
    version: int
    session_id: str
    customer_id: str
    customer_nickname: str
    status: SessionStatus
    queue_name: str | None
    agents: Mapping[str, str]
    """Agents in the session: agent id → nickname, in order of joining."""
    invitations: Mapping[str, InvitationKind]
    """Agents invited and not yet answered."""
    supervisors: Mapping[str, SupervisorPresence]
    message_count: int

    def participant_type(self, user_id: str) -> ParticipantType | None:
        """What the user is in this session now, or None if it is not a participant."""
        if user_id == self.customer_id and self.status is not SessionStatus.COMPLETED:
            return ParticipantType.CUSTOMER
        if user_id in self.agents:
            return ParticipantType.AGENT
        if user_id in self.supervisors:
            return ParticipantType.SUPERVISOR
        return None


def _check_open(session: SmsSession) -> None:
    if session.status is SessionStatus.COMPLETED:
        raise InvalidState(f"session {session.session_id!r} is completed; nothing more can happen in it")


def _check_agent_present(session: SmsSession, agent_id: str) -> None:
    if agent_id not in session.agents:
        raise InvalidState(f"agent {agent_id!r} is not in session {session.session_id!r}")


def _check_not_the_customer(session: SmsSession, user_id: str) -> None:
    """A user whose id is the session's customer id cannot take part as agent or supervisor."""
    if user_id == session.customer_id:
        raise AlreadyExists(f"{user_id!r} is the customer of session {session.session_id!r}")


def _revoke_all(new: Stream, session: SmsSession, reason: RevokeReason) -> list[DomainEvent]:
    """Revoked, once per supervisor present: the consequence of completion and queueing."""
    return [new(Revoked, session_id=session.session_id, supervisor_id=s, reason=reason)
            for s in session.supervisors]


# --- decisions --------------------------------------------------------------------------------


def open_session(session_id: str, customer_id: str, customer_nickname: str,
                 at: datetime, actor: str) -> list[DomainEvent]:
    """A customer's first SMS: a new session, waiting for an agent."""
    new = Stream(session_key(session_id), 0, at, actor)
    return [new(SessionOpened, session_id=session_id, customer_id=customer_id,
                customer_nickname=customer_nickname)]


def offer(session: SmsSession, agent: Agent, at: datetime, actor: str) -> list[DomainEvent]:
    """Routing invites an agent to a session that has no agent in it."""
    _check_open(session)
    _check_not_the_customer(session, agent.agent_id)
    if session.status is not SessionStatus.WAITING:
        raise InvalidState(
            f"session {session.session_id!r} already has an agent; use Invite for a conference"
        )
    if agent.agent_id in session.invitations:
        raise AlreadyExists(f"agent {agent.agent_id!r} is already invited to {session.session_id!r}")
    pending = [a for a, kind in session.invitations.items() if kind is InvitationKind.OFFER]
    if pending:  # one offer at a time, so two agents never both take the same customer (ADR 0010)
        raise InvalidState(
            f"session {session.session_id!r} is already offered to agent {pending[0]!r}; "
            "wait for its Accept or Reject"
        )
    new = Stream(session.id, session.version, at, actor)
    return [new(AgentInvited, session_id=session.session_id, agent_id=agent.agent_id,
                invitation=InvitationKind.OFFER)]


def invite(session: SmsSession, inviter_id: str, invitee: Agent, at: datetime) -> list[DomainEvent]:
    """An agent in the session invites another agent (conference)."""
    _check_open(session)
    _check_agent_present(session, inviter_id)
    _check_not_the_customer(session, invitee.agent_id)
    if invitee.agent_id in session.agents or invitee.agent_id in session.invitations:
        raise AlreadyExists(
            f"agent {invitee.agent_id!r} is already in or invited to {session.session_id!r}"
        )
    new = Stream(session.id, session.version, at, inviter_id)
    return [new(AgentInvited, session_id=session.session_id, agent_id=invitee.agent_id,
                invitation=InvitationKind.CONFERENCE)]


def accept(session: SmsSession, agent: Agent, nickname: str | None,
           at: datetime) -> list[DomainEvent]:
    """The agent joins; each of its active supervisions adds its supervisor, unless present.

    This is the only place a supervision (as opposed to Intrude) puts a supervisor into a
    session, so a supervision never joins a session that was already in progress when it was
    set up. The agent's side (NextChat ends) is :func:`coaching.domain.agent.on_session_accepted`.
    """
    _check_open(session)
    if agent.agent_id not in session.invitations:
        raise InvalidState(
            f"agent {agent.agent_id!r} has no pending invitation to session {session.session_id!r}"
        )
    new = Stream(session.id, session.version, at, agent.agent_id)
    events: list[DomainEvent] = [
        new(AgentAccepted, session_id=session.session_id, agent_id=agent.agent_id,
            nickname=nickname or agent.display_name)
    ]
    added: list[str] = []
    for supervision in agent.supervisions.values():
        if supervision.supervisor_id in session.supervisors:
            continue
        added.append(supervision.supervisor_id)
        events.append(new(
            SupervisorAdded, session_id=session.session_id,
            supervisor_id=supervision.supervisor_id, supervised_agent_id=agent.agent_id,
            mode=supervision.mode, visibility=supervision.mode.visibility,
            monitoring_mode=supervision.monitoring_mode, nickname=supervision.nickname,
            via=JoinedVia.SUPERVISION))
    return events + agent_rules.on_session_accepted(agent, session.session_id, added, at)


def reject(session: SmsSession, agent_id: str, at: datetime) -> list[DomainEvent]:
    """The invitation ends for this agent; no supervision is consumed."""
    _check_open(session)
    if agent_id not in session.invitations:
        raise InvalidState(f"agent {agent_id!r} has no pending invitation to {session.session_id!r}")
    new = Stream(session.id, session.version, at, agent_id)
    return [new(AgentRejected, session_id=session.session_id, agent_id=agent_id)]


def leave(session: SmsSession, user_id: str, at: datetime) -> list[DomainEvent]:
    """An agent or a supervisor leaves.

    An agent leaving while another agent remains changes nothing for the supervisors, whomever
    they supervise. The last agent leaving completes the session, which revokes them all.
    A supervisor leaving keeps its supervision of the agent (AllChats joins the next session).
    """
    _check_open(session)
    new = Stream(session.id, session.version, at, user_id)
    if user_id in session.agents:
        events: list[DomainEvent] = [new(AgentLeft, session_id=session.session_id, agent_id=user_id)]
        if len(session.agents) == 1:
            events.append(new(SessionCompleted, session_id=session.session_id,
                              reason=CompletionReason.LAST_AGENT_LEFT, agents_removed=()))
            events.extend(_revoke_all(new, session, RevokeReason.COMPLETED))
        return events
    if user_id in session.supervisors:
        return [new(SupervisorLeft, session_id=session.session_id, supervisor_id=user_id)]
    raise InvalidState(
        f"{user_id!r} is not a participant of session {session.session_id!r}, so cannot leave it"
        + ("; an invited agent answers with Reject" if user_id in session.invitations else "")
    )


def queue(session: SmsSession, agent_id: str, queue_name: str, at: datetime) -> list[DomainEvent]:
    """Placed in a queue: agents are out, every supervisor present is Revoked once."""
    _check_open(session)
    _check_agent_present(session, agent_id)
    new = Stream(session.id, session.version, at, agent_id)
    return [new(SessionQueued, session_id=session.session_id, queue_name=queue_name,
                agents_removed=tuple(session.agents)),
            *_revoke_all(new, session, RevokeReason.QUEUED)]


def complete(session: SmsSession, agent_id: str, at: datetime) -> list[DomainEvent]:
    """Completed: every supervisor present is Revoked once; the session is over."""
    _check_open(session)
    _check_agent_present(session, agent_id)
    new = Stream(session.id, session.version, at, agent_id)
    return [new(SessionCompleted, session_id=session.session_id,
                reason=CompletionReason.COMPLETED_BY_AGENT, agents_removed=tuple(session.agents)),
            *_revoke_all(new, session, RevokeReason.COMPLETED)]


def send_message(session: SmsSession, sender_id: str, text: str, at: datetime) -> list[DomainEvent]:
    """The visibility rule for messages.

    Customer and agents: seen by all. A Coach supervisor: ``MessageVisibleToAgent``, seen by
    agents and supervisors, never the customer. BargeIn: seen by all. Monitor: refused.
    """
    _check_open(session)
    new = Stream(session.id, session.version, at, sender_id)
    common = {"session_id": session.session_id, "index": session.message_count,
              "sender_id": sender_id, "text": text}
    if sender_id == session.customer_id:
        return [new(MessageVisibleToAll, sender_type=ParticipantType.CUSTOMER,
                    nickname=session.customer_nickname, **common)]
    if sender_id in session.agents:
        return [new(MessageVisibleToAll, sender_type=ParticipantType.AGENT,
                    nickname=session.agents[sender_id], **common)]
    presence = session.supervisors.get(sender_id)
    if presence is None:
        raise InvalidState(f"{sender_id!r} is not a participant of session {session.session_id!r}")
    if presence.mode is SupervisorMode.COACH:
        return [new(MessageVisibleToAgent, nickname=presence.nickname, **common)]
    if presence.mode is SupervisorMode.BARGE_IN:
        return [new(MessageVisibleToAll, sender_type=ParticipantType.SUPERVISOR,
                    nickname=presence.nickname, **common)]
    raise InvalidState(
        f"supervisor {sender_id!r} is monitoring session {session.session_id!r} and cannot send; "
        "switch to Coach or BargeIn first"
    )


def intrude(session: SmsSession, agent: Agent, supervisor: Supervisor,
            mode: SupervisorMode | None, at: datetime) -> list[DomainEvent]:
    """Join a session in progress of a supervised agent: the explicit way in.

    The mode is the one given, else the mode of the supervisor's active supervision of the
    agent; with neither, the request misses a parameter (GWS 1).
    """
    check_may_supervise(supervisor, agent)
    _check_open(session)
    _check_agent_present(session, agent.agent_id)
    _check_not_the_customer(session, supervisor.supervisor_id)
    if supervisor.supervisor_id in session.supervisors:
        raise AlreadyExists(
            f"supervisor {supervisor.supervisor_id!r} is already in session {session.session_id!r}"
        )
    supervision = agent.supervisions.get(supervisor.supervisor_id)
    if mode is None:
        if supervision is None:
            raise MissingParameter(
                "supervisor_visibility_mode is required: supervisor "
                f"{supervisor.supervisor_id!r} has no supervision of agent {agent.agent_id!r} "
                "to take the mode from"
            )
        mode = supervision.mode
    nickname = supervision.nickname if supervision else supervisor.default_nickname(None)
    new = Stream(session.id, session.version, at, supervisor.supervisor_id)
    return [new(SupervisorAdded, session_id=session.session_id,
                supervisor_id=supervisor.supervisor_id, supervised_agent_id=agent.agent_id,
                mode=mode, visibility=mode.visibility, monitoring_mode=None, nickname=nickname,
                via=JoinedVia.INTRUDE)]


def switch(session: SmsSession, supervisor_id: str, to_mode: SupervisorMode,
           at: datetime) -> list[DomainEvent]:
    """A present supervisor changes mode; visibility changes from now on, not for the past."""
    _check_open(session)
    presence = session.supervisors.get(supervisor_id)
    if presence is None:
        raise InvalidState(f"supervisor {supervisor_id!r} is not in session {session.session_id!r}")
    if presence.mode is to_mode:
        raise InvalidState(f"supervisor {supervisor_id!r} is already in {to_mode} mode")
    new = Stream(session.id, session.version, at, supervisor_id)
    return [new(SupervisorModeSwitched, session_id=session.session_id, supervisor_id=supervisor_id,
                from_mode=presence.mode, to_mode=to_mode, visibility=to_mode.visibility)]


# --- evolution --------------------------------------------------------------------------------


def _without(mapping: Mapping[str, Any], key: str) -> dict[str, Any]:
    rest = dict(mapping)
    rest.pop(key, None)
    return rest


# Replays call these once per event, so they build the next state with a positional call in the
# field order of SmsSession (id, version, session_id, customer_id, customer_nickname, status,
# queue_name, agents, invitations, supervisors, message_count): dataclasses.replace costs more
# than twice as much. Each returns the state `replace` would, field for field.


def _opened(_: None, e: SessionOpened) -> SmsSession:
    return SmsSession(e.originator_id, e.originator_version, e.session_id, e.customer_id,
                      e.customer_nickname, SessionStatus.WAITING, None, {}, {}, {}, 0)


def _invited(s: SmsSession, e: AgentInvited) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, s.agents, {**s.invitations, e.agent_id: e.invitation},
                      s.supervisors, s.message_count)


def _rejected(s: SmsSession, e: AgentRejected) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, s.agents, _without(s.invitations, e.agent_id),
                      s.supervisors, s.message_count)


def _accepted(s: SmsSession, e: AgentAccepted) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      SessionStatus.CHATTING, None, {**s.agents, e.agent_id: e.nickname},
                      _without(s.invitations, e.agent_id), s.supervisors, s.message_count)


def _agent_left(s: SmsSession, e: AgentLeft) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, _without(s.agents, e.agent_id), s.invitations,
                      s.supervisors, s.message_count)


def _supervisor_added(s: SmsSession, e: SupervisorAdded) -> SmsSession:
    presence = SupervisorPresence(e.supervisor_id, e.nickname, e.mode, e.supervised_agent_id,
                                  e.via, e.monitoring_mode)
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, s.agents, s.invitations,
                      {**s.supervisors, e.supervisor_id: presence}, s.message_count)


def _switched(s: SmsSession, e: SupervisorModeSwitched) -> SmsSession:
    presence = replace(s.supervisors[e.supervisor_id], mode=e.to_mode)
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, s.agents, s.invitations,
                      {**s.supervisors, e.supervisor_id: presence}, s.message_count)


def _supervisor_gone(s: SmsSession, e: SupervisorLeft | Revoked) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, s.agents, s.invitations,
                      _without(s.supervisors, e.supervisor_id), s.message_count)


def _message(s: SmsSession, e: MessageVisibleToAll | MessageVisibleToAgent) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      s.status, s.queue_name, s.agents, s.invitations, s.supervisors,
                      s.message_count + 1)


def _queued(s: SmsSession, e: SessionQueued) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      SessionStatus.WAITING, e.queue_name, {}, {}, s.supervisors, s.message_count)


def _completed(s: SmsSession, e: SessionCompleted) -> SmsSession:
    return SmsSession(s.id, e.originator_version, s.session_id, s.customer_id, s.customer_nickname,
                      SessionStatus.COMPLETED, s.queue_name, {}, {}, s.supervisors, s.message_count)


_EVOLVE: Mapping[type[SessionEvent], Callable[[Any, Any], SmsSession]] = {
    SessionOpened: _opened,
    AgentInvited: _invited,
    AgentRejected: _rejected,
    AgentAccepted: _accepted,
    AgentLeft: _agent_left,
    SupervisorAdded: _supervisor_added,
    SupervisorModeSwitched: _switched,
    SupervisorLeft: _supervisor_gone,
    Revoked: _supervisor_gone,
    MessageVisibleToAll: _message,
    MessageVisibleToAgent: _message,
    SessionQueued: _queued,
    SessionCompleted: _completed,
}


def evolve(state: SmsSession | None, event: DomainEvent) -> SmsSession:
    """Apply one event: pure, total over the session's events, no checks (events are facts)."""
    return _EVOLVE[type(event)](state, event)  # type: ignore[index]


def project(state: SmsSession | None, events: Iterable[DomainEvent]) -> SmsSession | None:
    """Fold events onto a state: the projector the repository and replays use."""
    for event in events:
        state = _EVOLVE[type(event)](state, event)  # type: ignore[index]
    return state
