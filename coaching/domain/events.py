"""Events: the immutable facts of the domain, and a public contract kept for years.

Each event class has an explicit ``TOPIC`` (``coaching:<Name>@v<N>``) that never changes with the
Python module layout; its JSON schema is committed under ``docs/events/`` and a test fails if the
shape drifts without a new version and an upcaster (see ``coaching.store.codec``).

Every event carries ``actor`` (who caused it) and ``timestamp``, plus the ids an auditor needs
(session, agent, supervisor) without looking anything up elsewhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict

from coaching.domain.values import (
    CompletionReason,
    InvitationKind,
    JoinedVia,
    MonitoringMode,
    ParticipantType,
    RevokeReason,
    SupervisionEndReason,
    SupervisorMode,
    Visibility,
)


class DomainEvent(BaseModel):
    """Base of every event. ``originator_id`` is the aggregate's id (``session:<id>`` …)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    TOPIC: ClassVar[str]

    originator_id: str
    originator_version: int
    timestamp: datetime
    actor: str


class AgentEvent(DomainEvent):
    """An event in an Agent's stream."""

    agent_id: str


class SupervisorEvent(DomainEvent):
    """An event in a Supervisor's stream."""

    supervisor_id: str


class SessionEvent(DomainEvent):
    """An event in an SmsSession's stream."""

    session_id: str


# --- Agent ------------------------------------------------------------------------------------


class AgentRegistered(AgentEvent):
    TOPIC: ClassVar[str] = "coaching:AgentRegistered@v1"
    username: str
    nickname: str | None
    team: str | None


class SupervisionStarted(AgentEvent):
    """A supervisor set up Monitor, Coach or BargeIn on this agent."""

    TOPIC: ClassVar[str] = "coaching:SupervisionStarted@v1"
    supervisor_id: str
    mode: SupervisorMode
    monitoring_mode: MonitoringMode
    nickname: str


class SupervisionCancelled(AgentEvent):
    """CancelSupervisorMonitoring: the supervision will join no further session."""

    TOPIC: ClassVar[str] = "coaching:SupervisionCancelled@v1"
    supervisor_id: str
    mode: SupervisorMode
    monitoring_mode: MonitoringMode


class SupervisionEnded(AgentEvent):
    """A NextChat supervision had its one session and stopped."""

    TOPIC: ClassVar[str] = "coaching:SupervisionEnded@v1"
    supervisor_id: str
    session_id: str
    reason: SupervisionEndReason


class SessionAccepted(AgentEvent):
    """The agent accepted a session; ``supervisors_added`` are the supervisions that joined it.

    Written on every Accept so that an Accept and a concurrent set-up or cancellation on the
    same agent conflict, and the log's order is the order in which the rules were applied.
    """

    TOPIC: ClassVar[str] = "coaching:SessionAccepted@v1"
    session_id: str
    supervisors_added: tuple[str, ...]


# --- Supervisor -------------------------------------------------------------------------------


class SupervisorRegistered(SupervisorEvent):
    TOPIC: ClassVar[str] = "coaching:SupervisorRegistered@v1"
    username: str
    nickname: str | None
    features: tuple[str, ...]
    agents: tuple[str, ...]
    teams: tuple[str, ...]


# --- SmsSession -------------------------------------------------------------------------------


class SessionOpened(SessionEvent):
    TOPIC: ClassVar[str] = "coaching:SessionOpened@v1"
    customer_id: str
    customer_nickname: str


class AgentInvited(SessionEvent):
    TOPIC: ClassVar[str] = "coaching:AgentInvited@v1"
    agent_id: str
    invitation: InvitationKind


class AgentRejected(SessionEvent):
    TOPIC: ClassVar[str] = "coaching:AgentRejected@v1"
    agent_id: str


class AgentAccepted(SessionEvent):
    TOPIC: ClassVar[str] = "coaching:AgentAccepted@v1"
    agent_id: str
    nickname: str


class AgentLeft(SessionEvent):
    TOPIC: ClassVar[str] = "coaching:AgentLeft@v1"
    agent_id: str


class SupervisorAdded(SessionEvent):
    """A supervisor became a participant, by a supervision of ``supervised_agent_id`` or Intrude."""

    TOPIC: ClassVar[str] = "coaching:SupervisorAdded@v1"
    supervisor_id: str
    supervised_agent_id: str
    mode: SupervisorMode
    visibility: Visibility
    monitoring_mode: MonitoringMode | None
    nickname: str
    via: JoinedVia


class SupervisorModeSwitched(SessionEvent):
    """From now on the supervisor takes part in ``to_mode``; earlier messages keep theirs."""

    TOPIC: ClassVar[str] = "coaching:SupervisorModeSwitched@v1"
    supervisor_id: str
    from_mode: SupervisorMode
    to_mode: SupervisorMode
    visibility: Visibility


class SupervisorLeft(SessionEvent):
    TOPIC: ClassVar[str] = "coaching:SupervisorLeft@v1"
    supervisor_id: str


class MessageVisibleToAll(SessionEvent):
    """A message every participant is shown: from the customer, an agent or a barging supervisor."""

    TOPIC: ClassVar[str] = "coaching:MessageVisibleToAll@v1"
    index: int
    sender_id: str
    sender_type: ParticipantType
    nickname: str
    text: str
    visibility: Literal[Visibility.ALL] = Visibility.ALL


class MessageVisibleToAgent(SessionEvent):
    """A coaching supervisor's message: shown to agents and supervisors, never to the customer."""

    TOPIC: ClassVar[str] = "coaching:MessageVisibleToAgent@v1"
    index: int
    sender_id: str
    sender_type: Literal[ParticipantType.SUPERVISOR] = ParticipantType.SUPERVISOR
    nickname: str
    text: str
    visibility: Literal[Visibility.AGENTS] = Visibility.AGENTS


class SessionQueued(SessionEvent):
    """Placed in a queue: every agent is out, every supervisor is revoked (Revoked follows)."""

    TOPIC: ClassVar[str] = "coaching:SessionQueued@v1"
    queue_name: str
    agents_removed: tuple[str, ...]


class SessionCompleted(SessionEvent):
    """Completed for good: every supervisor is revoked (Revoked follows)."""

    TOPIC: ClassVar[str] = "coaching:SessionCompleted@v1"
    reason: CompletionReason
    agents_removed: tuple[str, ...]


class Revoked(SessionEvent):
    """The supervisor received session state Revoked and is no longer a participant."""

    TOPIC: ClassVar[str] = "coaching:Revoked@v1"
    supervisor_id: str
    reason: RevokeReason


AGENT_EVENTS: tuple[type[AgentEvent], ...] = (
    AgentRegistered,
    SupervisionStarted,
    SupervisionCancelled,
    SupervisionEnded,
    SessionAccepted,
)
SUPERVISOR_EVENTS: tuple[type[SupervisorEvent], ...] = (SupervisorRegistered,)
SESSION_EVENTS: tuple[type[SessionEvent], ...] = (
    SessionOpened,
    AgentInvited,
    AgentRejected,
    AgentAccepted,
    AgentLeft,
    SupervisorAdded,
    SupervisorModeSwitched,
    SupervisorLeft,
    MessageVisibleToAll,
    MessageVisibleToAgent,
    SessionQueued,
    SessionCompleted,
    Revoked,
)
ALL_EVENTS: tuple[type[DomainEvent], ...] = AGENT_EVENTS + SUPERVISOR_EVENTS + SESSION_EVENTS
"""Every current event class; ``coaching.store.codec`` maps their topics."""

MessageEvent = MessageVisibleToAll | MessageVisibleToAgent
