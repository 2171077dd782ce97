"""``coaching transcript`` and ``coaching state``: what a viewer was shown, and any state as it was.

Why two commands over a recorded log rather than over a running application: the questions an
auditor asks after the fact ("what exactly did this customer see?", "was the coach in the
session when that was said?") are about a log and a moment, not about the present. Both commands
are thin renderings of :mod:`coaching.audit.history`, which a backend can call in its own process.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Final

from coaching.application import SessionView
from coaching.audit.history import (
    At,
    History,
    Stream,
    SupervisorAt,
    UnreadableRecord,
    Viewer,
    check_id,
    describe_at,
    format_time,
    parse_at,
)
from coaching.cli.progress import Progress
from coaching.domain.agent import Agent
from coaching.domain.errors import InvalidValue, NotFound
from coaching.domain.session import SmsSession
from coaching.domain.transcript import EntryKind, TranscriptEntry
from coaching.store.source import ExportFormatError, open_source

ORDER: Final = 65

EXIT_OK: Final = 0
"""The answer was printed."""
EXIT_NOT_FOUND: Final = 1
"""The log holds no such session, agent, supervisor or viewer, or it did not exist yet at --at."""
EXIT_USAGE: Final = 2
"""Bad arguments: a malformed id, an --at that is neither a position nor a time with a zone."""
EXIT_STORE: Final = 3
"""The store is missing, unreadable, empty, or holds a record that cannot be decoded."""

COMMANDS: Final = """\
  transcript exactly what one viewer of a session (its customer, an agent, a supervisor)
           was shown, in order, with timestamps, from a recorded log; --at: as it was then
  state    a session (status, participants, modes, invitations), an agent's supervisions or a
           supervisor's, as they were at a log position or a time (--at): time travel
"""

EXAMPLES: Final = """\
  coaching transcript coaching-demo.sqlite sms-00003 --as cust-00003   # what the customer saw
  coaching transcript coaching-demo.sqlite sms-00003 --as sup-02 --at 2025-04-14T08:05:00Z
  coaching state coaching-demo.sqlite --session sms-00003 --at 300      # after log position 300
  coaching state coaching-demo.sqlite --agent agent-007 --format json
