"""A small contact-center floor, and one sample request per GWS operation that succeeds on it.

Every adapter test starts from :func:`build_world` on a fresh application, so a sample and each
of its malformed variants see exactly the same state.

The floor: agents ``AGENT`` (the seed's sample id), ``a2``, ``a3`` in team billing and ``a4`` in
sales; supervisors ``s1`` and ``s2`` (team billing), ``s3`` (billing, but without
api-multimedia) and ``s4`` (may supervise ``a4`` only). ``s1`` coaches ``a2`` (AllChats).
Sessions: ``x-offer`` offered to ``AGENT`` (pending); ``x-chat`` accepted by ``a2`` (``s1``
joined, coaching); ``x-conf`` accepted by ``a3``, with ``a4`` invited and accepted, and ``s2``
intruded in BargeIn mode; ``x-wait`` just opened, offered to nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from coaching import Coaching, MonitoringMode, SupervisorMode

AGENT = "90cc5439ff6848748e5e67811273f266"
"""The agent of the seed's sample request."""

AGENTS = (AGENT, "a2", "a3", "a4")
SUPERVISORS = ("s1", "s2", "s3", "s4")
SESSIONS = ("x-offer", "x-chat", "x-conf", "x-wait")
CUSTOMERS = ("c1", "c2", "c3", "c4")


def build_world(app: Coaching) -> Coaching:
    """Put the floor described in the module docstring into ``app`` (through its own methods)."""
    app.register_agent(AGENT, "alice", team="billing")
    app.register_agent("a2", "bob", team="billing")
    app.register_agent("a3", "cleo", team="billing")
    app.register_agent("a4", "dan", team="sales")
    app.register_supervisor("s1", "sam", teams=frozenset({"billing"}))
    app.register_supervisor("s2", "sue", teams=frozenset({"billing"}))
    app.register_supervisor("s3", "tim", teams=frozenset({"billing"}), features=frozenset())
    app.register_supervisor("s4", "sal", agents=frozenset({"a4"}))
    app.coach("s1", "a2", mode=MonitoringMode.ALL_CHATS)
    app.open_session("x-offer", "c1", "Carol")
    app.offer_session("x-offer", AGENT)
    app.open_session("x-chat", "c2", "Chris")
    app.offer_session("x-chat", "a2")
    app.accept("a2", "x-chat")
    app.open_session("x-conf", "c3", "Cyd")
    app.offer_session("x-conf", "a3")
    app.accept("a3", "x-conf")
    app.invite("a3", "x-conf", "a4")
    app.accept("a4", "x-conf")
    app.intrude("s2", "a3", "x-conf", mode=SupervisorMode.BARGE_IN)
    app.open_session("x-wait", "c4", "Dee")
    return app


def world() -> Coaching:
    """A fresh in-memory application holding the floor."""
    return build_world(Coaching.in_memory())


@dataclass(frozen=True)
class Sample:
    """A request that succeeds on the floor, and the events it must record (in order)."""

    name: str
    path: str
    caller: str
    body: dict[str, Any]
    events: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)
    """Fields the first event must carry (``{"mode": "Coach"}`` ...), compared as JSON values."""
    references: bool = False
    """The answer carries ``referenceId``: the log position of the message event (SendMessage)."""

    @property
    def operation(self) -> str:
        return str(self.body.get("operationName", self.name))


def channel(agent: str = AGENT, spelling: str = "smssession") -> str:
    return f"/api/v2/users/{agent}/channels/{spelling}"


def me(session: str) -> str:
    return f"/api/v2/me/smssessions/{session}"


SEED = Sample(
    "Coach (the seed's sample)",
    # exactly as the seed writes it: no leading slash, "smsession" with one s
    "api/v2/users/90cc5439ff6848748e5e67811273f266/channels/smsession",
    "s1",
    {"operationName": "Coach", "supervisorMonitoringMode": "NextChat"},
    ("SupervisionStarted",),
    {
        "agent_id": AGENT,
        "supervisor_id": "s1",
        "mode": "Coach",
        "monitoring_mode": "NextChat",
        "nickname": "sam",
    },
)

