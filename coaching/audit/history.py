"""Transcripts and time travel over a recorded log: what a viewer was shown, and any state as it was.

Why a second way to ask what ``Coaching.transcript`` and ``Coaching.get_session`` answer: an
auditor holds a log, not a running application, and asks about the past ("what did the customer
see?", "who was in this session at 09:41?"). Every answer here is computed from the records of
that log with the domain's own folds (:func:`coaching.domain.transcript.transcript`, the
``evolve`` of each aggregate), so the audit and the live application share one definition of
each rule, and a stored log alone gives back any state it ever held (ADR 0022).

Why it reads one stream at a time: a session's transcript in a year of logs needs a few dozen
records out of millions. Records are selected by their stream key (``session:<id>``, see
:mod:`coaching.domain.stream`) before anything is decoded; an SQLite store answers that from its
primary-key index, any other :class:`~coaching.store.source.LogSource` by a plain filter over its
records (ADR 0022).

``at`` cuts the log: a :class:`Position` keeps every record up to that log position, a
timezone-aware ``datetime`` keeps each stream up to its first event recorded later than that
time (ADR 0023). ``None`` is the whole log.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Final, Self, TypeVar

from pydantic import TypeAdapter, ValidationError

from coaching.domain import agent as agent_rules
from coaching.domain import session as session_rules
from coaching.domain import supervisor as supervisor_rules
from coaching.domain import transcript as transcript_rules
from coaching.domain.agent import Agent, Supervision
from coaching.domain.errors import InvalidValue, NotFound
from coaching.domain.events import (
    AgentAccepted,
    DomainEvent,
    SessionOpened,
    SupervisionStarted,
    SupervisorAdded,
)
from coaching.domain.session import SmsSession, SupervisorPresence
from coaching.domain.stream import agent_key, session_key, supervisor_key
from coaching.domain.supervisor import Supervisor
from coaching.domain.transcript import TranscriptEntry
from coaching.domain.values import Identifier, ParticipantType
from coaching.store.record import Record, decode
from coaching.store.source import LogSource, open_source

PROGRESS_EVERY: Final = 10_000
"""How often (in records read) a full scan reports progress."""

NAMES_SHOWN: Final = 10
"""How many existing ids a "not found" message lists."""


# --- where in the log ---------------------------------------------------------------------------


class Position(int):
    """A log position: the state after the record at this position (0: before the first record)."""

    def __new__(cls, value: int) -> Self:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidValue(f"a log position is a whole number, 0 or more; got {value!r}")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"Position({int(self)})"


At = Position | datetime
"""Where to cut the log: a :class:`Position`, or a timezone-aware time (ADR 0023)."""

_DIGITS = re.compile(r"^\s*\d+\s*$")


def parse_at(text: str) -> At:
    """``812`` → ``Position(812)``; ``2025-04-14T09:30:00Z`` (or ``+02:00``) → an aware datetime.

    A time without a timezone is refused (ADR 0023): the log records UTC, and guessing the zone
    an auditor meant would silently answer about another moment.
    """
    if _DIGITS.match(text):
        return Position(int(text))
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidValue(
            f"{text!r} is neither a log position (a whole number) nor an ISO-8601 time "
            "such as 2025-04-14T09:30:00Z") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise InvalidValue(
            f"{text!r} has no timezone; the log records UTC: write {text.strip()}Z for UTC, "
            f"or give the offset you mean, e.g. {text.strip()}+02:00")
    return when


def check_at(at: At | int | None) -> At | None:
    """The cut ``at`` names (a plain int is a position), or :class:`InvalidValue` for what cannot
    cut a log: a naive time, a negative position, anything else."""
    if at is None or isinstance(at, Position):
        return at
    if isinstance(at, datetime):
        if at.tzinfo is None or at.utcoffset() is None:
            raise InvalidValue(f"{at.isoformat()} has no timezone; the log records UTC (ADR 0023)")
        return at
    if isinstance(at, int) and not isinstance(at, bool):
        return Position(at)
    raise InvalidValue(f"at must be a Position, an aware datetime or None; got {at!r}")


def format_time(when: datetime) -> str:
    """A recorded time as the CLI prints it: UTC, to the millisecond."""
    try:
        utc = when.astimezone(UTC)
    except OverflowError:  # a time near year 1 or 9999 whose UTC falls outside datetime's range
        return when.isoformat(sep=" ", timespec="milliseconds")
    return f"{utc:%Y-%m-%d %H:%M:%S}.{utc.microsecond // 1000:03d} UTC"


def describe_at(at: At | None) -> str:
    """``as of log position 812`` / ``as of 2025-04-14 09:30:00.000 UTC`` / ``at the end of the log``."""
    if at is None:
        return "at the end of the log"
    if isinstance(at, Position):
        return f"as of log position {int(at):,}"
    return f"as of {format_time(at)}"


# --- what was read ------------------------------------------------------------------------------


class UnreadableRecord(ValueError):
    """A record of the stream asked for cannot be decoded (unknown topic, malformed state)."""


@dataclass(frozen=True, slots=True)
class Stream:
    """One aggregate's events as recorded, cut at ``at``, each with its log position."""

    key: str
    at: At | None
    positions: tuple[int, ...]
    events: tuple[DomainEvent, ...]
    total: int
    """How many events the stream holds in the whole log (beyond the cut too)."""
    first: tuple[int, datetime] | None
    """Position and time of the stream's first event in the whole log (None: no such stream)."""

    def position_of(self, version: int) -> int:
        """The log position of this stream's event with that version."""
        for position, event in zip(self.positions, self.events, strict=True):
            if event.originator_version == version:
                return position
        raise KeyError(f"{self.key} has no event with version {version} up to the cut")

    @property
    def last(self) -> tuple[int, datetime] | None:
        """Position and time of the last event kept by the cut."""
        return (self.positions[-1], self.events[-1].timestamp) if self.events else None


