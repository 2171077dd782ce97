"""``python -m bench.audit [--quick]``: ``coaching audit`` over a million events, against a raw read.

Ours: :func:`coaching.audit.check.audit` on an SQLite store, exactly what ``coaching audit STORE``
runs (every rule, the report, the text rendering). Baseline: a raw ``sqlite3`` read of the same
rows (the five stored columns, in log order) with each state decoded by ``orjson`` and nothing
else: the least any audit must do. Both run in the same process, alternating which goes first,
round after round; the figure is the median, the ratio ours/baseline the median of the
per-round ratios. Goal: ratio >= 0.5.

Memory: the peak resident set (``VmHWM``, i.e. ``ru_maxrss`` of the process image: Linux carries
``ru_maxrss`` across ``execve``, so a child would inherit the bench's own peak) of a fresh
process running ``coaching audit STORE --format json``, on a log of
about 100k events and on one of about 1M; goal <= 250 MB at 1M, growing by <= 50 MB from 100k.

The logs come from the demo's simulator (seeded), run in memory and copied into an SQLite file
in big batches through eventsourcing's recorder, and are cached under ``bench/.cache/`` (keyed by
seed and size), so only the first run pays for them. Nothing here asserts on time; ``--strict``
turns a missed goal into exit status 1.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import orjson
from eventsourcing.persistence import StoredEvent

from bench.run import Row, table
from coaching.application import Coaching
from coaching.cli import main as main_cli
from coaching.simulation import ShiftPlan, run_shift

CACHE: Final = Path(__file__).resolve().parent / ".cache"
EVENTS_PER_SESSION: Final = 20
"""About how many events a demo session records (measured: 19.9 with the plan below)."""
GOAL_RATIO: Final = 0.5
GOAL_PEAK_MB: Final = 250.0
GOAL_GROWTH_MB: Final = 50.0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def plan_for(events: int, seed: int) -> ShiftPlan:
    """A demo shift of about ``events`` events: 40 agents, 6 supervisors."""
    return ShiftPlan(seed=seed, sessions=max(1, events // EVENTS_PER_SESSION), agents=40, supervisors=6)


def cached_log(events: int, seed: int) -> Path:
    """The SQLite file of the shift for (seed, size), written once and reused."""
    plan = plan_for(events, seed)
    path = CACHE / f"audit-seed{seed}-sessions{plan.sessions}.sqlite"
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    _say(f"writing {path.name}: simulating {plan.sessions:,} sessions in memory (cached for later runs)")
    started = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        if now - last[0] > 10:
            last[0] = now
            _say(f"  simulated {done:,}/{total:,} sessions")

    source, stats = run_shift(plan, progress=progress)
    if stats.unexpected:
        raise AssertionError(f"the simulation went wrong: {stats.unexpected[:3]}")
    _say(f"  {stats.events:,} events in {time.perf_counter() - started:.0f} s; copying into SQLite")
    partial = path.with_suffix(".partial")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    target = Coaching.sqlite(str(partial))
    try:
        start = 1
        while page := source.recorder.select_notifications(start=start, limit=50_000):
            target.recorder.insert_events([
                StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                            topic=n.topic, state=n.state) for n in page])
            start = page[-1].id + 1
    finally:
        source.close()
        target.close()
    db = sqlite3.connect(partial)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{partial}{suffix}").unlink(missing_ok=True)
    partial.rename(path)
    return path


def raw_read(path: Path) -> int:
    """The baseline: every stored row in log order, its state decoded with orjson."""
    loads = orjson.loads
    n = 0
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        for _position, _oid, _version, _topic, state in db.execute(
                "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events "
                "ORDER BY rowid"):
            loads(state)
            n += 1
    finally:
        db.close()
    return n


def ours(path: Path) -> int:
    """Exactly ``coaching audit STORE --no-progress``: every rule, the report, the text summary."""
    out, err = io.StringIO(), io.StringIO()
    code = main_cli(["audit", str(path), "--no-progress"], out=out, err=err)
    if code != 0:
        raise AssertionError(f"the demo log fails its audit ({code}): {out.getvalue()[:2000]}")
    match = re.search(r"^  log +([\d,]+) events", out.getvalue(), re.MULTILINE)
    if match is None:
        raise AssertionError(f"no event count in the summary: {out.getvalue()[:500]}")
    return int(match[1].replace(",", ""))


def _timed(fn: Callable[[Path], int], path: Path) -> tuple[float, int]:
    started = time.perf_counter()
    n = fn(path)
    return n / (time.perf_counter() - started), n


def peak_rss_mb(path: Path) -> float:
    """Peak resident memory (MB) of a fresh process auditing ``path`` the way the CLI does."""
    _say(f"  {path.name}")
    # ru_maxrss survives execve on Linux (the child would report the bench's own peak if that was
    # higher), so the child reads VmHWM, the peak RSS of its own memory image, and ru_maxrss too.
    code = ("import resource, sys\n"
            "from coaching.cli import main\n"
            "code = main(['audit', sys.argv[1], '--no-progress', '--format', 'json', '--out', '/dev/null'])\n"
            "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')]\n"
            "print(hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
            "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent, check=False)
    if done.returncode != 0:
        raise AssertionError(f"the audit subprocess failed ({done.returncode}): {done.stderr[-2000:]}")
    kib = int(done.stdout.strip().splitlines()[-1])
    return kib / 1024  # Linux reports ru_maxrss in KiB


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.audit", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  python -m bench.audit --quick     # 20k and 100k events, 3 rounds\n"
               "  python -m bench.audit             # 100k and 1M events, 5 rounds (first run builds the "
               "cache: a few minutes)\nexit codes: 0 done (1 with --strict when a goal is missed)")
    parser.add_argument("--quick", action="store_true", help="smaller logs and fewer rounds (a smoke run)")
    parser.add_argument("--events", type=int, help="size of the large log (default 1,000,000; quick 100,000)")
    parser.add_argument("--small", type=int, help="size of the small log (default 100,000; quick 20,000)")
    parser.add_argument("--rounds", type=int, help="timed rounds per side (default 5; quick 3)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--no-memory", dest="memory", action="store_false", help="skip the ru_maxrss runs")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    large = args.events or (100_000 if args.quick else 1_000_000)
    small = args.small or (20_000 if args.quick else 100_000)
    rounds = args.rounds or (3 if args.quick else 5)

    big = cached_log(large, args.seed)
    little = cached_log(small, args.seed)
    mine: list[float] = []
    theirs: list[float] = []
    events = 0
    for r in range(rounds):
        order = [("ours", ours), ("baseline", raw_read)]
        if r % 2:
            order.reverse()
        rates = {}
        for name, fn in order:
            rates[name], events = _timed(fn, big)
        mine.append(rates["ours"])
        theirs.append(rates["baseline"])
        _say(f"round {r + 1}/{rounds}: audit {rates['ours']:,.0f} events/s, "
             f"raw read + orjson {rates['baseline']:,.0f} events/s")
    rows = [Row(f"coaching audit over {events:,} events", "events/s", mine, theirs, goal=GOAL_RATIO)]
    print(table(rows))
    ok = all(row.passed is not False for row in rows)
    if args.memory:
        _say("memory: auditing each log in a fresh process (ru_maxrss)")
        peak_small, peak_big = peak_rss_mb(little), peak_rss_mb(big)
        small_events, big_events = _count(little), _count(big)
        growth = peak_big - peak_small
        print()
        print(f"peak memory of `coaching audit` (fresh process, ru_maxrss): {small_events:,} events "
              f"{peak_small:.0f} MB, {big_events:,} events {peak_big:.0f} MB")
        print(f"  goal: <= {GOAL_PEAK_MB:.0f} MB at the large log: "
              f"{'PASS' if peak_big <= GOAL_PEAK_MB else 'FAIL'} ({peak_big:.0f} MB)")
        print(f"  goal: growth <= {GOAL_GROWTH_MB:.0f} MB from the small log to the large one: "
              f"{'PASS' if growth <= GOAL_GROWTH_MB else 'FAIL'} ({growth:+.0f} MB)")
        ok = ok and peak_big <= GOAL_PEAK_MB and growth <= GOAL_GROWTH_MB
    print(f"\nratio = median of per-round (ours / baseline); {rounds} rounds, alternating order; "
          f"ours median {statistics.median(mine):,.0f}/s, baseline {statistics.median(theirs):,.0f}/s; "
          f"python {sys.version.split()[0]}, sqlite {sqlite3.sqlite_version}, "
          f"{os.cpu_count()} cpus, bench process max RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    return 0 if ok or not args.strict else 1


def _count(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        (n,) = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()
    return int(n)


if __name__ == "__main__":
    sys.exit(main())