SAMPLES: tuple[Sample, ...] = (
    SEED,
    Sample(
        "Monitor",
        channel(),
        "s2",
        {"operationName": "Monitor"},
        ("SupervisionStarted",),
        {"supervisor_id": "s2", "mode": "Monitor", "monitoring_mode": "AllChats"},
    ),
    Sample(
        "BargeIn",
        channel(),
        "s1",
        {"operationName": "BargeIn", "supervisorMonitoringMode": "AllChats", "nickname": "Boss"},
        ("SupervisionStarted",),
        {"mode": "BargeIn", "nickname": "Boss"},
    ),
    Sample(
        "CancelSupervisorMonitoring",
        channel("a2", "smsession"),
        "s1",
        {"operationName": "CancelSupervisorMonitoring"},
        ("SupervisionCancelled",),
        {"agent_id": "a2", "supervisor_id": "s1"},
    ),
    Sample(
        "Intrude",
        "/api/v2/users/a2/smssessions/x-chat",
        "s2",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Monitor"},
        ("SupervisorAdded",),
        {"supervisor_id": "s2", "mode": "Monitor", "visibility": "Supervisors", "via": "Intrude"},
    ),
    Sample(
        "SwitchToCoach",
        me("x-conf"),
        "s2",
        {"operationName": "SwitchToCoach"},
        ("SupervisorModeSwitched",),
        {"from_mode": "BargeIn", "to_mode": "Coach"},
    ),
    Sample(
        "SwitchToBargeIn",
        me("x-chat"),
        "s1",
        {"operationName": "SwitchToBargeIn"},
        ("SupervisorModeSwitched",),
        {"from_mode": "Coach", "to_mode": "BargeIn"},
    ),
    Sample(
        "SwitchToMonitor",
        me("x-chat"),
        "s1",
        {"operationName": "SwitchToMonitor"},
        ("SupervisorModeSwitched",),
        {"from_mode": "Coach", "to_mode": "Monitor"},
    ),
    Sample(
        "Leave (supervisor)",
        me("x-chat"),
        "s1",
        {"operationName": "Leave"},
        ("SupervisorLeft",),
        {"supervisor_id": "s1"},
    ),
    Sample(
        "Accept",
        me("x-offer"),
        AGENT,
        {"operationName": "Accept", "nickname": "Alice"},
        ("AgentAccepted", "SessionAccepted"),
        {"agent_id": AGENT, "nickname": "Alice"},
    ),
    Sample(
        "Reject", me("x-offer"), AGENT, {"operationName": "Reject"}, ("AgentRejected",), {"agent_id": AGENT}
    ),
    Sample(
        "Leave (agent, conference)",
        me("x-conf"),
        "a4",
        {"operationName": "Leave"},
        ("AgentLeft",),
        {"agent_id": "a4"},
    ),
    Sample(
        "Complete",
        me("x-chat"),
        "a2",
        {"operationName": "Complete"},
        ("SessionCompleted", "Revoked"),
        {"reason": "CompletedByAgent"},
    ),
    Sample(
        "Complete with queueName",
        me("x-chat"),
        "a2",
        {"operationName": "Complete", "queueName": "billing-overflow"},
        ("SessionQueued", "Revoked"),
        {"queue_name": "billing-overflow"},
    ),
    Sample(
        "SendMessage",
        me("x-chat"),
        "a2",
        {"operationName": "SendMessage", "text": "How can I help?"},
        ("MessageVisibleToAll",),
        {"sender_id": "a2", "text": "How can I help?", "index": 0},
        references=True,
    ),
    Sample(
        "SendMessage (coach)",
        me("x-chat"),
        "s1",
        {"operationName": "SendMessage", "text": "Refund"},
        ("MessageVisibleToAgent",),
        {"sender_id": "s1", "index": 0},
        references=True,
    ),
    Sample(
        "Invite (targetUri)",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:a3"},
        ("AgentInvited",),
        {"agent_id": "a3", "invitation": "Conference"},
    ),
    Sample(
        "Invite (targetPath)",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetPath": "/api/v2/users/a3"},
        ("AgentInvited",),
        {"agent_id": "a3"},
    ),
    Sample(
        "Invite (targetUri as URL)",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "https://gws.example.com/api/v2/users/a3"},
        ("AgentInvited",),
        {"agent_id": "a3"},
    ),
)

ADMIN_SAMPLES: tuple[Sample, ...] = (
    Sample(
        "RegisterAgent",
        "/coaching/v1/agents",
        "admin",
        {"agentId": "a9", "username": "zoe", "team": "sales"},
        ("AgentRegistered",),
        {"agent_id": "a9", "team": "sales", "actor": "admin"},
    ),
    Sample(
        "RegisterSupervisor",
        "/coaching/v1/supervisors",
        "admin",
        {"supervisorId": "s9", "username": "zed", "agents": ["a4"]},
        ("SupervisorRegistered",),
        {"supervisor_id": "s9", "features": ["api-multimedia"], "agents": ["a4"]},
    ),
    Sample(
        "OpenSession",
        "/coaching/v1/sessions",
        "routing",
        {"sessionId": "x-new", "customerId": "c9", "customerNickname": "Cat"},
        ("SessionOpened",),
        {"session_id": "x-new", "customer_id": "c9", "actor": "routing"},
    ),
    Sample(
        "OfferSession",
        "/coaching/v1/sessions/x-wait/offers",
        "routing",
        {"agentId": "a3"},
        ("AgentInvited",),
        {"agent_id": "a3", "invitation": "Offer"},
    ),
    Sample(
        "CustomerMessage",
        "/coaching/v1/sessions/x-chat/customer-messages",
        "sms-gateway",
        {"text": "Hello?"},
        ("MessageVisibleToAll",),
        {"sender_id": "c2", "sender_type": "Customer", "actor": "c2"},
        references=True,
    ),
)
