"""``python -m bench [--quick] [--json [FILE]]``: coaching vs plain eventsourcing, side by side.

Both sides run in the same process, back to back, round after round (alternating which goes
first); each figure is the median of the rounds, the ratio ours / baseline the median of the
per-round ratios (higher is better for rates). Nothing here asserts on time: the table reports,
``--strict`` turns a missed goal into exit status 1. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.measure import (
    CACHE_ENV,
    Log,
    Run,
    Totals,
    accept_baseline,
    accept_ours,
    fresh_path,
    rebuild_baseline,
    rebuild_ours,
    write_log_baseline,
    write_log_ours,
)
from bench.workload import Day, expected_events

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True, slots=True)
class Settings:
    accept_rounds: int
    rebuild_rounds: int
    accepts: int
    """Accepts timed per round, per side."""
    rebuild_sessions: int
    """Sessions in the day whose log is rebuilt (about 13 events each)."""
    page_size: int = 1000
    trace_memory: bool = True


DEFAULT = Settings(accept_rounds=5, rebuild_rounds=9, accepts=1000, rebuild_sessions=3000)
QUICK = Settings(accept_rounds=3, rebuild_rounds=3, accepts=150, rebuild_sessions=150)

ACCEPT_DAY_AGENTS = 20
"""The accept benchmark's agent pool: sessions are offered round-robin, so each agent accepts many."""


@dataclass
class Row:
    """One line of the table."""

    name: str
    unit: str
    ours: list[float]
    baseline: list[float]
    goal: float | None = None
    """Minimum ratio ours/baseline; None for an informative figure."""
    higher_is_better: bool = True
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def ours_median(self) -> float:
        return statistics.median(self.ours)

    @property
    def baseline_median(self) -> float:
        return statistics.median(self.baseline)

    @property
    def ratio(self) -> float:
        """The median of the per-round ratios: each round runs both sides back to back."""
        return statistics.median(o / b for o, b in zip(self.ours, self.baseline, strict=True))

    @property
    def passed(self) -> bool | None:
        return None if self.goal is None else self.ratio >= self.goal


def _spread(values: Sequence[float]) -> str:
    """The rounds' range as ± half of (max - min), in percent of the median."""
    if len(values) < 2:
        return ""
    return f"±{50 * (max(values) - min(values)) / statistics.median(values):.0f}%"


def _alternate(rounds: int, ours: Callable[[int], Run], baseline: Callable[[int], Run],
               progress: Callable[[str], None], label: str) -> tuple[list[Run], list[Run]]:
    """Run both sides ``rounds`` times, swapping which goes first every round."""
    mine: list[Run] = []
    theirs: list[Run] = []
    for r in range(rounds):
        if r % 2 == 0:
            mine.append(ours(r))
            theirs.append(baseline(r))
        else:
            theirs.append(baseline(r))
            mine.append(ours(r))
        progress(f"{label} round {r + 1}/{rounds}: ours {mine[-1].rate:,.0f}/s, "
                 f"baseline {theirs[-1].rate:,.0f}/s")
    return mine, theirs


def bench_accept(settings: Settings, directory: str, progress: Callable[[str], None]) -> list[Row]:
    day = Day(agents=ACCEPT_DAY_AGENTS, agents_per_supervisor=5, sessions=settings.accepts)
    mine, theirs = _alternate(
        settings.accept_rounds,
        lambda r: accept_ours(fresh_path(directory, f"accept-ours-{r}.sqlite"), day),
        lambda r: accept_baseline(fresh_path(directory, f"accept-baseline-{r}.sqlite"), day),
        progress, "accept")
    for run in (*mine, *theirs):
        if run.events != 3 * run.count:
            raise AssertionError(f"an accept wrote {run.events / run.count} events, not 3")
    rows = [Row("(a) Accept + supervisor (3 events, 2 aggregates, 1 tx)", "commands/s",
                [r.rate for r in mine], [r.rate for r in theirs], goal=0.7,
                notes={"accepts_per_round": settings.accepts, "events_per_accept": 3,
                       "agents": day.agents})]
    if settings.trace_memory:
        progress("accept: memory pass (tracemalloc, untimed)")
        m = accept_ours(fresh_path(directory, "accept-ours-mem.sqlite"), day, trace=True)
        b = accept_baseline(fresh_path(directory, "accept-baseline-mem.sqlite"), day, trace=True)
        rows.append(Row("(a) peak memory allocated during the accepts", "KiB",
                        [(m.peak or 0) / 1024], [(b.peak or 0) / 1024], higher_is_better=False))
    return rows


