"""One stored event as recorded, and how to decode it: what every reader of a log yields."""

from __future__ import annotations

from dataclasses import dataclass

from coaching.domain.events import DomainEvent
from coaching.store.codec import CODEC


@dataclass(frozen=True, slots=True)
class Record:
    """One stored event as recorded: its log position, stream, version, topic and stored JSON.

    ``chain_hash`` is the tamper-evidence hash recorded for this position, when the store (or
    export) carries one.
    """

    position: int
    originator_id: str
    originator_version: int
    topic: str
    state: bytes
    chain_hash: str | None = None


def decode(record: Record) -> DomainEvent:
    """The domain event a record holds (upcast to the current version of its topic)."""
    return CODEC.decode(record.topic, record.originator_id, record.originator_version, record.state)
