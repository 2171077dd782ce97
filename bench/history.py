"""``python -m bench.history [--quick]``: one session's transcript out of a large log, against a raw scan.

Ours: :func:`coaching.audit.history.transcript` (open the store, read the session's stream,
decode it, fold the domain's transcript rule, close), for the session's customer. Baseline: what
a script with no index knowledge does for the same question, the least that can answer it: a raw
``sqlite3`` scan of every stored row in log order, keeping the session's rows and decoding each
kept state with ``orjson`` (no transcript at all). Both run in the same process, alternating
which goes first, round after round, each round on another session from the middle of the log;
the figures are medians, the ratio ours/baseline the median of the per-round ratios (higher is
better: questions answered per second).

Rows:
- (1) SQLite store: ours reads the stream through the store's primary-key index. Goal >= 10
  (a question about one session must not cost a scan of the whole log).
- (2) The same question through a source without an index (a plain filter over ``records()``:
  what an export file or any other ``LogSource`` gets). Goal >= 0.4. Row (2') shows the floor:
  ``SQLiteSource.records()`` alone (building a ``Record`` per row, with its chain hash) runs at
  about half the raw scan, so the filter and the fold must add little on top of it.
- (3) Time travel: ``session_at`` at a log position in the middle of the session, index path,
  against the raw scan of the rows up to that position. Informative.

The log is the demo simulator's (seeded), cached under ``bench/.cache/`` by ``bench.audit``
(shared with it: the first run simulates and copies it, later runs reuse it). Nothing here
asserts on time; ``--strict`` turns a missed goal into exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Final

import orjson

from bench.audit import cached_log
from bench.run import Row, table
from coaching.audit.history import History, Position, session_at, transcript
from coaching.domain.stream import session_key
from coaching.store.record import Record
from coaching.store.source import SQLiteSource

GOAL_INDEXED: Final = 10.0
GOAL_SCANNED: Final = 0.4
MIN_SECONDS: Final = 0.2
"""Repeat the faster side's question until this long has passed, so its rate is measurable."""


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Unindexed:
    """An SQLite store seen only through the ``LogSource`` protocol: History must scan it."""

    def __init__(self, path: Path) -> None:
        self.inner = SQLiteSource(path)

    def count(self) -> int:
        return self.inner.count()

    def records(self, start: int = 1) -> Iterator[Record]:
        return self.inner.records(start)

    def close(self) -> None:
        self.inner.close()


def raw_scan(path: Path, key: str, up_to: int | None = None) -> int:
    """The baseline: every row in log order, the stream's rows kept and decoded with orjson."""
    loads = orjson.loads
    kept = 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for position, originator_id, _version, _topic, state in db.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                "ORDER BY rowid"):
            if up_to is not None and position > up_to:
                break
            if originator_id == key:
                loads(state)
                kept += 1
    finally:
        db.close()
    return kept


def read_all(path: Path) -> int:
    """Every record of the store through ``SQLiteSource.records()``: what any scan must pay."""
    source = SQLiteSource(path)
    try:
        return sum(1 for _ in source.records())
    finally:
        source.close()


def rate(question: Callable[[], object], at_least: float) -> float:
    """Questions per second: ask until ``at_least`` seconds have passed (at least once)."""
    asked = 0
    started = time.perf_counter()
    while True:
        question()
        asked += 1
        elapsed = time.perf_counter() - started
        if elapsed >= at_least:
            return asked / elapsed


def sessions_to_ask(path: Path, rounds: int) -> list[tuple[str, str, int]]:
    """(session id, customer id, a log position inside it) for sessions from the middle of the log."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (total,) = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        picked = []
        for r in range(rounds):
            start = total * (r + 2) // (rounds + 3)
            (oid, state) = db.execute(
                "SELECT originator_id, state FROM stored_events WHERE rowid > ? "
                "AND topic LIKE '%:SessionOpened@%' ORDER BY rowid LIMIT 1", (start,)).fetchone()
            positions = [p for (p,) in db.execute(
                "SELECT rowid FROM stored_events WHERE originator_id = ? ORDER BY rowid", (oid,))]
            picked.append((oid.split(":", 1)[1], orjson.loads(state)["customer_id"],
                           positions[len(positions) // 2]))
    finally:
        db.close()
    return picked


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.history", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m bench.history --quick   # a 20k-event log, 3 rounds, seconds\n"
               "  python -m bench.history           # a 200k-event log, 5 rounds (the first run "
               "builds the log: about a minute)\nexit codes: 0 done (1 with --strict when a goal is missed)")
    parser.add_argument("--quick", action="store_true", help="a smaller log and fewer rounds (a smoke run)")
    parser.add_argument("--events", type=int, help="size of the log (default 200,000; quick 20,000)")
    parser.add_argument("--rounds", type=int, help="timed rounds per side (default 5; quick 3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    events = args.events or (20_000 if args.quick else 200_000)
    rounds = args.rounds or (3 if args.quick else 5)
    path = cached_log(events, args.seed)
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (size,) = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    asked = sessions_to_ask(path, rounds)

    def unindexed_transcript(session_id: str, customer: str) -> object:
        with History(Unindexed(path)) as history:
            entries = history.transcript(session_id, customer)
            history.source.close()
            return entries

    measured: dict[str, tuple[list[float], list[float]]] = {
        k: ([], []) for k in ("index", "scan", "floor", "at")}
    stream_sizes = []
    for r, (session_id, customer, middle) in enumerate(asked):
        key = session_key(session_id)
        stream_sizes.append(raw_scan(path, key))
        sides: dict[str, tuple[Callable[[], object], Callable[[], object]]] = {
            "index": (partial(transcript, path, session_id, customer), partial(raw_scan, path, key)),
            "scan": (partial(unindexed_transcript, session_id, customer), partial(raw_scan, path, key)),
            "floor": (partial(read_all, path), partial(raw_scan, path, key)),
            "at": (partial(session_at, path, session_id, Position(middle)),
                   partial(raw_scan, path, key, middle)),
        }
        for name, (ours, baseline) in sides.items():
            order = [(0, ours), (1, baseline)] if r % 2 == 0 else [(1, baseline), (0, ours)]
            got = [0.0, 0.0]
            for side, question in order:
                got[side] = rate(question, MIN_SECONDS if side == 0 else 0.0)
            measured[name][0].append(got[0])
            measured[name][1].append(got[1])
        _say(f"round {r + 1}/{rounds}: session {session_id} ({stream_sizes[-1]} events): "
             + ", ".join(f"{name} ours {m[0][-1]:,.1f}/s baseline {m[1][-1]:,.2f}/s"
                         for name, m in measured.items()))
    rows = [
        Row("(1) transcript of one session, SQLite store (index)", "questions/s",
            *measured["index"], goal=GOAL_INDEXED),
        Row("(2) the same, through a source without an index", "questions/s",
            *measured["scan"], goal=GOAL_SCANNED),
        Row("(2') the source's records() alone, nothing kept (floor of 2)", "passes/s", *measured["floor"]),
        Row("(3) session_at a position mid-session (index)", "questions/s", *measured["at"]),
    ]
    print(table(rows))
    print(f"\nlog: {size:,} events ({path.name}); sessions asked: {len(asked)} from the middle of the log, "
          f"{statistics.median(stream_sizes):.0f} events each (median); baseline: raw sqlite3 scan of "
          f"every row + orjson of the session's rows; ratio = median of per-round (ours / baseline), "
          f"alternating order; python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} cpus")
    ok = all(row.passed is not False for row in rows)
    return 0 if ok or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
