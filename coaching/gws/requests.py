"""GWS SMS Session API requests: a path (with its ids), the caller and a JSON body → one domain command.

Why a layer of its own: GWS spells things its way (``operationName``, ``supervisorMonitoringMode``,
``queueName``, ids in the path, the caller implied by the session), the domain its own
(``Coach(actor=..., agent_id=..., supervisor_monitoring_mode=...)``). Each GWS operation is one
frozen pydantic model with the GWS field names as aliases, and each path shape accepts a
discriminated union of the operations GWS defines there. Values are validated with the domain's
own types (``Identifier``, ``Nickname``, ``MessageText`` ...), so a limit lives in one place.

Nothing here does I/O or imports a web framework: :mod:`coaching.gws.adapter` runs it, and
:mod:`coaching.gws.server` is one transport of many. Every refusal is a
:class:`~coaching.domain.errors.CoachingError` with its GWS statusCode (ADR 0014):
no ``operationName`` → 1; an unknown one, a wrong type, an unknown mode, an oversize value, a
malformed id → 10; no caller → 20.

Paths (ADR 0014, ADR 0015 for the non-GWS ones under ``/coaching/v1``):

=========================================================  ==========================================
``POST /api/v2/users/{agentId}/channels/smssession``        Monitor, Coach, BargeIn,
(also ``.../channels/smsession``, as the seed writes it)    CancelSupervisorMonitoring; caller: supervisor
``POST /api/v2/users/{agentId}/smssessions/{sessionId}``    Intrude; caller: supervisor
``POST /api/v2/me/smssessions/{sessionId}``                 SwitchToCoach, SwitchToBargeIn,
                                                            SwitchToMonitor, Leave (supervisor);
                                                            Accept, Reject, Leave, Complete,
                                                            SendMessage, Invite (agent)
``POST /coaching/v1/agents``, ``/supervisors``,             registration, opening a session (admin,
``/sessions``, ``/sessions/{id}/offers``,                   routing), a customer's SMS
``/sessions/{id}/customer-messages``
``GET /coaching/v1/users/{userId}/notifications``           the caller's notifications (server only)
=========================================================  ==========================================
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from coaching.domain.commands import (
    Accept,
    BargeIn,
    CancelSupervisorMonitoring,
    Coach,
    Command,
    Complete,
    Intrude,
    Invite,
    Leave,
    Monitor,
    OfferSession,
    OpenSession,
    Queue,
    RegisterAgent,
    RegisterSupervisor,
    Reject,
    SendMessage,
    SwitchToBargeIn,
    SwitchToCoach,
    SwitchToMonitor,
)
from coaching.domain.errors import InvalidValue, MissingParameter, from_validation_error
from coaching.domain.values import (
    API_MULTIMEDIA,
    MAX_TEXT_LENGTH,
    Identifier,
    MessageText,
    MonitoringMode,
    Nickname,
    QueueName,
    SupervisorMode,
)
from coaching.gws.responses import BodyTooLarge, MethodNotAllowed, NotAuthenticated, UnknownResource

#: The header that names the caller (ADR 0014): the GWS user id of the agent or supervisor.
IDENTITY_HEADER: Final = "X-Coaching-User"

#: The largest body accepted. The largest valid GWS request is a SendMessage of 1600 characters
#: (at most 4 bytes each in UTF-8, but 12 when a character outside the BMP, an emoji, is escaped
#: as a \\uXXXX\\uXXXX surrogate pair, as ASCII-only JSON encoders do) plus a few short fields;
#: 32 KiB holds it with room to spare and keeps a client from making the server parse megabytes.
MAX_BODY_BYTES: Final = 32 * 1024
assert MAX_BODY_BYTES > 12 * MAX_TEXT_LENGTH + 1024


class Shape(StrEnum):
    """The endpoints, as documentation writes them; each accepts its own set of bodies."""

    AGENT_CHANNEL = "/api/v2/users/{agentId}/channels/smssession"
    AGENT_SESSION = "/api/v2/users/{agentId}/smssessions/{sessionId}"
    MY_SESSION = "/api/v2/me/smssessions/{sessionId}"
    AGENTS = "/coaching/v1/agents"
    SUPERVISORS = "/coaching/v1/supervisors"
    SESSIONS = "/coaching/v1/sessions"
    OFFERS = "/coaching/v1/sessions/{sessionId}/offers"
    CUSTOMER_MESSAGES = "/coaching/v1/sessions/{sessionId}/customer-messages"
    NOTIFICATIONS = "/coaching/v1/users/{userId}/notifications"

    @property
    def method(self) -> str:
        """Every endpoint is a POST (as in GWS), except reading notifications."""
        return "GET" if self is Shape.NOTIFICATIONS else "POST"

    @property
    def is_gws(self) -> bool:
        """True for the GWS SMS Session API paths; False for this service's own ``/coaching/v1``."""
        return self.value.startswith("/api/v2/")


