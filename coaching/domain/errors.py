"""Typed refusals, each carrying the GWS ``statusCode`` a caller would receive.

A command that raises one of these has written nothing: the rules decide before anything is
saved, and a save is one atomic transaction. Catch :class:`CoachingError` to handle them all.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import ValidationError


class CoachingError(Exception):
    """A command was refused. ``status_code`` is the GWS ReturnValue; ``message`` says why."""

    status_code: ClassVar[int] = 4
    status_name: ClassVar[str] = "InternalError"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return f"[statusCode {self.status_code} {self.status_name}] {self.message}"

    def to_gws(self) -> dict[str, int | str]:
        """The GWS response body for this refusal."""
        return {"statusCode": self.status_code, "statusMessage": self.message}


class MissingParameter(CoachingError):
    """A required parameter is missing (GWS 1)."""

    status_code = 1
    status_name = "RequiredParameterMissing"


class InvalidState(CoachingError):
    """The command is not valid in the current state (GWS 2)."""

    status_code = 2
    status_name = "InvalidForCurrentState"


class Forbidden(CoachingError):
    """The caller lacks a required feature for this operation (GWS 3)."""

    status_code = 3
    status_name = "Forbidden"


class ConcurrencyConflict(CoachingError):
    """Other writers kept winning the race for the same aggregates (GWS 4).

    Raised only after the bounded number of retries; nothing was written.
    """

    status_code = 4
    status_name = "InternalError"


class NoPermission(CoachingError):
    """The caller has no right to act on that agent (GWS 5)."""

    status_code = 5
    status_name = "NoPermission"


class NotFound(CoachingError):
    """An id names nothing we know (GWS 6)."""

    status_code = 6
    status_name = "ResourceNotFound"


class InvalidValue(CoachingError):
    """A value is malformed or out of range (GWS 10)."""

    status_code = 10
    status_name = "ValueOutOfRange"


class AlreadyExists(CoachingError):
    """The thing to create already exists (GWS 18)."""

    status_code = 18
    status_name = "AlreadyExists"


def from_validation_error(model: str, error: ValidationError) -> CoachingError:
    """Turn pydantic's report into one typed refusal a person can read.

    A missing field is GWS 1; anything else wrong with a value (type, pattern, length, an
    unknown field) is GWS 10. Every problem is listed, field by field.
    """
    problems = error.errors(include_url=False)
    parts = []
    for problem in problems:
        where = ".".join(str(p) for p in problem["loc"]) or model
        parts.append(f"{where}: {problem['msg']}")
    message = f"{model}: " + "; ".join(parts)
    if problems and all(p["type"] == "missing" for p in problems):
        return MissingParameter(message)
    return InvalidValue(message)
