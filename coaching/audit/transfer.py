"""Export a log to a versioned JSON-lines file, and import one into a store, chain included.

Why a file format of our own rather than a database dump: logs outlive databases and are read
by tools outside Python. An export is one JSON object per line (``docs/export.md``): a header,
one line per event whose ``event`` member validates against its topic's committed schema
(``docs/events/``), and a trailer with the count and the chain's head, so a file cut short is
refused rather than imported as a shorter log.

Both directions stream in constant memory and check the chain as they go (ADR 0019): an export
is a verified copy (a store whose chain is broken is not exported), and an import verifies the
whole file before writing anything, then writes batch by batch through the chained recorder and
checks that the store's recomputed hashes are the exported ones.
"""

from __future__ import annotations

import base64
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import orjson
from eventsourcing.persistence import IntegrityError, StoredEvent
from pydantic import ValidationError

from coaching.application import Coaching
from coaching.domain.errors import AlreadyExists, CoachingError, InvalidState, InvalidValue
from coaching.store.chain import ALGORITHM, GENESIS, ChainedRecorder, ChainResult, ChainVerifier, link
from coaching.store.codec import CODEC
from coaching.store.record import Record
from coaching.store.source import (
    EXPORT_FORMAT,
    EXPORT_FORMAT_VERSION,
    AppSource,
    ExportFormatError,
    JsonlSource,
    LogSource,
    open_source,
)

Progress = Callable[[str, int, int], None]
"""``progress(phase, done, total)``: phase is ``"export"``, ``"verify"`` or ``"import"``."""

_PROGRESS_EVERY = 2000
_ORIGINATOR = frozenset({"originator_id", "originator_version"})


class ChainBroken(InvalidValue):
    """The log (a store, or an export file) fails its chain: nothing was exported or imported (GWS 10)."""

    def __init__(self, message: str, result: ChainResult, line: int | None = None) -> None:
        super().__init__(message)
        self.result = result
        self.line = line


class TargetNotEmpty(AlreadyExists):
    """The import target already holds events, and appending was not asked for (GWS 18)."""


class OutputExists(AlreadyExists):
    """The export file exists, and overwriting was not asked for (GWS 18)."""


class TargetNotChained(InvalidState):
    """The import target's recorder keeps no chain (a user-chosen APPLICATION_RECORDER_TOPIC) (GWS 2)."""


class ChainMismatch(CoachingError):
    """The target store computed other hashes than the export's (a bug, never bad input) (GWS 4)."""


def library_version() -> str:
    """The installed ``coaching`` version (written into export headers)."""
    try:
        return version("coaching")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
        return "unknown"


# --- export ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExportSummary:
    """What an export wrote: where, how many records, the chain's head, and how long it took."""

    path: str
    source: str
    records: int
    head: str | None
    first_position: int | None
    last_position: int | None
    bytes: int
    seconds: float
    by_topic: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        """The readable summary ``coaching export`` prints."""
        span = (f"positions {self.first_position:,}-{self.last_position:,}"
                if self.first_position is not None and self.last_position is not None else "no positions")
        rate = self.records / max(self.seconds, 1e-9)
        out = [f"exported {self.records:,} events from {self.source} to {self.path}",
               f"  {span}, {self.bytes / 1e6:,.1f} MB, {self.seconds:.1f} s ({rate:,.0f} events/s)",
               f"  chain verified: OK; head {self.head or GENESIS}",
               "  anchor the head elsewhere: `coaching audit STORE --verify --expect-head HEAD` "
               "checks it later"]
        if self.by_topic:
            out.append("  events by topic:")
            width = max(len(t) for t in self.by_topic)
            out += [f"    {topic:<{width}} {n:>10,}" for topic, n in sorted(self.by_topic.items())]
        return out


def _header(source: str, created_at: datetime) -> bytes:
    return orjson.dumps({
        "format": EXPORT_FORMAT, "format_version": EXPORT_FORMAT_VERSION,
        "library": "coaching", "library_version": library_version(),
        "source": source, "created_at": created_at.isoformat(),
        "chain": {"algorithm": ALGORITHM, "genesis": GENESIS},
    }) + b"\n"