_ID = r"([^/]+)"
# The seed writes "POST api/v2/users/..." (no leading slash) and ".../channels/smsession" (one s);
# other GWS pages write "/channels/smssession". Both are accepted, as is a trailing slash.
_PATHS: Final[tuple[tuple[re.Pattern[str], Shape, tuple[str, ...]], ...]] = (
    (re.compile(rf"/?api/v2/users/{_ID}/channels/sms?session/?"), Shape.AGENT_CHANNEL, ("agent_id",)),
    (re.compile(rf"/?api/v2/users/{_ID}/smssessions/{_ID}/?"), Shape.AGENT_SESSION,
     ("agent_id", "session_id")),
    (re.compile(rf"/?api/v2/me/smssessions/{_ID}/?"), Shape.MY_SESSION, ("session_id",)),
    (re.compile(r"/?coaching/v1/agents/?"), Shape.AGENTS, ()),
    (re.compile(r"/?coaching/v1/supervisors/?"), Shape.SUPERVISORS, ()),
    (re.compile(r"/?coaching/v1/sessions/?"), Shape.SESSIONS, ()),
    (re.compile(rf"/?coaching/v1/sessions/{_ID}/offers/?"), Shape.OFFERS, ("session_id",)),
    (re.compile(rf"/?coaching/v1/sessions/{_ID}/customer-messages/?"), Shape.CUSTOMER_MESSAGES,
     ("session_id",)),
    (re.compile(rf"/?coaching/v1/users/{_ID}/notifications/?"), Shape.NOTIFICATIONS, ("user_id",)),
)

_PATH_PARAMETER_NAMES: Final = {"agent_id": "agentId", "session_id": "sessionId", "user_id": "userId"}

_IDENTIFIER: TypeAdapter[str] = TypeAdapter(Identifier)


def is_identifier(value: object) -> bool:
    """True when ``value`` is a GWS id as the domain accepts it (1-64 of letters, digits, ``_.@:-``)."""
    if not isinstance(value, str):
        return False
    try:
        _IDENTIFIER.validate_python(value)
    except ValidationError:
        return False
    return True


def _path_id(name: str, value: str) -> str:
    if not is_identifier(value):
        raise InvalidValue(
            f"{_PATH_PARAMETER_NAMES[name]} in the path is not a valid id: {value[:80]!r} "
            "(1 to 64 letters, digits or _.@:- , starting with a letter or digit)")
    return value


@dataclass(frozen=True, slots=True)
class Route:
    """Which endpoint a request is for, with the ids its path carries (validated)."""

    shape: Shape
    agent_id: str | None = None
    session_id: str | None = None
    user_id: str | None = None


def route(method: str, path: str) -> Route:
    """Find the endpoint of ``method path``; unknown path → 6 (HTTP 404), wrong method → 6 (405).

    ``path`` is the decoded request path; a query string, if any, is ignored. Ids in the path
    must be GWS ids (else 10).
    """
    path = path.split("?", 1)[0]
    for pattern, shape, names in _PATHS:
        match = pattern.fullmatch(path)
        if match is None:
            continue
        if method.upper() != shape.method:
            raise MethodNotAllowed(
                f"{method.upper()} is not supported on {shape.value}; use {shape.method}", shape.method)
        ids = {name: _path_id(name, value) for name, value in zip(names, match.groups(), strict=True)}
        return Route(shape, **ids)
    raise UnknownResource(
        f"no endpoint at {path[:200]!r}; the GWS SMS Session API is "
        f"POST {Shape.AGENT_CHANNEL.value}, POST {Shape.AGENT_SESSION.value} and "
        f"POST {Shape.MY_SESSION.value} (see docs/gws.md)")


