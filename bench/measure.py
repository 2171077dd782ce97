"""The two measurements, one function per side, each returning a rate and what it processed.

Each function builds its own fresh SQLite file (same recorder, same settings on both sides),
does its untimed set-up, then times only the step being compared.
"""

from __future__ import annotations

import gc
import os
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from bench import baseline
from bench.baseline import BaselineAgent, BaselineApp, BaselineSession
from bench.workload import (
    Day,
    baseline_day,
    baseline_open_and_offer,
    baseline_staff,
    coaching_day,
    coaching_open_and_offer,
    coaching_staff,
    copy_log,
)
from coaching.application import Coaching
from coaching.replay import States, rebuild

#: The repository cache settings the ``Coaching`` class declares; the baseline application is
#: given the same, so neither side reloads from the store what the other keeps in memory.
CACHE_ENV = {k: v for k, v in Coaching.env.items()
             if k.startswith(("AGGREGATE_CACHE_", "DEEPCOPY_FROM_AGGREGATE_CACHE"))}


@dataclass(frozen=True, slots=True)
class Run:
    """One timed run: ``count`` things done in ``seconds``; ``peak`` bytes if traced."""

    seconds: float
    count: int
    events: int
    peak: int | None = None

    @property
    def rate(self) -> float:
        return self.count / self.seconds


@dataclass
class _Timing:
    seconds: float = 0.0
    peak: int | None = None


@contextmanager
def _timed(trace: bool) -> Iterator[_Timing]:
    """Time the block; with ``trace``, also the peak of memory allocated inside it."""
    timing = _Timing()
    gc.collect()
    if trace:
        tracemalloc.start()
    start = time.perf_counter()
    try:
        yield timing
    finally:
        timing.seconds = time.perf_counter() - start
        if trace:
            timing.peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()


def coaching_sqlite(path: str) -> Coaching:
    return Coaching.sqlite(path)


def baseline_sqlite(path: str) -> BaselineApp:
    return BaselineApp({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path,
                        **CACHE_ENV})


# --- (a) Accept with a supervisor: 3 events, 2 aggregates, one transaction ---------------------


def accept_ours(path: str, day: Day, trace: bool = False) -> Run:
    """``Coaching.accept`` on ``day.sessions`` offered sessions; only the accepts are timed."""
    app = coaching_sqlite(path)
    try:
        coaching_staff(app, day)
        for j in range(day.sessions):
            coaching_open_and_offer(app, day, j, j % day.agents)
        pairs = [(day.agent_id(j % day.agents), day.session_id(j)) for j in range(day.sessions)]
        before = app.recorder.max_notification_id() or 0
        accept = app.accept
        with _timed(trace) as out:
            for agent_id, session_id in pairs:
                accept(agent_id, session_id)
        events = (app.recorder.max_notification_id() or 0) - before
    finally:
        app.close()
    return Run(out.seconds, day.sessions, events, out.peak)


def accept_baseline(path: str, day: Day, trace: bool = False) -> Run:
    """:func:`bench.baseline.accept` on ``day.sessions`` offered sessions; only accepts timed."""
    app = baseline_sqlite(path)
    try:
        staff = baseline_staff(app, day)
        for agent in staff.agents:  # as on our side, where each Offer already loaded the agent
            app.repository.get(agent)
        pairs: list[tuple[UUID, UUID]] = []
        for j in range(day.sessions):
            session_id = baseline_open_and_offer(app, day, j, j % day.agents)
            pairs.append((session_id, staff.agents[j % day.agents]))
        before = app.recorder.max_notification_id() or 0
        accept = baseline.accept
        with _timed(trace) as out:
            for session_id, agent_id in pairs:
                accept(app, session_id, agent_id)
        events = (app.recorder.max_notification_id() or 0) - before
    finally:
        app.close()
    return Run(out.seconds, day.sessions, events, out.peak)


# --- (b) rebuild every aggregate from the whole log -------------------------------------------


@dataclass(frozen=True, slots=True)
class Log:
    """A log written once and rebuilt many times."""

    path: str
    events: int
    aggregates: int
    state_bytes: int
    """Total size of the stored event states (the JSON payloads)."""


