"""Where an audit reads a log from: an SQLite store, an export file, or a running application.

Why raw records rather than the application's repository: an auditor must not depend on the
code that wrote the log (no cache, no aggregate loading), and a year of logs must stream in
constant memory. A :class:`Record` is exactly what was stored, with the tamper-evidence hash
recorded for its position (:mod:`coaching.store.chain`); decoding it into a domain event is a
separate, explicit step (:func:`decode`).
"""

from __future__ import annotations

import base64
import binascii
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Protocol

import orjson
from eventsourcing.application import Application

from coaching.domain.errors import InvalidValue
from coaching.store.chain import CHAIN_TABLE
from coaching.store.record import Record

EVENTS_TABLE = "stored_events"
"""The table eventsourcing's SQLite application recorder writes (its rowid is the log position)."""

EXPORT_FORMAT: Final = "coaching-log"
"""The ``format`` member of an export file's header line (``docs/export.md``)."""

EXPORT_FORMAT_VERSION: Final = 1
"""The export format version this code reads and writes."""

_SQLITE_MAGIC = b"SQLite format 3\x00"
_ORIGINATOR_FIELDS = frozenset({"originator_id", "originator_version"})


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


class ExportFormatError(InvalidValue):
    """An export file is not what ``coaching export`` writes: named with its line number (GWS 10)."""

    def __init__(self, path: str | Path, line: int, problem: str) -> None:
        super().__init__(f"{path}, line {line}: {problem}")
        self.path = str(path)
        self.line = line
        self.problem = problem


