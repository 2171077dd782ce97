"""Tamper evidence: a hash chain over the log, written in the same transaction as the events.

Each stored event gets a chain entry at its log position: ``hash = link(previous hash, the
event's stored columns)``, the first one linking to :data:`GENESIS`. Changing, removing,
inserting or reordering an event anywhere breaks every link from there on, so a verifier that
walks the log in order (:class:`ChainVerifier`) names the first position where it breaks.

Why the chain is written by the recorder, inside the insert transaction (ADR 0018): a chain
written afterwards, by another process or another transaction, can lag behind or disagree with
the events after a crash, and a verifier could not tell that from tampering. Each of
eventsourcing's stores serialises its writers (SQLite's write lock, PostgreSQL's ``LOCK TABLE``
on the events table, the in-memory recorder's lock), so the previous hash read inside the insert
transaction is the true head.

Why the position is NOT hashed: positions belong to the store (PostgreSQL's sequence leaves
gaps, an import renumbers), the order does not: an export imported elsewhere reproduces the
same hashes, and a reordering is still caught because the chain follows the log order.

What a chain cannot prove (ADR 0018): that nothing was cut from the end of both tables, or that
someone able to run this code did not rewrite both. Anchor the head (print it, store it
elsewhere) and verify against it with ``expected_head``.

The algorithm, byte for byte, is in ``docs/export.md`` so tools outside Python can recompute it.
"""

from __future__ import annotations

import hashlib
import sqlite3
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    InfrastructureFactory,
    PersistenceError,
    StoredEvent,
)
from eventsourcing.popo import POPOApplicationRecorder, POPOFactory
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor, SQLiteFactory

if TYPE_CHECKING:
    from eventsourcing.postgres import PostgresApplicationRecorder

    from coaching.store.record import Record

GENESIS: Final = "0" * 64
"""The "previous hash" of the first record: 32 zero bytes, as lowercase hex."""

ALGORITHM: Final = "sha256-chain-v1"
"""The name of :func:`link`'s algorithm, written into export headers (a new one gets a new name)."""

CHAIN_TABLE: Final = "coaching_chain"
"""The chain table beside eventsourcing's events table (SQLite; PostgreSQL: ``<app>_chain``)."""

_U32 = struct.Struct(">I").pack
_U64 = struct.Struct(">Q").pack
_I64 = struct.Struct(">q").pack  # versions: signed, like SQLite's and PostgreSQL's integers
_sha256 = hashlib.sha256


def link(previous: str, originator_id: str, originator_version: int, topic: str, state: bytes) -> str:
    """The chain hash of one record: SHA-256 over the previous hash and the record's stored columns.

    Every variable-length field is length-prefixed, so no two different records encode alike::

        sha256( bytes.fromhex(previous)                       32 bytes
              | u32be(len(id))    | id (UTF-8)
              | i64be(originator_version)          (two's complement)
              | u32be(len(topic)) | topic (UTF-8)
              | u64be(len(state)) | state (the stored bytes, exactly) ).hexdigest()
    """
    # surrogateescape: a text column holding bytes that are not UTF-8 (a tampered store read by
    # SQLiteSource) is hashed as exactly those bytes; valid text encodes as plain UTF-8.
    oid = originator_id.encode("utf-8", "surrogateescape")
    top = topic.encode("utf-8", "surrogateescape")
    return _sha256(b"".join((
        bytes.fromhex(previous), _U32(len(oid)), oid, _I64(originator_version),
        _U32(len(top)), top, _U64(len(state)), state,
    ))).hexdigest()


def _text_id(originator_id: UUID | str) -> str:
    return originator_id if isinstance(originator_id, str) else str(originator_id)


def _links(previous: str, stored_events: Sequence[StoredEvent]) -> list[str]:
    hashes = []
    for s in stored_events:
        previous = link(previous, _text_id(s.originator_id), s.originator_version, s.topic, s.state)
        hashes.append(previous)
    return hashes


class ChainError(PersistenceError):
    """The chain table disagrees with the events table, so a write cannot be chained.

    Not a ``RecordConflictError``: retrying the command would fail the same way. It means the
    store was changed outside the application; ``coaching audit --verify`` shows where.
    """


# --- recorders ------------------------------------------------------------------------------------


