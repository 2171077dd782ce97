"""The GWS SMS Session API over ``Coaching``: requests, responses, a transport-free adapter.

``coaching.gws.requests`` turns a GWS request (path, caller, JSON body) into a domain command;
``coaching.gws.responses`` holds the GWS answer and its HTTP status; ``coaching.gws.adapter``
runs one request end to end and never raises; ``coaching.gws.notifications`` computes what each
participant is notified of. None of them imports a web framework: the
Starlette app is ``coaching.gws.server`` (``pip install coaching[server]``, ``coaching serve``).
See docs/gws.md.
"""

from coaching.gws.adapter import GwsAdapter
from coaching.gws.notifications import Follower, Notification, notifications_for
from coaching.gws.requests import (
    IDENTITY_HEADER,
    MAX_BODY_BYTES,
    Route,
    Shape,
    command_for,
    parse_request,
    route,
)
from coaching.gws.responses import HTTP_STATUS, STATUS_NAMES, GwsResponse, NotAuthenticated

__all__ = [
    "HTTP_STATUS",
    "IDENTITY_HEADER",
    "MAX_BODY_BYTES",
    "STATUS_NAMES",
    "Follower",
    "GwsAdapter",
    "GwsResponse",
    "NotAuthenticated",
    "Notification",
    "Route",
    "Shape",
    "command_for",
    "notifications_for",
    "parse_request",
    "route",
]