def _trailer(records: int, head: str | None) -> bytes:
    return orjson.dumps({"end": EXPORT_FORMAT, "records": records, "head": head}) + b"\n"


def encode_line(record: Record) -> bytes:
    """One export line: the record's columns, its chain hash, and the event as its schema describes it.

    ``event`` is the stored JSON with ``originator_id`` and ``originator_version`` spliced in front
    (as :meth:`~coaching.store.codec.EventCodec.decode` does), so it validates against the topic's
    committed schema. That needs the stored bytes to be exactly ``orjson.dumps`` of themselves
    (every state ``coaching`` writes is): then the bytes the hash covers can be recomputed from
    the line. Anything else (an encrypted or compressed store) goes as ``state_base64``.
    """
    state = record.state
    head = b'{"position":%d,"originator_id":%b,"originator_version":%d,"topic":%b,' % (
        record.position, orjson.dumps(record.originator_id), record.originator_version,
        orjson.dumps(record.topic))
    tail = b',"hash":%b}\n' % orjson.dumps(record.chain_hash)
    try:
        value = orjson.loads(state)
    except orjson.JSONDecodeError:
        value = None
    if isinstance(value, dict) and not value.keys() & _ORIGINATOR and orjson.dumps(value) == state:
        origin = b'{"originator_id":%b,"originator_version":%d' % (
            orjson.dumps(record.originator_id), record.originator_version)
        rest = b"}" if state == b"{}" else b"," + memoryview(state)[1:]
        return head + b'"event":' + origin + rest + tail
    return head + b'"state_base64":"' + base64.b64encode(state) + b'"' + tail


def _open_log(source: LogSource | Coaching | str | Path) -> tuple[LogSource, str, bool]:
    if isinstance(source, str | Path):
        return open_source(source), str(source), True
    if isinstance(source, Coaching):
        return AppSource(source), f"the {type(source.recorder).__name__} of {source.name}", False
    return source, type(source).__name__, False


def export_log(source: LogSource | Coaching | str | Path, path: str | Path,
               progress: Progress | None = None, *, overwrite: bool = False,
               created_at: datetime | None = None) -> ExportSummary:
    """Write the whole log of ``source`` (a store path, a ``LogSource`` or an application) to ``path``.

    Streams (constant memory) into ``path + ".partial"``, verifying the chain record by record,
    and renames it to ``path`` only when the whole log verified: a half-written or unverified
    export never carries the final name. Raises :class:`ChainBroken` when the log's chain is
    broken, :class:`OutputExists` when ``path`` exists and ``overwrite`` is false.
    """
    out = Path(path)
    if out.exists() and isinstance(source, str | Path) and out.resolve() == Path(source).resolve():
        raise OutputExists(f"{out} is the log being exported: writing the export there would destroy it "
                           "(--force or not); choose another file")
    if out.exists() and not overwrite:
        raise OutputExists(f"{out} exists; choose another file or allow overwriting (--force)")
    started = time.perf_counter()
    log, description, owned = _open_log(source)
    partial = out.with_name(out.name + ".partial")
    try:
        total = log.count()
        verifier = ChainVerifier(source=log)
        by_topic: Counter[str] = Counter()
        first = last = None
        records = 0
        if progress is not None:
            progress("export", 0, total)
        with partial.open("wb") as file:
            file.write(_header(description, created_at or datetime.now(UTC)))
            for record in log.records():
                verifier.feed(record)
                if verifier.broken:
                    break
                file.write(encode_line(record))
                by_topic[record.topic] += 1
                records += 1
                if first is None:
                    first = record.position
                last = record.position
                if progress is not None and records % _PROGRESS_EVERY == 0:
                    progress("export", records, total)
            result = verifier.finish()
            if not result.ok:
                raise ChainBroken(f"the chain of {description} is broken at position {result.first_break}: "
                                  f"{result.reason}; nothing was exported (`coaching audit --verify` "
                                  "shows the same)", result)
            file.write(_trailer(records, result.head))
            size = file.tell()
        os.replace(partial, out)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        if owned:
            log.close()
    if progress is not None:
        progress("export", records, max(total, records))
    return ExportSummary(str(out), description, records, result.head, first, last, size,
                         time.perf_counter() - started, dict(by_topic))