@dataclass(frozen=True, slots=True)
class Viewer:
    """Someone a session showed something to: who, in which role, since when."""

    participant_id: str
    type: ParticipantType
    nickname: str
    joined_position: int
    """Log position where it first joined the session."""
    joined_at: datetime


@dataclass(frozen=True, slots=True)
class SupervisorAt:
    """A supervisor as it was: its registration, its supervisions, the sessions it was in."""

    supervisor: Supervisor
    supervisions: Mapping[str, Supervision]
    """Agent id → the supervision this supervisor had set up on that agent."""
    sessions: Mapping[str, SupervisorPresence]
    """Session id → how this supervisor took part in it."""


_IDENTIFIER: Final = TypeAdapter(Identifier)


def check_id(kind: str, value: str) -> str:
    """A GWS identifier, or :class:`InvalidValue` (GWS 10) saying what is wrong with it."""
    try:
        return _IDENTIFIER.validate_python(value)
    except ValidationError:
        raise InvalidValue(
            f"{kind} id {value!r} is not a GWS identifier (1 to 64 letters, digits and _.@:-, "
            "starting with a letter or digit)") from None


def _topic_name(topic: str) -> str:
    """``coaching:SupervisorAdded@v1`` → ``SupervisorAdded``: any version of the event."""
    return topic.split(":", 1)[-1].split("@", 1)[0]


