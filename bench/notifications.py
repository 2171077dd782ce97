"""``python -m bench.notifications [--quick]``: GWS notifications per event vs the plain replay.

The same simulated day (``coaching.simulation``, seeded) is stored in an SQLite file; both sides
run in the same process, round after round, alternating which goes first:

- **ours**: the notification projection (``coaching.gws.notifications``) producing every
  notification for every recipient (what a backend fanning out to all clients computes);
- **baseline**: the plain replay, ``coaching.replay.rebuild`` folding every aggregate's state.

Measured end to end (read the SQLite log, decode, then project or fold: the goal, >= 0.8) and
over the same already-decoded events (the projection alone against the fold alone). Two more
rows inform ADR 0017: the resume catch-up (``skip``, no payload built) and one recipient's
stream (``notifications_for``). Medians of the rounds; the ratio is the median of the per-round
ratios. Nothing asserts on time; ``--strict`` exits 1 when a goal is missed.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from eventsourcing.persistence import StoredEvent

from bench.run import Row, machine, table
from coaching.application import Coaching
from coaching.domain.events import AgentAccepted, DomainEvent
from coaching.gws.notifications import Follower, NotificationProjection
from coaching.replay import rebuild
from coaching.simulation import Shift, ShiftPlan

GOAL = 0.8
"""Notifications per event at least 0.8x the rate of the plain replay, end to end."""


@dataclass(frozen=True, slots=True)
class Settings:
    rounds: int
    sessions: int
    seed: int = 7


DEFAULT = Settings(rounds=9, sessions=1500)
QUICK = Settings(rounds=3, sessions=150)


def write_day(settings: Settings, path: str) -> tuple[list[tuple[int, DomainEvent]], Counter[str]]:
    """Simulate the day in memory, copy its records into an SQLite file (untimed)."""
    shift = Shift(ShiftPlan(seed=settings.seed, sessions=settings.sessions))
    memory = Coaching.in_memory(clock=shift.clock)
    stats = shift.run(memory)
    if stats.unexpected:
        raise AssertionError(f"the simulated day went wrong: {stats.unexpected[:3]}")
    rows = memory.recorder.select_notifications(start=1, limit=10**9)
    stored = Coaching.sqlite(path)
    try:
        for i in range(0, len(rows), 5000):
            stored.recorder.insert_events([StoredEvent(r.originator_id, r.originator_version, r.topic,
                                                       r.state) for r in rows[i:i + 5000]])
    finally:
        stored.close()
    log = list(memory.all_events())
    return log, Counter(type(e).__name__ for _, e in log)


def _timed(work: Callable[[], int]) -> tuple[float, int]:
    """Seconds taken by ``work`` and what it counted; a full collection first, so that garbage
    left by the other side is not collected on this side's clock."""
    gc.collect()
    started = time.perf_counter()
    counted = work()
    return time.perf_counter() - started, counted


def feed_all(log: Sequence[tuple[int, DomainEvent]]) -> int:
    projection = NotificationProjection()
    feed = projection.feed
    return sum(len(feed(position, event)) for position, event in log)


def skip_all(log: Sequence[tuple[int, DomainEvent]]) -> int:
    projection = NotificationProjection()
    skip = projection.skip
    for position, event in log:
        skip(position, event)
    return len(log)


def replay(events: Sequence[DomainEvent]) -> int:
    return rebuild(events).events


def stored_feed(path: str, recipient: str | None = None) -> int:
    app = Coaching.sqlite(path)
    try:
        return sum(1 for _ in Follower(app, recipient).iter())
    finally:
        app.close()


def stored_replay(path: str) -> int:
    app = Coaching.sqlite(path)
    try:
        return rebuild(event for _, event in app.all_events()).events
    finally:
        app.close()


def _rounds(rounds: int, events: int, ours: Callable[[], int], baseline: Callable[[], int],
            label: str, progress: Callable[[str], None]) -> tuple[list[float], list[float], int]:
    """Events per second of each side, ``rounds`` times, alternating which side goes first."""
    mine: list[float] = []
    theirs: list[float] = []
    counted = 0
    for r in range(rounds):
        sides = [(mine, ours), (theirs, baseline)]
        for rates, work in sides if r % 2 == 0 else sides[::-1]:
            seconds, n = _timed(work)
            rates.append(events / seconds)
            if rates is mine:
                counted = n
        progress(f"{label} round {r + 1}/{rounds}: ours {mine[-1]:,.0f}/s, "
                 f"baseline {theirs[-1]:,.0f}/s")
    return mine, theirs, counted


def run(settings: Settings, directory: str, progress: Callable[[str], None]) -> list[Row]:
    path = os.path.join(directory, "notifications-day.sqlite")
    progress(f"simulating a day of {settings.sessions} sessions (seed {settings.seed})")
    log, kinds = write_day(settings, path)
    events = [e for _, e in log]
    n = len(log)
    progress(f"{n:,} events; {kinds['MessageVisibleToAll'] + kinds['MessageVisibleToAgent']:,} "
             "messages")
    rows: list[Row] = []

    mine, theirs, sent = _rounds(settings.rounds, n, lambda: stored_feed(path),
                                 lambda: stored_replay(path), "end to end", progress)
    rows.append(Row("notifications, all recipients: read+decode+project vs read+decode+fold",
                    "events/s", mine, theirs, goal=GOAL,
                    notes={"events": n, "notifications": sent}))

    mine, theirs, sent = _rounds(settings.rounds, n, lambda: feed_all(log), lambda: replay(events),
                                 "decoded", progress)
    rows.append(Row("notifications, all recipients: project vs fold (decoded events)",
                    "events/s", mine, theirs, notes={"notifications_per_event": sent / n}))

    mine, theirs, _ = _rounds(settings.rounds, n, lambda: skip_all(log), lambda: replay(events),
                              "catch-up", progress)
    rows.append(Row("resume catch-up (skip: state only) vs fold (decoded events)", "events/s",
                    mine, theirs))

    recipient = next(e.agent_id for _, e in log if isinstance(e, AgentAccepted))
    mine, theirs, sent = _rounds(settings.rounds, n, lambda: stored_feed(path, recipient),
                                 lambda: stored_replay(path), "one recipient", progress)
    rows.append(Row(f"one recipient's stream ({recipient}) vs read+decode+fold", "events/s",
                    mine, theirs, notes={"notifications": sent}))
    return rows


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.notifications",
        description="GWS notifications computed per event, against the plain event replay, "
                    "side by side in the same run (see bench/README.md).")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 150 sessions, 3 rounds")
    parser.add_argument("--rounds", type=int, help="rounds per measurement (default 9, quick 3)")
    parser.add_argument("--sessions", type=int, help="sessions in the simulated day (default 1500)")
    parser.add_argument("--strict", action="store_true", help="exit status 1 when the goal is missed")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else DEFAULT
    settings = Settings(rounds=args.rounds or settings.rounds,
                        sessions=args.sessions or settings.sessions, seed=settings.seed)

    def progress(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-notifications-") as directory:
        rows = run(settings, directory, progress)
    print(table(rows))
    info = machine()
    print(f"\n{settings.rounds} rounds, medians; ratio = median of per-round ours/baseline; "
          f"goal: the first row >= {GOAL}. Python {info['python']}, {info['cpus']} CPUs "
          f"({info['processor']}), load average {info['load_average']}.")
    for row in rows:
        if row.notes:
            print(f"  {row.name}: {row.notes}")
    missed = [r for r in rows if r.passed is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