def authenticate(caller: str | None) -> str:
    """The caller's user id from the identity header, or ``NotAuthenticated`` (GWS 20)."""
    if caller is None or caller == "":
        raise NotAuthenticated(f"no caller: send the {IDENTITY_HEADER} header with your GWS user id")
    if not is_identifier(caller):
        raise NotAuthenticated(f"the {IDENTITY_HEADER} header is not a GWS user id: {caller[:80]!r}")
    return caller


def decode_body(body: bytes | bytearray | memoryview | str | Any) -> dict[str, Any]:
    """The JSON object of a request body; bytes and text are parsed, anything else taken as parsed.

    An empty body is an empty object (so the answer is "operationName is missing", 1); a body
    that is not JSON, or JSON that is not an object, is 10; a body over
    :data:`MAX_BODY_BYTES` is 10 (HTTP 413) and is not parsed.
    """
    if isinstance(body, (bytes, bytearray, memoryview, str)):
        raw = body.encode() if isinstance(body, str) else bytes(body)
        if len(raw) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the body has {len(raw):,} bytes; the most a request may have is "
                               f"{MAX_BODY_BYTES:,}")
        if not raw.strip():
            return {}
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            raise InvalidValue(f"the body is not valid JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidValue(f"the body must be a JSON object, not {_json_type(body)}")
    return body


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number",
             type(None): "null"}
    return names.get(type(value), type(value).__name__)


# --- the bodies ----------------------------------------------------------------------------------


class GwsBody(BaseModel):
    """Base of every request body: frozen, GWS spellings only, unknown fields refused (ADR 0011)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=False)

    def to_command(self, caller: str, where: Route) -> Command:
        """The domain command this request asks for, issued by ``caller``."""
        raise NotImplementedError  # pragma: no cover - every concrete body overrides it


def _need(value: str | None, name: str) -> str:
    assert value is not None, f"the route carries no {name}"  # the path patterns guarantee it
    return value


class _SetUpRequest(GwsBody):
    """Monitor, Coach and BargeIn share their parameters (GWS: "same")."""

    supervisor_monitoring_mode: MonitoringMode = Field(MonitoringMode.ALL_CHATS,
                                                       alias="supervisorMonitoringMode")
    """NextChat or AllChats (the default)."""
    nickname: Nickname | None = None
    """The supervisor's name as agents (and in BargeIn the customer) see it; default username."""


