"""The Agent aggregate: who the agent is, and the supervisions set up on it.

Rules found here:
- a supervision is set up on the supervised agent, one per supervisor (a repeat is refused);
- CancelSupervisorMonitoring is valid only while a supervision is active;
- on Accept, every active supervision joins the session, and a NextChat supervision ends (the
  NextChat rule: :func:`on_session_accepted`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from coaching.domain.errors import AlreadyExists, InvalidState
from coaching.domain.events import (
    AgentEvent,
    AgentRegistered,
    DomainEvent,
    SessionAccepted,
    SupervisionCancelled,
    SupervisionEnded,
    SupervisionStarted,
)
from coaching.domain.stream import Stream, agent_key
from coaching.domain.values import MonitoringMode, SupervisionEndReason, SupervisorMode


@dataclass(frozen=True, slots=True)
class Supervision:
    """An active Monitor, Coach or BargeIn set-up of one supervisor on this agent."""

    supervisor_id: str
    mode: SupervisorMode
    monitoring_mode: MonitoringMode
    nickname: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Agent:
    """An agent's state, rebuilt from its events by :func:`evolve`."""

    id: str
    version: int
    agent_id: str
    username: str
    nickname: str | None
    team: str | None
    supervisions: Mapping[str, Supervision]
    sessions_accepted: int

    @property
    def display_name(self) -> str:
        """What others see: the registered nickname, else the username."""
        return self.nickname or self.username


# --- decisions --------------------------------------------------------------------------------


def register(agent_id: str, username: str, nickname: str | None, team: str | None,
             at: datetime, actor: str) -> list[DomainEvent]:
    """Events that make a new agent known (uniqueness is checked by the caller, across users)."""
    new = Stream(agent_key(agent_id), 0, at, actor)
    return [new(AgentRegistered, agent_id=agent_id, username=username, nickname=nickname, team=team)]


def start_supervision(agent: Agent, supervisor_id: str, mode: SupervisorMode,
                      monitoring_mode: MonitoringMode, nickname: str,
                      at: datetime) -> list[DomainEvent]:
    """Set up a supervision; it joins only sessions the agent accepts from now on."""
    current = agent.supervisions.get(supervisor_id)
    if current is not None:
        raise AlreadyExists(
            f"supervisor {supervisor_id!r} already supervises agent {agent.agent_id!r} "
            f"({current.mode}, {current.monitoring_mode}); "
            "send CancelSupervisorMonitoring first to change the mode"
        )
    new = Stream(agent.id, agent.version, at, supervisor_id)
    return [new(SupervisionStarted, agent_id=agent.agent_id, supervisor_id=supervisor_id,
                mode=mode, monitoring_mode=monitoring_mode, nickname=nickname)]


def cancel_supervision(agent: Agent, supervisor_id: str, at: datetime) -> list[DomainEvent]:
    """End a supervision; sessions it already joined are not left (the supervisor must Leave)."""
    current = agent.supervisions.get(supervisor_id)
    if current is None:
        raise InvalidState(
            f"supervisor {supervisor_id!r} has no active supervision of agent {agent.agent_id!r}"
        )
    new = Stream(agent.id, agent.version, at, supervisor_id)
    return [new(SupervisionCancelled, agent_id=agent.agent_id, supervisor_id=supervisor_id,
                mode=current.mode, monitoring_mode=current.monitoring_mode)]


def on_session_accepted(agent: Agent, session_id: str, added: Iterable[str],
                        at: datetime) -> list[DomainEvent]:
    """The agent's side of an Accept: record it, and end every NextChat supervision.

    A NextChat supervision is used up by the first session the agent accepts after it was set
    up, whether its supervisor was added or was already present (ADR 0004). AllChats goes on.
    """
    new = Stream(agent.id, agent.version, at, agent.agent_id)
    events: list[DomainEvent] = [
        new(SessionAccepted, agent_id=agent.agent_id, session_id=session_id,
            supervisors_added=tuple(added))
    ]
    for supervision in agent.supervisions.values():
        if supervision.monitoring_mode is MonitoringMode.NEXT_CHAT:
            events.append(new(SupervisionEnded, agent_id=agent.agent_id,
                              supervisor_id=supervision.supervisor_id, session_id=session_id,
                              reason=SupervisionEndReason.NEXT_CHAT_USED))
    return events


# --- evolution --------------------------------------------------------------------------------


# Replays call these once per event, so they build the next state with a positional call in the
# field order of Agent (id, version, agent_id, username, nickname, team, supervisions,
# sessions_accepted): dataclasses.replace costs more than twice as much. Each returns the state
# `replace` would, field for field.


def _registered(_: Agent | None, e: AgentRegistered) -> Agent:
    return Agent(e.originator_id, e.originator_version, e.agent_id, e.username, e.nickname, e.team,
                 {}, 0)


def _started(a: Agent, e: SupervisionStarted) -> Agent:
    supervision = Supervision(e.supervisor_id, e.mode, e.monitoring_mode, e.nickname, e.timestamp)
    return Agent(a.id, e.originator_version, a.agent_id, a.username, a.nickname, a.team,
                 {**a.supervisions, e.supervisor_id: supervision}, a.sessions_accepted)


def _removed(a: Agent, e: SupervisionCancelled | SupervisionEnded) -> Agent:
    remaining = dict(a.supervisions)
    remaining.pop(e.supervisor_id, None)
    return Agent(a.id, e.originator_version, a.agent_id, a.username, a.nickname, a.team,
                 remaining, a.sessions_accepted)


def _accepted(a: Agent, e: SessionAccepted) -> Agent:
    return Agent(a.id, e.originator_version, a.agent_id, a.username, a.nickname, a.team,
                 a.supervisions, a.sessions_accepted + 1)


_EVOLVE: Mapping[type[AgentEvent], Callable[[Any, Any], Agent]] = {
    AgentRegistered: _registered,
    SupervisionStarted: _started,
    SupervisionCancelled: _removed,
    SupervisionEnded: _removed,
    SessionAccepted: _accepted,
}


def evolve(state: Agent | None, event: DomainEvent) -> Agent:
    """Apply one event: pure, total over the Agent's events, no checks (events are facts)."""
    return _EVOLVE[type(event)](state, event)  # type: ignore[index]


def project(state: Agent | None, events: Iterable[DomainEvent]) -> Agent | None:
    """Fold events onto a state: the projector the repository and replays use."""
    for event in events:
        state = _EVOLVE[type(event)](state, event)  # type: ignore[index]
    return state
