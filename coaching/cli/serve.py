"""``coaching serve``: the GWS SMS Session API over HTTP, on an SQLite log, with uvicorn.

Why a subcommand: a newcomer should reach a running service in one line and drive it with curl
(docs/gws.md walks through the seed's sample from an empty log). The server extra
(starlette, uvicorn) is imported only here, so ``coaching`` without it still runs every other
command and says how to install it when ``serve`` is asked for.
"""

from __future__ import annotations

import argparse
import signal
import socket
from pathlib import Path
from typing import IO, Any, Final

from coaching.application import Coaching

ORDER: Final = 50
EXIT_OK: Final = 0
"""Stopped by Ctrl-C or SIGTERM after a graceful shutdown."""
EXIT_DATABASE: Final = 3
"""The SQLite file cannot be opened or created."""
EXIT_MISSING_EXTRA: Final = 5
"""starlette or uvicorn is not installed: ``pip install 'coaching[server]'``."""
EXIT_CANNOT_LISTEN: Final = 6
"""The host/port cannot be bound (in use, not an address of this machine, privileged port)."""

DEFAULT_DB: Final = "coaching.sqlite"

COMMANDS = """\
  serve    run the GWS SMS Session API over HTTP on an SQLite log (needs coaching[server]);
           the caller is named by the X-Coaching-User header; see docs/gws.md
"""

EXAMPLES = """\
  coaching serve --db coaching.sqlite --port 8080
  curl -s -H 'X-Coaching-User: s1' -d '{"operationName": "Coach"}' \\
       http://127.0.0.1:8080/api/v2/users/a1/channels/smssession    # {"statusCode":0}
"""

_DESCRIPTION = """\
Serve the GWS SMS Session API (Monitor, Coach, BargeIn, CancelSupervisorMonitoring, Intrude,
SwitchTo*, Accept, Reject, Leave, Complete, SendMessage, Invite) over HTTP on an SQLite log, with:
  - the caller's GWS user id in the X-Coaching-User header (missing: statusCode 20, HTTP 401);
  - /coaching/v1/... endpoints that GWS does not have, to register agents and supervisors, open
    a session for a customer, offer it to an agent and relay the customer's SMS;
  - GET /coaching/v1/users/{userId}/notifications: that user's notifications as Server-Sent
    Events (resumable with Last-Event-ID), or one JSON page with ?wait=0.
Every answer is GWS JSON: {"statusCode": 0} or {"statusCode": N, "statusMessage": "..."};
a non-zero statusCode means nothing was written. docs/gws.md lists every endpoint and code."""

_EPILOG = f"""\
examples:
  coaching serve                                  # {DEFAULT_DB}, http://127.0.0.1:8080
  coaching serve --db /var/lib/coaching/site.sqlite --host 0.0.0.0 --port 8080 --admin routing
  coaching serve --port 0                         # any free port; the first line says which

  # from an empty log to the seed's sample:
  U=http://127.0.0.1:8080; A=90cc5439ff6848748e5e67811273f266
  curl -s -H X-Coaching-User:admin -d '{{"agentId": "'$A'", "username": "alice", "team": "billing"}}' \\
       $U/coaching/v1/agents
  curl -s -H X-Coaching-User:admin -d '{{"supervisorId": "s1", "username": "sam", "teams": ["billing"]}}' \\
       $U/coaching/v1/supervisors
  curl -s -H X-Coaching-User:s1 -d '{{"operationName": "Coach", "supervisorMonitoringMode": "NextChat"}}' \\
       $U/api/v2/users/$A/channels/smsession
  curl -sN -H X-Coaching-User:s1 $U/coaching/v1/users/s1/notifications   # follow (Ctrl-C to stop)

exit codes:
  {EXIT_OK}  stopped by Ctrl-C or SIGTERM
  2  usage error
  {EXIT_DATABASE}  the SQLite file cannot be opened or created
  {EXIT_MISSING_EXTRA}  starlette/uvicorn missing: pip install 'coaching[server]'
  {EXIT_CANNOT_LISTEN}  cannot listen on --host/--port (in use, or not an address here)
"""


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be from 0 to 65535, got {value}")
    return value