@runtime_checkable
class ChainedRecorder(Protocol):
    """What every chained recorder offers besides eventsourcing's ``ApplicationRecorder``."""

    def select_chain(self, start: int, limit: int) -> list[tuple[int, str]]:
        """Chain entries ``(position, hash)`` at ``start`` or later, in order, at most ``limit``."""
        ...

    def chain_head(self) -> tuple[int, str] | None:
        """The last chain entry ``(position, hash)``, or None when the chain is empty."""
        ...


class ChainedSQLiteRecorder(SQLiteApplicationRecorder):
    """eventsourcing's SQLite application recorder, plus a chain entry per event, same transaction.

    The events are inserted first: that takes SQLite's write lock, so the chain head read next
    cannot move before the commit (eventsourcing opens a deferred ``BEGIN``; reading first could
    see a snapshot another process has since written past).
    """

    chain_table_name = CHAIN_TABLE

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        statements.append(f"CREATE TABLE IF NOT EXISTS {self.chain_table_name} "
                          "(position INTEGER PRIMARY KEY, hash TEXT NOT NULL)")
        return statements

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        if not positions:
            return positions
        c.execute(f"SELECT hash FROM {self.chain_table_name} WHERE position < ? "
                  "ORDER BY position DESC LIMIT 1", (positions[0],))
        row = c.fetchone()
        hashes = _links(row[0] if row else GENESIS, stored_events)
        try:
            c.executemany(f"INSERT INTO {self.chain_table_name} (position, hash) VALUES (?, ?)",
                          list(zip(positions, hashes, strict=True)))
        except sqlite3.IntegrityError as error:
            raise ChainError(
                f"cannot chain the events at positions {positions[0]}-{positions[-1]}: the chain "
                f"table already has an entry there, so events were removed from this store "
                f"outside the application ({error}); nothing was written; run "
                "`coaching audit STORE --verify`") from error
        return positions

    def select_chain(self, start: int, limit: int) -> list[tuple[int, str]]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, hash FROM {self.chain_table_name} WHERE position >= ? "
                      "ORDER BY position LIMIT ?", (start, limit))
            return [(int(p), str(h)) for p, h in c.fetchall()]

    def chain_head(self) -> tuple[int, str] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT position, hash FROM {self.chain_table_name} "
                      "ORDER BY position DESC LIMIT 1")
            row = c.fetchone()
        return (int(row[0]), str(row[1])) if row else None


