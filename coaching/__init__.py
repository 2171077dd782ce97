"""coaching: supervisors monitoring, coaching and barging into agents' SMS sessions, event-sourced.

The names most embeddings need are re-exported here; everything else lives in
``coaching.domain`` (the pure rules), ``coaching.application`` (the service) and
``coaching.testing`` (the property kit).
"""

from coaching.application import Coaching, Outcome, ParticipantView, SessionView
from coaching.domain.commands import (
    Accept,
    BargeIn,
    CancelSupervisorMonitoring,
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
    SwitchToCoach,
    SwitchToMonitor,
    parse_command,
)
from coaching.domain.errors import CoachingError
from coaching.domain.values import MonitoringMode, SupervisorMode, Visibility

__all__ = [
    "Accept",
    "BargeIn",
    "CancelSupervisorMonitoring",
    "Coach",
    "Coaching",
    "CoachingError",
    "Command",
    "Complete",
    "Intrude",
    "Invite",
    "Leave",
    "Monitor",
    "MonitoringMode",
    "OfferSession",
    "OpenSession",
    "Outcome",
    "ParticipantView",
    "Queue",
    "RegisterAgent",
    "RegisterSupervisor",
    "Reject",
    "SendMessage",
    "SessionView",
    "SupervisorMode",
    "SwitchToBargeIn",
    "SwitchToCoach",
    "SwitchToMonitor",
    "Visibility",
    "parse_command",
]