# --- import ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import wrote, and whether the store's chain reproduced the exported hashes."""

    path: str
    target: str
    records: int
    batches: int
    head: str | None
    first_position: int | None
    last_position: int | None
    seconds: float
    hashes_match: bool
    appended_after: int = 0

    def lines(self) -> list[str]:
        """The readable summary ``coaching import`` prints."""
        rate = self.records / max(self.seconds, 1e-9)
        span = (f"positions {self.first_position:,}-{self.last_position:,}"
                if self.first_position is not None and self.last_position is not None else "no positions")
        out = [f"imported {self.records:,} events from {self.path} into {self.target}",
               f"  {span}, {self.batches:,} transactions, {self.seconds:.1f} s ({rate:,.0f} events/s)",
               "  the export's chain verified before anything was written"]
        if self.appended_after:
            out.append(f"  appended after {self.appended_after:,} existing events: the store's chain "
                       "continues from its own head, so its hashes differ from the export's")
        elif self.hashes_match:
            out.append("  the store recomputed every hash of the export: identical")
        out.append(f"  store head {self.head or GENESIS}")
        return out


@dataclass
class _Checked:
    records: int = 0
    head: str | None = None


def _decodes(source: JsonlSource, number: int, record: Record) -> None:
    try:
        CODEC.decode(record.topic, record.originator_id, record.originator_version, record.state)
    except (ValidationError, ValueError) as error:
        problem = str(error).splitlines()[0]
        raise ExportFormatError(source.path, number, f"the event does not decode as {record.topic!r}: "
                                                     f"{problem}") from None


def _chain_break(source: JsonlSource, number: int, result: ChainResult) -> ChainBroken:
    return ChainBroken(f"{source.path}, line {number}: the export's chain is broken at position "
                       f"{result.first_break}: {result.reason}; nothing was imported", result, number)


def _records_checked(source: JsonlSource, progress: Progress | None, total: int,
                     checked: _Checked) -> Iterator[tuple[int, Record]]:
    """Every record of the file with its line number, checked: shape, decoding, order, chain, trailer."""
    verifier = ChainVerifier()
    versions: dict[str, int] = {}
    previous = 0
    if progress is not None:
        progress("verify", 0, total)
    # the source checks each line's shape, and the trailer against what precedes it
    for number, record in source.numbered_records():
        _decodes(source, number, record)
        if record.position <= previous:
            raise ExportFormatError(source.path, number, f"position {record.position} does not follow "
                                                         f"position {previous}")
        if record.originator_version <= versions.get(record.originator_id, 0):
            raise ExportFormatError(source.path, number,
                                    f"{record.originator_id} version {record.originator_version} comes "
                                    f"after version {versions[record.originator_id]} of the same stream")
        versions[record.originator_id] = record.originator_version
        previous = record.position
        verifier.feed(record)
        if verifier.broken:
            raise _chain_break(source, number, verifier.finish())
        checked.records += 1
        if progress is not None and checked.records % _PROGRESS_EVERY == 0:
            progress("verify", checked.records, total)
        yield number, record
    result = verifier.finish()
    checked.head = result.head
    if progress is not None:
        progress("verify", checked.records, total)


def verify_export(path: str | Path, progress: Progress | None = None) -> ImportSummary:
    """Check an export file completely (what import checks first) without writing anything."""
    started = time.perf_counter()
    source = JsonlSource(path)
    checked = _Checked()
    first = last = None
    for _, record in _records_checked(source, progress, source.count(), checked):
        first = record.position if first is None else first
        last = record.position
    return ImportSummary(str(path), "(nothing: verified only)", checked.records, 0, checked.head, first,
                         last, time.perf_counter() - started, True)


def _target_app(target: Coaching | str | Path) -> tuple[Coaching, str, bool]:
    if isinstance(target, Coaching):
        return target, f"the {type(target.recorder).__name__} of {target.name}", False
    return Coaching.sqlite(str(target)), str(target), True


def _existing(app: Coaching) -> int:
    return int(app.recorder.max_notification_id() or 0)