class ChainedPOPORecorder(POPOApplicationRecorder):
    """The in-memory recorder with its chain (a list), extended under the recorder's own lock."""

    def __init__(self) -> None:
        super().__init__()
        self._chain: list[str] = []

    def _update_table(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        # Called under the database lock, after the uniqueness check: nothing can fail after it.
        positions = super()._update_table(stored_events, **kwargs)
        self._chain.extend(_links(self._chain[-1] if self._chain else GENESIS, stored_events))
        return positions

    def select_chain(self, start: int, limit: int) -> list[tuple[int, str]]:
        with self._database_lock:
            first = max(start, 1)
            last = min(len(self._chain), first + limit - 1)
            return [(p, self._chain[p - 1]) for p in range(first, last + 1)]

    def chain_head(self) -> tuple[int, str] | None:
        with self._database_lock:
            return (len(self._chain), self._chain[-1]) if self._chain else None


@cache
def postgres_recorder_class() -> type[PostgresApplicationRecorder]:
    """The chained PostgreSQL recorder class (built on first use: psycopg is an optional extra)."""
    # Imported here, not at the top: psycopg is the optional ``postgres`` extra.
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore  # noqa: PLC0415
    from psycopg import Cursor  # noqa: PLC0415
    from psycopg.rows import DictRow  # noqa: PLC0415
    from psycopg.sql import SQL, Identifier  # noqa: PLC0415

    class ChainedPostgresRecorder(PostgresApplicationRecorder):
        """eventsourcing's PostgreSQL recorder plus the chain, written after the insert, same transaction.

        The chain is extended in ``_fetch_ids_after_insert_events``: by then the events table is
        locked (``LOCK TABLE … IN EXCLUSIVE MODE``, taken by eventsourcing before the insert) and
        the new notification ids are known, so the head read here is the true one.
        """

        def __init__(self, datastore: PostgresDatastore, *,
                     events_table_name: str = "stored_events") -> None:
            super().__init__(datastore, events_table_name=events_table_name)
            if datastore.enable_db_functions:
                raise ChainError("the tamper-evidence chain needs eventsourcing's transactional insert; "
                                 "unset POSTGRES_ENABLE_DB_FUNCTIONS")
            base = events_table_name.removesuffix("_events")
            self.chain_table_name = f"{base}_chain"
            self.check_identifier_length(self.chain_table_name)
            table = Identifier(self.datastore.schema, self.chain_table_name)
            self.sql_create_statements.append(SQL(
                "CREATE TABLE IF NOT EXISTS {0} (position bigint PRIMARY KEY, hash text NOT NULL)"
            ).format(table))
            self._sql_head = SQL(
                "SELECT position, hash FROM {0} ORDER BY position DESC LIMIT 1").format(table)
            self._sql_insert = SQL("INSERT INTO {0} (position, hash) VALUES (%s, %s)").format(table)
            self._sql_select = SQL(
                "SELECT position, hash FROM {0} WHERE position >= %s ORDER BY position LIMIT %s"
            ).format(table)

        def _fetch_ids_after_insert_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent],
                                           **kwargs: Any) -> Sequence[int] | None:
            positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
            if not positions:
                return positions
            curs.execute(self._sql_head)
            row = curs.fetchone()
            hashes = _links(row["hash"] if row else GENESIS, stored_events)
            curs.executemany(self._sql_insert, list(zip(positions, hashes, strict=True)))
            return positions

        def select_chain(self, start: int, limit: int) -> list[tuple[int, str]]:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._sql_select, (start, limit))
                return [(int(r["position"]), str(r["hash"])) for r in curs.fetchall()]

        def chain_head(self) -> tuple[int, str] | None:
            with self.datastore.get_connection() as conn, conn.cursor() as curs:
                curs.execute(self._sql_head)
                row = curs.fetchone()
            return (int(row["position"]), str(row["hash"])) if row else None

    return ChainedPostgresRecorder


def chained_recorder(factory: InfrastructureFactory[Any]) -> ApplicationRecorder:
    """The application recorder ``Coaching`` uses: the factory's own, with the chain added.

    A user who names a recorder (``APPLICATION_RECORDER_TOPIC``) keeps it, chain or not; an
    unknown persistence module gets its plain recorder (``coaching audit --verify`` then reports
    that the log carries no chain).
    """
    if factory.env.get(factory.APPLICATION_RECORDER_TOPIC):
        return factory.application_recorder()
    recorder: ApplicationRecorder
    if isinstance(factory, POPOFactory):
        return ChainedPOPORecorder()
    if isinstance(factory, SQLiteFactory):
        sqlite_recorder = ChainedSQLiteRecorder(datastore=factory.datastore)
        if factory.env_create_table():
            sqlite_recorder.create_table()
        return sqlite_recorder
    if type(factory).__module__ == "eventsourcing.postgres":
        from eventsourcing.postgres import PostgresFactory  # noqa: PLC0415 (optional extra)

        assert isinstance(factory, PostgresFactory)
        prefix = factory.env.name.lower() or "stored"
        recorder = postgres_recorder_class()(datastore=factory.datastore,
                                             events_table_name=f"{prefix}_events")
        if factory.env_create_table():
            recorder.create_table()
        return recorder
    return factory.application_recorder()


# --- verification ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChainResult:
    """What a walk along the chain found.

    ``head`` is the last record's hash when the whole chain holds (anchor it somewhere else);
    ``first_break`` is the log position where the chain first breaks, ``reason`` says how, as a
    sentence. ``anchor_position`` is where ``expected_head`` was found, when one was given.
    """

    ok: bool
    records: int
    head: str | None
    first_break: int | None
    reason: str | None
    anchor_position: int | None = None

    def describe(self) -> str:
        """One line for a person: OK with the head, or BROKEN with the reason."""
        if self.ok:
            anchored = (f"; expected head found at position {self.anchor_position}"
                        if self.anchor_position is not None else "")
            return f"chain: OK ({self.records:,} records, head {self.head}{anchored})"
        return f"chain: BROKEN at position {self.first_break}: {self.reason}"


