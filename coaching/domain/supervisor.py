"""The Supervisor aggregate: who the supervisor is, its features, and whom it may supervise.

Rules found here: a supervisor needs the ``api-multimedia`` feature (else GWS 3) and the right
to supervise the agent, by the agent's id or its team (else GWS 5): :func:`check_may_supervise`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from coaching.domain.agent import Agent
from coaching.domain.errors import Forbidden, NoPermission
from coaching.domain.events import DomainEvent, SupervisorRegistered
from coaching.domain.stream import Stream, supervisor_key
from coaching.domain.values import API_MULTIMEDIA


@dataclass(frozen=True, slots=True)
class Supervisor:
    """A supervisor's state, rebuilt from its events by :func:`evolve`."""

    id: str
    version: int
    supervisor_id: str
    username: str
    nickname: str | None
    features: frozenset[str]
    agents: frozenset[str]
    teams: frozenset[str]

    def default_nickname(self, asked: str | None) -> str:
        """The nickname a set-up uses: the one asked for, else the registered one, else username."""
        return asked or self.nickname or self.username


def register(supervisor_id: str, username: str, nickname: str | None,
             features: Iterable[str], agents: Iterable[str], teams: Iterable[str],
             at: datetime, actor: str) -> list[DomainEvent]:
    """Events that make a new supervisor known; collections are stored sorted, so bytes are stable."""
    new = Stream(supervisor_key(supervisor_id), 0, at, actor)
    return [new(SupervisorRegistered, supervisor_id=supervisor_id, username=username,
                nickname=nickname, features=tuple(sorted(features)),
                agents=tuple(sorted(agents)), teams=tuple(sorted(teams)))]


def check_feature(supervisor: Supervisor) -> None:
    """Every supervisor operation needs ``api-multimedia`` (GWS "Required Features")."""
    if API_MULTIMEDIA not in supervisor.features:
        raise Forbidden(
            f"supervisor {supervisor.supervisor_id!r} lacks the {API_MULTIMEDIA!r} feature "
            "required by every SMS session operation"
        )


def check_may_supervise(supervisor: Supervisor, agent: Agent) -> None:
    """The supervisor has the feature and the right to supervise this agent."""
    check_feature(supervisor)
    if agent.agent_id in supervisor.agents:
        return
    if agent.team is not None and agent.team in supervisor.teams:
        return
    raise NoPermission(
        f"supervisor {supervisor.supervisor_id!r} has no right to supervise agent "
        f"{agent.agent_id!r} (neither the agent nor its team {agent.team!r} is assigned to it)"
    )


def evolve(state: Supervisor | None, event: DomainEvent) -> Supervisor:
    """Apply one event (a supervisor has one so far: its registration)."""
    assert isinstance(event, SupervisorRegistered), f"not a Supervisor event: {event!r}"
    return Supervisor(id=event.originator_id, version=event.originator_version,
                      supervisor_id=event.supervisor_id, username=event.username,
                      nickname=event.nickname, features=frozenset(event.features),
                      agents=frozenset(event.agents), teams=frozenset(event.teams))


def project(state: Supervisor | None, events: Iterable[DomainEvent]) -> Supervisor | None:
    """Fold events onto a state."""
    for event in events:
        state = evolve(state, event)
    return state