def write_log_ours(path: str, day: Day) -> Log:
    """The day through ``Coaching`` in memory, copied byte for byte into a fresh SQLite file."""
    source = Coaching.in_memory()
    coaching_day(source, day)
    return _persist(source, coaching_sqlite(path), path)


def write_log_baseline(path: str, day: Day) -> Log:
    """The day through the baseline in memory, copied byte for byte into a fresh SQLite file."""
    source = BaselineApp({"PERSISTENCE_MODULE": "eventsourcing.popo", **CACHE_ENV})
    baseline_day(source, day)
    return _persist(source, baseline_sqlite(path), path)


def _persist(source: Application[Any], target: Application[Any], path: str) -> Log:
    try:
        events = copy_log(source, target)
        ids: set[object] = set()
        size = 0
        start = 1
        while page := target.recorder.select_notifications(start=start, limit=5000):
            for n in page:
                ids.add(n.originator_id)
                size += len(n.state)
            start = page[-1].id + 1
    finally:
        source.close()
        target.close()
    return Log(path, events, len(ids), size)


@dataclass(frozen=True, slots=True)
class Totals:
    """What a rebuild found, compared across sides to prove they rebuilt the same day."""

    agents: int
    supervisors: int
    sessions: int
    completed: int
    accepted: int
    messages: int


def rebuild_ours(log: Log, page_size: int, trace: bool = False) -> tuple[Run, Totals]:
    """Read the log in pages, decode with ``PydanticMapper``, fold with ``coaching.replay``."""
    app = coaching_sqlite(log.path)
    try:
        with _timed(trace) as out:
            states = rebuild(event for _, event in app.all_events(page_size))
    finally:
        app.close()
    return Run(out.seconds, states.events, states.events, out.peak), _ours_totals(states)


def _ours_totals(states: States) -> Totals:
    return Totals(
        agents=len(states.agents), supervisors=len(states.supervisors),
        sessions=len(states.sessions),
        completed=sum(s.status.value == "Completed" for s in states.sessions.values()),
        accepted=sum(a.sessions_accepted for a in states.agents.values()),
        messages=sum(s.message_count for s in states.sessions.values()))


def rebuild_baseline(log: Log, page_size: int, trace: bool = False) -> tuple[Run, Totals]:
    """Read the log in pages, decode with the default ``Mapper``, fold with each event's ``mutate``.

    ``mutate`` is what eventsourcing's ``project_aggregate`` calls for each event (minus its
    ``isinstance`` assertion against a runtime-checkable protocol, which would only slow the
    baseline down).
    """
    app = baseline_sqlite(log.path)
    recorder, to_domain_event = app.recorder, app.mapper.to_domain_event
    aggregates: dict[UUID, Any] = {}
    count = 0
    try:
        with _timed(trace) as out:
            start = 1
            while True:
                page = recorder.select_notifications(start=start, limit=page_size)
                for notification in page:
                    domain_event: Any = to_domain_event(notification)
                    key = domain_event.originator_id
                    aggregates[key] = domain_event.mutate(aggregates.get(key))
                count += len(page)
                if len(page) < page_size:
                    break
                start = page[-1].id + 1
    finally:
        app.close()
    return Run(out.seconds, count, count, out.peak), _baseline_totals(aggregates)


def _baseline_totals(aggregates: dict[UUID, Any]) -> Totals:
    agents = [a for a in aggregates.values() if isinstance(a, BaselineAgent)]
    sessions = [s for s in aggregates.values() if isinstance(s, BaselineSession)]
    return Totals(
        agents=len(agents), supervisors=len(aggregates) - len(agents) - len(sessions),
        sessions=len(sessions), completed=sum(s.status == "Completed" for s in sessions),
        accepted=sum(a.sessions_accepted for a in agents),
        messages=sum(s.message_count for s in sessions))


def fresh_path(directory: str, name: str) -> str:
    """A path for a new SQLite file (any leftover of the same name removed first)."""
    path = os.path.join(directory, name)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    return path