class OrphanSource(Protocol):
    """A source that can list chain entries whose event row is gone (see ``SQLiteSource``)."""

    def chain_orphans(self) -> list[tuple[int, str]]:
        ...


def _short(value: str | None) -> str:
    return "none" if value is None else f"{value[:12]}…"


class ChainVerifier:
    """Walks records in log order and finds the first position where the chain breaks.

    Streaming, constant memory: it keeps the previous record's position and hash only. Feed
    every record of the log, in order, from the first (a chain cannot be checked from the
    middle without trusting the hash before it). Give it the ``source`` when it can list chain
    entries whose event was deleted (``chain_orphans``), so such a removal is named at its own
    position even at the very end of the log; without it, a removal inside the log is still
    caught, at the gap in positions before the next record.
    """

    def __init__(self, *, expected_head: str | None = None, source: object | None = None) -> None:
        self.expected_head = expected_head.lower() if expected_head else None
        self.source = source
        self._previous = GENESIS
        self._position = 0
        self._records = 0
        self._break: tuple[int, str] | None = None
        self._anchor: int | None = None

    @property
    def records(self) -> int:
        """How many records were fed so far."""
        return self._records

    @property
    def broken(self) -> bool:
        """Whether a break was found already (feeding more changes nothing)."""
        return self._break is not None

    def feed(self, record: Record) -> None:
        """Check one record against the chain so far."""
        self._records += 1
        if self._break is not None:
            return
        position, previous = self._position, self._previous
        if record.position <= position:
            self._break = (record.position, f"position {record.position} comes after position {position}: "
                                            "the records are not in log order")
            return
        if record.chain_hash is None:
            self._break = (record.position, f"position {record.position} has no chain entry: the event was "
                                            "added outside the application (or the store predates the chain)")
            return
        try:
            expected = link(previous, record.originator_id, record.originator_version, record.topic,
                            record.state)
        except (struct.error, TypeError, ValueError, AttributeError) as error:  # 2**64, a NULL, a BLOB
            self._break = (record.position, f"position {record.position} cannot be hashed ({error}): "
                                            "its stored columns were changed outside the application")
            return
        if expected != record.chain_hash:
            if record.position > position + 1 and position > 0:
                missing = (f"position {position + 1}" if record.position == position + 2
                           else f"positions {position + 1}-{record.position - 1}")
                self._break = (position + 1, f"{missing} hold no event and the chain does not continue "
                                             f"across the gap to position {record.position}: an event was "
                                             f"removed (or position {record.position} was changed)")
            else:
                self._break = (record.position,
                               f"position {record.position}: the stored event's content does not match "
                               f"its hash (recorded {_short(record.chain_hash)}, computed "
                               f"{_short(expected)}): the event was changed, or an event before it was "
                               "removed, inserted or moved")
            return
        self._previous, self._position = expected, record.position
        if self.expected_head is not None and expected == self.expected_head:
            self._anchor = record.position

    def finish(self) -> ChainResult:
        """The verdict, once every record was fed."""
        found = self._break
        orphans = getattr(self.source, "chain_orphans", None)
        if callable(orphans):
            removed: list[tuple[int, str]] = orphans()
            if removed and (found is None or removed[0][0] < found[0]):
                first = removed[0][0]
                found = (first, f"position {first} has a chain entry but no event: the event was removed"
                                + (f" ({len(removed)} such positions)" if len(removed) > 1 else ""))
        if found is None and self.expected_head is not None and self._anchor is None:
            found = (self._position + 1,
                     f"the expected head {_short(self.expected_head)} is not in the chain of these "
                     f"{self._records:,} records: events were cut from the end, or the log was rewritten")
        if found is not None:
            return ChainResult(False, self._records, None, found[0], found[1], self._anchor)
        head = self._previous if self._records else None
        return ChainResult(True, self._records, head, None, None, self._anchor)


def verify(records: Any, *, expected_head: str | None = None, source: object | None = None,
           progress: Callable[[int], None] | None = None) -> ChainResult:
    """Verify an iterable of records in one pass (``progress(count)`` every 10,000 records)."""
    verifier = ChainVerifier(expected_head=expected_head, source=source)
    for record in records:
        verifier.feed(record)
        if progress is not None and verifier.records % 10_000 == 0:
            progress(verifier.records)
    return verifier.finish()