class History:
    """Questions about the past of one recorded log. Open once, ask many times, then close.

    ``source`` is a :class:`~coaching.store.source.LogSource` (left open: it is the caller's), or
    a path given to :func:`~coaching.store.source.open_source` (closed by :meth:`close`).
    ``progress(records_read)`` is called during full scans of the log, which only sources
    without an index need.
    """

    def __init__(self, source: LogSource | str | PathLike[str], *,
                 progress: Callable[[int], object] | None = None) -> None:
        if isinstance(source, str | PathLike):
            self.source: LogSource = open_source(Path(source))
            self._owned = True
        else:
            self.source = source
            self._owned = False
        self.progress = progress

    def close(self) -> None:
        """Release the source, if this object opened it."""
        if self._owned:
            self.source.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    # --- reading records ----------------------------------------------------------------------

    def _all(self) -> Iterator[Record]:
        """The whole source in log order, reporting progress as it goes (and at the end)."""
        progress = self.progress
        n = 0
        for n, record in enumerate(self.source.records(), start=1):
            if progress is not None and n % PROGRESS_EVERY == 0:
                progress(n)
            yield record
        if progress is not None and n % PROGRESS_EVERY:
            progress(n)  # the end of the pass

    def _scan(self, keep: Callable[[Record], bool]) -> Iterator[Record]:
        """Every record ``keep`` accepts, in log order, by a plain pass over the whole source."""
        return filter(keep, self._all())

    def records_of(self, keys: Iterable[str]) -> dict[str, list[Record]]:
        """The records of each stream (``session:x1`` …), in log order, nothing decoded.

        Indexed sources answer stream by stream; any other source in one pass for all the keys.
        """
        wanted = list(dict.fromkeys(keys))
        own_index = getattr(self.source, "records_of", None)
        if callable(own_index):  # a source with an index on stream keys (an SQLite store)
            return {key: list(own_index(key)) for key in wanted}
        found: dict[str, list[Record]] = {key: [] for key in wanted}
        for record in self._all():  # the one scan most questions need: no call per record
            if record.originator_id in found:
                found[record.originator_id].append(record)
        return found

    def keys(self, prefix: str) -> list[str]:
        """Every stream key starting with ``prefix`` (``session:`` …), sorted."""
        own_index = getattr(self.source, "stream_keys", None)
        if callable(own_index):
            return list(own_index(prefix))
        return sorted({r.originator_id for r in self._scan(lambda r: r.originator_id.startswith(prefix))})

    def _records_named(self, wanted: Mapping[str, str]) -> list[Record]:
        """Records of streams under each prefix whose topic names that prefix's event (any version).

        ``wanted`` maps a stream prefix (``agent:``) to an event name (``SupervisionStarted``).
        """
        own_index = getattr(self.source, "records_named", None)
        if callable(own_index):
            return [record for prefix, name in wanted.items() for record in own_index(prefix, name)]
        return list(self._scan(lambda r: any(
            r.originator_id.startswith(prefix) and _topic_name(r.topic) == name
            for prefix, name in wanted.items())))

    @staticmethod
    def _decode(record: Record) -> DomainEvent:
        try:
            return decode(record)
        except Exception as error:  # whatever the codec raises, the auditor needs the position
            raise UnreadableRecord(
                f"cannot decode the record at log position {record.position} "
                f"({record.originator_id} version {record.originator_version}, topic "
                f"{record.topic!r}): {error}") from error

    def _cut(self, key: str, records: list[Record], at: At | None) -> Stream:
        """The stream decoded and cut at ``at``: a prefix of the stream (ADR 0023)."""
        at = check_at(at)
        events = [self._decode(r) for r in records]
        kept = len(records)
        if isinstance(at, Position):
            kept = next((i for i, r in enumerate(records) if r.position > at), kept)
        elif isinstance(at, datetime):
            for record, event in zip(records, events, strict=True):
                if event.timestamp.tzinfo is None:  # coaching records UTC; a row written around it
                    raise UnreadableRecord(
                        f"the record at log position {record.position} ({record.originator_id} version "
                        f"{record.originator_version}) has a time without a timezone "
                        f"({event.timestamp.isoformat()}), so it cannot be placed before or after "
                        f"{format_time(at)}; ask with a log position instead")
            kept = next((i for i, e in enumerate(events) if e.timestamp > at), kept)
        first = (records[0].position, events[0].timestamp) if records else None
        return Stream(key, at, tuple(r.position for r in records[:kept]), tuple(events[:kept]),
                      len(records), first)

    def stream(self, key: str, at: At | None = None) -> Stream:
        """One stream (``session:x1``, ``agent:a1`` …), decoded, cut at ``at``."""
        return self._cut(key, self.records_of([key])[key], at)

    # --- not found, said helpfully --------------------------------------------------------------

    def _missing(self, what: str, prefix: str, wanted: str) -> NotFound:
        existing = [key[len(prefix):] for key in self.keys(prefix)]
        if not existing:
            return NotFound(f"no {what} with id {wanted!r}: this log records no {what} at all")
        shown = ", ".join(existing[:NAMES_SHOWN])
        more = f" … ({len(existing):,} in all)" if len(existing) > NAMES_SHOWN else ""
        return NotFound(f"no {what} with id {wanted!r} in this log; it records: {shown}{more}")

    def _require(self, stream: Stream, what: str, prefix: str, wanted: str) -> Stream:
        if stream.first is None:
            raise self._missing(what, prefix, wanted)
        if not stream.events:
            position, when = stream.first
            raise NotFound(f"{what} {wanted!r} did not exist yet {describe_at(stream.at)}: its first "
                           f"event is at log position {position:,} ({format_time(when)})")
        return stream

    # --- the questions --------------------------------------------------------------------------

    def session(self, session_id: str, at: At | None = None) -> tuple[Stream, SmsSession]:
        """The session's stream up to the cut, and its state then (what ``get_session`` returned).

        :class:`NotFound` if the log holds no such session, or it was not opened yet by then.
        """
        check_id("session", session_id)
        found = self._require(self.stream(session_key(session_id), at), "SMS session", "session:",
                              session_id)
        state = session_rules.project(None, found.events)
        assert state is not None
        return found, state

    def session_at(self, session_id: str, at: At | None = None) -> SmsSession:
        """The session's state as it was at ``at``: what ``Coaching.get_session`` then returned."""
        return self.session(session_id, at)[1]

    def agent(self, agent_id: str, at: At | None = None) -> tuple[Stream, Agent]:
        """The agent's stream up to the cut, and its state then (what ``get_agent`` returned)."""
        check_id("agent", agent_id)
        found = self._require(self.stream(agent_key(agent_id), at), "agent", "agent:", agent_id)
        state = agent_rules.project(None, found.events)
        assert state is not None
        return found, state

    def agent_at(self, agent_id: str, at: At | None = None) -> Agent:
        """The agent's state as it was at ``at``: what ``Coaching.get_agent`` then returned."""
        return self.agent(agent_id, at)[1]

    def supervisions_at(self, agent_id: str, at: At | None = None) -> tuple[Supervision, ...]:
        """The supervisions active on the agent at ``at``, oldest first (``Coaching.supervisions``)."""
        return tuple(self.agent_at(agent_id, at).supervisions.values())

    def supervisor(self, supervisor_id: str, at: At | None = None) -> tuple[Stream, SupervisorAt]:
        """The supervisor at ``at``: registration, supervisions held, sessions it was present in.

        The supervisions and presences live in the agents' and sessions' streams; the streams
        that ever name this supervisor are found first (only their set-up and join records are
        decoded), then each is cut and folded like any other, so the answer agrees with
        :meth:`agent_at` and :meth:`session_at` by construction.
        """
        check_id("supervisor", supervisor_id)
        found = self._require(self.stream(supervisor_key(supervisor_id), at), "supervisor",
                              "supervisor:", supervisor_id)
        supervisor = supervisor_rules.project(None, found.events)
        assert supervisor is not None
        naming: dict[str, None] = {}
        for record in self._records_named({"agent:": "SupervisionStarted", "session:": "SupervisorAdded"}):
            event = self._decode(record)
            if (isinstance(event, SupervisionStarted | SupervisorAdded)
                    and event.supervisor_id == supervisor_id):
                naming[record.originator_id] = None
        supervisions: dict[str, Supervision] = {}
        sessions: dict[str, SupervisorPresence] = {}
        for key, records in self.records_of(naming).items():
            stream = self._cut(key, records, at)
            if key.startswith("agent:"):
                agent = agent_rules.project(None, stream.events)
                if agent is not None and supervisor_id in agent.supervisions:
                    supervisions[agent.agent_id] = agent.supervisions[supervisor_id]
            else:
                session = session_rules.project(None, stream.events)
                if session is not None and supervisor_id in session.supervisors:
                    sessions[session.session_id] = session.supervisors[supervisor_id]
        return found, SupervisorAt(supervisor, supervisions, sessions)

    def supervisor_at(self, supervisor_id: str, at: At | None = None) -> SupervisorAt:
        """The supervisor, its supervisions and the sessions it was in, as they were at ``at``."""
        return self.supervisor(supervisor_id, at)[1]

    def viewers(self, session_id: str, at: At | None = None) -> tuple[Viewer, ...]:
        """Everyone the session showed something to by ``at``: customer, agents, supervisors.

        Each with the role it is shown as (:func:`coaching.domain.transcript.viewers`) and where
        it first joined.
        """
        return self._viewers(self.session(session_id, at)[0])

    @staticmethod
    def _viewers(stream: Stream) -> tuple[Viewer, ...]:
        roles = transcript_rules.viewers(stream.events)
        joins: dict[str, tuple[str, int, datetime]] = {}
        for position, event in zip(stream.positions, stream.events, strict=True):
            match event:
                case SessionOpened():
                    joins.setdefault(event.customer_id, (event.customer_nickname, position, event.timestamp))
                case AgentAccepted():
                    joins.setdefault(event.agent_id, (event.nickname, position, event.timestamp))
                case SupervisorAdded():
                    joins.setdefault(event.supervisor_id, (event.nickname, position, event.timestamp))
        return tuple(Viewer(who, role, *joins[who]) for who, role in roles.items())

    def transcript(self, session_id: str, viewer_id: str, *,
                   at: At | None = None) -> list[TranscriptEntry]:
        """Exactly what ``viewer_id`` was shown of the session by ``at``, in order.

        An id that never took part in the session (anywhere in the log) is :class:`NotFound`,
        naming who did; one that joined only after the cut was shown nothing by then.
        """
        return self.transcript_of(session_id, viewer_id, at=at)[1]

    def transcript_of(self, session_id: str, viewer_id: str, *,
                      at: At | None = None) -> tuple[Stream, list[TranscriptEntry], Viewer]:
        """:meth:`transcript`, with the stream it was folded from and who the viewer is."""
        check_id("session", session_id)
        check_id("viewer", viewer_id)
        key = session_key(session_id)
        records = self.records_of([key])[key]
        whole = self._require(self._cut(key, records, None), "SMS session", "session:", session_id)
        everyone = {v.participant_id: v for v in self._viewers(whole)}
        viewer = everyone.get(viewer_id)
        if viewer is None:
            names = ", ".join(f"{v.participant_id} ({v.type})" for v in everyone.values())
            raise NotFound(f"{viewer_id!r} never took part in SMS session {session_id!r}, so was shown "
                           f"nothing; its viewers are: {names}")
        cut = self._require(self._cut(key, records, at), "SMS session", "session:", session_id)
        return cut, transcript_rules.transcript(cut.events, viewer_id), viewer


