"""Numbering new events: the one place where an event gets its aggregate id, version and time.

Deciders stay pure: the time ``at`` and the ``actor`` come in with the call, the version comes
from the state the decision saw, and nothing is minted from a clock or a random source.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from coaching.domain.events import DomainEvent

E = TypeVar("E", bound=DomainEvent)


def agent_key(agent_id: str) -> str:
    """The aggregate id of an agent: GWS ids are kept readable, prefixed by the aggregate kind."""
    return f"agent:{agent_id}"


def supervisor_key(supervisor_id: str) -> str:
    """The aggregate id of a supervisor."""
    return f"supervisor:{supervisor_id}"


def session_key(session_id: str) -> str:
    """The aggregate id of an SMS session."""
    return f"session:{session_id}"


class Stream:
    """New events for one aggregate, numbered on from the version the decision was based on."""

    __slots__ = ("actor", "at", "originator_id", "version")

    def __init__(self, originator_id: str, version: int, at: datetime, actor: str) -> None:
        self.originator_id = originator_id
        self.version = version
        self.at = at
        self.actor = actor

    def __call__(self, cls: type[E], **fields: Any) -> E:
        """Build the next event of this aggregate."""
        self.version += 1
        return cls(
            originator_id=self.originator_id,
            originator_version=self.version,
            timestamp=self.at,
            actor=self.actor,
            **fields,
        )
