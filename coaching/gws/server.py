"""The GWS SMS Session API over HTTP: a Starlette (ASGI) app around :class:`~coaching.gws.adapter.GwsAdapter`.

Needs the ``server`` extra (``pip install coaching[server]``: starlette, uvicorn); the library
itself never imports this module. ``coaching serve`` runs it with uvicorn.

Every path except the notification stream goes through the adapter, so routing, identity, the
status codes and "nothing written on a refusal" are decided in one transport-free place and this
module only moves bytes: it reads the body (bounded), takes the caller from the
``X-Coaching-User`` header, runs the adapter in a worker thread (it does blocking SQLite I/O) and
writes the answer. Commands run one at a time under a lock: SQLite has a single writer anyway,
and queueing in the process beats "database is locked" answers under load.

``GET /coaching/v1/users/{userId}/notifications`` (caller must be that user):
- as Server-Sent Events by default: each notification is one event whose ``id:`` is its cursor
  and whose ``data:`` is the CometD-style message; reconnecting with ``Last-Event-ID`` (or
  ``?after=<cursor>``) resumes strictly after it. When the log is idle the stream polls its
  position every ``poll_interval`` seconds and sends a comment line every ``keepalive`` seconds.
- as one JSON page with ``?wait=<seconds>`` (0 to 30; 0 answers at once): ``{"statusCode": 0,
  "notifications": [{"id", "position", "index", "message"}], "lastEventId"}``, at most
  ``?limit=`` (1 to 1000, default 100) of them, waiting up to ``wait`` seconds for the first.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from typing import Any, Final

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route, request_response
from starlette.types import Receive, Scope, Send

from coaching.application import Coaching
from coaching.domain.errors import CoachingError, Forbidden, InvalidValue
from coaching.gws.adapter import GwsAdapter
from coaching.gws.notifications import Follower, Notification
from coaching.gws.requests import IDENTITY_HEADER, MAX_BODY_BYTES, Shape, authenticate, route
from coaching.gws.responses import BodyTooLarge, GwsResponse, refusal

MAX_WAIT_SECONDS: Final = 30.0
MAX_PAGE: Final = 1000
DEFAULT_PAGE: Final = 100


def _caller(request: Request) -> str | None:
    """The ``X-Coaching-User`` header; sent more than once, its values joined with commas (RFC 9110),
    which is no GWS id (so 20): a proxy that appends its header must not let the client's win."""
    values = request.headers.getlist(IDENTITY_HEADER)
    return ",".join(values) if values else None


def _path(request: Request) -> str:
    """The decoded path, with a ``?`` that was sent encoded (``%3F``) encoded again: it is part of
    an id, not the start of a query string, and :func:`route` must not cut the path there."""
    path: str = request.scope["path"]
    return path.replace("?", "%3F")


def _answer(answer: GwsResponse) -> Response:
    return Response(answer.json(), status_code=answer.http_status, media_type="application/json",
                    headers=dict(answer.headers))


async def _read_body(request: Request) -> bytes | None:
    """The body, or None as soon as it is known to exceed :data:`MAX_BODY_BYTES` (never buffered whole)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class _Query:
    """The notification endpoint's parameters, checked (typed refusals, like every other input)."""

    def __init__(self, request: Request) -> None:
        params = request.query_params
        self.after: str | None = params.get("after") or request.headers.get("last-event-id") or None
        self.wait: float | None = _number(params.get("wait"), "wait", 0.0, MAX_WAIT_SECONDS)
        limit = _number(params.get("limit"), "limit", 1, MAX_PAGE)
        if limit is not None and not limit.is_integer():
            raise InvalidValue(f"limit must be a whole number, not {params['limit'][:40]!r}")
        self.limit = int(limit) if limit is not None else DEFAULT_PAGE


def _number(text: str | None, name: str, low: float, high: float) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidValue(f"{name} must be a number from {low:g} to {high:g}, not {text[:40]!r}") from None
    if not low <= value <= high:  # also refuses nan
        raise InvalidValue(f"{name} must be from {low:g} to {high:g}, not {text[:40]!r}")
    return value


