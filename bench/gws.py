"""``python -m bench.gws [--quick]``: GWS requests through the adapter vs the same commands called directly.

What it answers: how much does the GWS layer (decode the JSON body, route the path, check the
caller, validate the operation's pydantic model, build the command, answer ``{"statusCode": 0}``)
cost on top of the application service? Both sides run the same shift of requests, on fresh
SQLite files in the same directory, back to back, round after round, alternating which side
goes first. Ours: ``GwsAdapter(app).handle("POST", path, caller, body_bytes)`` (in-process,
no HTTP: the bytes a client would send). Baseline: ``Coaching``'s own method for the equivalent
command (``app.coach(...)``, ``app.accept(...)``, ``app.send_message(...)``, ``app.complete(...)``),
which builds the same command object and handles it. Goal: ours / baseline >= 0.8.

The mix, per customer session (set-up untimed: agents, supervisors, sessions opened and offered):
Coach (NextChat) on the agent by its supervisor, Accept by the agent (the coach joins),
SendMessage by the agent, the coach and the agent, Complete (the coach is revoked): six requests,
ten events, each request one SQLite commit. After every round both logs must hold the same
events (by type, in order), or the run stops.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import orjson

from bench.measure import fresh_path
from bench.run import Row, machine, table
from coaching import Coaching, MonitoringMode
from coaching.gws import GwsAdapter

GOAL = 0.8
AGENTS = 20
SUPERVISORS = 4


@dataclass(frozen=True, slots=True)
class Request:
    """One GWS request, and the direct call that does the same."""

    path: str
    caller: str
    body: bytes
    direct: Callable[[Coaching], object]


def _agent(j: int) -> str:
    return f"agent-{j % AGENTS:03d}"


def _supervisor(j: int) -> str:
    return f"sup-{j % AGENTS % SUPERVISORS}"


def shift(sessions: int) -> list[Request]:
    """The timed requests: per session Coach, Accept, 3 x SendMessage, Complete."""
    out: list[Request] = []
    for j in range(sessions):
        agent, supervisor, session = _agent(j), _supervisor(j), f"sms-{j:06d}"
        me = f"/api/v2/me/smssessions/{session}"
        out += [
            Request(f"/api/v2/users/{agent}/channels/smssession", supervisor,
                    orjson.dumps({"operationName": "Coach", "supervisorMonitoringMode": "NextChat"}),
                    partial(Coaching.coach, supervisor_id=supervisor, agent_id=agent,
                            mode=MonitoringMode.NEXT_CHAT)),
            Request(me, agent, b'{"operationName": "Accept"}',
                    partial(Coaching.accept, agent_id=agent, session_id=session)),
            *(Request(me, sender, orjson.dumps({"operationName": "SendMessage", "text": text}),
                      partial(Coaching.send_message, sender_id=sender, session_id=session, text=text))
              for sender, text in ((agent, "How can I help you today?"), (supervisor, "Offer the refund"),
                                   (agent, "I have refunded you."))),
            Request(me, agent, b'{"operationName": "Complete"}',
                    partial(Coaching.complete, agent_id=agent, session_id=session)),
        ]
    return out


def _set_up(path: str, sessions: int) -> Coaching:
    """Untimed: the floor, and every session opened and offered to its agent."""
    app = Coaching.sqlite(path)
    for i in range(AGENTS):
        app.register_agent(_agent(i), f"agent {i}", team=f"team-{i % SUPERVISORS}")
    for k in range(SUPERVISORS):
        app.register_supervisor(f"sup-{k}", f"supervisor {k}", teams=frozenset({f"team-{k}"}))
    for j in range(sessions):
        app.open_session(f"sms-{j:06d}", f"cust-{j:06d}", "Customer")
        app.offer_session(f"sms-{j:06d}", _agent(j))
    return app


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    requests: int
    events: Counter[str]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


def _events(app: Coaching, after: int) -> Counter[str]:
    return Counter(type(e).__name__ for p, e in app.all_events() if p > after)


def run_ours(path: str, sessions: int, requests: Sequence[Request]) -> Run:
    app = _set_up(path, sessions)
    try:
        before = app.log_position()
        handle = GwsAdapter(app).handle
        start = time.perf_counter()
        for r in requests:
            answer = handle("POST", r.path, r.caller, r.body)
            if answer.http_status != 200:
                raise AssertionError(f"{r.path} by {r.caller}: {answer.body}")
        seconds = time.perf_counter() - start
        return Run(seconds, len(requests), _events(app, before))
    finally:
        app.close()


def run_direct(path: str, sessions: int, requests: Sequence[Request]) -> Run:
    app = _set_up(path, sessions)
    try:
        before = app.log_position()
        start = time.perf_counter()
        for r in requests:
            r.direct(app)
        seconds = time.perf_counter() - start
        return Run(seconds, len(requests), _events(app, before))
    finally:
        app.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.gws", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds")
    parser.add_argument("--rounds", type=int, help="rounds per side (default 7; quick 3)")
    parser.add_argument("--sessions", type=int,
                        help="sessions per round, 6 requests each (default 300; quick 40)")
    parser.add_argument("--dir", help="where to put the SQLite files (default: a temporary directory)")
    parser.add_argument("--strict", action="store_true", help="exit with status 1 if the goal is missed")
    parser.add_argument("-q", "--silent", action="store_true", help="no progress lines on stderr")
    args = parser.parse_args(argv)
    rounds = args.rounds or (3 if args.quick else 7)
    sessions = args.sessions or (40 if args.quick else 300)
    requests = shift(sessions)
    started = time.perf_counter()
    mine: list[Run] = []
    theirs: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="coaching-bench-gws-", dir=args.dir) as directory:
        for r in range(rounds):
            ours_path = fresh_path(directory, f"gws-ours-{r}.sqlite")
            direct_path = fresh_path(directory, f"gws-direct-{r}.sqlite")
            if r % 2 == 0:
                mine.append(run_ours(ours_path, sessions, requests))
                theirs.append(run_direct(direct_path, sessions, requests))
            else:
                theirs.append(run_direct(direct_path, sessions, requests))
                mine.append(run_ours(ours_path, sessions, requests))
            if mine[-1].events != theirs[-1].events:
                raise AssertionError(f"the logs differ: {mine[-1].events} vs {theirs[-1].events}")
            if not args.silent:
                print(f"  [{time.perf_counter() - started:6.1f}s] round {r + 1}/{rounds}: "
                      f"adapter {mine[-1].rate:,.0f}/s, direct {theirs[-1].rate:,.0f}/s", file=sys.stderr,
                      flush=True)
    row = Row("GWS requests through GwsAdapter (parse, handle, respond)", "requests/s",
              [m.rate for m in mine], [t.rate for t in theirs], goal=GOAL)
    events = sum(mine[0].events.values())
    info = machine()
    print(f"\ncoaching GWS adapter benchmark ({'quick' if args.quick else 'default'} run, "
          f"{time.perf_counter() - started:.0f}s: {rounds} rounds x {len(requests):,} requests, "
          f"{events:,} events per round)\n")
    print(table([row]))
    print(f"\nours: GwsAdapter.handle('POST', path, caller, JSON bytes); baseline: the Coaching method "
          f"for the same command. Mix per session: Coach (NextChat), Accept, 3 x SendMessage, Complete; "
          f"one SQLite commit per request; both logs checked equal every round. Median per-request "
          f"overhead of the adapter: {_overhead_us(mine, theirs):.0f} us.")
    print(f"Machine: {info['processor']}, {info['cpus']} CPUs, Python {info['python']}, "
          f"SQLite {info['sqlite']}, pydantic {info['pydantic']}; load average "
          f"{' '.join(str(x) for x in info['load_average'])}.")
    return 1 if args.strict and not row.passed else 0


def _overhead_us(mine: Sequence[Run], theirs: Sequence[Run]) -> float:
    return statistics.median(1e6 * (m.seconds / m.requests - t.seconds / t.requests)
                             for m, t in zip(mine, theirs, strict=True))


if __name__ == "__main__":
    raise SystemExit(main())
