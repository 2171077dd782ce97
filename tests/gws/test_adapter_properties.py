"""Property: whatever arrives (any method, path, caller, body), the adapter answers well-formed GWS JSON,
never raises, never reports an internal error, and the log changes if and only if it answers 0.

Requests are drawn half from the API's own vocabulary (real paths, real ids, real operation names,
plausible and implausible field values) so that many succeed and many fail deep in the rules, and
half from anything at all (arbitrary text, bytes, JSON). Each example sends a short sequence to a
fresh floor (``tests/gws/world.py``), so later requests meet states earlier ones made.
"""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from coaching.gws import GwsAdapter, GwsResponse
from tests.gws.test_adapter import EXPECTED_HTTP
from tests.gws.world import AGENTS, CUSTOMERS, SESSIONS, SUPERVISORS, world

USERS = AGENTS + SUPERVISORS + CUSTOMERS
IDS = st.sampled_from(USERS + SESSIONS + ("nobody", "x-new", "a9"))
ANY_TEXT = st.text(max_size=80)


def _often(valid: st.SearchStrategy[Any], junk: st.SearchStrategy[Any],
           one_in: int = 4) -> st.SearchStrategy[Any]:
    """Mostly ``valid``, one time in ``one_in`` ``junk``: deep enough to reach the rules, wide enough
    to break parsing (the simplest draw, which shrinking aims at, is the valid one)."""

    @st.composite
    def pick(draw: st.DrawFn) -> Any:
        return draw(junk) if draw(st.integers(0, one_in - 1)) == one_in - 1 else draw(valid)

    return pick()


ID_OR_JUNK = _often(IDS, ANY_TEXT)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False) | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
GWS_PATHS = st.one_of(
    st.builds("/api/v2/users/{}/channels/smssession".format, ID_OR_JUNK),
    st.builds("api/v2/users/{}/channels/smsession".format, ID_OR_JUNK),
    st.builds("/api/v2/users/{}/smssessions/{}".format, ID_OR_JUNK, ID_OR_JUNK),
    st.builds("/api/v2/me/smssessions/{}".format, ID_OR_JUNK),
    st.builds("/api/v2/me/smssessions/{}".format, ID_OR_JUNK),
    st.builds("/api/v2/me/smssessions/{}".format, ID_OR_JUNK),
)
ADMIN_PATHS = st.one_of(
    st.sampled_from(["/coaching/v1/agents", "/coaching/v1/supervisors", "/coaching/v1/sessions"]),
    st.builds("/coaching/v1/sessions/{}/offers".format, ID_OR_JUNK),
    st.builds("/coaching/v1/sessions/{}/customer-messages".format, ID_OR_JUNK),
    st.builds("/coaching/v1/users/{}/notifications".format, ID_OR_JUNK),
)
OPERATIONS = ["Monitor", "Coach", "BargeIn", "CancelSupervisorMonitoring", "Intrude", "SwitchToCoach",
              "SwitchToBargeIn", "SwitchToMonitor", "Leave", "Accept", "Reject", "Complete",
              "SendMessage", "Invite"]
FIELD_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "supervisorMonitoringMode": _often(st.sampled_from(["NextChat", "AllChats"]), JSON),
    "supervisorVisibilityMode": _often(st.sampled_from(["Monitor", "Coach", "BargeIn"]), JSON),
    "nickname": _often(st.sampled_from(["Boss", "Al"]), ANY_TEXT | JSON),
    "queueName": _often(st.just("overflow"), ANY_TEXT | JSON),
    "text": _often(st.sampled_from(["hi", "Offer the refund"]),
                   ANY_TEXT | st.text(min_size=1595, max_size=1605) | JSON),
    "targetUri": _often(st.builds("agent:{}".format, IDS), JSON),
    "targetPath": _often(st.builds("/api/v2/users/{}".format, IDS), JSON),
    "agentId": _often(IDS, JSON),
    "supervisorId": _often(IDS, JSON),
    "sessionId": _often(IDS, JSON),
    "customerId": _often(IDS, JSON),
    "username": _often(st.just("zoe"), ANY_TEXT),
    "customerNickname": _often(st.just("Cat"), ANY_TEXT),
    "teams": _often(st.lists(st.just("billing"), max_size=1), JSON),
    "bogus": JSON,
}
GWS_FIELDS = ["supervisorMonitoringMode", "supervisorVisibilityMode", "nickname", "queueName", "text",
              "targetUri", "targetPath", "bogus"]
ADMIN_FIELDS = ["agentId", "supervisorId", "sessionId", "customerId", "username", "customerNickname",
                "teams", "text", "nickname", "bogus"]


