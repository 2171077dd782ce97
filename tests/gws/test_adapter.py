"""The GWS adapter, request by request: every operation's sample succeeds with the right events;
every malformed or misdirected variant gets its GWS statusCode and leaves the whole log unchanged.

Each case starts from the same floor (``tests/gws/world.py``) on a fresh in-memory application.
"The log is unchanged" compares every recorded event (position and content) before and after.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from coaching import Coach, Coaching, MonitoringMode
from coaching.domain.errors import ConcurrencyConflict
from coaching.gws import MAX_BODY_BYTES, GwsAdapter, GwsResponse, Shape, command_for
from coaching.gws.requests import UNIONS, operations, parse_body, route
from tests.gws.world import ADMIN_SAMPLES, AGENT, SAMPLES, SEED, SESSIONS, Sample, channel, me, world

Case = tuple[str, str, str, str | None, Any, int]
"""(name, method, path, caller, body, expected statusCode)."""


def _log(app: Coaching) -> list[tuple[int, Any]]:
    return list(app.all_events())


def _refused(app: Coaching, method: str, path: str, caller: str | None, body: Any) -> GwsResponse:
    """Send a request that must be refused; check the answer's shape and that nothing was written."""
    before = _log(app)
    answer = GwsAdapter(app).handle(method, path, caller, body)
    assert _log(app) == before, f"a refusal wrote events: {answer.body}"
    assert set(answer.body) == {"statusCode", "statusMessage"}, answer.body
    assert isinstance(answer.body["statusMessage"], str) and answer.body["statusMessage"]
    assert answer.status_code != 0
    orjson.dumps(answer.body)  # well-formed JSON
    return answer


#: ADR 0014's table, written out again here so that a change in the code's table fails a test.
EXPECTED_HTTP = {1: 400, 2: 409, 3: 403, 4: 500, 5: 403, 6: 404, 10: 400, 18: 409, 20: 401}


def _expected_http(code: int, method: str, path: str, body: Any) -> int:
    if code == 6 and (method != "POST" or path.endswith("/notifications")):
        return 405
    if isinstance(body, bytes) and len(body) > MAX_BODY_BYTES:
        return 413
    return EXPECTED_HTTP[code]


# --- the samples ------------------------------------------------------------------------------------


def test_every_operation_has_a_sample() -> None:
    """Adding an operation to a path without a sample here fails, so none goes untested."""
    sampled = {(route("POST", s.path).shape, s.operation) for s in SAMPLES}
    defined = {(shape, op) for shape in Shape for op in operations(shape)}
    assert defined == sampled
    assert len(defined) == 14  # 4 set-up + Intrude + 3 switches + Leave + Accept/Reject/Complete/Send/Invite


@pytest.mark.parametrize("sample", SAMPLES + ADMIN_SAMPLES, ids=lambda s: s.name)
def test_sample_succeeds_with_its_events(sample: Sample) -> None:
    app = world()
    before = app.log_position()
    answer = GwsAdapter(app).handle("POST", sample.path, sample.caller, orjson.dumps(sample.body))
    recorded = [(position, event) for position, event in app.all_events() if position > before]
    reply = {"statusCode": 0, **({"referenceId": recorded[0][0]} if sample.references else {})}
    assert answer.body == reply, answer.body
    assert answer.http_status == 200
    written = [event for _, event in recorded]
    assert [type(e).__name__ for e in written] == list(sample.events)
    first = written[0].model_dump(mode="json")
    assert {k: first[k] for k in sample.fields} == sample.fields
    assert answer.outcome is not None and list(answer.outcome.events) == written


def test_the_seeds_sample_is_answered_exactly_as_the_seed_shows() -> None:
    app = world()
    raw = b'{\n  "operationName": "Coach",\n  "supervisorMonitoringMode": "NextChat"\n}'
    answer = GwsAdapter(app).handle("POST", SEED.path, "s1", raw)
    assert answer.json() == b'{"statusCode":0}'
    assert app.supervisions(AGENT)[0].monitoring_mode is MonitoringMode.NEXT_CHAT


