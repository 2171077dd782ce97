"""Rebuilding every aggregate from a log: what an audit replay and the demo's check do.

The fold is the same ``project``/``evolve`` the application uses, so a replayed state equal to
the live one proves the log alone carries the whole story.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from coaching.domain import agent as agent_rules
from coaching.domain import session as session_rules
from coaching.domain import supervisor as supervisor_rules
from coaching.domain.agent import Agent
from coaching.domain.events import AgentEvent, DomainEvent, SessionEvent, SupervisorEvent
from coaching.domain.session import SmsSession
from coaching.domain.supervisor import Supervisor


@dataclass
class States:
    """Every aggregate's state, keyed by aggregate id (``agent:a1``, ``session:s1`` …)."""

    agents: dict[str, Agent] = field(default_factory=dict)
    supervisors: dict[str, Supervisor] = field(default_factory=dict)
    sessions: dict[str, SmsSession] = field(default_factory=dict)
    events: int = 0

    def apply(self, event: DomainEvent) -> None:
        """Fold one event into the state of its aggregate."""
        self.events += 1
        key = event.originator_id
        if isinstance(event, SessionEvent):
            self.sessions[key] = session_rules.evolve(self.sessions.get(key), event)
        elif isinstance(event, AgentEvent):
            self.agents[key] = agent_rules.evolve(self.agents.get(key), event)
        elif isinstance(event, SupervisorEvent):
            self.supervisors[key] = supervisor_rules.evolve(self.supervisors.get(key), event)
        else:
            raise TypeError(f"not a coaching event: {event!r}")


def rebuild(events: Iterable[DomainEvent],
            progress: Callable[[int], Any] | None = None, every: int = 10_000) -> States:
    """Fold a whole log, in recorded order, into every aggregate's state."""
    states = States()
    for event in events:
        states.apply(event)
        if progress is not None and states.events % every == 0:
            progress(states.events)
    return states