SET_UP = ["supervisorMonitoringMode", "nickname"]
OPERATION_FIELDS: dict[str, list[str]] = {
    "Monitor": SET_UP, "Coach": SET_UP, "BargeIn": SET_UP, "CancelSupervisorMonitoring": [],
    "Intrude": ["supervisorVisibilityMode"], "SwitchToCoach": [], "SwitchToBargeIn": [],
    "SwitchToMonitor": [], "Leave": [], "Accept": ["nickname"], "Reject": [], "Complete": ["queueName"],
    "SendMessage": ["text", "text"], "Invite": ["targetUri", "targetPath"],
}
AGENT_ID = _often(st.sampled_from(AGENTS), ID_OR_JUNK, one_in=6)
SESSION_ID = _often(st.sampled_from(SESSIONS), ID_OR_JUNK, one_in=6)
OPERATION_PATHS: dict[str, st.SearchStrategy[str]] = {
    **dict.fromkeys(["Monitor", "Coach", "BargeIn", "CancelSupervisorMonitoring"],
                    st.builds("/api/v2/users/{}/channels/smssession".format, AGENT_ID)),
    "Intrude": st.builds("/api/v2/users/{}/smssessions/{}".format, AGENT_ID, SESSION_ID),
}
SUPERVISOR_OPERATIONS = {"Monitor", "Coach", "BargeIn", "CancelSupervisorMonitoring", "Intrude",
                         "SwitchToCoach", "SwitchToBargeIn", "SwitchToMonitor"}
MY_SESSION = st.builds("/api/v2/me/smssessions/{}".format, SESSION_ID)


@st.composite
def gws_requests(draw: st.DrawFn) -> tuple[str, str, str | None, Any]:
    """A POST by a known user, mostly to the path of its operation, with that operation's fields."""
    operation = draw(st.sampled_from(OPERATIONS))
    fields = OPERATION_FIELDS[operation]
    names = draw(st.lists(st.sampled_from(fields), max_size=2, unique=True)) if fields else []
    if draw(st.integers(0, 9)) == 0:
        names.append(draw(st.sampled_from(GWS_FIELDS)))
    body = {name: draw(FIELD_VALUES[name]) for name in names}
    body["operationName"] = draw(_often(st.just(operation), JSON, one_in=10))
    path = draw(_often(OPERATION_PATHS.get(operation, MY_SESSION), GWS_PATHS, one_in=8))
    usual = SUPERVISORS if operation in SUPERVISOR_OPERATIONS else AGENTS
    caller = draw(_often(st.sampled_from(usual), st.sampled_from(USERS) | st.none() | ANY_TEXT, one_in=5))
    return "POST", path, caller, draw(st.sampled_from([body, orjson.dumps(body)]))


@st.composite
def admin_requests(draw: st.DrawFn) -> tuple[str, str, str | None, Any]:
    names = draw(st.lists(st.sampled_from(ADMIN_FIELDS), max_size=4, unique=True))
    body = {name: draw(FIELD_VALUES[name]) for name in names}
    caller = draw(_often(st.just("admin"), st.none() | ANY_TEXT))
    return draw(_often(st.just("POST"), st.just("GET"))), draw(ADMIN_PATHS), caller, body


JUNK_REQUESTS = st.tuples(
    st.sampled_from(["POST", "GET", "PUT", "DELETE", "post"]),
    st.one_of(GWS_PATHS, ADMIN_PATHS, ANY_TEXT),
    st.one_of(st.none(), st.sampled_from(USERS), ANY_TEXT),
    st.one_of(JSON, st.binary(max_size=64), ANY_TEXT),
)
REQUESTS = _often(gws_requests(), st.one_of(admin_requests(), JUNK_REQUESTS), one_in=3)

ANSWERED_CODES = {0, 1, 2, 3, 5, 6, 10, 18, 20}
"""Every code a request can earn; 4 (internal error) would be a bug."""


def _well_formed(answer: GwsResponse) -> int:
    assert isinstance(answer, GwsResponse)
    orjson.dumps(answer.body)
    code = answer.body["statusCode"]
    assert type(code) is int and code in ANSWERED_CODES, answer.body
    if code == 0:
        assert set(answer.body) <= {"statusCode", "referenceId"}
        assert answer.http_status == 200
    else:
        assert set(answer.body) == {"statusCode", "statusMessage"}, answer.body
        assert isinstance(answer.body["statusMessage"], str) and answer.body["statusMessage"]
        assert answer.http_status in {EXPECTED_HTTP[code], 405, 413}, (answer.http_status, answer.body)
    return code


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(REQUESTS, min_size=1, max_size=6))
def test_any_request_gets_a_well_formed_answer_and_writes_only_on_success(
        requests: list[tuple[str, str, str | None, Any]]) -> None:
    app = world()
    adapter = GwsAdapter(app)
    for method, path, caller, body in requests:
        before = list(app.all_events())
        answer = adapter.handle(method, path, caller, body)  # must not raise
        code = _well_formed(answer)
        event(f"statusCode {code}")  # --hypothesis-show-statistics: how deep the requests got
        after = list(app.all_events())
        if code == 0:
            assert after[: len(before)] == before and len(after) > len(before)
            assert answer.outcome is not None
            assert [e for _, e in after[len(before):]] == list(answer.outcome.events)
        else:
            assert after == before, answer.body
