"""GWS responses: ``{"statusCode": 0}`` or ``{"statusCode": N, "statusMessage": "..."}``, plus an HTTP status.

GWS answers every request with a JSON ``statusCode`` (its "ReturnValues"); HTTP adds a status of
its own that proxies, load balancers and ``curl --fail`` understand. One table here maps the one
onto the other (ADR 0014), so the adapter, the server and the documentation cannot disagree.

A non-zero answer always means nothing was written: the adapter only builds a refusal before the
application service saved anything, or when the service refused (and so saved nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Final

import orjson

from coaching.application import Outcome
from coaching.domain.errors import CoachingError, ConcurrencyConflict, InvalidValue, NotFound

OK: Final = 0
NOT_AUTHENTICATED: Final = 20
INTERNAL_ERROR: Final = 4

#: The GWS ReturnValues this service answers with, and their names (for documentation and logs).
STATUS_NAMES: Final[dict[int, str]] = {
    0: "OK",
    1: "RequiredParameterMissing",
    2: "InvalidForCurrentState",
    3: "Forbidden",
    4: "InternalError",
    5: "NoPermission",
    6: "ResourceNotFound",
    10: "ValueOutOfRange",
    18: "AlreadyExists",
    19: "AlreadyInUse",
    20: "NotAuthenticated",
}

#: HTTP status for each GWS statusCode (ADR 0014). A few refusals refine it by class
#: (:func:`http_status_of`): an unknown path is 404, a wrong method 405, a body too large 413,
#: a store that kept losing races 503 (retry), all with their GWS code in the body.
HTTP_STATUS: Final[dict[int, int]] = {
    0: 200,
    1: 400,
    2: 409,
    3: 403,
    4: 500,
    5: 403,
    6: 404,
    10: 400,
    18: 409,
    19: 409,
    20: 401,
}


class NotAuthenticated(CoachingError):
    """The request names no caller, or a caller that is not a GWS user id (GWS 20)."""

    status_code = 20
    status_name = "NotAuthenticated"
    http_status: ClassVar[int] = 401


class UnknownResource(NotFound):
    """No endpoint at that path (GWS 6, HTTP 404)."""

    http_status: ClassVar[int] = 404


class MethodNotAllowed(NotFound):
    """The path exists but not for that HTTP method (GWS 6, HTTP 405 with ``Allow``)."""

    http_status: ClassVar[int] = 405

    def __init__(self, message: str, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class BodyTooLarge(InvalidValue):
    """The body is larger than any valid request could be (GWS 10, HTTP 413)."""

    http_status: ClassVar[int] = 413


def http_status_of(error: CoachingError) -> int:
    """The HTTP status of a refusal: its class's own, else the table's for its statusCode."""
    own: int | None = getattr(error, "http_status", None)
    if own is not None:
        return own
    if isinstance(error, ConcurrencyConflict):
        return 503  # nothing written, and the same request may well succeed a moment later
    return HTTP_STATUS.get(error.status_code, 500)


@dataclass(frozen=True, slots=True)
class GwsResponse:
    """What the adapter answers: an HTTP status, the GWS JSON body, and extra headers.

    ``outcome`` (not part of the wire answer) is what the application recorded on success, for
    embeddings and tests that want the events without re-reading the log.
    """

    http_status: int
    body: dict[str, Any]
    headers: tuple[tuple[str, str], ...] = ()
    outcome: Outcome | None = field(default=None, compare=False, repr=False)

    @property
    def status_code(self) -> int:
        """The GWS statusCode of the body."""
        code: int = self.body["statusCode"]
        return code

    @property
    def ok(self) -> bool:
        """True when the request was carried out (statusCode 0)."""
        return self.status_code == OK

    def json(self) -> bytes:
        """The body as JSON bytes, as sent over HTTP."""
        return orjson.dumps(self.body)


def success(outcome: Outcome | None = None, **extra: Any) -> GwsResponse:
    """``{"statusCode": 0}`` plus whatever the operation adds (e.g. ``referenceId``)."""
    return GwsResponse(200, {"statusCode": OK, **extra}, outcome=outcome)


def refusal(error: CoachingError) -> GwsResponse:
    """``{"statusCode": N, "statusMessage": "..."}`` with the HTTP status that fits."""
    headers: tuple[tuple[str, str], ...] = ()
    if isinstance(error, MethodNotAllowed):
        headers = (("allow", error.allow),)
    elif isinstance(error, ConcurrencyConflict):
        headers = (("retry-after", "1"),)
    body: dict[str, Any] = dict(error.to_gws())
    return GwsResponse(http_status_of(error), body, headers)


def internal_error(reference: str) -> GwsResponse:
    """The answer to a bug: statusCode 4; the details are in the server's log under ``reference``."""
    return GwsResponse(500, {"statusCode": INTERNAL_ERROR,
                             "statusMessage": f"internal error (logged as {reference}); "
                                              "nothing was written"})
