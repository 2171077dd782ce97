"""The ``coaching`` command: a demo that simulates a shift and proves its log replays, and the schemas.

Why a CLI in a library: a newcomer should see, in one command and a few seconds, what the
library records (a readable summary of a realistic shift) and the property it promises (the
stored log alone rebuilds every aggregate exactly). ``coaching schema`` prints the public event
contract that ``docs/events/`` commits and CI compares.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import pkgutil
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any, Final

import orjson
from eventsourcing.persistence import PersistenceError

from coaching.application import Coaching
from coaching.cli.progress import Progress, duration
from coaching.domain.errors import CoachingError
from coaching.domain.events import DomainEvent
from coaching.invariants import LogChecker, Rule, Violation
from coaching.replay import States, rebuild
from coaching.simulation import TRAINEE_ID, Shift, ShiftPlan, ShiftStats
from coaching.store.codec import CODEC

EXIT_OK: Final = 0
"""Everything done; the replay check (if any) found no difference."""
EXIT_REPLAY_MISMATCH: Final = 1
"""The replay check found differences (or a stream out of order), or ``schema --check`` found drift."""
EXIT_USAGE: Final = 2
"""Bad arguments (argparse's own code)."""
EXIT_DATABASE: Final = 3
"""The database cannot be used: it already holds events (demo without --fresh), or is missing/unreadable."""
EXIT_SIMULATION: Final = 4
"""The simulation met an outcome it did not expect: a valid command refused, or a mistake accepted."""

DEFAULT_DB: Final = "coaching-demo.sqlite"

_DESCRIPTION = """\
coaching — supervisors monitoring, coaching and barging into agents' SMS sessions, modelled on the
Genesys Web Services (GWS) SMS Session API and stored as an event log (eventsourcing + pydantic).

A supervisor with the api-multimedia feature sets up Monitor, Coach or BargeIn on an agent, for the
agent's NextChat or AllChats. When the agent accepts a session, the supervisor joins it: a monitoring
supervisor is silent, a coaching supervisor's messages reach the agents but never the customer, a
barging one is seen by all. Supervisors may intrude into a session in progress, switch mode, leave; a
completed or queued session revokes them. Every decision is an immutable event in one log, so the log
alone rebuilds every agent, supervisor and session — which `coaching demo` proves on a simulated shift.
"""

_EPILOG = f"""\
commands:
  demo     simulate a contact-center shift into an SQLite file, print what happened, then
           rebuild every aggregate from the stored log and compare with the live states
  check    run the same replay check on an existing SQLite log
  schema   print the JSON schema of every event, keyed by topic (the public contract),
           or write one file per topic into a directory

examples:
  coaching demo                                  # {DEFAULT_DB}, default size, a few seconds
  coaching demo --fresh --seed 42 --sessions 2000 --agents 40 --supervisors 6
  coaching demo --db /tmp/day.sqlite --fresh --no-progress
  coaching check --db /tmp/day.sqlite
  coaching schema | python -m json.tool | less
  coaching schema --out docs/events              # regenerate the committed contract
  coaching schema --out docs/events --check      # CI: fail if the contract drifted
  python -m coaching --help                      # the same tool, without the console script

exit codes:
  {EXIT_OK}  success (replay check OK)
  {EXIT_REPLAY_MISMATCH}  replay differences or a broken rule / schema --check found drift
  {EXIT_USAGE}  usage error
  {EXIT_DATABASE}  database unusable: demo into a non-empty file without --fresh, check on an empty one
  {EXIT_SIMULATION}  the simulation saw an unexpected outcome (a bug in the rules or the simulator)
"""


# --- the replay check -----------------------------------------------------------------------------


@dataclasses.dataclass
class ReplayReport:
    """What the replay check compared, and every difference it found."""

    aggregates: int = 0
    events: int = 0
    differences: list[str] = dataclasses.field(default_factory=list)
    violations: list[Violation] = dataclasses.field(default_factory=list)
    """Rules the log breaks, by :mod:`coaching.invariants` (the property tests' definitions)."""

    @property
    def ok(self) -> bool:
        return not self.differences and not self.violations


def _in_stream_order(events: Iterable[tuple[int, DomainEvent]],
                     report: ReplayReport) -> Iterator[DomainEvent]:
    """Pass events on, noting any that does not continue its aggregate's stream (gap or disorder)."""
    last: dict[str, int] = {}
    for position, event in events:
        expected = last.get(event.originator_id, 0) + 1
        if event.originator_version != expected:
            report.differences.append(
                f"{event.originator_id}: log position {position} holds version "
                f"{event.originator_version}, expected {expected}")
        last[event.originator_id] = event.originator_version
        yield event


def _field_differences(key: str, live: Any, replayed: Any) -> list[str]:
    if live is None or replayed is None or type(live) is not type(replayed):
        return [f"{key}: live {live!r:.200} / replayed {replayed!r:.200}"]
    return [f"{key}.{f.name}: live {mine!r:.200} / replayed {theirs!r:.200}"
            for f in dataclasses.fields(live)
            if (mine := getattr(live, f.name)) != (theirs := getattr(replayed, f.name))]


def replay_check(app: Coaching, progress: Progress | None = None) -> ReplayReport:
    """Rebuild every aggregate from ``app``'s whole log and compare with the repository's states.

    The log is read in recorded order (``all_events``) and folded by :func:`coaching.replay.rebuild`;
    each aggregate is then loaded through the repository (its own stream, by id). Equal states
    mean the log alone carries the whole story, in an order consistent with every stream.
    """
    report = ReplayReport()
    rules = LogChecker()

    def read() -> Iterator[tuple[int, DomainEvent]]:
        for position, event in app.all_events():
            if progress is not None and position % 500 == 0:
                progress.update(position)
            rules.feed(position, event)  # the same single pass checks every supervision rule
            yield position, event

    states: States = rebuild(_in_stream_order(read(), report))
    report.violations = rules.finish()
    report.events = states.events
    if progress is not None:
        progress.update(states.events)
    getters: list[tuple[dict[str, Any], Callable[[Any], Any], Callable[[str], Any]]] = [
        (states.agents, lambda s: s.agent_id, app.get_agent),
        (states.supervisors, lambda s: s.supervisor_id, app.get_supervisor),
        (states.sessions, lambda s: s.session_id, app.get_session),
    ]
    for replayed_states, id_of, get in getters:
        for key, replayed in replayed_states.items():
            report.aggregates += 1
            try:
                live = get(id_of(replayed))
            except CoachingError as error:
                report.differences.append(f"{key}: replayed, but the repository says: {error}")
                continue
            if live != replayed:
                report.differences.extend(_field_differences(key, live, replayed))
    return report


# --- the summary ----------------------------------------------------------------------------------


_NAME_WIDTH: Final = 36


def _table(rows: Sequence[tuple[str, int]], indent: str = "  ") -> list[str]:
    if not rows:
        return [f"{indent}(none)"]
    width = max(_NAME_WIDTH, *(len(name) for name, _ in rows))
    return [f"{indent}{name:<{width}}{value:>10,}" for name, value in rows]


def summary(stats: ShiftStats, db: str) -> str:
    """The readable account of a simulated shift (the numbers can all be recounted from the log)."""
    plan = stats.plan
    out: list[str] = []
    start, end = stats.simulated_start, stats.simulated_end
    span = (end - start) if start and end else timedelta(0)
    out.append(f"coaching demo: one simulated shift (seed {plan.seed}) into {db}")
    out.append(f"  floor        {plan.agents} agents in {plan.teams} teams, {plan.supervisors} supervisors "
               f"(+ {TRAINEE_ID}, without api-multimedia)")
    if start and end:
        until = f"{end:%H:%M:%S}" if end.date() == start.date() else f"{end:%Y-%m-%d %H:%M:%S}"
        out.append(f"  simulated    {start:%Y-%m-%d %H:%M:%S} → {until} UTC "
                   f"({duration(span.total_seconds())})")
    out.append(f"  commands     {stats.commands:,} issued, {stats.accepted:,} accepted, "
               f"{stats.refusals:,} refused on purpose")
    out.append(f"  events       {stats.events:,} recorded")
    out.append("")
    out.append("events by type")
    out += _table(sorted(stats.events_by_type.items(), key=lambda kv: (-kv[1], kv[0])))
    out.append("")
    out.append("sessions")
    out += _table([
        ("opened", stats.count("SessionOpened")),
        ("offered to an agent", stats.count("AgentInvited")),
        ("invitations rejected", stats.count("AgentRejected")),
        ("queued (re-offered later)", stats.count("SessionQueued")),
        ("completed", stats.count("SessionCompleted")),
        *((f"  completed: {k}", v) for k, v in sorted(stats.completions_by_reason.items())),
    ])
    out.append("")
    out.append("sessions supervised")
    out += _table([("with any supervisor", len(stats.sessions_supervised)),
                   *((f"in mode {mode}", len(stats.sessions_by_mode.get(mode, ())))
                     for mode in ("Monitor", "Coach", "BargeIn"))])
    out.append("")
    out.append("supervisors in sessions")
    out += _table([*((f"joined via {k}", v)
                     for k, v in sorted(stats.supervisors_joined_via.items())),
                   ("mode switches", stats.count("SupervisorModeSwitched")),
                   ("supervisors left", stats.count("SupervisorLeft")),
                   *((f"revoked: {k}", v) for k, v in sorted(stats.revoked_by_reason.items()))])
    out.append("")
    out.append("supervisions set up (mode × monitoring mode)")
    out.append(f"  {'':<{_NAME_WIDTH}}{'NextChat':>10}{'AllChats':>10}")
    for mode in ("Monitor", "Coach", "BargeIn"):
        nxt = stats.supervisions_by_mode.get((mode, "NextChat"), 0)
        alls = stats.supervisions_by_mode.get((mode, "AllChats"), 0)
        out.append(f"  {mode:<{_NAME_WIDTH}}{nxt:>10,}{alls:>10,}")
    out += _table([("total set up", stats.count("SupervisionStarted")),
                   ("cancelled", stats.count("SupervisionCancelled")),
                   ("ended (NextChat used)", stats.count("SupervisionEnded"))])
    out.append("")
    out.append("messages by visibility")
    out += _table([(v, stats.messages_by_visibility.get(v, 0)) for v in ("All", "Agents")])
    out.append("")
    out.append("messages by sender")
    out += _table(sorted(stats.messages_by_sender.items()))
    out.append("")
    out.append("refusals by GWS status code")
    names = {cls.status_code: cls.status_name for cls in _error_classes()}
    out += _table([(f"{code:>2} {names.get(code, '?')}", n)
                   for code, n in sorted(stats.refusals_by_status.items())])
    return "\n".join(out)


def _error_classes() -> list[type[CoachingError]]:
    found: list[type[CoachingError]] = []
    todo: list[type[CoachingError]] = [CoachingError]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


# --- commands -------------------------------------------------------------------------------------


def _remove_database(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _stored_events(path: Path) -> int:
    """How many events the SQLite file holds (0 if it has no event table yet)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        try:
            (count,) = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        except sqlite3.OperationalError:
            return 0
    return int(count)


def _check_and_print(path: Path, show_progress: bool, out: IO[str], err: IO[str]) -> int:
    total = _stored_events(path)
    fresh = Coaching.sqlite(str(path))
    try:
        bar = Progress("replay", total, err, enabled=show_progress)
        report = replay_check(fresh, bar)
        bar.finish()
    finally:
        fresh.close()
    if report.violations:
        print(f"rules check: FAILED ({len(report.violations):,} violations)", file=out)
        for violation in report.violations[:50]:
            print(f"  {violation}", file=out)
    else:
        print(f"rules check: OK ({len(Rule)} rules over {report.events:,} events)", file=out)
    if not report.differences:
        print(f"replay check: OK ({report.aggregates:,} aggregates, {report.events:,} events)", file=out)
        return EXIT_OK if report.ok else EXIT_REPLAY_MISMATCH
    print(f"replay check: FAILED ({len(report.differences):,} differences over {report.aggregates:,} "
          f"aggregates, {report.events:,} events)", file=out)
    for line in report.differences[:50]:
        print(f"  {line}", file=out)
    if len(report.differences) > 50:
        print(f"  … and {len(report.differences) - 50:,} more", file=out)
    return EXIT_REPLAY_MISMATCH


def cmd_demo(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Simulate a shift into the SQLite file, print the summary, then the replay check."""
    path = Path(args.db)
    if args.fresh:
        _remove_database(path)
    elif path.exists() and _stored_events(path):
        print(f"coaching demo: {path} already holds a log; use --fresh to start over or --db to choose "
              "another file", file=err)
        return EXIT_DATABASE
    plan = ShiftPlan(seed=args.seed, sessions=args.sessions, agents=args.agents,
                     supervisors=args.supervisors)
    started = time.perf_counter()
    shift = Shift(plan)
    app = Coaching.sqlite(str(path), clock=shift.clock)
    try:
        bar = Progress("shift", plan.sessions, err, enabled=args.progress)
        stats = shift.run(app, lambda done, _total: bar.update(done))
        bar.finish()
    finally:
        app.close()
    simulated = time.perf_counter() - started
    print(summary(stats, str(path)), file=out)
    print("", file=out)
    if stats.unexpected:
        print(f"simulation: {len(stats.unexpected)} unexpected outcomes "
              "(a bug in the rules or the simulator):", file=out)
        for line in stats.unexpected[:20]:
            print(f"  {line}", file=out)
    code = _check_and_print(path, args.progress, out, err)
    elapsed = time.perf_counter() - started
    rate = stats.events / max(simulated, 1e-9)
    print(f"elapsed: {elapsed:.1f} s (simulation {simulated:.1f} s, {rate:,.0f} events/s; "
          f"replay check {elapsed - simulated:.1f} s)", file=out)
    if code == EXIT_OK and stats.unexpected:
        return EXIT_SIMULATION
    return code


def cmd_check(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """The replay check alone, on an existing log."""
    path = Path(args.db)
    if not path.exists() or not _stored_events(path):
        print(f"coaching check: {path} holds no events", file=err)
        return EXIT_DATABASE
    return _check_and_print(path, args.progress, out, err)


def schema_file_name(topic: str) -> str:
    """``coaching:SupervisorAdded@v1`` → ``SupervisorAdded.v1.schema.json``."""
    name = topic.split(":", 1)[-1]
    event, _, version = name.partition("@")
    return f"{event}.{version}.schema.json"


def schema_bytes(schema: dict[str, Any]) -> bytes:
    """The committed form of a schema: sorted keys, two-space indent, final newline (stable diffs)."""
    return orjson.dumps(schema, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def cmd_schema(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Print every event's schema, or write/check one file per topic."""
    schemas = CODEC.schemas()
    if args.out is None:
        if args.check:
            print("coaching schema: --check needs --out DIR", file=err)
            return EXIT_USAGE
        out.write(schema_bytes(schemas).decode())
        return EXIT_OK
    directory = Path(args.out)
    if args.check:
        drift = [name for topic, schema in schemas.items()
                 if not (directory / (name := schema_file_name(topic))).exists()
                 or (directory / name).read_bytes() != schema_bytes(schema)]
        for name in drift:
            print(f"drift: {directory / name}", file=out)
        if drift:
            print("the event contract changed: a new shape needs a new topic version "
                  "(coaching:<Name>@v<N+1>) and an upcaster from the old one; then run "
                  f"`coaching schema --out {directory}` and commit", file=err)
            return EXIT_REPLAY_MISMATCH
        print(f"{len(schemas)} schemas in {directory} match the code", file=out)
        return EXIT_OK
    directory.mkdir(parents=True, exist_ok=True)
    for topic, schema in schemas.items():
        (directory / schema_file_name(topic)).write_bytes(schema_bytes(schema))
    print(f"wrote {len(schemas)} schemas to {directory}", file=out)
    return EXIT_OK


# --- parser ---------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also what ``--help`` prints)."""
    modules = subcommand_modules()
    parser = argparse.ArgumentParser(
        prog="coaching", description=_DESCRIPTION, epilog=_epilog(modules),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    progress_help = "no progress bar on stderr (it is drawn on a terminal, plain lines otherwise)"
    demo = sub.add_parser(
        "demo", help="simulate a shift into SQLite, summarise it, and check that the log replays",
        description="Simulate a contact-center shift (seeded: the same seed writes the same log) into an "
                    "SQLite file, print what happened, then rebuild every aggregate from the stored log "
                    "in a fresh application and compare it with the states the repository loads.",
        epilog=f"example: coaching demo --fresh --seed 42 --sessions 2000 --agents 40\n"
               f"exit codes: {EXIT_OK} OK, {EXIT_REPLAY_MISMATCH} replay mismatch, "
               f"{EXIT_DATABASE} database already holds a log (use --fresh), "
               f"{EXIT_SIMULATION} unexpected outcome in the simulation",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    demo.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file to write (default: {DEFAULT_DB})")
    demo.add_argument("--seed", type=int, default=7, help="random seed (default: 7)")
    demo.add_argument("--sessions", type=_non_negative, default=200,
                      help="customer sessions in the shift (default: 200)")
    demo.add_argument("--agents", type=_positive, default=12, help="agents, in teams of 4 (default: 12)")
    demo.add_argument("--supervisors", type=_non_negative, default=3,
                      help="supervisors with api-multimedia (default: 3)")
    demo.add_argument("--fresh", action="store_true", help="delete the SQLite file first if it exists")
    demo.add_argument("--no-progress", dest="progress", action="store_false", help=progress_help)
    demo.set_defaults(run=cmd_demo)

    check = sub.add_parser(
        "check", help="rebuild every aggregate of an existing SQLite log and compare with the repository",
        description="The demo's replay check, on an existing log.",
        epilog=f"example: coaching check --db {DEFAULT_DB}\n"
               f"exit codes: {EXIT_OK} OK, {EXIT_REPLAY_MISMATCH} differences, {EXIT_DATABASE} no log there",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    check.add_argument("--db", default=DEFAULT_DB, help=f"SQLite file to check (default: {DEFAULT_DB})")
    check.add_argument("--no-progress", dest="progress", action="store_false", help=progress_help)
    check.set_defaults(run=cmd_check)

    schema = sub.add_parser(
        "schema",
        help="print the JSON schema of every event (the public contract), or write one file per topic",
        description="Print {topic: JSON schema} for every current event, or with --out write "
                    "<Name>.v<N>.schema.json files (what docs/events/ commits).",
        epilog="examples:\n  coaching schema\n  coaching schema --out docs/events\n"
               "  coaching schema --out docs/events --check   # exit 1 if the files differ from the code",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    schema.add_argument("--out", metavar="DIR", help="write one file per topic into DIR")
    schema.add_argument("--check", action="store_true",
                        help="with --out: write nothing, exit 1 if any file differs from the code")
    schema.set_defaults(run=cmd_schema)
    for module in modules:
        module.register(sub)
    return parser


def subcommand_modules() -> list[Any]:
    """The other subcommands: every module in ``coaching.cli`` that defines ``register(subparsers)``.

    Why discovery instead of a list: each family of commands (the GWS server, the audit tools)
    lives in its own module with its own help text, and adding one touches no other file. A
    module also defines ``ORDER`` (its place in ``--help``), ``COMMANDS`` (its lines under
    "commands:") and ``EXAMPLES`` (its lines under "examples:").
    """
    found = []
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(module, "register", None)):
            found.append(module)
    return sorted(found, key=lambda m: (getattr(m, "ORDER", 100), m.__name__))


def _epilog(modules: Sequence[Any]) -> str:
    commands = "".join(getattr(m, "COMMANDS", "") for m in modules)
    examples = "".join(getattr(m, "EXAMPLES", "") for m in modules)
    return _EPILOG.replace("\nexamples:\n", f"{commands}\nexamples:\n", 1).replace(
        "\nexit codes:\n", f"{examples}\nexit codes:\n", 1)


def main(argv: Sequence[str] | None = None, *, out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit code (the console script exits with it)."""
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace, IO[str], IO[str]], int] = args.run
    try:
        return run(args, out if out is not None else sys.stdout, err if err is not None else sys.stderr)
    except (sqlite3.Error, OSError, PersistenceError) as error:
        print(f"coaching {args.command}: cannot use the database: {error}", file=err or sys.stderr)
        return EXIT_DATABASE


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

__all__ = ["Progress", "ReplayReport", "build_parser", "main", "replay_check", "schema_file_name", "summary"]