class MonitorRequest(_SetUpRequest):
    """``{"operationName": "Monitor"}``: silent supervision of the agent's sessions."""

    operation_name: Literal["Monitor"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return Monitor(actor=caller, agent_id=_need(where.agent_id, "agentId"),
                       supervisor_monitoring_mode=self.supervisor_monitoring_mode, nickname=self.nickname)


class CoachRequest(_SetUpRequest):
    """``{"operationName": "Coach"}``: the seed's operation; messages reach agents, never the customer."""

    operation_name: Literal["Coach"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return Coach(actor=caller, agent_id=_need(where.agent_id, "agentId"),
                     supervisor_monitoring_mode=self.supervisor_monitoring_mode, nickname=self.nickname)


class BargeInRequest(_SetUpRequest):
    """``{"operationName": "BargeIn"}``: seen and heard by everyone."""

    operation_name: Literal["BargeIn"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return BargeIn(actor=caller, agent_id=_need(where.agent_id, "agentId"),
                       supervisor_monitoring_mode=self.supervisor_monitoring_mode, nickname=self.nickname)


class CancelSupervisorMonitoringRequest(GwsBody):
    """``{"operationName": "CancelSupervisorMonitoring"}``: the caller's supervision of the agent ends."""

    operation_name: Literal["CancelSupervisorMonitoring"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return CancelSupervisorMonitoring(actor=caller, agent_id=_need(where.agent_id, "agentId"))


class IntrudeRequest(GwsBody):
    """``{"operationName": "Intrude"}``: join the agent's session in progress (ADR 0008)."""

    operation_name: Literal["Intrude"] = Field(alias="operationName")
    supervisor_visibility_mode: SupervisorMode | None = Field(None, alias="supervisorVisibilityMode")
    """Monitor, Coach or BargeIn; default: the mode of the caller's supervision of the agent."""

    def to_command(self, caller: str, where: Route) -> Command:
        return Intrude(actor=caller, agent_id=_need(where.agent_id, "agentId"),
                       session_id=_need(where.session_id, "sessionId"),
                       supervisor_visibility_mode=self.supervisor_visibility_mode)


class SwitchToCoachRequest(GwsBody):
    """``{"operationName": "SwitchToCoach"}``: a present supervisor, from Monitor or BargeIn."""

    operation_name: Literal["SwitchToCoach"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return SwitchToCoach(actor=caller, session_id=_need(where.session_id, "sessionId"))


class SwitchToBargeInRequest(GwsBody):
    """``{"operationName": "SwitchToBargeIn"}``: a present supervisor, from Monitor or Coach."""

    operation_name: Literal["SwitchToBargeIn"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return SwitchToBargeIn(actor=caller, session_id=_need(where.session_id, "sessionId"))


class SwitchToMonitorRequest(GwsBody):
    """``{"operationName": "SwitchToMonitor"}``: a present supervisor, from Coach or BargeIn."""

    operation_name: Literal["SwitchToMonitor"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return SwitchToMonitor(actor=caller, session_id=_need(where.session_id, "sessionId"))


class LeaveRequest(GwsBody):
    """``{"operationName": "Leave"}``: the caller (agent or supervisor) leaves the session."""

    operation_name: Literal["Leave"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return Leave(actor=caller, session_id=_need(where.session_id, "sessionId"))


class AcceptRequest(GwsBody):
    """``{"operationName": "Accept"}``: the invited agent joins; its supervisions join with it."""

    operation_name: Literal["Accept"] = Field(alias="operationName")
    nickname: Nickname | None = None
    """The agent's name as the customer sees it; default its registered nickname or username."""

    def to_command(self, caller: str, where: Route) -> Command:
        return Accept(actor=caller, session_id=_need(where.session_id, "sessionId"), nickname=self.nickname)


class RejectRequest(GwsBody):
    """``{"operationName": "Reject"}``: the invitation ends for this agent."""

    operation_name: Literal["Reject"] = Field(alias="operationName")

    def to_command(self, caller: str, where: Route) -> Command:
        return Reject(actor=caller, session_id=_need(where.session_id, "sessionId"))


class CompleteRequest(GwsBody):
    """``{"operationName": "Complete"}``: completes the session; with ``queueName``, queues it."""

    operation_name: Literal["Complete"] = Field(alias="operationName")
    queue_name: QueueName | None = Field(None, alias="queueName")

    def to_command(self, caller: str, where: Route) -> Command:
        session_id = _need(where.session_id, "sessionId")
        if self.queue_name is None:
            return Complete(actor=caller, session_id=session_id)
        return Queue(actor=caller, session_id=session_id, queue_name=self.queue_name)


class SendMessageRequest(GwsBody):
    """``{"operationName": "SendMessage", "text": "..."}``: its visibility follows the sender (ADR 0005)."""

    operation_name: Literal["SendMessage"] = Field(alias="operationName")
    text: MessageText

    def to_command(self, caller: str, where: Route) -> Command:
        return SendMessage(actor=caller, session_id=_need(where.session_id, "sessionId"), text=self.text)


#: ``targetPath``: the GWS resource path of the agent (ADR 0014).
_TARGET_PATH: Final = re.compile(r"(?:/api/v2)?/users/([^/?#]+)/?")
#: ``targetUri``: ``agent:<userId>``, or the agent's resource as an absolute URL (ADR 0014).
_TARGET_URI: Final = re.compile(r"agent:(.+)|https?://[^/?#]+/api/v2/users/([^/?#]+)/?")


class InviteRequest(GwsBody):
    """``{"operationName": "Invite", "targetUri": "agent:<userId>"}``: a conference with another agent.

    The target is named by exactly one of ``targetUri`` (``agent:<userId>`` or
    ``https://host/api/v2/users/<userId>``) or ``targetPath`` (``/api/v2/users/<userId>`` or
    ``/users/<userId>``); only agents can be invited in this version (ADR 0014).
    """

    operation_name: Literal["Invite"] = Field(alias="operationName")
    target_uri: str | None = Field(None, alias="targetUri", max_length=2048)
    target_path: str | None = Field(None, alias="targetPath", max_length=2048)

    def target_agent_id(self) -> str:
        """The invited agent's id, from whichever of the two parameters is given."""
        if self.target_uri is None and self.target_path is None:
            raise MissingParameter("Invite needs targetUri (agent:<userId>) or targetPath "
                                   "(/api/v2/users/<userId>)")
        if self.target_uri is not None and self.target_path is not None:
            raise InvalidValue("Invite takes targetUri or targetPath, not both")
        if self.target_uri is not None:
            match = _TARGET_URI.fullmatch(self.target_uri)
            found = (match[1] or match[2]) if match else None
            name, given = "targetUri", self.target_uri
        else:
            match = _TARGET_PATH.fullmatch(self.target_path or "")
            found = match[1] if match else None
            name, given = "targetPath", self.target_path or ""
        if found is None or not is_identifier(found):
            raise InvalidValue(
                f"{name} {given[:200]!r} does not name an agent: use targetUri 'agent:<userId>' or "
                "'https://host/api/v2/users/<userId>', or targetPath '/api/v2/users/<userId>'")
        return found

    def to_command(self, caller: str, where: Route) -> Command:
        return Invite(actor=caller, session_id=_need(where.session_id, "sessionId"),
                      agent_id=self.target_agent_id())


AgentChannelRequest = Annotated[
    MonitorRequest | CoachRequest | BargeInRequest | CancelSupervisorMonitoringRequest,
    Field(discriminator="operation_name"),
]
"""The bodies of ``POST /api/v2/users/{agentId}/channels/smssession``."""

AgentSessionRequest = Annotated[IntrudeRequest, Field(discriminator="operation_name")]
"""The bodies of ``POST /api/v2/users/{agentId}/smssessions/{sessionId}``."""

MySessionRequest = Annotated[
    SwitchToCoachRequest | SwitchToBargeInRequest | SwitchToMonitorRequest | LeaveRequest
    | AcceptRequest | RejectRequest | CompleteRequest | SendMessageRequest | InviteRequest,
    Field(discriminator="operation_name"),
]
"""The bodies of ``POST /api/v2/me/smssessions/{sessionId}``."""


# --- this service's own endpoints (ADR 0015): not GWS, clearly apart under /coaching/v1 ----------


class RegisterAgentRequest(GwsBody):
    """``POST /coaching/v1/agents``: make an agent known (GWS has users already; we must be told)."""

    agent_id: Identifier = Field(alias="agentId")
    username: Nickname
    nickname: Nickname | None = None
    team: Identifier | None = None

    def to_command(self, caller: str, where: Route) -> Command:
        return RegisterAgent(actor=caller, agent_id=self.agent_id, username=self.username,
                             nickname=self.nickname, team=self.team)


class RegisterSupervisorRequest(GwsBody):
    """``POST /coaching/v1/supervisors``: a supervisor, its features, whom it may supervise."""

    supervisor_id: Identifier = Field(alias="supervisorId")
    username: Nickname
    nickname: Nickname | None = None
    features: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=lambda: [API_MULTIMEDIA], max_length=64)
    """Default ``["api-multimedia"]``, which every SMS session operation needs."""
    agents: list[Identifier] = Field(default_factory=list, max_length=10_000)
    teams: list[Identifier] = Field(default_factory=list, max_length=1_000)

    def to_command(self, caller: str, where: Route) -> Command:
        return RegisterSupervisor(actor=caller, supervisor_id=self.supervisor_id, username=self.username,
                                  nickname=self.nickname, features=frozenset(self.features),
                                  agents=frozenset(self.agents), teams=frozenset(self.teams))


class OpenSessionRequest(GwsBody):
    """``POST /coaching/v1/sessions``: a customer's first SMS arrived; the session waits for an agent."""

    session_id: Identifier = Field(alias="sessionId")
    customer_id: Identifier = Field(alias="customerId")
    customer_nickname: Nickname = Field(alias="customerNickname")

    def to_command(self, caller: str, where: Route) -> Command:
        return OpenSession(actor=caller, session_id=self.session_id, customer_id=self.customer_id,
                           customer_nickname=self.customer_nickname)


class OfferSessionRequest(GwsBody):
    """``POST /coaching/v1/sessions/{sessionId}/offers``: routing invites an agent to the session."""

    agent_id: Identifier = Field(alias="agentId")

    def to_command(self, caller: str, where: Route) -> Command:
        return OfferSession(actor=caller, session_id=_need(where.session_id, "sessionId"),
                            agent_id=self.agent_id)


class CustomerMessageRequest(GwsBody):
    """``POST /coaching/v1/sessions/{sessionId}/customer-messages``: the customer's SMS, relayed.

    The sender is the session's customer (looked up by the adapter), not the relaying caller.
    """

    text: MessageText

    def to_command(self, caller: str, where: Route) -> Command:
        """``caller`` here is the session's customer, found by :func:`to_command`."""
        return SendMessage(actor=caller, session_id=_need(where.session_id, "sessionId"), text=self.text)


# --- parsing -------------------------------------------------------------------------------------

_OPERATIONS: Final[dict[Shape, dict[str, type[GwsBody]]]] = {
    Shape.AGENT_CHANNEL: {"Monitor": MonitorRequest, "Coach": CoachRequest, "BargeIn": BargeInRequest,
                          "CancelSupervisorMonitoring": CancelSupervisorMonitoringRequest},
    Shape.AGENT_SESSION: {"Intrude": IntrudeRequest},
    Shape.MY_SESSION: {"SwitchToCoach": SwitchToCoachRequest, "SwitchToBargeIn": SwitchToBargeInRequest,
                       "SwitchToMonitor": SwitchToMonitorRequest, "Leave": LeaveRequest,
                       "Accept": AcceptRequest, "Reject": RejectRequest, "Complete": CompleteRequest,
                       "SendMessage": SendMessageRequest, "Invite": InviteRequest},
}

#: The unions as pydantic types, for embeddings that validate a body on its own and for schemas.
UNIONS: Final[dict[Shape, TypeAdapter[Any]]] = {
    Shape.AGENT_CHANNEL: TypeAdapter(AgentChannelRequest),
    Shape.AGENT_SESSION: TypeAdapter(AgentSessionRequest),
    Shape.MY_SESSION: TypeAdapter(MySessionRequest),
}

_PLAIN: Final[dict[Shape, type[GwsBody]]] = {
    Shape.AGENTS: RegisterAgentRequest,
    Shape.SUPERVISORS: RegisterSupervisorRequest,
    Shape.SESSIONS: OpenSessionRequest,
    Shape.OFFERS: OfferSessionRequest,
    Shape.CUSTOMER_MESSAGES: CustomerMessageRequest,
}


def operations(shape: Shape) -> tuple[str, ...]:
    """The ``operationName`` values a GWS path shape accepts (empty for ``/coaching/v1`` paths)."""
    return tuple(_OPERATIONS.get(shape, {}))


def _check_operation_name(shape: Shape, data: dict[str, Any]) -> None:
    """Say precisely what is wrong with ``operationName`` before the union would say it tersely."""
    allowed = _OPERATIONS[shape]
    if "operationName" not in data or data["operationName"] is None:
        raise MissingParameter(f"operationName is required on {shape.value}: one of {', '.join(allowed)}")
    name = data["operationName"]
    if not isinstance(name, str):
        raise InvalidValue(f"operationName must be a string, not {_json_type(name)}")
    if name in allowed:
        return
    elsewhere = [s for s, ops in _OPERATIONS.items() if name in ops]
    hint = f"; {name} is an operation of POST {elsewhere[0].value}" if elsewhere else ""
    raise InvalidValue(f"unknown operationName {name[:80]!r} on {shape.value}: expected one of "
                       f"{', '.join(allowed)}{hint}")


def body_model(where: Route, data: dict[str, Any]) -> type[GwsBody]:
    """The model of the body: the path's own, or the one its ``operationName`` picks (1, 10 if none).

    This is the discriminated union (``AgentChannelRequest`` ...) resolved by hand: the tag is
    checked first so the refusal can say what the path accepts and where an operation belongs.
    """
    plain = _PLAIN.get(where.shape)
    if plain is not None:
        return plain
    if where.shape not in _OPERATIONS:
        raise InvalidValue(f"{where.shape.value} takes no request body")
    _check_operation_name(where.shape, data)
    return _OPERATIONS[where.shape][data["operationName"]]


def parse_body(where: Route, data: dict[str, Any]) -> GwsBody:
    """Validate a decoded body against the operations of its path; typed refusals (1, 10)."""
    model = body_model(where, data)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise from_validation_error(model.__name__.removesuffix("Request"), error) from None


@dataclass(frozen=True, slots=True)
class ParsedRequest:
    """A request understood: where it goes, who asks, and the body as its operation's model."""

    route: Route
    caller: str
    body: GwsBody


def parse_request(method: str, path: str, caller: str | None,
                  body: bytes | bytearray | memoryview | str | Any) -> ParsedRequest:
    """Route, authenticate and validate one request, in that order (404/405, then 401, then 400)."""
    where = route(method, path)
    who = authenticate(caller)
    if where.shape is Shape.NOTIFICATIONS:
        raise InvalidValue(f"GET {Shape.NOTIFICATIONS.value} is served by coaching.gws.server only")
    return ParsedRequest(where, who, parse_body(where, decode_body(body)))


def to_command(request: ParsedRequest, customer_of: Callable[[str], str]) -> Command:
    """The domain command for a parsed request; the caller is its actor.

    One exception: a relayed customer message's actor is the session's customer,
    ``customer_of(session_id)``, whoever relays it (ADR 0015).
    """
    actor = request.caller
    if request.route.shape is Shape.CUSTOMER_MESSAGES:
        actor = customer_of(_need(request.route.session_id, "sessionId"))
    return request.body.to_command(actor, request.route)


def command_for(method: str, path: str, caller: str | None, body: bytes | str | Any,
                customer_of: Callable[[str], str] | None = None) -> Command:
    """The whole translation in one call, for embeddings that run commands themselves.

    Raises the typed refusal (:class:`CoachingError`) for anything wrong with the request.
    """
    def no_lookup(session_id: str) -> str:
        raise InvalidValue(f"cannot relay a customer message to {session_id!r} without customer_of")

    return to_command(parse_request(method, path, caller, body), customer_of or no_lookup)


__all__ = [
    "IDENTITY_HEADER",
    "MAX_BODY_BYTES",
    "UNIONS",
    "AcceptRequest",
    "AgentChannelRequest",
    "AgentSessionRequest",
    "BargeInRequest",
    "CancelSupervisorMonitoringRequest",
    "CoachRequest",
    "CompleteRequest",
    "CustomerMessageRequest",
    "GwsBody",
    "IntrudeRequest",
    "InviteRequest",
    "LeaveRequest",
    "MonitorRequest",
    "MySessionRequest",
    "OfferSessionRequest",
    "OpenSessionRequest",
    "ParsedRequest",
    "RegisterAgentRequest",
    "RegisterSupervisorRequest",
    "RejectRequest",
    "Route",
    "SendMessageRequest",
    "Shape",
    "SwitchToBargeInRequest",
    "SwitchToCoachRequest",
    "SwitchToMonitorRequest",
    "authenticate",
    "body_model",
    "command_for",
    "decode_body",
    "is_identifier",
    "operations",
    "parse_body",
    "parse_request",
    "route",
    "to_command",
]
