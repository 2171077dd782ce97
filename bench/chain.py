"""``python -m bench.chain``: export and import throughput against raw sqlite3 + orjson, as ratios.

Ours: ``coaching.audit.transfer.export_log`` (read the store with its chain, verify every link,
write the ``coaching-log`` lines) and ``import_log`` (verify the whole file first: shape, decode
every event, the chain; then write batches through the chained recorder and check the head
after each). Baseline, the least a copy can do: a raw ``sqlite3`` read of the same rows dumped
as JSON lines with ``orjson`` (export); the same file's lines parsed and ``executemany``-inserted
into eventsourcing's table layout, one commit per 1,000 (import). No verification, no chain.

Both sides run in the same process, alternating which goes first, each on fresh files, over the
same demo log (a seeded shift simulated in memory, untimed). Medians over the rounds; the ratio
is the median of per-round ratios (ours / baseline; above 1 means ours is faster).
"""

from __future__ import annotations

import argparse
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import orjson

from coaching import Coaching
from coaching.audit.transfer import export_log, import_log
from coaching.simulation import Shift, ShiftPlan

GOALS = {"export": 0.33, "import": 0.25}
"""Minimum ratio ours/baseline (at most 3x / 4x the cost of an unverified raw copy): export also
verifies a SHA-256 link per event and checks each state is canonical JSON; import reads the file
twice, decodes every event with pydantic, verifies and writes the chain."""


def make_store(directory: Path, sessions: int) -> tuple[Path, int]:
    """A demo log in an SQLite store (simulated in memory, then imported): untimed set-up."""
    shift = Shift(ShiftPlan(seed=7, sessions=sessions, agents=40, supervisors=8))
    app = Coaching.in_memory(clock=shift.clock)
    shift.run(app, lambda _d, _t: None)
    staging = directory / "staging.jsonl"
    export_log(app, staging)
    store = directory / "demo.sqlite"
    summary = import_log(staging, store, batch_size=5000)
    staging.unlink()
    return store, summary.records


def baseline_export(store: Path, out: Path) -> int:
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    count, after = 0, 0
    with out.open("wb") as file:
        while True:
            rows = db.execute("SELECT rowid, originator_id, originator_version, topic, state "
                              "FROM stored_events WHERE rowid > ? ORDER BY rowid LIMIT 5000",
                              (after,)).fetchall()
            if not rows:
                break
            for position, oid, version, topic, state in rows:
                file.write(orjson.dumps({"position": position, "originator_id": oid,
                                         "originator_version": version, "topic": topic,
                                         "event": orjson.loads(state)}) + b"\n")
            count += len(rows)
            after = rows[-1][0]
    db.close()
    return count


def baseline_import(source: Path, target: Path) -> int:
    db = sqlite3.connect(target, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, topic TEXT, "
               "state BLOB, PRIMARY KEY (originator_id, originator_version))")
    batch: list[tuple[str, int, str, bytes]] = []
    count = 0

    def flush() -> None:
        db.execute("BEGIN")
        db.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", batch)
        db.execute("COMMIT")
        batch.clear()

    with source.open("rb") as file:
        for line in file:
            value = orjson.loads(line)
            if "position" not in value:
                continue
            event = value["event"]
            state = orjson.dumps({k: v for k, v in event.items()
                                  if k not in ("originator_id", "originator_version")})
            batch.append((value["originator_id"], value["originator_version"], value["topic"], state))
            count += 1
            if len(batch) >= 1000:
                flush()
    if batch:
        flush()
    db.close()
    return count


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = fn()
    return time.perf_counter() - start, count


def fresh(directory: Path, name: str) -> Path:
    path = directory / name
    for suffix in ("", "-wal", "-shm", ".partial"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chain", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a small log and 3 rounds: a smoke run")
    parser.add_argument("--sessions", type=int, default=None, help="sessions in the demo log (default 1500)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per measurement (default 5)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    sessions = args.sessions or (150 if args.quick else 1500)
    rounds = args.rounds or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="bench-chain-") as tmp:
        directory = Path(tmp)
        print(f"setting up a demo log of {sessions:,} sessions (simulated in memory, untimed) …",
              file=sys.stderr)
        store, events = make_store(directory, sessions)
        export_file = directory / "ours-reference.jsonl"
        export_log(store, export_file)
        rates: dict[str, dict[str, list[float]]] = {m: {"ours": [], "baseline": []} for m in GOALS}
        ratios: dict[str, list[float]] = {m: [] for m in GOALS}
        for round_ in range(rounds):
            sides = ["ours", "baseline"] if round_ % 2 == 0 else ["baseline", "ours"]
            for measurement in GOALS:
                got: dict[str, float] = {}
                for side in sides:
                    if measurement == "export":
                        out = fresh(directory, f"{side}.jsonl")
                        fn: Callable[[], int] = (
                            (lambda out=out: export_log(store, out).records) if side == "ours"
                            else (lambda out=out: baseline_export(store, out)))
                    else:
                        target = fresh(directory, f"{side}.sqlite")
                        fn = ((lambda t=target: import_log(export_file, t).records) if side == "ours"
                              else (lambda t=target: baseline_import(export_file, t)))
                    seconds, count = timed(fn)
                    assert count == events, (measurement, side, count, events)
                    got[side] = count / seconds
                    rates[measurement][side].append(got[side])
                ratios[measurement].append(got["ours"] / got["baseline"])
            print(f"round {round_ + 1}/{rounds} done", file=sys.stderr)
    print(f"log: {events:,} events ({sessions:,} sessions), {rounds} rounds, alternating sides")
    header = f"{'measurement':<38}{'unit':<10}{'ours':>12}{'baseline':>12}{'ratio':>8}{'goal':>9}  result"
    print(header)
    print("-" * len(header))
    missed = False
    for measurement, goal in GOALS.items():
        ours = statistics.median(rates[measurement]["ours"])
        base = statistics.median(rates[measurement]["baseline"])
        ratio = statistics.median(ratios[measurement])
        ok = ratio >= goal
        missed |= not ok
        label = ("export (verify chain + write lines)" if measurement == "export"
                 else "import (verify file + chained write)")
        print(f"{label:<38}{'events/s':<10}{ours:>12,.0f}{base:>12,.0f}{ratio:>8.2f}{'>= ' + str(goal):>9}  "
              f"{'PASS' if ok else 'MISS'}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}; load {os.getloadavg()}")
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    raise SystemExit(main())
