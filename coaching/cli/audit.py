"""``coaching audit STORE``: every supervision rule checked over a recorded log, and the report.

Why a command of its own: an auditor (or a nightly job) must be able to ask "did the recorded
day keep the rules?" of a store or an export file, without the application that wrote it, and
get a verdict in the exit status, a summary for a person, JSON for a machine, or one HTML page
to hand to someone. The work is :func:`coaching.audit.check.audit` (also the Python API).
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path
from typing import IO, Any, Final

from coaching.audit.check import DEFAULT_KEEP, audit
from coaching.audit.report import DEFAULT_TIMELINE_LIMIT
from coaching.cli.progress import Progress
from coaching.domain.errors import CoachingError
from coaching.store.source import open_source

ORDER: Final = 60

EXIT_CLEAN: Final = 0
"""Every rule holds, every record decodes (and with --verify the chain holds)."""
EXIT_VIOLATIONS: Final = 1
"""A rule is broken, a record does not decode, or the chain is broken / lacks the expected head."""
EXIT_USAGE: Final = 2
EXIT_UNREADABLE: Final = 3
"""The store or export cannot be read at all."""

COMMANDS: Final = """\
  audit    check every supervision rule over a recorded log (SQLite store or export file)
           and report supervisions, presences, revocations and messages (text, JSON, HTML)
"""
EXAMPLES: Final = """\
  coaching audit coaching-demo.sqlite            # verdict + summary; exit 1 on any violation
  coaching audit day.sqlite --format html --out day.html --sessions sms-00042
"""

_DESCRIPTION = """\
Stream a recorded log in order and check every supervision rule over what was recorded (not over
what the code would do now), with the same rule definitions the property tests use:

  coach-messages-never-reach-the-customer     a Coach-mode supervisor's message is never MessageVisibleToAll
  a-monitoring-supervisor-never-sends         no message from a supervisor in Monitor (or not present)
  nextchat-joins-at-most-one-session          a NextChat supervision joins one accepted session, once
  nextchat-ends-at-the-first-accepted-session ... and ends (SupervisionEnded) at that Accept
  every-active-supervision-joins-each-accepted-session   AllChats (and NextChat) join on every Accept
  no-supervision-joins-a-session-in-progress  a supervision joins only at its agent's Accept; else Intrude
  revoked-exactly-once-at-completion-or-queueing         one Revoked per supervisor present at the end
  an-agent-leaving-removes-no-supervisor      no supervisor removed while another agent remains
  a-supervisor-is-present-at-most-once        never added twice to the same session

A violation names the rule, the session, the events (by log position) and the participants.
The report: supervisions set up and ended (supervisor, agent, mode, NextChat/AllChats), each
supervisor's time present per mode, switches and how presences ended, revocations by reason,
messages by visibility. The HTML page adds a timeline per session: who was present, in which mode,
and who was shown each message. See docs/audit.md.
"""

_EPILOG = f"""\
examples:
  coaching audit coaching-demo.sqlite
  coaching audit day.sqlite --format json --out day.json --no-progress   # for a machine
  coaching audit day.sqlite --format html --out day.html    # first {DEFAULT_TIMELINE_LIMIT} sessions
  coaching audit day.sqlite --format html --out x.html --sessions sms-00042 sms-00043
  coaching audit day.sqlite --verify --expect-head 3f2a…                 # tamper evidence too
  coaching audit day.jsonl                                               # an export file

exit codes:
  {EXIT_CLEAN}  clean: every rule holds (and, with --verify, the chain holds)
  {EXIT_VIOLATIONS}  violations found, a record does not decode, or the chain is broken
  {EXIT_USAGE}  usage error
  {EXIT_UNREADABLE}  the store or export cannot be read
"""


def register(subparsers: Any) -> None:
    """Add ``coaching audit`` to the ``coaching`` command."""
    parser = subparsers.add_parser(
        "audit", help="check every supervision rule over a recorded log and report it",
        description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("store", metavar="STORE",
                        help="the log: an SQLite store written by coaching, or an export file")
    parser.add_argument("--format", choices=("text", "json", "html"), default="text",
                        help="text (default: a summary for a terminal), json, or html (one "
                             "self-contained page)")
    parser.add_argument("--out", metavar="FILE",
                        help="write the report to FILE instead of stdout (the verdict still goes to stderr)")
    parser.add_argument("--verify", action="store_true",
                        help="also walk the tamper-evidence hash chain, in the same pass")
    parser.add_argument("--expect-head", metavar="HASH",
                        help="implies --verify: the chain must contain this head (anchored elsewhere)")
    parser.add_argument("--sessions", nargs="+", metavar="ID",
                        help="give these sessions a detailed timeline (all formats); default for html: "
                             f"the first {DEFAULT_TIMELINE_LIMIT} sessions of the log")
    parser.add_argument("--timeline-limit", type=int, default=DEFAULT_TIMELINE_LIMIT, metavar="N",
                        help=f"html without --sessions: timelines for the first N sessions "
                             f"(default {DEFAULT_TIMELINE_LIMIT}); sessions with a violation are added")
    parser.add_argument("--validate", action="store_true",
                        help="decode every record through the event contract (pydantic), not only the "
                             "fields the rules read: slower, stricter")
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bar on stderr")
    parser.set_defaults(run=cmd_audit)


def cmd_audit(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Run the audit, write the report, and answer with the exit status."""
    path = Path(args.store)
    try:
        source = open_source(path)
    except (OSError, ValueError, sqlite3.Error, CoachingError) as error:
        print(f"coaching audit: cannot read {path}: {error}", file=err)
        return EXIT_UNREADABLE
    try:
        # counting a store scans it: only worth it for the progress bar's total
        total = source.count() if args.progress else 0
        bar = Progress("audit", total, err, enabled=args.progress)
        result = audit(source, name=str(path), sessions=args.sessions,
                       timeline_limit=(args.timeline_limit if args.format == "html" or args.sessions
                                       else 0),
                       validate=args.validate, verify=args.verify, expected_head=args.expect_head,
                       keep=DEFAULT_KEEP, violation_timelines=20 if args.format == "html" else 0,
                       progress=bar.update)
        bar.finish()
        if not result.events and not result.undecodable_count:
            print(f"coaching audit: {path} holds no events (not a coaching store or export?)", file=err)
            return EXIT_UNREADABLE
    except (OSError, sqlite3.Error, CoachingError) as error:
        # a store that cannot be read, or an export file with a malformed line (named in the error)
        print(f"coaching audit: cannot read {path}: {error}", file=err)
        return EXIT_UNREADABLE
    finally:
        source.close()
    text = result.render(args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        out.write(text if text.endswith("\n") else text + "\n")
    verdict = ("OK" if result.ok else "FAILED") + (
        f": {result.total_violations:,} violations" if result.total_violations else "")
    if result.undecodable_count:
        verdict += f", {result.undecodable_count:,} undecodable records"
    if result.chain is not None and not result.chain.ok:
        verdict += f", chain broken at position {result.chain.first_break}"
    rate = result.events / max(result.seconds, 1e-9)
    if args.out or args.format != "text":
        print(f"coaching audit: {verdict} ({result.events:,} events in {result.seconds:.1f} s, "
              f"{rate:,.0f}/s){f'; report written to {args.out}' if args.out else ''}", file=err)
    return EXIT_CLEAN if result.ok else EXIT_VIOLATIONS


if __name__ == "__main__":  # pragma: no cover
    from coaching.cli import main

    sys.exit(main(["audit", *sys.argv[1:]]))
