"""Commands: what callers ask for, as immutable pydantic models.

Every command names its ``actor``: the user (agent, supervisor, customer) or system
(``"routing"``) that issues it. Constructing a command with a bad value raises a typed
:class:`~coaching.domain.errors.CoachingError` (GWS 1 or 10), never a bare pydantic error, so
a backend has one kind of refusal to handle. :func:`parse_command` does the same for plain data.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from coaching.domain.errors import from_validation_error
from coaching.domain.values import (
    Identifier,
    MessageText,
    MonitoringMode,
    Nickname,
    QueueName,
    SupervisorMode,
)

#: The actor name routing uses when it opens and offers sessions.
ROUTING = "routing"


class Command(BaseModel):
    """Base of every command: frozen, no unknown fields, typed refusals on bad input."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    actor: Identifier
    """Who issues the command."""

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise from_validation_error(type(self).__name__, error) from None


# --- registration -------------------------------------------------------------------------------


class RegisterAgent(Command):
    """Make an agent known, so sessions can be offered to it and supervisors can supervise it."""

    kind: Literal["RegisterAgent"] = "RegisterAgent"
    agent_id: Identifier
    username: Nickname
    nickname: Nickname | None = None
    team: Identifier | None = None


class RegisterSupervisor(Command):
    """Make a supervisor known, with its features and the agents and teams it may supervise."""

    kind: Literal["RegisterSupervisor"] = "RegisterSupervisor"
    supervisor_id: Identifier
    username: Nickname
    nickname: Nickname | None = None
    features: frozenset[Annotated[str, Field(min_length=1, max_length=64)]] = frozenset()
    agents: frozenset[Identifier] = frozenset()
    teams: frozenset[Identifier] = frozenset()


# --- a session's life, driven by the customer, routing and agents --------------------------------


class OpenSession(Command):
    """A customer's SMS arrives: a new session exists, waiting for an agent."""

    kind: Literal["OpenSession"] = "OpenSession"
    session_id: Identifier
    customer_id: Identifier
    customer_nickname: Nickname


class OfferSession(Command):
    """Routing invites an agent to a waiting session."""

    kind: Literal["OfferSession"] = "OfferSession"
    session_id: Identifier
    agent_id: Identifier


class Invite(Command):
    """An agent in the session invites a second agent: a conference the customer sees."""

    kind: Literal["Invite"] = "Invite"
    session_id: Identifier
    agent_id: Identifier


class Accept(Command):
    """The invited agent (the actor) joins the session; its supervisions join with it."""

    kind: Literal["Accept"] = "Accept"
    session_id: Identifier
    nickname: Nickname | None = None


class Reject(Command):
    """The invited agent (the actor) declines; nothing is consumed."""

    kind: Literal["Reject"] = "Reject"
    session_id: Identifier


class Leave(Command):
    """The actor, an agent or a supervisor, leaves the session."""

    kind: Literal["Leave"] = "Leave"
    session_id: Identifier


class Queue(Command):
    """An agent places the session in a queue (GWS Complete with queueName)."""

    kind: Literal["Queue"] = "Queue"
    session_id: Identifier
    queue_name: QueueName


class Complete(Command):
    """An agent completes the session (GWS Complete without queueName)."""

    kind: Literal["Complete"] = "Complete"
    session_id: Identifier


class SendMessage(Command):
    """The actor (customer, agent or supervisor) sends a message into the session."""

    kind: Literal["SendMessage"] = "SendMessage"
    session_id: Identifier
    text: MessageText


# --- supervision set-up on an agent (POST /api/v2/users/{agentId}/channels/smssession) ----------


class _SetUpSupervision(Command):
    """Shared shape of Monitor, Coach and BargeIn: the actor is the supervisor."""

    mode: ClassVar[SupervisorMode]
    agent_id: Identifier
    supervisor_monitoring_mode: MonitoringMode = MonitoringMode.ALL_CHATS
    nickname: Nickname | None = None


class Monitor(_SetUpSupervision):
    """Silently supervise the agent's sessions: seen only by other supervisors, cannot send."""

    mode: ClassVar[SupervisorMode] = SupervisorMode.MONITOR
    kind: Literal["Monitor"] = "Monitor"


class Coach(_SetUpSupervision):
    """Coach the agent: the supervisor's messages reach the agents, never the customer."""

    mode: ClassVar[SupervisorMode] = SupervisorMode.COACH
    kind: Literal["Coach"] = "Coach"


class BargeIn(_SetUpSupervision):
    """Barge into the agent's sessions: the supervisor is seen and heard by everyone."""

    mode: ClassVar[SupervisorMode] = SupervisorMode.BARGE_IN
    kind: Literal["BargeIn"] = "BargeIn"


SetUpSupervision = Monitor | Coach | BargeIn


class CancelSupervisorMonitoring(Command):
    """End the actor's supervision of the agent; a session in progress is not left."""

    kind: Literal["CancelSupervisorMonitoring"] = "CancelSupervisorMonitoring"
    agent_id: Identifier


# --- a supervisor inside one session ------------------------------------------------------------


class Intrude(Command):
    """Join a session in progress of a supervised agent, in the given mode or the supervision's."""

    kind: Literal["Intrude"] = "Intrude"
    agent_id: Identifier
    session_id: Identifier
    supervisor_visibility_mode: SupervisorMode | None = None


class _Switch(Command):
    """Shared shape of the three switches: the actor is a supervisor present in the session."""

    to_mode: ClassVar[SupervisorMode]
    session_id: Identifier


class SwitchToCoach(_Switch):
    """From Monitor or BargeIn to Coach."""

    to_mode: ClassVar[SupervisorMode] = SupervisorMode.COACH
    kind: Literal["SwitchToCoach"] = "SwitchToCoach"


class SwitchToBargeIn(_Switch):
    """From Monitor or Coach to BargeIn."""

    to_mode: ClassVar[SupervisorMode] = SupervisorMode.BARGE_IN
    kind: Literal["SwitchToBargeIn"] = "SwitchToBargeIn"


class SwitchToMonitor(_Switch):
    """From Coach or BargeIn to Monitor."""

    to_mode: ClassVar[SupervisorMode] = SupervisorMode.MONITOR
    kind: Literal["SwitchToMonitor"] = "SwitchToMonitor"


Switch = SwitchToCoach | SwitchToBargeIn | SwitchToMonitor

AnyCommand = Annotated[
    RegisterAgent
    | RegisterSupervisor
    | OpenSession
    | OfferSession
    | Invite
    | Accept
    | Reject
    | Leave
    | Queue
    | Complete
    | SendMessage
    | Monitor
    | Coach
    | BargeIn
    | CancelSupervisorMonitoring
    | Intrude
    | SwitchToCoach
    | SwitchToBargeIn
    | SwitchToMonitor,
    Field(discriminator="kind"),
]
"""Every command, discriminated on its ``kind``."""

_ANY_COMMAND: TypeAdapter[AnyCommand] = TypeAdapter(AnyCommand)


def parse_command(data: dict[str, Any] | str | bytes) -> Command:
    """Build a command from plain data (``{"kind": "Coach", ...}``) or JSON, with typed refusals."""
    try:
        if isinstance(data, (str, bytes)):
            return _ANY_COMMAND.validate_json(data)
        return _ANY_COMMAND.validate_python(data)
    except ValidationError as error:
        raise from_validation_error("Command", error) from None
