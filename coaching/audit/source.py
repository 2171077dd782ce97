"""Where an audit reads a log from: the raw records of an SQLite store, in recorded order.

Why raw records rather than the application's repository: an auditor must not depend on the
code that wrote the log (no cache, no aggregate loading), and a year of logs must stream in
constant memory. A :class:`Record` is exactly what was stored; decoding it into a domain event
is a separate, explicit step (:func:`decode`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from coaching.domain.events import DomainEvent
from coaching.persistence import CODEC

EVENTS_TABLE = "stored_events"
"""The table eventsourcing's SQLite application recorder writes (its rowid is the log position)."""


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


class LogSource(Protocol):
    """A recorded log that can be read from the start, in order, more than once."""

    def count(self) -> int:
        """How many records the log holds (for progress bars)."""
        ...

    def records(self, start: int = 1) -> Iterator[Record]:
        """Every record at position ``start`` or later, in recorded order."""
        ...

    def close(self) -> None:
        """Release the underlying file."""
        ...


class SQLiteSource:
    """The records of an SQLite store written by :class:`~coaching.application.Coaching`, read-only."""

    def __init__(self, path: str | Path, *, page_size: int = 5000) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no such store: {self.path}")
        self.page_size = page_size
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)

    def count(self) -> int:
        try:
            (n,) = self._db.execute(f"SELECT COUNT(*) FROM {EVENTS_TABLE}").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(n)

    def records(self, start: int = 1) -> Iterator[Record]:
        after = start - 1
        query = (f"SELECT rowid, originator_id, originator_version, topic, state FROM {EVENTS_TABLE} "
                 "WHERE rowid > ? ORDER BY rowid LIMIT ?")
        while True:
            rows = self._db.execute(query, (after, self.page_size)).fetchall()
            if not rows:
                return
            for position, originator_id, version, topic, state in rows:
                yield Record(position, originator_id, version, topic, state)
            after = rows[-1][0]

    def close(self) -> None:
        self._db.close()


def open_source(path: str | Path) -> LogSource:
    """The log stored at ``path``: an SQLite store written by :class:`~coaching.application.Coaching`."""
    return SQLiteSource(path)