def test_the_seeds_sample_translates_to_the_domains_coach_command() -> None:
    command = command_for("POST", SEED.path, "s1", SEED.body)
    assert command == Coach(actor="s1", agent_id=AGENT, supervisor_monitoring_mode=MonitoringMode.NEXT_CHAT)


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: s.name)
def test_the_discriminated_union_reads_each_sample_as_the_adapter_does(sample: Sample) -> None:
    where = route("POST", sample.path)
    assert UNIONS[where.shape].validate_python(sample.body) == parse_body(where, sample.body)


def test_monitoring_mode_defaults_to_all_chats_and_nickname_to_the_username() -> None:
    app = world()
    answer = GwsAdapter(app).handle("POST", channel(spelling="smsession"), "s2", {"operationName": "Coach"})
    assert answer.ok
    (supervision,) = app.supervisions(AGENT)
    assert (supervision.monitoring_mode, supervision.nickname) == (MonitoringMode.ALL_CHATS, "sue")


def test_a_message_of_exactly_the_longest_length_is_sent() -> None:
    app = world()
    answer = GwsAdapter(app).handle(
        "POST", me("x-chat"), "a2", {"operationName": "SendMessage", "text": "é" * 1600}
    )
    assert answer.body == {"statusCode": 0, "referenceId": app.log_position()}


def test_reference_ids_are_the_log_positions_of_the_messages() -> None:
    app = world()
    adapter = GwsAdapter(app)
    ids = []
    for sender in ("a2", "s1", "a2"):
        ids.append(
            adapter.handle("POST", me("x-chat"), sender, {"operationName": "SendMessage", "text": "hi"}).body[
                "referenceId"
            ]
        )
        assert ids[-1] == app.log_position()
    assert ids == sorted(set(ids))


# --- malformed and misdirected variants ------------------------------------------------------------


def _other_operation(sample: Sample) -> str:
    """An operation name that exists, but on another path than the sample's."""
    shape = route("POST", sample.path).shape
    return next(op for other in Shape if other is not shape for op in operations(other))


def _path_variants(sample: Sample) -> Iterator[tuple[str, str, int]]:
    """Each id of the path replaced by a malformed one (10), a too long one (10), an unknown one (6)."""
    parts = sample.path.split("/")
    for i, part in enumerate(parts):
        kind = "agentId" if part in (AGENT, "a2", "a3", "a4") else "sessionId" if part in SESSIONS else None
        if kind is None:
            continue
        for label, replacement, code in (
            ("malformed", "bad%id!", 10),
            ("too long", "a" * 65, 10),
            ("unknown", "nobody-known", 6),
        ):
            yield f"{kind} {label}", "/".join([*parts[:i], replacement, *parts[i + 1 :]]), code


def _generic(sample: Sample) -> Iterator[Case]:
    body, path, caller = sample.body, sample.path, sample.caller
    bare = {k: v for k, v in body.items() if k != "operationName"}
    yield "no operationName", "POST", path, caller, bare, 1
    yield "operationName null", "POST", path, caller, {**body, "operationName": None}, 1
    yield "unknown operationName", "POST", path, caller, {**body, "operationName": "Frobnicate"}, 10
    yield (
        "operationName lower case",
        "POST",
        path,
        caller,
        {**body, "operationName": sample.operation.lower()},
        10,
    )
    yield (
        "operationName of another path",
        "POST",
        path,
        caller,
        {**body, "operationName": _other_operation(sample)},
        10,
    )
    yield "operationName not a string", "POST", path, caller, {**body, "operationName": 7}, 10
    yield "unknown field", "POST", path, caller, {**body, "bogus": 1}, 10
    yield "no caller", "POST", path, None, body, 20
    yield "empty caller", "POST", path, "", body, 20
    yield "malformed caller", "POST", path, "bad id!", body, 20
    yield "caller too long", "POST", path, "s" * 65, body, 20
    yield "body not JSON", "POST", path, caller, b'{"operationName": ', 10
    yield "body an array", "POST", path, caller, b"[]", 10
    yield "body a string", "POST", path, caller, orjson.dumps(sample.operation), 10
    yield "body null", "POST", path, caller, b"null", 10
    yield "empty body", "POST", path, caller, b"", 1
    yield "body too large", "POST", path, caller, orjson.dumps({**body, "pad": "x" * MAX_BODY_BYTES}), 10
    yield "GET instead of POST", "GET", path, caller, b"", 6
    yield "unknown path", "POST", path.rstrip("/") + "/extra", caller, body, 6
    for label, other_path, code in _path_variants(sample):
        yield label, "POST", other_path, caller, body, code