def _seconds(text: str) -> float:
    value = float(text)
    if not 0.01 <= value <= 60:
        raise argparse.ArgumentTypeError(f"must be from 0.01 to 60 seconds, got {text}")
    return value


def register(subparsers: Any) -> None:
    """Add ``serve`` to the ``coaching`` command."""
    serve = subparsers.add_parser(
        "serve", help="run the GWS SMS Session API over HTTP on an SQLite log (needs coaching[server])",
        description=_DESCRIPTION, epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    serve.add_argument("--db", default=DEFAULT_DB,
                       help=f"SQLite file holding the log, created if missing (default: {DEFAULT_DB})")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default: 127.0.0.1, this machine only)")
    serve.add_argument("--port", type=_port, default=8080,
                       help="TCP port; 0 picks a free one (default: 8080)")
    serve.add_argument("--admin", action="append", metavar="USER",
                       help="only this caller may use the /coaching/v1 registration and routing endpoints "
                            "(repeat for several; default: any identified caller)")
    serve.add_argument("--poll-interval", type=_seconds, default=0.2, metavar="SECONDS",
                       help="how often an idle notification stream looks for new events (default: 0.2)")
    serve.add_argument("--log-level", default="info",
                       choices=["critical", "error", "warning", "info", "debug"],
                       help="uvicorn's log level (default: info)")
    serve.add_argument("--no-access-log", dest="access_log", action="store_false",
                       help="do not log one line per request")
    serve.set_defaults(run=cmd_serve)


def cmd_serve(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """Open the log, bind the socket, run uvicorn until Ctrl-C/SIGTERM."""
    try:
        # the server extra is optional: imported only when serving, so `coaching` runs without it
        import uvicorn  # noqa: PLC0415

        from coaching.gws.server import create_app  # noqa: PLC0415
    except ImportError as missing:
        print(f"coaching serve: the server extra is not installed ({missing}); "
              "run: pip install 'coaching[server]'", file=err)
        return EXIT_MISSING_EXTRA
    path = Path(args.db)
    if not path.parent.is_dir():
        print(f"coaching serve: cannot create {path}: no directory {path.parent}", file=err)
        return EXIT_DATABASE
    try:
        listener = _bind(args.host, args.port)
    except OSError as error:
        print(f"coaching serve: cannot listen on {args.host}:{args.port}: {error}", file=err)
        return EXIT_CANNOT_LISTEN
    app = Coaching.sqlite(str(path))
    try:
        host, port = listener.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(f"coaching serve: GWS SMS Session API on http://{shown}:{port} "
              f"(log {path}, {app.log_position():,} events)", file=out)
        print("  identity header X-Coaching-User: <GWS user id>; endpoints and status codes in docs/gws.md; "
              "Ctrl-C to stop", file=out, flush=True)
        config = uvicorn.Config(create_app(app, admins=args.admin, poll_interval=args.poll_interval),
                                log_level=args.log_level, access_log=args.access_log, lifespan="off",
                                timeout_graceful_shutdown=2)
        _serve_until_signal(uvicorn.Server(config), listener)
    finally:
        app.close()
        listener.close()
    print("coaching serve: stopped", file=out, flush=True)
    return EXIT_OK


def _bind(host: str, port: int) -> socket.socket:
    """A bound socket, so a busy port is our clear error (and ``--port 0`` tells us its number)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((host, port))
        listener.set_inheritable(True)
    except OSError:
        listener.close()
        raise
    return listener


def _serve_until_signal(server: Any, listener: socket.socket) -> None:
    """Run uvicorn; a Ctrl-C or SIGTERM shuts it down gracefully and ends here, not in a traceback.

    uvicorn re-raises the signal it caught once it has shut down, to the handler that was there
    before it; installing quiet handlers first makes that a no-op, so the command can report
    "stopped" and exit 0.
    """
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[listener])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