def _after(prefix: str) -> str:
    """The smallest string greater than every string starting with ``prefix``."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _record(row: tuple[Any, ...]) -> Record:
    position, originator_id, version, topic, stored, chain_hash = row
    # bytes, unless a tampered row put text (or a number) into the BLOB column
    state = stored if type(stored) is bytes else str(stored).encode("utf-8", "surrogateescape")
    return Record(position, originator_id, version, topic, state, chain_hash)


class SQLiteSource:
    """The records of an SQLite store written by :class:`~coaching.application.Coaching`, read-only.

    Each record carries the chain hash of its position (a LEFT JOIN: an event without a chain
    entry yields ``chain_hash=None``); :meth:`chain_orphans` lists chain entries whose event is
    gone. A store written before the chain existed has no chain table: every hash is None.
    """

    def __init__(self, path: str | Path, *, page_size: int = 5000) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no such store: {self.path}")
        self.page_size = page_size
        self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
        if not self._has_table(EVENTS_TABLE):
            # another application's database (or not a database): refuse, rather than read it
            # as an empty log that exports, audits and verifies as "OK, 0 events"
            self._db.close()
            raise sqlite3.DatabaseError(f"{self.path} is not a coaching store: it has no {EVENTS_TABLE} "
                                        "table")
        self.chained = self._has_table(CHAIN_TABLE)

    def _has_table(self, name: str) -> bool:
        row = self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone()
        return row is not None

    def count(self) -> int:
        try:
            (n,) = self._db.execute(f"SELECT COUNT(*) FROM {EVENTS_TABLE}").fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(n)

    def records(self, start: int = 1) -> Iterator[Record]:
        after = start - 1
        while True:
            rows = self._rows("e.rowid > ?", (after, self.page_size), " LIMIT ?")
            if not rows:
                return
            yield from map(_record, rows)
            after = rows[-1][0]

    def pages(self, page_size: int) -> Iterator[list[tuple[int, str, bytes]]]:
        """Every row in log order as pages of ``(position, topic, state)``: the audit's hot loop.

        Why not :meth:`records`: a :class:`Record` object per row costs as much as the read
        itself, and the rules and the report need neither the stream id nor the version (a
        record that needs the contract's decoder asks :meth:`streams`). One statement also reads
        one consistent snapshot of the store (SQLite's statement-level read transaction).
        """
        cursor = self._db.execute(f"SELECT rowid, topic, state FROM {EVENTS_TABLE} ORDER BY rowid")
        while page := cursor.fetchmany(page_size):
            yield page

    def streams(self, first: int, last: int) -> dict[int, tuple[str, int]]:
        """The stream id and version of every record from position ``first`` to ``last``, as stored."""
        rows = self._db.execute(f"SELECT rowid, originator_id, originator_version FROM {EVENTS_TABLE} "
                                "WHERE rowid BETWEEN ? AND ?", (first, last)).fetchall()
        return {position: (oid, version) for position, oid, version in rows}

    def records_of(self, originator_id: str) -> list[Record]:
        """One stream's records (``session:x1`` …), in log order, through the primary key's index:
        a transcript of one session in a million-event store reads only that session."""
        return [_record(row) for row in self._rows("e.originator_id = ?", (originator_id,))]

    def records_named(self, prefix: str, name: str) -> list[Record]:
        """The records of streams under ``prefix`` (``agent:``) whose event is ``name``, any version."""
        rows = self._rows("e.originator_id >= ? AND e.originator_id < ? AND e.topic LIKE ?",
                          (prefix, _after(prefix), f"%:{name}@%"))
        return [_record(row) for row in rows]

    def stream_keys(self, prefix: str) -> list[str]:
        """Every stream key starting with ``prefix`` (``session:`` …), sorted, from the index."""
        rows = self._db.execute(f"SELECT DISTINCT originator_id FROM {EVENTS_TABLE} "
                                "WHERE originator_id >= ? AND originator_id < ?",
                                (prefix, _after(prefix))).fetchall()
        return sorted(str(key) for (key,) in rows)

    def _rows(self, where: str, args: tuple[object, ...], suffix: str = "") -> list[Any]:
        """``(position, originator_id, version, topic, state, chain hash)`` rows, in log order."""
        chain = (f"c.hash FROM {EVENTS_TABLE} e LEFT JOIN {CHAIN_TABLE} c ON c.position = e.rowid"
                 if self.chained else f"NULL FROM {EVENTS_TABLE} e")
        query = (f"SELECT e.rowid, e.originator_id, e.originator_version, e.topic, e.state, {chain} "
                 f"WHERE {where} ORDER BY e.rowid{suffix}")
        try:
            return self._db.execute(query, args).fetchall()
        except sqlite3.OperationalError as error:
            if "decode" not in str(error):
                raise
        # A text column holds bytes that are not UTF-8 (written around the application): read
        # these rows keeping those bytes (surrogateescape), so the chain judges the exact bytes.
        self._db.text_factory = lambda raw: raw.decode("utf-8", "surrogateescape")
        try:
            return self._db.execute(query, args).fetchall()
        finally:
            self._db.text_factory = str

    def chain_orphans(self) -> list[tuple[int, str]]:
        """Chain entries ``(position, hash)`` with no event at their position: removed events."""
        if not self.chained:
            return []
        rows = self._db.execute(
            f"SELECT c.position, c.hash FROM {CHAIN_TABLE} c WHERE NOT EXISTS "
            f"(SELECT 1 FROM {EVENTS_TABLE} e WHERE e.rowid = c.position) ORDER BY c.position").fetchall()
        return [(int(p), str(h)) for p, h in rows]

    def close(self) -> None:
        self._db.close()


class AppSource:
    """The records of a running :class:`~coaching.application.Coaching`, whatever its store.

    Why: a backend on PostgreSQL exports or verifies its log through its own application, with
    the recorder it already configured. Reads pages of notifications and of chain entries and
    joins them by position.
    """

    def __init__(self, app: Application[Any], *, page_size: int = 5000) -> None:
        self.app = app
        self.page_size = page_size
        self._orphans: list[tuple[int, str]] = []

    def count(self) -> int:
        # The newest position, not a count: positions may have gaps (PostgreSQL's sequence), so
        # a progress bar may finish early; it never overruns.
        return int(self.app.recorder.max_notification_id() or 0)

    def _chain(self, start: int, stop: int | None) -> dict[int, str]:
        select = getattr(self.app.recorder, "select_chain", None)
        if select is None:
            return {}
        found: dict[int, str] = {}
        while True:
            page: list[tuple[int, str]] = select(start, self.page_size)
            for position, chain_hash in page:
                if stop is not None and position > stop:
                    return found
                found[position] = chain_hash
            if len(page) < self.page_size:
                return found
            start = page[-1][0] + 1

    def records(self, start: int = 1) -> Iterator[Record]:
        self._orphans = []
        while True:
            page = self.app.recorder.select_notifications(start=start, limit=self.page_size)
            stop = page[-1].id if len(page) == self.page_size else None
            chain = self._chain(start, stop)
            for n in page:
                yield Record(n.id, str(n.originator_id), n.originator_version, n.topic, n.state,
                             chain.pop(n.id, None))
            self._orphans.extend(sorted(chain.items()))
            if stop is None:
                return
            start = stop + 1

    def chain_orphans(self) -> list[tuple[int, str]]:
        """Chain entries with no event, seen by the last complete :meth:`records` pass."""
        return list(self._orphans)

    def close(self) -> None:
        """Nothing to release: the application belongs to the caller."""


def _parse_line(path: str | Path, number: int, line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ExportFormatError(path, number, f"not JSON ({error})") from None
    if not isinstance(value, dict):
        raise ExportFormatError(path, number, "not a JSON object")
    return value


def record_of_line(path: str | Path, number: int, line: dict[str, Any]) -> Record:
    """The :class:`Record` an export line holds.

    The stored bytes are the compact JSON of ``event`` without its ``originator_id`` and
    ``originator_version`` (the record's own columns), members in the order given; or
    ``state_base64`` decoded, for a state that is not such JSON (``docs/export.md``).
    """
    try:
        position, originator_id = line["position"], line["originator_id"]
        version, topic, chain_hash = line["originator_version"], line["topic"], line["hash"]
    except KeyError as missing:
        raise ExportFormatError(path, number, f"member {missing} is missing") from None
    if type(position) is not int or type(version) is not int or position < 1 or version < 1:
        raise ExportFormatError(path, number, "position and originator_version must be integers ≥ 1")
    if not isinstance(originator_id, str) or not isinstance(topic, str):
        raise ExportFormatError(path, number, "originator_id and topic must be strings")
    if chain_hash is not None and not isinstance(chain_hash, str):
        raise ExportFormatError(path, number, "hash must be a string")
    if "event" in line:
        event = line["event"]
        if not isinstance(event, dict):
            raise ExportFormatError(path, number, "event must be a JSON object")
        # The event as its schema describes it; the stored bytes are its other members, in order.
        if event.get("originator_id") != originator_id or event.get("originator_version") != version:
            raise ExportFormatError(path, number, "the event's originator_id and originator_version differ "
                                                  "from the line's")
        state = orjson.dumps({k: v for k, v in event.items() if k not in _ORIGINATOR_FIELDS})
    elif "state_base64" in line:
        try:
            state = base64.b64decode(line["state_base64"], validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise ExportFormatError(path, number, "state_base64 is not base64") from None
    else:
        raise ExportFormatError(path, number, "neither event nor state_base64 is present")
    return Record(position, originator_id, version, topic, state, chain_hash)


@dataclass(frozen=True, slots=True)
class Trailer:
    """The last line of a complete export: how many records it holds and the chain's head."""

    records: int
    head: str | None


class JsonlSource:
    """The records of an export file (``coaching export``): header line, one line per event, trailer.

    Reads line by line (constant memory). The header is checked on opening; the trailer (which
    proves the file was not cut short) is read by :meth:`trailer`, and checked by ``import``.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no such export file: {self.path}")
        with self.path.open("rb") as file:
            first = file.readline()
        if not first.strip():
            raise ExportFormatError(self.path, 1, "the file is empty: an export starts with a header line")
        self.header = _parse_line(self.path, 1, first)
        if self.header.get("format") != EXPORT_FORMAT:
            raise ExportFormatError(self.path, 1, f"not a {EXPORT_FORMAT} export (its first line has no "
                                                  f"\"format\": \"{EXPORT_FORMAT}\" header)")
        version = self.header.get("format_version")
        if version != EXPORT_FORMAT_VERSION:
            raise ExportFormatError(self.path, 1, f"format_version {version!r} is not supported "
                                                  f"(this library reads version {EXPORT_FORMAT_VERSION})")

    def lines(self) -> Iterator[tuple[int, dict[str, Any]]]:
        """``(line number, parsed line)`` for every line after the header, trailer included."""
        with self.path.open("rb") as file:
            file.readline()
            yield from self._lines(file)

    def _lines(self, file: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
        for number, line in enumerate(file, start=2):
            if line.strip():
                yield number, _parse_line(self.path, number, line)

    def records(self, start: int = 1) -> Iterator[Record]:
        for _, record in self.numbered_records():
            if record.position >= start:
                yield record

    def numbered_records(self) -> Iterator[tuple[int, Record]]:
        """Every record with its line number, then the trailer's proof that none is missing.

        Why every reader checks the trailer, not only ``import``: an audit of an export
        (``coaching audit FILE.jsonl``, ``transcript``, ``--verify``), or a copy of it, must not pass
        a file whose last events were cut off, nor one with lines after its end. The chain alone
        cannot see a cut tail (ADR 0018).
        """
        read = 0
        last_hash: str | None = None
        lines = self.lines()
        for number, line in lines:
            if "end" in line:
                self._check_end(number, line, read, last_hash, lines)
                return
            record = record_of_line(self.path, number, line)
            read += 1
            last_hash = record.chain_hash
            yield number, record
        raise ExportFormatError(self.path, read + 2, "the file ends without its trailer line: the export "
                                                     "was cut short (or is still being written)")

    def _check_end(self, number: int, line: dict[str, Any], read: int, last_hash: str | None,
                   rest: Iterator[tuple[int, dict[str, Any]]]) -> None:
        if line.get("end") != EXPORT_FORMAT or line.get("records") != read:
            raise ExportFormatError(self.path, number,
                                    f"the trailer says {line.get('records')!r} records but the file holds "
                                    f"{read}: lines were removed or added")
        head = line.get("head")
        if head is not None and head != last_hash:
            raise ExportFormatError(self.path, number, "the trailer's head is not the last record's hash: "
                                                       "the end of the export was altered")
        for extra, _ in rest:
            raise ExportFormatError(self.path, extra, "a line after the trailer: the export was altered")

    def trailer(self) -> Trailer | None:
        """The trailer line, or None when the file does not end with one (cut short)."""
        with self.path.open("rb") as file:
            file.seek(0, 2)
            size = file.tell()
            file.seek(max(0, size - 4096))
            tail = file.read().rstrip(b"\n").rsplit(b"\n", 1)[-1]
        try:
            line = orjson.loads(tail)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(line, dict) or line.get("end") != EXPORT_FORMAT:
            return None
        records, head = line.get("records"), line.get("head")
        if type(records) is not int or not (head is None or isinstance(head, str)):
            return None
        return Trailer(records, head)

    def count(self) -> int:
        trailer = self.trailer()
        if trailer is not None:
            return trailer.records
        with self.path.open("rb") as file:
            return max(0, sum(1 for line in file if line.strip()) - 1)

    def close(self) -> None:
        """Nothing stays open between reads."""


def open_source(path: str | Path) -> LogSource:
    """The log at ``path``: an SQLite store, or an export file (by content; ``.jsonl`` by name)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no such store or export file: {path}")
    with path.open("rb") as file:
        head = file.read(len(_SQLITE_MAGIC))
    if head == _SQLITE_MAGIC:
        return SQLiteSource(path)
    if path.suffix in (".jsonl", ".ndjson") or head.lstrip().startswith(b"{"):
        return JsonlSource(path)
    return SQLiteSource(path)