LONG = "n" * 65
SPECIFIC: tuple[Case, ...] = (
    # set-ups on an agent
    (
        "Coach: unknown supervisorMonitoringMode",
        "POST",
        channel(),
        "s1",
        {"operationName": "Coach", "supervisorMonitoringMode": "SomeChats"},
        10,
    ),
    (
        "Coach: supervisorMonitoringMode lower case",
        "POST",
        channel(),
        "s1",
        {"operationName": "Coach", "supervisorMonitoringMode": "nextchat"},
        10,
    ),
    (
        "Coach: supervisorMonitoringMode a number",
        "POST",
        channel(),
        "s1",
        {"operationName": "Coach", "supervisorMonitoringMode": 1},
        10,
    ),
    ("Coach: nickname too long", "POST", channel(), "s1", {"operationName": "Coach", "nickname": LONG}, 10),
    ("Coach: nickname empty", "POST", channel(), "s1", {"operationName": "Coach", "nickname": ""}, 10),
    ("Coach: nickname a number", "POST", channel(), "s1", {"operationName": "Coach", "nickname": 5}, 10),
    (
        "Coach: nickname with a control character",
        "POST",
        channel(),
        "s1",
        {"operationName": "Coach", "nickname": "a\nb"},
        10,
    ),
    (
        "Coach: Intrude's parameter",
        "POST",
        channel(),
        "s1",
        {"operationName": "Coach", "supervisorVisibilityMode": "Coach"},
        10,
    ),
    ("Coach by an agent", "POST", channel(), "a2", {"operationName": "Coach"}, 6),
    ("Coach by a supervisor without api-multimedia", "POST", channel(), "s3", {"operationName": "Coach"}, 3),
    ("Coach by a supervisor without the right", "POST", channel(), "s4", {"operationName": "Coach"}, 5),
    ("Coach by a customer", "POST", channel(), "c1", {"operationName": "Coach"}, 6),
    ("Coach repeated", "POST", channel("a2"), "s1", {"operationName": "Coach"}, 18),
    ("Monitor while coaching", "POST", channel("a2"), "s1", {"operationName": "Monitor"}, 18),
    (
        "Cancel without a supervision",
        "POST",
        channel("a2"),
        "s2",
        {"operationName": "CancelSupervisorMonitoring"},
        2,
    ),
    (
        "Cancel by a supervisor without api-multimedia",
        "POST",
        channel("a2"),
        "s3",
        {"operationName": "CancelSupervisorMonitoring"},
        3,
    ),
    (
        "Cancel with a mode",
        "POST",
        channel("a2"),
        "s1",
        {"operationName": "CancelSupervisorMonitoring", "supervisorMonitoringMode": "NextChat"},
        10,
    ),
    # Intrude
    (
        "Intrude: unknown supervisorVisibilityMode",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "s2",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Spy"},
        10,
    ),
    (
        "Intrude: supervisorVisibilityMode a list",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "s2",
        {"operationName": "Intrude", "supervisorVisibilityMode": ["Coach"]},
        10,
    ),
    (
        "Intrude without a mode or a supervision",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "s2",
        {"operationName": "Intrude"},
        1,
    ),
    (
        "Intrude while present",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "s1",
        {"operationName": "Intrude"},
        18,
    ),
    (
        "Intrude: the agent is not in the session",
        "POST",
        "/api/v2/users/a3/smssessions/x-chat",
        "s2",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Coach"},
        2,
    ),
    (
        "Intrude by a supervisor without api-multimedia",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "s3",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Coach"},
        3,
    ),
    (
        "Intrude by a supervisor without the right",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "s4",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Coach"},
        5,
    ),
    (
        "Intrude by an agent",
        "POST",
        "/api/v2/users/a2/smssessions/x-chat",
        "a3",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Coach"},
        6,
    ),
    # a supervisor in a session
    (
        "SwitchToCoach when coaching already",
        "POST",
        me("x-chat"),
        "s1",
        {"operationName": "SwitchToCoach"},
        2,
    ),
    (
        "SwitchToMonitor by a supervisor not in the session",
        "POST",
        me("x-chat"),
        "s2",
        {"operationName": "SwitchToMonitor"},
        2,
    ),
    (
        "SwitchToBargeIn by a supervisor without api-multimedia",
        "POST",
        me("x-chat"),
        "s3",
        {"operationName": "SwitchToBargeIn"},
        3,
    ),
    ("SwitchToCoach by an agent", "POST", me("x-chat"), "a2", {"operationName": "SwitchToCoach"}, 6),
    (
        "SwitchToCoach with a parameter",
        "POST",
        me("x-conf"),
        "s2",
        {"operationName": "SwitchToCoach", "supervisorVisibilityMode": "Coach"},
        10,
    ),
    # an agent in a session
    ("Accept without an invitation", "POST", me("x-offer"), "a2", {"operationName": "Accept"}, 2),
    (
        "Accept: nickname too long",
        "POST",
        me("x-offer"),
        AGENT,
        {"operationName": "Accept", "nickname": LONG},
        10,
    ),
    ("Accept by a supervisor", "POST", me("x-offer"), "s1", {"operationName": "Accept"}, 6),
    ("Reject without an invitation", "POST", me("x-offer"), "a3", {"operationName": "Reject"}, 2),
    ("Leave by a non-participant", "POST", me("x-chat"), "a3", {"operationName": "Leave"}, 2),
    (
        "Leave by the invited agent (answers with Reject)",
        "POST",
        me("x-offer"),
        AGENT,
        {"operationName": "Leave"},
        2,
    ),
    ("Leave by the session's customer", "POST", me("x-chat"), "c2", {"operationName": "Leave"}, 2),
    ("Complete by a non-participant", "POST", me("x-chat"), "a3", {"operationName": "Complete"}, 2),
    ("Complete by a supervisor", "POST", me("x-chat"), "s1", {"operationName": "Complete"}, 2),
    (
        "Complete: queueName empty",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Complete", "queueName": ""},
        10,
    ),
    (
        "Complete: queueName too long",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Complete", "queueName": "q" * 256},
        10,
    ),
    (
        "Complete: queueName a number",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Complete", "queueName": 5},
        10,
    ),
    ("SendMessage without text", "POST", me("x-chat"), "a2", {"operationName": "SendMessage"}, 1),
    ("SendMessage: text empty", "POST", me("x-chat"), "a2", {"operationName": "SendMessage", "text": ""}, 10),
    (
        "SendMessage: text over 1600 characters",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "SendMessage", "text": "x" * 1601},
        10,
    ),
    (
        "SendMessage: text a number",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "SendMessage", "text": 42},
        10,
    ),
    (
        "SendMessage: text null",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "SendMessage", "text": None},
        10,
    ),
    (
        "SendMessage by a supervisor not in the session",
        "POST",
        me("x-chat"),
        "s2",
        {"operationName": "SendMessage", "text": "hi"},
        2,
    ),
    (
        "SendMessage by an agent not in the session",
        "POST",
        me("x-chat"),
        "a3",
        {"operationName": "SendMessage", "text": "hi"},
        2,
    ),
    ("Invite without a target", "POST", me("x-chat"), "a2", {"operationName": "Invite"}, 1),
    (
        "Invite with both targetUri and targetPath",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:a3", "targetPath": "/api/v2/users/a3"},
        10,
    ),
    (
        "Invite: targetUri a queue",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "queue:q1"},
        10,
    ),
    (
        "Invite: targetUri a plain id",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "a3"},
        10,
    ),
    (
        "Invite: targetUri with a malformed id",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:bad id"},
        10,
    ),
    (
        "Invite: targetPath not a user",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetPath": "/api/v2/queues/q1"},
        10,
    ),
    (
        "Invite: targetUri a number",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": 3},
        10,
    ),
    (
        "Invite: targetUri too long",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:" + "a" * 2100},
        10,
    ),
    (
        "Invite an unknown agent",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:zz"},
        6,
    ),
    (
        "Invite a supervisor",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:s2"},
        6,
    ),
    (
        "Invite an agent already in",
        "POST",
        me("x-chat"),
        "a2",
        {"operationName": "Invite", "targetUri": "agent:a2"},
        18,
    ),
    (
        "Invite by a non-participant",
        "POST",
        me("x-chat"),
        "a3",
        {"operationName": "Invite", "targetUri": "agent:a4"},
        2,
    ),
    # this service's own endpoints
    ("RegisterAgent without username", "POST", "/coaching/v1/agents", "admin", {"agentId": "a9"}, 1),
    (
        "RegisterAgent: agentId malformed",
        "POST",
        "/coaching/v1/agents",
        "admin",
        {"agentId": "a 9", "username": "zoe"},
        10,
    ),
    (
        "RegisterAgent: id taken by an agent",
        "POST",
        "/coaching/v1/agents",
        "admin",
        {"agentId": AGENT, "username": "zoe"},
        18,
    ),
    (
        "RegisterAgent: id taken by a supervisor",
        "POST",
        "/coaching/v1/agents",
        "admin",
        {"agentId": "s1", "username": "zoe"},
        18,
    ),
    (
        "RegisterAgent with operationName",
        "POST",
        "/coaching/v1/agents",
        "admin",
        {"operationName": "Register", "agentId": "a9", "username": "zoe"},
        10,
    ),
    (
        "RegisterAgent without a caller",
        "POST",
        "/coaching/v1/agents",
        None,
        {"agentId": "a9", "username": "zoe"},
        20,
    ),
    (
        "RegisterSupervisor: features not a list",
        "POST",
        "/coaching/v1/supervisors",
        "admin",
        {"supervisorId": "s9", "username": "zed", "features": "api-multimedia"},
        10,
    ),
    (
        "OpenSession: id taken",
        "POST",
        "/coaching/v1/sessions",
        "routing",
        {"sessionId": "x-chat", "customerId": "c9", "customerNickname": "Cat"},
        18,
    ),
    (
        "OpenSession: customer id is a user's",
        "POST",
        "/coaching/v1/sessions",
        "routing",
        {"sessionId": "x-9", "customerId": "a2", "customerNickname": "Cat"},
        18,
    ),
    (
        "OpenSession without customerNickname",
        "POST",
        "/coaching/v1/sessions",
        "routing",
        {"sessionId": "x-9", "customerId": "c9"},
        1,
    ),
    (
        "Offer to an unknown agent",
        "POST",
        "/coaching/v1/sessions/x-wait/offers",
        "routing",
        {"agentId": "zz"},
        6,
    ),
    (
        "Offer while an offer is pending",
        "POST",
        "/coaching/v1/sessions/x-offer/offers",
        "routing",
        {"agentId": "a3"},
        2,
    ),
    (
        "Offer a session in progress",
        "POST",
        "/coaching/v1/sessions/x-chat/offers",
        "routing",
        {"agentId": "a3"},
        2,
    ),
    (
        "Customer message to an unknown session",
        "POST",
        "/coaching/v1/sessions/nope/customer-messages",
        "gw",
        {"text": "hi"},
        6,
    ),
    (
        "Customer message over 1600 characters",
        "POST",
        "/coaching/v1/sessions/x-chat/customer-messages",
        "gw",
        {"text": "x" * 1601},
        10,
    ),
    ("GET on an admin endpoint", "GET", "/coaching/v1/agents", "admin", b"", 6),
    ("POST on the notifications endpoint", "POST", "/coaching/v1/users/s1/notifications", "s1", {}, 6),
    ("the API root", "POST", "/", "s1", {}, 6),
    (
        "a GWS v1 path",
        "POST",
        f"/api/v1/users/{AGENT}/channels/smssession",
        "s1",
        {"operationName": "Coach"},
        6,
    ),
)