def _as_json(n: Notification) -> dict[str, Any]:
    return {"id": n.cursor, "position": n.position, "index": n.index, "message": n.message}


class _AnyMethod:
    """An endpoint for every HTTP method: Starlette gives a function endpoint GET only, and answers
    the methods a route lacks itself, in plain text with an ``Allow`` of that route's methods."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        self._app = request_response(endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)


def create_app(app: Coaching, *, admins: Collection[str] | None = None, poll_interval: float = 0.2,
               keepalive: float = 15.0) -> Starlette:
    """The ASGI app serving ``app``: the GWS endpoints, ``/coaching/v1`` admin/routing, notifications.

    ``admins``: callers allowed on the ``/coaching/v1`` registration and routing endpoints
    (default: any identified caller). ``poll_interval``: how often an idle notification stream
    or a waiting page looks at the log's position. ``keepalive``: seconds between comment lines
    on an idle stream (so proxies keep it open).
    """
    adapter = GwsAdapter(app, admins=admins)
    one_writer = threading.Lock()

    def run(method: str, path: str, caller: str | None, body: bytes) -> GwsResponse:
        with one_writer:
            return adapter.handle(method, path, caller, body)

    async def gws(request: Request) -> Response:
        caller = _caller(request)
        path = _path(request)
        body = await _read_body(request)
        if body is None:
            return _answer(refusal(BodyTooLarge(f"the body is larger than {MAX_BODY_BYTES:,} bytes")))
        return _answer(await run_in_threadpool(run, request.method, path, caller, body))

    async def notifications(request: Request) -> Response:
        try:
            where = route("GET", _path(request))
            caller = authenticate(_caller(request))
            if where.user_id != caller:
                raise Forbidden(f"{caller!r} may read only its own notifications, not {where.user_id!r}")
            query = _Query(request)
            # the cursor is checked here (malformed, or beyond this log's end: 10), before any answer
            follower = await run_in_threadpool(Follower, app, caller, query.after)
        except CoachingError as error:
            return _answer(refusal(error))
        if query.wait is not None:
            return await _json_page(follower, query)
        return StreamingResponse(_stream(follower), media_type="text/event-stream",
                                 headers={"cache-control": "no-cache", "x-accel-buffering": "no"})

    async def _json_page(follower: Follower, query: _Query) -> Response:
        deadline = time.monotonic() + (query.wait or 0.0)
        found = await run_in_threadpool(follower.poll)
        while not found and time.monotonic() < deadline:
            await asyncio.sleep(poll_interval)
            found = await run_in_threadpool(follower.poll)
        found = found[:query.limit]
        body = {"statusCode": 0, "notifications": [_as_json(n) for n in found],
                "lastEventId": found[-1].cursor if found else query.after}
        return Response(orjson.dumps(body), media_type="application/json")

    async def _stream(follower: Follower) -> AsyncIterator[bytes]:
        """The follower keeps its projection between polls, so each poll reads only new events."""
        yield f"retry: {max(1000, int(poll_interval * 1000))}\n\n".encode()
        quiet_since = time.monotonic()
        while True:
            batch = await run_in_threadpool(follower.poll)
            for n in batch:
                yield b"id: " + n.cursor.encode() + b"\ndata: " + orjson.dumps(n.message) + b"\n\n"
            now = time.monotonic()
            if batch:
                quiet_since = now
            elif now - quiet_since >= keepalive:
                quiet_since = now
                yield b": keep-alive\n\n"
            await asyncio.sleep(poll_interval)

    notifications_path = Shape.NOTIFICATIONS.value.replace("{userId}", "{user_id}")
    routes = [
        Route(notifications_path, notifications, methods=["GET"]),
        Route(notifications_path + "/", notifications, methods=["GET"]),  # route() accepts it too
        Route("/{path:path}", _AnyMethod(gws)),  # the adapter answers a wrong method (6, 405, Allow)
    ]
    server = Starlette(routes=routes)
    server.state.coaching = app
    server.state.adapter = adapter
    return server


__all__ = ["DEFAULT_PAGE", "MAX_PAGE", "MAX_WAIT_SECONDS", "create_app"]