def bench_rebuild(settings: Settings, directory: str,
                  progress: Callable[[str], None]) -> tuple[list[Row], Log, Log]:
    day = Day(agents=40, agents_per_supervisor=5, sessions=settings.rebuild_sessions)
    progress(f"rebuild: writing both logs ({expected_events(day):,} events each)")
    ours_log = write_log_ours(fresh_path(directory, "log-ours.sqlite"), day)
    baseline_log = write_log_baseline(fresh_path(directory, "log-baseline.sqlite"), day)
    if (ours_log.events, ours_log.aggregates) != (baseline_log.events, baseline_log.aggregates):
        raise AssertionError(f"the logs differ in shape: {ours_log} vs {baseline_log}")
    mine: list[Run] = []
    theirs: list[Run] = []
    rebuilt: Totals | None = None
    for r in range(settings.rebuild_rounds):
        if r % 2 == 0:
            (a, found_ours), (b, found_baseline) = (rebuild_ours(ours_log, settings.page_size),
                                                    rebuild_baseline(baseline_log, settings.page_size))
        else:
            (b, found_baseline), (a, found_ours) = (rebuild_baseline(baseline_log, settings.page_size),
                                                    rebuild_ours(ours_log, settings.page_size))
        if found_ours != found_baseline:
            raise AssertionError(f"the rebuilds disagree: {found_ours} vs {found_baseline}")
        rebuilt = found_ours
        mine.append(a)
        theirs.append(b)
        progress(f"rebuild round {r + 1}/{settings.rebuild_rounds}: ours {a.rate:,.0f}/s, "
                 f"baseline {b.rate:,.0f}/s")
    rows = [Row("(b) Rebuild every aggregate from the whole log", "events/s",
                [r.rate for r in mine], [r.rate for r in theirs], goal=1.5,
                notes={"events": ours_log.events, "aggregates": ours_log.aggregates,
                       "page_size": settings.page_size,
                       "avg_stored_state_bytes": {
                           "ours": round(ours_log.state_bytes / ours_log.events, 1),
                           "baseline": round(baseline_log.state_bytes / baseline_log.events, 1)},
                       "rebuilt": asdict(rebuilt) if rebuilt else None})]
    if settings.trace_memory:
        progress("rebuild: memory pass (tracemalloc, untimed)")
        m, _ = rebuild_ours(ours_log, settings.page_size, trace=True)
        b, _ = rebuild_baseline(baseline_log, settings.page_size, trace=True)
        rows.append(Row("(b) peak memory allocated during the rebuild", "MiB",
                        [(m.peak or 0) / 2**20], [(b.peak or 0) / 2**20], higher_is_better=False))
    return rows, ours_log, baseline_log