def _all_cases() -> Iterator[Any]:
    for sample in SAMPLES:
        for name, method, path, caller, body, code in _generic(sample):
            yield pytest.param(method, path, caller, body, code, id=f"{sample.name}: {name}")
    for sample in ADMIN_SAMPLES:
        yield pytest.param("POST", sample.path, None, sample.body, 20, id=f"{sample.name}: no caller")
        yield pytest.param(
            "POST",
            sample.path,
            sample.caller,
            {**sample.body, "bogus": 1},
            10,
            id=f"{sample.name}: unknown field",
        )
        yield pytest.param("POST", sample.path, sample.caller, b"[1]", 10, id=f"{sample.name}: body an array")
    for name, method, path, caller, body, code in SPECIFIC:
        yield pytest.param(method, path, caller, body, code, id=name)


@pytest.mark.parametrize(("method", "path", "caller", "body", "code"), list(_all_cases()))
def test_variant_is_refused_with_its_code_and_writes_nothing(
    method: str, path: str, caller: str | None, body: Any, code: int
) -> None:
    app = world()
    answer = _refused(app, method, path, caller, body)
    assert answer.status_code == code, answer.body
    assert answer.http_status == _expected_http(code, method, path, body)


def test_every_operation_on_a_completed_session_is_refused_with_2() -> None:
    app = world()
    app.complete("a2", "x-chat")
    for sample in SAMPLES:
        if sample.path == me("x-chat"):
            answer = _refused(app, "POST", sample.path, sample.caller, sample.body)
            assert answer.status_code == 2, (sample.name, answer.body)