def import_log(path: str | Path, target: Coaching | str | Path, progress: Progress | None = None, *,
               append: bool = False, batch_size: int = 1000) -> ImportSummary:
    """Import the export at ``path`` into ``target`` (an SQLite store path, or an application).

    First the whole file is verified (shape, every event decodes, stream order, the chain, the
    trailer); nothing is written unless all of it holds. Then it is written in batches of
    ``batch_size`` events, one transaction each, through the target's chained recorder; after
    each batch the store's chain head must equal the hash recomputed for that batch's last event
    (into an empty store: the exported hash itself). Raises :class:`TargetNotEmpty` when the
    target holds events and ``append`` is false, :class:`ChainBroken` / ``ExportFormatError``
    for a bad file (naming the line), :class:`TargetNotChained` when the target keeps no chain.
    """
    if batch_size < 1:
        raise InvalidValue(f"batch_size must be at least 1, got {batch_size}")
    started = time.perf_counter()
    source = JsonlSource(path)
    app: Coaching | None = None
    owned = False
    if isinstance(target, Coaching) or Path(target).exists():
        app, description, owned = _target_app(target)  # fail fast on a non-empty target
    try:
        if app is not None:
            _refuse_unusable(app, description, append)
        total = source.count()
        checked = _Checked()
        for _ in _records_checked(source, progress, total, checked):
            pass
        if app is None:
            app, description, owned = _target_app(target)
        existing = _refuse_unusable(app, description, append)
        summary = _write(app, description, source, checked, progress, batch_size, existing)
    finally:
        if owned and app is not None:
            app.close()
    return ImportSummary(str(path), description, summary[0], summary[1], summary[2], summary[3],
                         summary[4], time.perf_counter() - started, not existing, existing)


def _refuse_unusable(app: Coaching, description: str, append: bool) -> int:
    if not isinstance(app.recorder, ChainedRecorder):
        raise TargetNotChained(f"{description} keeps no tamper-evidence chain (its recorder is "
                               f"{type(app.recorder).__name__}); import into a store written by Coaching")
    existing = _existing(app)
    if existing and not append:
        raise TargetNotEmpty(f"{description} already holds events (up to position {existing:,}); import "
                             "into an empty store, or append after them (--append)")
    return existing


def _write(app: Coaching, description: str, source: JsonlSource, checked: _Checked,
           progress: Progress | None, batch_size: int,
           existing: int) -> tuple[int, int, str | None, int | None, int | None]:
    recorder = app.recorder
    assert isinstance(recorder, ChainedRecorder)
    current = recorder.chain_head()
    expected = current[1] if current else GENESIS
    batch: list[StoredEvent] = []
    lines: list[int] = []
    written = batches = 0
    first: int | None = None
    last: int | None = None

    def flush() -> None:
        nonlocal written, batches, first, last
        try:
            positions = app.recorder.insert_events(batch)
        except IntegrityError as error:
            raise AlreadyExists(f"{source.path}, line {lines[0]}: an event of lines {lines[0]}-{lines[-1]} "
                                f"already exists in {description} ({error}); {written:,} events were "
                                "imported before it") from None
        head = recorder.chain_head()
        if head is None or head[1] != expected:
            raise ChainMismatch(f"after line {lines[-1]}, {description} has chain head "
                                f"{head[1] if head else None!r}, expected {expected!r}; "
                                f"{written + len(batch):,} events were written")
        written += len(batch)
        batches += 1
        if positions:
            first = positions[0] if first is None else first
            last = positions[-1]
        batch.clear()
        lines.clear()
        if progress is not None:
            progress("import", written, checked.records)

    if progress is not None:
        progress("import", 0, checked.records)
    # The file is read (and checked) again while writing: it could have changed since pass one.
    for number, record in _records_checked(source, None, checked.records, _Checked()):
        # Into an empty store this is the exported hash (the file's chain was verified from GENESIS).
        expected = link(expected, record.originator_id, record.originator_version, record.topic, record.state)
        batch.append(StoredEvent(originator_id=record.originator_id,
                                 originator_version=record.originator_version,
                                 topic=record.topic, state=record.state))
        lines.append(number)
        if len(batch) >= batch_size:
            flush()
    if batch:
        flush()
    if progress is not None:
        progress("import", written, checked.records)
    final = recorder.chain_head()
    return written, batches, final[1] if final else None, first, last