def _number(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def table(rows: Sequence[Row]) -> str:
    header = ("measurement", "unit", "ours", "baseline", "ratio", "goal", "result")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        goal = f">= {row.goal:.2f}" if row.goal is not None else "-"
        result = "info" if row.passed is None else ("PASS" if row.passed else "FAIL")
        lines.append((row.name, row.unit,
                      f"{_number(row.ours_median)} {_spread(row.ours)}".strip(),
                      f"{_number(row.baseline_median)} {_spread(row.baseline)}".strip(),
                      f"{row.ratio:.2f}", goal, result))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for n, line in enumerate(lines):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [cell.rjust(width) for cell, width in zip(line[2:], widths[2:], strict=True)]
        out.append("  ".join(cells))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def machine() -> dict[str, Any]:
    def version(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"

    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "processor": _cpu_model(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "sqlite": sqlite3.sqlite_version,
        "eventsourcing": version("eventsourcing"),
        "pydantic": version("pydantic"),
        "pydantic_core": version("pydantic_core"),
        "orjson": version("orjson"),
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


EXPLAINED = """\
How to read it: ours and baseline are medians over the rounds (± half the rounds' range, in % of
the median); ratio = ours / baseline, the median of the per-round ratios (each round runs both
sides back to back, so a burst of load elsewhere hits both). For a rate, above 1 means coaching
is faster; for memory, above 1 means coaching allocates more. A goal is a minimum ratio.
Both sides run in this process, alternating which goes first, on fresh SQLite files in the same
directory through the same eventsourcing SQLite recorder (WAL, one commit per save).

(a) ours: Coaching.sqlite(file).accept(agent, session) - build the Accept command, load the
    session and the agent (repository cache + fast-forward), decide, ONE save of AgentAccepted +
    SupervisorAdded (session) and SessionAccepted (agent).
    baseline: a plain eventsourcing Application (same cache settings) with ordinary Aggregate
    classes: repository.get(session), repository.get(agent), session.accept(...),
    session.add_supervisor(...), agent.session_accepted(...), ONE app.save(session, agent).
    Untimed on both sides: registering agents and supervisors, the Coach (AllChats) set-ups,
    opening + offering every session (which leaves sessions and agents in the repository cache
    on both sides); only the loop of accepts is timed.
(b) both: select_notifications in pages from the recorder, decode every row, fold it into its
    aggregate. ours: PydanticMapper + coaching.replay.rebuild (Coaching.all_events);
    baseline: the default Mapper (JSONTranscoder + UUIDAsHex/DecimalAsStr/DatetimeAsISO, as
    Application builds it) + each event's own mutate() (what project_aggregate calls). The logs
    are the same day (same sessions, messages, texts) written through each library; the
    rebuilt totals (sessions, messages, accepts ...) are checked equal on both sides.
Memory: peak bytes allocated (tracemalloc) inside the measured step, in a separate untimed pass.
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--json", nargs="?", const="", metavar="FILE",
                        help="also write the results as JSON: a bare file name goes to bench/results/ "
                             "(gitignored), no name gives a time-stamped one there")
    parser.add_argument("--rounds", type=int,
                        help="rounds of each measurement (default: 5 for accepts, 9 for rebuilds)")
    parser.add_argument("--accepts", type=int, help="accepts timed per round and side")
    parser.add_argument("--sessions", type=int,
                        help="sessions in the rebuilt log (about 13 events each)")
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc passes")
    parser.add_argument("--dir", help="where to put the SQLite files (default: a temporary directory)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if a goal is missed")
    parser.add_argument("-q", "--silent", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)

    base = QUICK if args.quick else DEFAULT
    settings = Settings(accept_rounds=args.rounds or base.accept_rounds,
                        rebuild_rounds=args.rounds or base.rebuild_rounds,
                        accepts=args.accepts or base.accepts,
                        rebuild_sessions=args.sessions or base.rebuild_sessions,
                        trace_memory=not args.no_memory)

    def progress(message: str) -> None:
        if not args.silent:
            print(f"  [{time.perf_counter() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="coaching-bench-", dir=args.dir) as directory:
        rows = bench_accept(settings, directory, progress)
        rebuild_rows, ours_log, baseline_log = bench_rebuild(settings, directory, progress)
        rows += rebuild_rows
    elapsed = time.perf_counter() - started
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    info = machine()
    kind = "quick" if args.quick else "default"
    print(f"\ncoaching benchmarks ({kind} run, {elapsed:.0f}s: {settings.accept_rounds} rounds of "
          f"{settings.accepts:,} accepts, {settings.rebuild_rounds} rebuilds of "
          f"{ours_log.events:,} events over {ours_log.aggregates:,} aggregates)\n")
    print(table(rows))
    print()
    print(EXPLAINED)
    print(f"Repository cache settings on both sides: {CACHE_ENV}; ids: text on our side "
          "(agent:..., session:...), UUIDs on the baseline's (eventsourcing's Aggregate default).")
    print(f"Logs rebuilt: {ours_log.events:,} events each; average stored state "
          f"{ours_log.state_bytes / ours_log.events:.0f} B (ours) vs "
          f"{baseline_log.state_bytes / baseline_log.events:.0f} B (baseline); "
          f"page size {settings.page_size}.")
    print(f"Machine: {info['processor']}, {info['cpus']} CPUs, {info['platform']}, "
          f"Python {info['python']}, SQLite {info['sqlite']}, eventsourcing {info['eventsourcing']}, "
          f"pydantic {info['pydantic']}, orjson {info['orjson']}; load average at the end "
          f"{' '.join(str(x) for x in info['load_average'])}; process max RSS {maxrss_kib / 1024:.0f} MiB.")

    if args.json is not None:
        path = _json_path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "settings": asdict(settings),
            "seconds": round(elapsed, 1),
            "machine": info,
            "process_max_rss_kib": maxrss_kib,
            "measurements": [
                {"name": row.name, "unit": row.unit, "ours": row.ours_median,
                 "baseline": row.baseline_median, "ratio": row.ratio, "goal": row.goal,
                 "passed": row.passed, "ours_rounds": row.ours, "baseline_rounds": row.baseline,
                 **row.notes}
                for row in rows
            ],
        }
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        print(f"\nResults written to {path}")

    missed = [row.name for row in rows if row.passed is False]
    return 1 if args.strict and missed else 0


def _json_path(given: str) -> Path:
    if not given:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        return RESULTS / f"bench-{stamp}.json"
    path = Path(given)
    return RESULTS / path if path.parent == Path() else path
