"""The audit run: stream a recorded log once, check every rule over it, account for it, verify it.

One pass, in recorded order: each record is decoded, handed to the rules
(:class:`coaching.invariants.LogChecker`, the same definitions the property tests use) and to the
report (:class:`coaching.audit.report.ReportBuilder`), and, with ``verify``, to the hash chain's
verifier (:class:`coaching.store.chain.ChainVerifier`). Nothing is loaded through the application: an
audit must not depend on the code that wrote the log behaving as it did then.

Why two decoders (ADR 0020): the contract's decoder (pydantic, :func:`coaching.store.source.decode`)
validates every field and runs at about a third of the speed of reading the rows; the rules
and the report need only the record's JSON, so by default a record of a current topic is read
with ``orjson`` and its fields are used as they are. A record the fast path cannot use (not
JSON, a missing field, an old topic needing an upcaster) goes through the contract's decoder; if
that refuses it too, the record is reported as undecodable and the audit fails.
``validate=True`` sends every record through the contract's decoder.

Use it from Python::

    from coaching.audit.check import audit_path
    result = audit_path("coaching.sqlite", verify=True)
    if not result.ok:
        print(result.render("text"))
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, Literal

import orjson
from pydantic import ValidationError

from coaching.audit.report import (
    DEFAULT_TIMELINE_LIMIT,
    AuditReport,
    Findings,
    ReportBuilder,
    render_html,
    render_json,
    render_text,
)
from coaching.domain.events import ALL_EVENTS
from coaching.invariants import Fields, LogChecker, Rule, Violation
from coaching.store.chain import ChainVerifier
from coaching.store.codec import CODEC
from coaching.store.record import Record, decode
from coaching.store.source import LogSource, SQLiteSource, open_source

Format = Literal["text", "json", "html"]

DEFAULT_KEEP: Final = 1000
"""Violations (and undecodable records) kept in detail; every one is counted regardless."""

PAGE: Final = 10_000
"""Rows fetched from SQLite at a time; the progress callback runs once a page."""
PROGRESS_EVERY: Final = 10_000
"""Records between two progress callbacks on other sources."""

_CURRENT: Final = frozenset(cls.TOPIC for cls in ALL_EVENTS)


@dataclass
class AuditResult:
    """Everything an audit found: violations by rule, undecodable records, the chain, the report."""

    source: str
    report: AuditReport
    violations: list[Violation]
    counts: dict[Rule, int]
    undecodable: list[tuple[int, str, str]] = field(default_factory=list)
    undecodable_count: int = 0
    chain: Any = None
    """The :class:`coaching.store.chain.ChainResult` when verified, else None."""
    expected_head: str | None = None
    seconds: float = 0.0

    @property
    def events(self) -> int:
        return self.report.events

    @property
    def total_violations(self) -> int:
        return sum(self.counts.values())

    @property
    def ok(self) -> bool:
        """No rule broken, every record decoded, and (when verified) the chain holds."""
        return (not self.total_violations and not self.undecodable_count
                and (self.chain is None or bool(self.chain.ok)))

    @property
    def findings(self) -> Findings:
        chain = None
        if self.chain is not None:
            c = self.chain
            chain = {"ok": c.ok, "records": c.records, "head": c.head, "first_break": c.first_break,
                     "reason": c.reason, "expected_head": self.expected_head,
                     "anchor_position": getattr(c, "anchor_position", None)}
        return Findings(self.violations, dict(self.counts), self.undecodable, self.undecodable_count, chain)

    def render(self, fmt: Format = "text") -> str:
        """The report as a terminal summary, JSON, or a self-contained HTML page."""
        if fmt == "json":
            return render_json(self.report, self.findings, self.source).decode()
        if fmt == "html":
            return render_html(self.report, self.findings, self.source)
        return render_text(self.report, self.findings, self.source)


class _Run:
    """The state of one pass: the rules, the report, and the records that did not decode."""

    def __init__(self, checker: LogChecker, builder: ReportBuilder, keep: int) -> None:
        self.checker, self.builder, self.keep = checker, builder, keep
        self.undecodable: list[tuple[int, str, str]] = []
        self.undecodable_count = 0

    def slow(self, position: int, originator_id: str, version: int, topic: str, state: bytes, *,
             counted: bool = False) -> bool:
        """Through the contract's decoder (upcasting old topics); a refusal is a finding.

        ``counted``: the driver already counted this record for the report (by its stored topic).
        Returns whether the record decoded.
        """
        try:
            event = CODEC.decode(topic, originator_id, version, state)
        except (ValidationError, ValueError, TypeError, KeyError) as error:
            self.undecodable_count += 1
            if len(self.undecodable) < self.keep:
                reason = str(error).splitlines()[0] if str(error) else type(error).__name__
                # a topic column holding a BLOB or NULL (a tampered row) is named, not crashed on
                named = topic if isinstance(topic, str) else repr(topic)
                self.undecodable.append((position, named, reason[:300]))
            return False
        fields = event.__dict__
        self.checker.feed_fields(position, event.TOPIC, fields)
        if counted:
            self.builder.handlers[event.TOPIC](position, fields)
        else:
            self.builder.feed_fields(position, event.TOPIC, fields)
        return True


def _stream_of(source: SQLiteSource, position: int) -> tuple[str, int]:
    """The stream id and version of the record at ``position`` (for the contract's decoder).

    As stored: a value that is not an id or a version (a row written around the application)
    makes the contract's decoder refuse the record, which the audit lists as undecodable.
    """
    return source.streams(position, position).get(position, ("?", 0))


def audit(source: LogSource, *, name: str = "", sessions: Collection[str] | None = None,
          timeline_limit: int = DEFAULT_TIMELINE_LIMIT, validate: bool = False, verify: bool = False,
          expected_head: str | None = None, keep: int = DEFAULT_KEEP, violation_timelines: int = 0,
          progress: Callable[[int], None] | None = None) -> AuditResult:
    """Audit a whole log in one streaming pass; ``progress(records done)`` now and then.

    ``sessions`` names the sessions to give a detailed timeline (else the first
    ``timeline_limit``); ``violation_timelines`` > 0 adds, by a second pass, the timelines of up
    to that many sessions with a violation that were not selected (for the HTML page).
    ``verify`` (or an ``expected_head``) walks the tamper-evidence chain in the same pass.
    """
    started = time.perf_counter()
    checker = LogChecker(keep=keep)
    builder = ReportBuilder(sessions, timeline_limit)
    run = _Run(checker, builder, keep)
    verifier = None
    if verify or expected_head:
        verifier = ChainVerifier(expected_head=expected_head, source=source)
    if isinstance(source, SQLiteSource) and verifier is None:
        _fast_pass(source, run, validate, progress)
    else:
        _record_pass(source.records(), run, validate, verifier, progress)
    checker.finish()
    report = builder.finish()
    if violation_timelines > 0:
        _add_violation_timelines(source, report, checker.violations, violation_timelines)
    return AuditResult(name or str(getattr(source, "path", "")), report, checker.violations,
                       dict(checker.counts), run.undecodable, run.undecodable_count,
                       verifier.finish() if verifier is not None else None, expected_head,
                       time.perf_counter() - started)


def _fast_pass(source: SQLiteSource, run: _Run, validate: bool,
               progress: Callable[[int], None] | None) -> None:
    """The hot loop: one ``orjson.loads`` per row, its fields straight to the rules and the report.

    At a million events every operation per event shows, so the bookkeeping is per page: topics
    are counted with ``Counter.update`` (in C), the report's and the checker's counting is handed
    over at the end (:meth:`ReportBuilder.counted`), and a topic with no current class (an old
    version to upcast) is found by the ``KeyError`` of the report's handler table.
    """
    checker, builder = run.checker, run.builder
    check = checker.check_fields
    handlers = builder.handlers
    loads = orjson.loads
    by_type: Counter[str] = Counter()
    first: tuple[int, str, bytes] | None = None
    last: tuple[int, str, bytes] | None = None
    done = 0
    for page in source.pages(PAGE):
        by_type.update(map(itemgetter(1), page))
        if first is None:
            first = page[0]
        last = page[-1]
        if validate:
            streams = source.streams(page[0][0], page[-1][0])
            for position, topic, state in page:
                if not run.slow(position, *streams[position], topic, state, counted=True):
                    by_type[topic] -= 1
        else:
            for position, topic, state in page:
                try:
                    handler = handlers[topic]
                    fields = loads(state)
                    check(position, topic, fields)
                    handler(position, fields)
                except (ValueError, KeyError, TypeError, AttributeError):
                    # an old topic, not JSON, or a field the rules need is missing or of the wrong
                    # kind: the contract's decoder upcasts it, or says exactly what is wrong
                    if not run.slow(position, *_stream_of(source, position), topic, state, counted=True):
                        by_type[topic] -= 1
        done += len(page)
        if progress is not None:
            progress(done)
    checker.events += by_type.total()
    builder.counted(+by_type, _ends(first), _ends(last))
    if progress is not None:
        progress(done)


def _ends(row: tuple[int, str, bytes] | None) -> tuple[int, Fields] | None:
    """The first or last row, decoded for its timestamp (None if it does not decode)."""
    if row is None:
        return None
    try:
        fields = orjson.loads(row[2])
    except orjson.JSONDecodeError:
        return None
    return (row[0], fields) if isinstance(fields, dict) and "timestamp" in fields else None


def _record_pass(records: Iterator[Record], run: _Run, validate: bool, verifier: Any,
                 progress: Callable[[int], None] | None) -> None:
    """Any :class:`LogSource` (an export file, or a store being verified): records, then the same steps."""
    check, account = run.checker.feed_fields, run.builder.feed_fields
    loads, current = orjson.loads, _CURRENT
    done = 0
    for record in records:
        done += 1
        if done % PROGRESS_EVERY == 0 and progress is not None:
            progress(done)
        if verifier is not None:
            verifier.feed(record)
        topic = record.topic
        if validate or topic not in current:
            run.slow(record.position, record.originator_id, record.originator_version, topic, record.state)
            continue
        try:
            fields = loads(record.state)
            check(record.position, topic, fields)
            account(record.position, topic, fields)
        except (ValueError, KeyError, TypeError, AttributeError):
            run.slow(record.position, record.originator_id, record.originator_version, topic, record.state)
    if progress is not None:
        progress(done)


def _add_violation_timelines(source: LogSource, report: AuditReport, violations: list[Violation],
                             limit: int) -> None:
    """A second pass for the timelines of sessions with a violation that the first did not keep."""
    have = {t.session_id for t in report.timelines}
    wanted: list[str] = []
    for v in violations:
        if v.session_id and v.session_id not in have and v.session_id not in wanted:
            wanted.append(v.session_id)
            if len(wanted) == limit:
                break
    if not wanted:
        return
    builder = ReportBuilder(wanted)
    for record in source.records():
        try:
            if record.topic in _CURRENT:
                builder.feed_fields(record.position, record.topic, orjson.loads(record.state))
            else:
                event = decode(record)
                builder.feed_fields(record.position, event.TOPIC, event.__dict__)
        except (ValueError, KeyError, TypeError, AttributeError, ValidationError):
            continue  # already reported as undecodable by the main pass
    extra = builder.finish().timelines
    report.timelines.extend(extra)
    report.sessions_without_timeline = max(0, report.sessions_without_timeline - len(extra))


def audit_path(path: str | Path, **options: Any) -> AuditResult:
    """Open the log at ``path`` (a store or an export), audit it (see :func:`audit`), close it."""
    source = open_source(path)
    try:
        return audit(source, name=str(path), **options)
    finally:
        source.close()


def count_records(source: LogSource) -> int:
    """How many records the log holds (for a progress bar's total)."""
    return source.count()