"""

_EXIT_CODES = (f"exit codes:\n  {EXIT_OK}  the answer was printed\n"
               f"  {EXIT_NOT_FOUND}  no such session, agent, supervisor or viewer in the log, or it did "
               "not exist yet at --at\n"
               f"     (the message lists the ids the log does hold)\n"
               f"  {EXIT_USAGE}  usage error: a malformed id, or an --at that is neither a position nor "
               "a time with a zone\n"
               f"  {EXIT_STORE}  the store is missing, unreadable or empty, or a record cannot be decoded\n")

_STORE_HELP = "the recorded log: an SQLite store, or an export file written by `coaching export`"
_AT_HELP = ("cut the log: a log position (812: after the record at position 812) or an ISO-8601 time "
            "with a zone (2025-04-14T08:05:00Z, 2025-04-14T10:05:00+02:00: each stream up to its "
            "last event at or before then); default: the whole log")


# --- rendering --------------------------------------------------------------------------------


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> list[str]:
    """Left-aligned columns wide enough for every cell; numbers right-aligned (header too)."""
    if not rows:
        return [f"{indent}(none)"]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    numeric = [all(r[i].replace(",", "").isdigit() for r in rows) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [c.rjust(w) if n else c.ljust(w) for c, w, n in zip(cells, widths, numeric, strict=True)]
        return (indent + "  ".join(parts)).rstrip()

    return [line(headers), *(line(r) for r in rows)]


def _iso(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when is not None else None


def _requested(at: At | None) -> dict[str, Any]:
    if at is None:
        return {"position": None, "time": None}
    if isinstance(at, datetime):
        return {"position": None, "time": _iso(at)}
    return {"position": int(at), "time": None}


def _as_of(stream: Stream) -> dict[str, Any]:
    """Where the cut was asked, and the last event of the stream it kept."""
    last = stream.last
    return {"requested": _requested(stream.at),
            "last_event": None if last is None else {"position": last[0], "time": _iso(last[1])}}


def _last_line(stream: Stream) -> str:
    last = stream.last
    if last is None:
        return "no event of it up to the cut"
    return f"last event at log position {last[0]:,}, {format_time(last[1])}"


def _who(nickname: str, participant_id: str, kind: str) -> str:
    return f"{nickname} ({participant_id}, {kind})"


_WHAT: Final[dict[EntryKind, Callable[[TranscriptEntry], str]]] = {
    EntryKind.MESSAGE: lambda e: json.dumps(e.text, ensure_ascii=False),
    EntryKind.JOINED: lambda e: f"joined in {e.mode}" if e.mode else "joined",
    EntryKind.LEFT: lambda e: "left",
    EntryKind.MODE_SWITCHED: lambda e: f"switched to {e.mode}",
    EntryKind.REVOKED: lambda e: "revoked (no longer a participant)",
    EntryKind.QUEUED: lambda e: f"placed the session in queue {e.text}",
    EntryKind.COMPLETED: lambda e: "completed the session",
}


def transcript_text(stream: Stream, viewer: Viewer, entries: list[TranscriptEntry]) -> str:
    """The readable transcript: who the viewer is, how many entries, then one aligned line each."""
    session_id = stream.key.split(":", 1)[1]
    out = [f"SMS session {session_id} as shown to "
           f"{_who(viewer.nickname, viewer.participant_id, viewer.type)}, {describe_at(stream.at)}",
           f"{len(entries):,} entries shown, from {len(stream.events):,} of the session's "
           f"{stream.total:,} events ({_last_line(stream)})"]
    if not entries:
        out.append(f"  (nothing shown by then: {viewer.participant_id} first joined at log position "
                   f"{viewer.joined_position:,}, {format_time(viewer.joined_at)})")
        return "\n".join(out)
    out.append("")
    rows = [(f"{stream.position_of(e.position):,}", format_time(e.timestamp)[:-4], e.visibility.value,
             _who(e.nickname, e.participant_id, e.participant_type), _WHAT[e.kind](e)) for e in entries]
    out += _table(("position", "time (UTC)", "visibility", "who", "what"), rows)
    return "\n".join(out)


def transcript_json(stream: Stream, viewer: Viewer, entries: list[TranscriptEntry]) -> dict[str, Any]:
    """The transcript for machines: every field of every entry, with its log position."""
    return {
        "session_id": stream.key.split(":", 1)[1],
        "viewer": {"id": viewer.participant_id, "type": viewer.type.value, "nickname": viewer.nickname,
                   "joined_position": viewer.joined_position, "joined_at": _iso(viewer.joined_at)},
        "as_of": _as_of(stream),
        "count": len(entries),
        "entries": [{"position": stream.position_of(e.position), "version": e.position,
                     "timestamp": _iso(e.timestamp), "kind": e.kind.value,
                     "participant_id": e.participant_id, "participant_type": e.participant_type.value,
                     "nickname": e.nickname, "visibility": e.visibility.value,
                     "mode": e.mode.value if e.mode else None, "text": e.text} for e in entries],
    }


def session_json(stream: Stream, s: SmsSession) -> dict[str, Any]:
    """A session's state for machines: the read model's participants, plus how supervisors joined."""
    view = SessionView.of(s)
    people = []
    for p in view.participants:
        presence = s.supervisors.get(p.participant_id) if p.mode is not None else None
        people.append({"id": p.participant_id, "type": p.type.value, "nickname": p.nickname,
                       "visibility": p.visibility.value, "mode": p.mode.value if p.mode else None,
                       "supervised_agent_id": p.supervised_agent_id,
                       "via": presence.via.value if presence else None,
                       "monitoring_mode": presence.monitoring_mode.value
                       if presence and presence.monitoring_mode else None})
    return {"session_id": s.session_id, "as_of": _as_of(stream), "version": s.version,
            "status": s.status.value, "queue_name": s.queue_name, "message_count": s.message_count,
            "customer": {"id": s.customer_id, "nickname": s.customer_nickname},
            "participants": people,
            "invitations": [{"agent_id": a, "kind": k.value} for a, k in s.invitations.items()]}


def session_text(stream: Stream, s: SmsSession) -> str:
    data = session_json(stream, s)
    out = [f"SMS session {s.session_id} {describe_at(stream.at)} ({_last_line(stream)})",
           f"  status       {s.status.value}" + (f" (queue {s.queue_name})" if s.queue_name else ""),
           f"  customer     {_who(s.customer_nickname, s.customer_id, 'Customer')}",
           f"  messages     {s.message_count:,}",
           f"  version      {s.version}", "",
           f"participants ({len(data['participants'])})"]
    out += _table(("id", "type", "nickname", "visibility", "mode", "supervising", "via", "monitoring"),
                  [(p["id"], p["type"], p["nickname"], p["visibility"], p["mode"] or "-",
                    p["supervised_agent_id"] or "-", p["via"] or "-", p["monitoring_mode"] or "-")
                   for p in data["participants"]])
    out += ["", f"invitations ({len(s.invitations)})"]
    out += _table(("agent", "kind"), [(a, k.value) for a, k in s.invitations.items()])
    return "\n".join(out)


def agent_json(stream: Stream, a: Agent) -> dict[str, Any]:
    return {"agent_id": a.agent_id, "as_of": _as_of(stream), "version": a.version,
            "username": a.username, "nickname": a.nickname, "team": a.team,
            "sessions_accepted": a.sessions_accepted,
            "supervisions": [{"supervisor_id": v.supervisor_id, "mode": v.mode.value,
                              "monitoring_mode": v.monitoring_mode.value, "nickname": v.nickname,
                              "since": _iso(v.started_at)} for v in a.supervisions.values()]}


def agent_text(stream: Stream, a: Agent) -> str:
    out = [f"agent {a.agent_id} {describe_at(stream.at)} ({_last_line(stream)})",
           f"  username           {a.username}",
           f"  nickname           {a.nickname or '-'}",
           f"  team               {a.team or '-'}",
           f"  sessions accepted  {a.sessions_accepted:,}", "",
           f"active supervisions ({len(a.supervisions)})"]
    out += _table(("supervisor", "mode", "monitoring", "nickname", "since (UTC)"),
                  [(v.supervisor_id, v.mode.value, v.monitoring_mode.value, v.nickname,
                    format_time(v.started_at)[:-4]) for v in a.supervisions.values()])
    return "\n".join(out)


def supervisor_json(stream: Stream, found: SupervisorAt) -> dict[str, Any]:
    s = found.supervisor
    return {"supervisor_id": s.supervisor_id, "as_of": _as_of(stream), "username": s.username,
            "nickname": s.nickname, "features": sorted(s.features), "agents": sorted(s.agents),
            "teams": sorted(s.teams),
            "supervisions": [{"agent_id": agent, "mode": v.mode.value,
                              "monitoring_mode": v.monitoring_mode.value, "nickname": v.nickname,
                              "since": _iso(v.started_at)} for agent, v in found.supervisions.items()],
            "sessions": [{"session_id": sid, "mode": p.mode.value, "visibility": p.visibility.value,
                          "supervised_agent_id": p.supervised_agent_id, "via": p.via.value,
                          "monitoring_mode": p.monitoring_mode.value if p.monitoring_mode else None}
                         for sid, p in found.sessions.items()]}


def supervisor_text(stream: Stream, found: SupervisorAt) -> str:
    s = found.supervisor
    out = [f"supervisor {s.supervisor_id} {describe_at(stream.at)}",
           f"  username   {s.username}",
           f"  nickname   {s.nickname or '-'}",
           f"  features   {', '.join(sorted(s.features)) or '-'}",
           f"  may supervise agents {', '.join(sorted(s.agents)) or '-'}; teams "
           f"{', '.join(sorted(s.teams)) or '-'}", "",
           f"supervisions held ({len(found.supervisions)})"]
    out += _table(("agent", "mode", "monitoring", "nickname", "since (UTC)"),
                  [(agent, v.mode.value, v.monitoring_mode.value, v.nickname,
                    format_time(v.started_at)[:-4]) for agent, v in found.supervisions.items()])
    out += ["", f"present in sessions ({len(found.sessions)})"]
    out += _table(("session", "mode", "visibility", "supervising", "via", "monitoring"),
                  [(sid, p.mode.value, p.visibility.value, p.supervised_agent_id, p.via.value,
                    p.monitoring_mode.value if p.monitoring_mode else "-")
                   for sid, p in found.sessions.items()])
    return "\n".join(out)


# --- the commands -----------------------------------------------------------------------------


def _emit(out: IO[str], fmt: str, text: Callable[[], str], data: Callable[[], dict[str, Any]]) -> None:
    if fmt == "json":
        out.write(json.dumps(data(), ensure_ascii=False, indent=2) + "\n")
    else:
        out.write(text() + "\n")


def _run(args: argparse.Namespace, out: IO[str], err: IO[str],
         answer: Callable[[History, IO[str]], None]) -> int:
    """Open the store, answer, and turn each kind of failure into its exit code and a sentence."""
    name = f"coaching {args.command}"
    try:
        source = open_source(Path(args.store))
    except (OSError, ValueError, sqlite3.Error, ExportFormatError) as error:
        print(f"{name}: cannot read {args.store}: {error}", file=err)
        return EXIT_STORE
    try:
        total = source.count()
        if total == 0:
            print(f"{name}: {args.store} holds no events", file=err)
            return EXIT_STORE
        bar = Progress("scan", total, err, enabled=args.progress)
        with History(source, progress=bar.update) as history:
            answer(history, out)
        if bar.count:
            bar.finish()
        return EXIT_OK
    except NotFound as error:
        print(f"{name}: {error.message}", file=err)
        return EXIT_NOT_FOUND
    except (ExportFormatError, UnreadableRecord, sqlite3.Error) as error:
        print(f"{name}: {args.store}: {error}", file=err)
        return EXIT_STORE
    except InvalidValue as error:
        print(f"{name}: {error.message}", file=err)
        return EXIT_USAGE
    finally:
        source.close()


def cmd_transcript(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Print what one viewer was shown of one session."""

    def answer(history: History, out: IO[str]) -> None:
        stream, entries, viewer = history.transcript_of(args.session, args.viewer, at=args.at)
        _emit(out, args.format, lambda: transcript_text(stream, viewer, entries),
              lambda: transcript_json(stream, viewer, entries))

    return _run(args, out, err, answer)