# --- the same questions as functions, for one-off use ----------------------------------------


T = TypeVar("T")


def _ask(source: LogSource | str | PathLike[str], question: Callable[[History], T]) -> T:
    with History(source) as history:
        return question(history)


def transcript(source: LogSource | str | PathLike[str], session_id: str, viewer_id: str, *,
               at: At | None = None) -> list[TranscriptEntry]:
    """What ``viewer_id`` was shown of the session by ``at`` (see :meth:`History.transcript`)."""
    return _ask(source, lambda h: h.transcript(session_id, viewer_id, at=at))


def viewers(source: LogSource | str | PathLike[str], session_id: str,
            at: At | None = None) -> tuple[Viewer, ...]:
    """Who the session showed something to by ``at``, with their role."""
    return _ask(source, lambda h: h.viewers(session_id, at))


def session_at(source: LogSource | str | PathLike[str], session_id: str,
               at: At | None = None) -> SmsSession:
    """The session's state as it was at ``at``."""
    return _ask(source, lambda h: h.session_at(session_id, at))


def agent_at(source: LogSource | str | PathLike[str], agent_id: str, at: At | None = None) -> Agent:
    """The agent's state as it was at ``at``."""
    return _ask(source, lambda h: h.agent_at(agent_id, at))


def supervisions_at(source: LogSource | str | PathLike[str], agent_id: str,
                    at: At | None = None) -> tuple[Supervision, ...]:
    """The supervisions active on the agent at ``at``, oldest first."""
    return _ask(source, lambda h: h.supervisions_at(agent_id, at))


def supervisor_at(source: LogSource | str | PathLike[str], supervisor_id: str,
                  at: At | None = None) -> SupervisorAt:
    """The supervisor, its supervisions and its sessions as they were at ``at``."""
    return _ask(source, lambda h: h.supervisor_at(supervisor_id, at))


__all__ = [
    "At",
    "History",
    "Position",
    "Stream",
    "SupervisorAt",
    "UnreadableRecord",
    "Viewer",
    "agent_at",
    "check_at",
    "check_id",
    "describe_at",
    "format_time",
    "parse_at",
    "session_at",
    "supervisions_at",
    "supervisor_at",
    "transcript",
    "viewers",
]
