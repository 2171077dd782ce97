"""``GwsAdapter``: one GWS request in, one GWS response out, whatever the transport; it never raises.

Why transport-free: the same adapter answers the Starlette server (:mod:`coaching.gws.server`),
the tests and the benchmark, and an embedding can put it behind any web framework, queue or
RPC. It takes primitives (method, path, caller id, body) and returns primitives
(:class:`~coaching.gws.responses.GwsResponse`: an HTTP status and the GWS JSON body), so the
domain never sees a transport type (the cargoshipping example's ``interface.py``, in spirit).

Order of checks: the path (unknown → 6/404, wrong method → 6/405), the caller (→ 20/401), the
body (→ 1 or 10/400), then the application service (its refusals, typed). Only a request that
passed all of them reaches :meth:`Coaching.handle`, which saves atomically or not at all, so a
non-zero answer always means nothing was written. A bug (any other exception) is logged with a
reference and answered with statusCode 4: a client gets a well-formed answer, the operator the
traceback; nothing is swallowed silently.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Collection
from typing import Any, Final

from coaching.application import Coaching, Outcome
from coaching.domain.errors import CoachingError, Forbidden
from coaching.domain.events import MessageVisibleToAgent, MessageVisibleToAll
from coaching.gws.requests import Shape, parse_request, to_command
from coaching.gws.responses import GwsResponse, internal_error, refusal, success

LOG: Final = logging.getLogger("coaching.gws")

_references = itertools.count(1)


class GwsAdapter:
    """Answers GWS SMS Session API requests (and this service's ``/coaching/v1`` ones) over a ``Coaching``.

    ``admins``: if given, only these callers may use the ``/coaching/v1`` registration and
    routing endpoints (else 3, Forbidden); by default any identified caller may (ADR 0015).
    """

    def __init__(self, app: Coaching, *, admins: Collection[str] | None = None) -> None:
        self.app = app
        self.admins = frozenset(admins) if admins is not None else None

    def handle(self, method: str, path: str, caller: str | None, body: bytes | str | Any) -> GwsResponse:
        """Answer one request. ``body`` is the raw body (bytes or text) or an already-decoded JSON value."""
        try:
            request = parse_request(method, path, caller, body)
            if self.admins is not None and not request.route.shape.is_gws \
                    and request.caller not in self.admins:
                raise Forbidden(f"{request.caller!r} may not use {request.route.shape.value}: "
                                "the service was started with a list of admins")
            command = to_command(request, self._customer_of)
            outcome = self.app.handle(command)
        except CoachingError as error:
            return refusal(error)
        except Exception:
            reference = f"gws-{next(_references)}"
            LOG.exception("internal error %s answering %s %s for %r", reference, method, path[:200], caller)
            return internal_error(reference)
        return success(outcome, **_extra(outcome))

    def _customer_of(self, session_id: str) -> str:
        """The customer of a session (a relayed customer message is sent as it)."""
        return self.app.get_session(session_id).customer_id


def _extra(outcome: Outcome) -> dict[str, Any]:
    """What GWS adds to ``{"statusCode": 0}`` (ADR 0014).

    SendMessage: ``referenceId``, the log position of the message's event. Every notification
    the message causes carries that position (its cursor is ``"<position>.<index>"``), so a
    sender can recognise its own message when it comes back in ``MessageLogUpdated``. Every
    other operation answers ``{"statusCode": 0}`` exactly, as the seed's sample does.
    """
    for event, position in zip(outcome.events, outcome.positions, strict=True):
        if isinstance(event, (MessageVisibleToAll, MessageVisibleToAgent)):
            return {"referenceId": position}
    return {}


__all__ = ["LOG", "GwsAdapter", "Shape"]
