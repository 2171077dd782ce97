"""The baseline: a plain eventsourcing ``Application`` with ordinary ``Aggregate`` classes.

Written the way the eventsourcing documentation writes aggregates: mutable objects whose
``@event`` methods both trigger an event and (on replay) apply it, UUID ids, the default
``Mapper`` with its ``JSONTranscoder`` and the ``UUIDAsHex``/``DecimalAsStr``/``DatetimeAsISO``
transcodings, exactly as ``Application.construct_mapper`` builds it.

The events carry the same fields as ``coaching``'s (including ``actor`` and the repeated
``session_id``/``agent_id``), with enum values as plain strings, so both logs have the same
number of events per aggregate and similar payload sizes (the run prints the average stored size).
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event


class BaselineAgent(Aggregate):
    """An agent, with its supervisions (plain dicts) and a count of accepted sessions."""

    @event("Registered")
    def __init__(self, agent_id: str, username: str, nickname: str | None, team: str | None,
                 actor: str) -> None:
        self.agent_id = agent_id
        self.username = username
        self.nickname = nickname
        self.team = team
        self.actor = actor
        self.supervisions: dict[str, dict[str, str]] = {}
        self.sessions_accepted = 0

    @event("SupervisionStarted")
    def start_supervision(self, agent_id: str, supervisor_id: str, mode: str, monitoring_mode: str,
                          nickname: str, actor: str) -> None:
        self.supervisions[supervisor_id] = {"supervisor_id": supervisor_id, "mode": mode,
                                            "monitoring_mode": monitoring_mode, "nickname": nickname}

    @event("SessionAccepted")
    def session_accepted(self, agent_id: str, session_id: str, supervisors_added: list[str],
                         actor: str) -> None:
        self.sessions_accepted += 1


class BaselineSupervisor(Aggregate):
    """A supervisor: who it is and whom it may supervise."""

    @event("Registered")
    def __init__(self, supervisor_id: str, username: str, nickname: str | None,
                 features: list[str], agents: list[str], teams: list[str], actor: str) -> None:
        self.supervisor_id = supervisor_id
        self.username = username
        self.nickname = nickname
        self.features = frozenset(features)
        self.agents = frozenset(agents)
        self.teams = frozenset(teams)


class BaselineSession(Aggregate):
    """An SMS session: invitations, agents, supervisors present, a message count."""

    @event("Opened")
    def __init__(self, session_id: str, customer_id: str, customer_nickname: str, actor: str) -> None:
        self.session_id = session_id
        self.customer_id = customer_id
        self.customer_nickname = customer_nickname
        self.status = "Waiting"
        self.invitations: dict[str, str] = {}
        self.agents: dict[str, str] = {}
        self.supervisors: dict[str, dict[str, Any]] = {}
        self.message_count = 0

    @event("AgentInvited")
    def invite(self, session_id: str, agent_id: str, invitation: str, actor: str) -> None:
        self.invitations[agent_id] = invitation

    @event("AgentAccepted")
    def accept(self, session_id: str, agent_id: str, nickname: str, actor: str) -> None:
        self.invitations.pop(agent_id, None)
        self.agents[agent_id] = nickname
        self.status = "Chatting"

    @event("SupervisorAdded")
    def add_supervisor(self, session_id: str, supervisor_id: str, supervised_agent_id: str,
                       mode: str, visibility: str, monitoring_mode: str | None, nickname: str,
                       via: str, actor: str) -> None:
        self.supervisors[supervisor_id] = {
            "supervisor_id": supervisor_id, "nickname": nickname, "mode": mode,
            "supervised_agent_id": supervised_agent_id, "via": via,
            "monitoring_mode": monitoring_mode}

    @event("Message")
    def message(self, session_id: str, index: int, sender_id: str, sender_type: str, nickname: str,
                text: str, visibility: str, actor: str) -> None:
        self.message_count += 1

    @event("Completed")
    def complete(self, session_id: str, reason: str, agents_removed: list[str], actor: str) -> None:
        self.status = "Completed"
        self.agents = {}
        self.invitations = {}

    @event("Revoked")
    def revoke(self, session_id: str, supervisor_id: str, reason: str, actor: str) -> None:
        self.supervisors.pop(supervisor_id, None)


class BaselineApp(Application[UUID]):
    """A plain eventsourcing application: nothing overridden but the name.

    The storage settings given by the benchmark (SQLite file, repository cache) are the same
    as the ``Coaching`` application's.
    """

    name = "Baseline"
    env: ClassVar[dict[str, str]] = {}


def accept(app: BaselineApp, session_id: UUID, agent_id: UUID) -> int:
    """The baseline's Accept: load both aggregates, apply the same rules, ONE ``save(a, b)``.

    Returns the number of events saved (3 when one supervision joins).
    """
    session: BaselineSession = app.repository.get(session_id)
    agent: BaselineAgent = app.repository.get(agent_id)
    if agent.agent_id not in session.invitations:
        raise ValueError(f"agent {agent.agent_id!r} has no pending invitation")
    session.accept(session_id=session.session_id, agent_id=agent.agent_id,
                   nickname=agent.nickname or agent.username, actor=agent.agent_id)
    added: list[str] = []
    for supervision in agent.supervisions.values():
        supervisor_id = supervision["supervisor_id"]
        if supervisor_id in session.supervisors:
            continue
        added.append(supervisor_id)
        session.add_supervisor(session_id=session.session_id, supervisor_id=supervisor_id,
                               supervised_agent_id=agent.agent_id, mode=supervision["mode"],
                               visibility=_VISIBILITY[supervision["mode"]],
                               monitoring_mode=supervision["monitoring_mode"],
                               nickname=supervision["nickname"], via="Supervision",
                               actor=agent.agent_id)
    agent.session_accepted(agent_id=agent.agent_id, session_id=session.session_id,
                           supervisors_added=added, actor=agent.agent_id)
    recordings = app.save(session, agent)
    return len(recordings)


_VISIBILITY = {"Monitor": "Supervisors", "Coach": "Agents", "BargeIn": "All"}