def test_the_admins_list_guards_only_the_coaching_v1_endpoints() -> None:
    app = world()
    adapter = GwsAdapter(app, admins={"routing"})
    before = _log(app)
    refused = adapter.handle("POST", "/coaching/v1/agents", "admin", {"agentId": "a9", "username": "zoe"})
    assert (refused.status_code, refused.http_status) == (3, 403)
    assert _log(app) == before
    assert adapter.handle("POST", "/coaching/v1/agents", "routing", {"agentId": "a9", "username": "zoe"}).ok
    assert adapter.handle("POST", SEED.path, "s1", SEED.body).ok


def test_wrong_method_answers_405_with_allow() -> None:
    answer = _refused(world(), "DELETE", SEED.path, "s1", b"")
    assert answer.http_status == 405 and dict(answer.headers) == {"allow": "POST"}


# --- what the adapter does with bugs and lost races -------------------------------------------------


def test_an_unexpected_exception_is_statuscode_4_and_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    app = world()

    def broken(command: object) -> object:
        raise RuntimeError("a bug in the service")

    monkeypatch.setattr(app, "handle", broken)
    with caplog.at_level(logging.ERROR, logger="coaching.gws"):
        answer = _refused(app, "POST", SEED.path, "s1", SEED.body)
    assert (answer.status_code, answer.http_status) == (4, 500)
    assert "a bug in the service" not in answer.body["statusMessage"]  # details go to the log only
    (record,) = caplog.records
    assert record.exc_info is not None and "a bug in the service" in str(record.exc_info[1])
    reference = answer.body["statusMessage"].split("logged as ")[1].split(")")[0]
    assert reference in record.getMessage()


def test_a_lost_race_is_503_with_retry_after(monkeypatch: pytest.MonkeyPatch) -> None:
    app = world()

    def losing(command: object) -> object:
        raise ConcurrencyConflict("lost the race 5 times")

    monkeypatch.setattr(app, "handle", losing)
    answer = _refused(app, "POST", SEED.path, "s1", SEED.body)
    assert (answer.status_code, answer.http_status) == (4, 503)
    assert ("retry-after", "1") in answer.headers
