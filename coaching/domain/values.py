"""The vocabulary of the domain: modes, visibilities and identifiers, spelled as GWS spells them.

Every visibility decision in the library goes through :func:`can_see`, so the rule
"a coaching supervisor's words never reach the customer" lives in exactly one place.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Final

from pydantic import StringConstraints

#: The feature GWS requires on the caller of every SMS Session API operation.
API_MULTIMEDIA: Final = "api-multimedia"

#: The longest SMS text we accept: 1600 characters is the carrier limit for a concatenated
#: SMS (10 segments), so anything longer could never have been delivered as one message.
MAX_TEXT_LENGTH: Final = 1600

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.@:\-]*$"),
]
"""A GWS identifier (user id, session id): 1 to 64 characters, letters, digits and ``_.@:-``."""

Nickname = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")
]
"""A display name: 1 to 64 printable characters."""

QueueName = Annotated[
    str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
]
"""A queue's name as GWS routing knows it."""

MessageText = Annotated[str, StringConstraints(min_length=1, max_length=MAX_TEXT_LENGTH)]
"""The text of one SMS message."""


class SupervisorMode(StrEnum):
    """How a supervisor takes part in a session (GWS ``supervisorVisibilityMode``)."""

    MONITOR = "Monitor"
    COACH = "Coach"
    BARGE_IN = "BargeIn"

    @property
    def visibility(self) -> Visibility:
        """Who sees a supervisor in this mode, and its messages."""
        return _MODE_VISIBILITY[self]

    @property
    def can_send(self) -> bool:
        """A monitoring supervisor is silent: it may not send messages."""
        return self is not SupervisorMode.MONITOR


class MonitoringMode(StrEnum):
    """GWS ``supervisorMonitoringMode``: how long an agent-level supervision lasts."""

    NEXT_CHAT = "NextChat"
    ALL_CHATS = "AllChats"


class Visibility(StrEnum):
    """GWS visibility of a participant or a message."""

    ALL = "All"
    AGENTS = "Agents"
    SUPERVISORS = "Supervisors"


class ParticipantType(StrEnum):
    """Who a viewer is inside a session (GWS shows supervisors as type Agent; we keep them apart)."""

    CUSTOMER = "Customer"
    AGENT = "Agent"
    SUPERVISOR = "Supervisor"


class JoinedVia(StrEnum):
    """How a supervisor came into a session: by an agent-level supervision, or by Intrude."""

    SUPERVISION = "Supervision"
    INTRUDE = "Intrude"


class InvitationKind(StrEnum):
    """An invitation is either routing's offer of the session, or a conference invite by an agent."""

    OFFER = "Offer"
    CONFERENCE = "Conference"


class SessionStatus(StrEnum):
    """The lifecycle of an SMS session."""

    WAITING = "Waiting"
    """No agent in it: just arrived, rejected, or placed in a queue."""
    CHATTING = "Chatting"
    """At least one agent has accepted and is still in it."""
    COMPLETED = "Completed"
    """Over for good: every command on it is refused."""


class RevokeReason(StrEnum):
    """Why a supervisor received the session state ``Revoked``."""

    COMPLETED = "Completed"
    QUEUED = "Queued"


class CompletionReason(StrEnum):
    """Why a session was completed."""

    COMPLETED_BY_AGENT = "CompletedByAgent"
    LAST_AGENT_LEFT = "LastAgentLeft"


class SupervisionEndReason(StrEnum):
    """Why an agent-level supervision stopped without being cancelled."""

    NEXT_CHAT_USED = "NextChatUsed"


_MODE_VISIBILITY: Final = {
    SupervisorMode.MONITOR: Visibility.SUPERVISORS,
    SupervisorMode.COACH: Visibility.AGENTS,
    SupervisorMode.BARGE_IN: Visibility.ALL,
}

_AUDIENCE: Final = {
    Visibility.ALL: frozenset(ParticipantType),
    Visibility.AGENTS: frozenset({ParticipantType.AGENT, ParticipantType.SUPERVISOR}),
    Visibility.SUPERVISORS: frozenset({ParticipantType.SUPERVISOR}),
}


def can_see(viewer: ParticipantType, visibility: Visibility) -> bool:
    """The visibility rule: may a viewer of this type be shown something of this visibility?

    ``All`` reaches everyone; ``Agents`` (coaching) reaches agents and supervisors, never the
    customer; ``Supervisors`` (a monitoring supervisor's presence) reaches supervisors only.
    """
    return viewer in _AUDIENCE[visibility]


def wider(a: Visibility, b: Visibility) -> Visibility:
    """The visibility that reaches everyone either of ``a`` or ``b`` reaches."""
    return a if len(_AUDIENCE[a]) >= len(_AUDIENCE[b]) else b


def narrower(a: Visibility, b: Visibility) -> Visibility:
    """The visibility that reaches only those both ``a`` and ``b`` reach (visibilities are nested)."""
    return b if wider(a, b) is a else a