def cmd_state(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Print a session, an agent or a supervisor as it was at --at."""

    def answer(history: History, out: IO[str]) -> None:
        if args.session is not None:
            stream, session = history.session(args.session, args.at)
            _emit(out, args.format, lambda: session_text(stream, session),
                  lambda: session_json(stream, session))
        elif args.agent is not None:
            stream, agent = history.agent(args.agent, args.at)
            _emit(out, args.format, lambda: agent_text(stream, agent), lambda: agent_json(stream, agent))
        else:
            stream, found = history.supervisor(args.supervisor, args.at)
            _emit(out, args.format, lambda: supervisor_text(stream, found),
                  lambda: supervisor_json(stream, found))

    return _run(args, out, err, answer)


# --- the parser -------------------------------------------------------------------------------


def _at(text: str) -> At:
    try:
        return parse_at(text)
    except InvalidValue as error:
        raise argparse.ArgumentTypeError(error.message) from None


def _identifier(kind: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        try:
            return check_id(kind, text)
        except InvalidValue as error:
            raise argparse.ArgumentTypeError(error.message) from None
    return check


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--at", type=_at, metavar="POS|TIME", help=_AT_HELP)
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text: aligned and readable (default); json: every field, for tools")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar on stderr (drawn only while scanning a log without an "
                             "index, e.g. an export file)")


def register(subparsers: Any) -> None:
    """Add ``transcript`` and ``state`` to ``coaching``."""
    transcript = subparsers.add_parser(
        "transcript", help="what one viewer of a session was shown, in order, from a recorded log",
        description="Print exactly what VIEWER (the session's customer, an agent or a supervisor) was "
                    "shown of SESSION, in order, with the log position and time of each entry, its "
                    "visibility (All, Agents, Supervisors), who it is from and what happened. It is "
                    "the domain's transcript rule (history on joining, filtered by visibility, "
                    "nothing after leaving: ADR 0005) applied to the records of STORE; a "
                    "supervisor's message or presence is judged by the mode the log records for it, "
                    "so the customer is never shown a coach's words or a monitor's presence, "
                    "whatever the log claims (ADR 0022). With --at, the transcript as it stood then.",
        epilog="examples:\n"
               "  coaching transcript coaching-demo.sqlite sms-00003 --as cust-00003\n"
               "  coaching transcript coaching-demo.sqlite sms-00003 --as agent-007 --at 1200\n"
               "  coaching transcript coaching-demo.sqlite sms-00003 --as sup-02 "
               "--at 2025-04-14T08:05:00Z --format json\n"
               "  coaching transcript coaching-demo.sqlite sms-00003 --as nobody   "
               "# exit 1, lists the session's viewers\n\n" + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    transcript.add_argument("store", metavar="STORE", help=_STORE_HELP)
    transcript.add_argument("session", metavar="SESSION", type=_identifier("session"),
                            help="the SMS session id")
    transcript.add_argument("--as", dest="viewer", metavar="VIEWER", required=True,
                            type=_identifier("viewer"),
                            help="whose view: the customer id, an agent id or a supervisor id")
    _common(transcript)
    transcript.set_defaults(run=cmd_transcript)

    state = subparsers.add_parser(
        "state", help="a session, an agent or a supervisor as it was at a log position or a time",
        description="Time travel: print a session (status, queue, participants with their type, "
                    "mode and visibility, pending invitations), an agent (its active supervisions: "
                    "supervisor, mode, NextChat/AllChats, since when) or a supervisor (the "
                    "supervisions it holds, the sessions it is present in) as they were at --at, "
                    "rebuilt from STORE by the domain's own fold (ADR 0023). Without --at: as they "
                    "are at the end of the log.",
        epilog="examples:\n"
               "  coaching state coaching-demo.sqlite --session sms-00003\n"
               "  coaching state coaching-demo.sqlite --session sms-00003 --at 300   "
               "# after the record at position 300\n"
               "  coaching state coaching-demo.sqlite --agent agent-007 --at 2025-04-14T09:00:00+01:00\n"
               "  coaching state coaching-demo.sqlite --supervisor sup-01 --format json\n\n"
               + _EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    state.add_argument("store", metavar="STORE", help=_STORE_HELP)
    which = state.add_mutually_exclusive_group(required=True)
    which.add_argument("--session", metavar="ID", type=_identifier("session"),
                       help="a session: status, participants, invitations")
    which.add_argument("--agent", metavar="ID", type=_identifier("agent"),
                       help="an agent: its active supervisions")
    which.add_argument("--supervisor", metavar="ID", type=_identifier("supervisor"),
                       help="a supervisor: supervisions it holds, sessions it is in")
    _common(state)
    state.set_defaults(run=cmd_state)
