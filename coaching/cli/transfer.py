"""``coaching export`` and ``coaching import``: a log to a versioned JSON-lines file and back.

Why in the CLI: moving a log between stores (SQLite to a fresh file, a backup, another site) and
handing it to tools outside Python is an operator's task; both commands verify the tamper-evidence
chain as they go, so a copy is never silently less trustworthy than its original.
"""

from __future__ import annotations

import argparse
from typing import IO, Any, Final

from coaching.audit.transfer import (
    ChainBroken,
    OutputExists,
    Progress,
    TargetNotChained,
    TargetNotEmpty,
    export_log,
    import_log,
)
from coaching.cli.progress import Progress as Bar
from coaching.domain.errors import CoachingError
from coaching.store.source import ExportFormatError

ORDER: Final = 70

EXIT_OK: Final = 0
"""Done: the chain verified and every event was written."""
EXIT_REFUSED: Final = 1
"""The input failed verification (a broken chain, a malformed or cut-short export): nothing written."""
EXIT_USAGE: Final = 2
"""Bad arguments (argparse's own code)."""
EXIT_DATABASE: Final = 3
"""A store or file cannot be used as asked: missing, unreadable, a non-empty import target, an
existing export file without --force, a target that keeps no chain."""

COMMANDS: Final = """\
  export   write a store's log to a JSON-lines file (header, one line per event with its
           chain hash, trailer), verifying the tamper-evidence chain on the way
  import   verify an export completely, then write it into an empty SQLite store in
           batches; the store recomputes every hash and must match the export's
"""

EXAMPLES: Final = """\
  coaching export coaching-demo.sqlite day.jsonl # a verified copy, for tools outside Python
  coaching import day.jsonl restored.sqlite      # identical log, same hashes
"""

_EXIT_HELP = f"""\
exit codes:
  {EXIT_OK}  done (chain verified)
  {EXIT_REFUSED}  refused: the chain is broken, or the export is malformed or cut short; nothing written
  {EXIT_USAGE}  usage error
  {EXIT_DATABASE}  a store or file cannot be used: missing or unreadable, a non-empty import target
     (use --append), an existing export file (use --force)
"""


def _bars(err: IO[str], enabled: bool) -> tuple[Progress, list[Bar]]:
    """A progress callback drawing one bar per phase (export, verify, import) on ``err``."""
    bars: dict[str, Bar] = {}
    order: list[Bar] = []

    def progress(phase: str, done: int, total: int) -> None:
        bar = bars.get(phase)
        if bar is None:
            for previous in order:
                previous.finish()
            order.clear()
            bar = bars[phase] = Bar(phase, total, err, enabled=enabled)
            order.append(bar)
        bar.update(done)

    return progress, order


def _finish(order: list[Bar]) -> None:
    for bar in order:
        bar.finish()


def cmd_export(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Export STORE to FILE; print the summary (head included) on stdout."""
    progress, order = _bars(err, args.progress)
    try:
        summary = export_log(args.store, args.file, progress, overwrite=args.force)
    except (ChainBroken, ExportFormatError) as refusal:  # ExportFormatError: copying a bad export
        _finish(order)
        print(f"coaching export: refused: {refusal.message}", file=err)
        return EXIT_REFUSED
    except (OutputExists, FileNotFoundError) as error:
        print(f"coaching export: {getattr(error, 'message', error)}", file=err)
        return EXIT_DATABASE
    _finish(order)
    print("\n".join(summary.lines()), file=out)
    return EXIT_OK


def cmd_import(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Import FILE into STORE; print the summary on stdout."""
    progress, order = _bars(err, args.progress)
    try:
        summary = import_log(args.file, args.store, progress, append=args.append, batch_size=args.batch_size)
    except (ChainBroken, ExportFormatError) as refusal:
        _finish(order)
        print(f"coaching import: refused: {refusal.message}", file=err)
        return EXIT_REFUSED
    except (TargetNotEmpty, TargetNotChained, FileNotFoundError) as error:
        _finish(order)
        print(f"coaching import: {getattr(error, 'message', error)}", file=err)
        return EXIT_DATABASE
    except CoachingError as error:
        _finish(order)
        print(f"coaching import: {error}", file=err)
        return EXIT_DATABASE
    _finish(order)
    print("\n".join(summary.lines()), file=out)
    return EXIT_OK


def _batch(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def register(subparsers: Any) -> None:
    """Add ``export`` and ``import`` to the ``coaching`` parser."""
    progress_help = "no progress bar on stderr (it is drawn on a terminal, plain lines otherwise)"
    export = subparsers.add_parser(
        "export", help="write a store's log to a JSON-lines export file, verifying its chain",
        description="Write every event of STORE (an SQLite file written by coaching) to FILE, one JSON "
                    "object per line: a header (format, version, source, time), one line per event "
                    "(position, originator_id, originator_version, topic, the stored event as JSON, and "
                    "its chain hash), and a trailer (count and chain head). The chain is verified while "
                    "writing; a broken chain refuses the export. The file is written as FILE.partial "
                    "and renamed when complete. Format and hash algorithm: docs/export.md.",
        epilog="examples:\n"
               "  coaching export coaching-demo.sqlite day.jsonl\n"
               "  coaching export coaching-demo.sqlite day.jsonl --force --no-progress\n"
               "  head -2 day.jsonl | python -m json.tool --json-lines   # the header and first event\n\n"
               + _EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("store", metavar="STORE", help="the SQLite store to read (or an export file to copy)")
    export.add_argument("file", metavar="FILE", help="the export file to write (conventionally .jsonl)")
    export.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    export.add_argument("--no-progress", dest="progress", action="store_false", help=progress_help)
    export.set_defaults(run=cmd_export)

    imp = subparsers.add_parser(
        "import", help="verify an export file, then write it into an empty SQLite store",
        description="Check FILE completely first (header, every line's shape, every event decodes, "
                    "streams in order, the chain from its first line to the trailer's head): nothing is "
                    "written unless all of it holds, and a refusal names the first bad line. Then write "
                    "it into STORE in batches (one transaction each) through the chained recorder, "
                    "checking after each batch that the store's recomputed hash equals the export's. "
                    "STORE is created if missing and must hold no events, unless --append.",
        epilog="examples:\n"
               "  coaching import day.jsonl restored.sqlite\n"
               "  coaching import day.jsonl restored.sqlite --batch-size 5000 --no-progress\n"
               "  coaching import more.jsonl restored.sqlite --append   # new chain hashes, same events\n\n"
               + _EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    imp.add_argument("file", metavar="FILE", help="the export file to read")
    imp.add_argument("store", metavar="STORE", help="the SQLite store to write (created if missing)")
    imp.add_argument("--append", action="store_true",
                     help="allow a STORE that holds events: append after them (its chain continues from "
                          "its own head, so the hashes differ from the export's)")
    imp.add_argument("--batch-size", type=_batch, default=1000, metavar="N",
                     help="events per transaction (default: 1000)")
    imp.add_argument("--no-progress", dest="progress", action="store_false", help=progress_help)
    imp.set_defaults(run=cmd_import)
