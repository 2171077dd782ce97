"""The service over real HTTP: uvicorn on a loopback port, in a thread, driven by httpx.

From an empty SQLite log, the ``/coaching/v1`` endpoints set up the floor, the seed's sample is
answered ``{"statusCode": 0}`` end to end, a session runs to completion, and the notifications
come back both as a JSON page and as a Server-Sent Events stream that resumes with
``Last-Event-ID``. The error paths keep their GWS body and HTTP status on the wire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from coaching import Coaching
from coaching.gws.requests import MAX_BODY_BYTES
from tests.gws.serving import serving
from tests.gws.world import AGENT, SEED


@dataclass
class Service:
    url: str
    app: Coaching
    path: Path

    def post(self, path: str, caller: str | None, body: Any) -> httpx.Response:
        headers = {"X-Coaching-User": caller} if caller is not None else {}
        content = body if isinstance(body, bytes) else orjson.dumps(body)
        return httpx.post(self.url + path, headers=headers, content=content, timeout=10)

    def page(self, user: str, after: str | None = None, **params: Any) -> httpx.Response:
        query = {"wait": 0, **params, **({"after": after} if after else {})}
        return httpx.get(
            f"{self.url}/coaching/v1/users/{user}/notifications",
            params=query,
            headers={"X-Coaching-User": user},
            timeout=10,
        )


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    path = tmp_path_factory.mktemp("serve") / "coaching.sqlite"
    app = Coaching.sqlite(str(path))
    try:
        with serving(app) as url:
            yield Service(url, app, path)
    finally:
        app.close()


def _gws(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def test_the_seeds_sample_end_to_end_from_an_empty_log(service: Service) -> None:
    setup = [
        ("/coaching/v1/agents", "admin", {"agentId": AGENT, "username": "alice", "team": "billing"}),
        (
            "/coaching/v1/supervisors",
            "admin",
            {"supervisorId": "s1", "username": "sam", "teams": ["billing"]},
        ),
    ]
    for path, caller, body in setup:
        response = service.post(path, caller, body)
        assert (response.status_code, _gws(response)) == (200, {"statusCode": 0})
    # exactly the seed's request: its path (one "s", no leading slash once a client adds one) and body
    raw = b'{\n  "operationName": "Coach",\n  "supervisorMonitoringMode": "NextChat"\n}'
    response = service.post("/" + SEED.path, "s1", raw)
    assert (response.status_code, response.content) == (200, b'{"statusCode":0}')
    (supervision,) = service.app.supervisions(AGENT)
    assert (supervision.supervisor_id, supervision.mode.value, supervision.monitoring_mode.value) == (
        "s1",
        "Coach",
        "NextChat",
    )


def test_a_session_runs_and_the_notifications_follow(service: Service) -> None:
    steps = [
        (
            "/coaching/v1/sessions",
            "routing",
            {"sessionId": "x1", "customerId": "c1", "customerNickname": "Carol"},
        ),
        ("/coaching/v1/sessions/x1/offers", "routing", {"agentId": AGENT}),
        ("/api/v2/me/smssessions/x1", AGENT, {"operationName": "Accept"}),
        ("/coaching/v1/sessions/x1/customer-messages", "sms-gateway", {"text": "My bill is wrong"}),
        ("/api/v2/me/smssessions/x1", "s1", {"operationName": "SendMessage", "text": "Offer the refund"}),
        ("/api/v2/me/smssessions/x1", AGENT, {"operationName": "SendMessage", "text": "Refunded!"}),
    ]
    for path, caller, body in steps:
        response = service.post(path, caller, body)
        assert response.status_code == 200, response.text
    coach_reference = _gws(
        service.post("/api/v2/me/smssessions/x1", "s1", {"operationName": "SendMessage", "text": "Well done"})
    )["referenceId"]
    assert coach_reference == service.app.log_position()
    assert _gws(service.post("/api/v2/me/smssessions/x1", AGENT, {"operationName": "Complete"})) == {
        "statusCode": 0
    }

    customer = _gws(service.page("c1"))
    texts = _texts(customer["notifications"])
    assert "My bill is wrong" in texts and "Refunded!" in texts
    assert (
        "Offer the refund" not in texts and "Well done" not in texts
    )  # the coach never reaches the customer
    supervisor = _gws(service.page("s1"))
    assert {"Offer the refund", "Well done", "Refunded!"} <= set(_texts(supervisor["notifications"]))
    assert any(n["position"] == coach_reference for n in supervisor["notifications"])

    # a page resumes strictly after its cursor and ends where the first page ended
    first = _gws(service.page("s1", limit=2))
    rest = _gws(service.page("s1", after=first["lastEventId"]))
    assert [n["id"] for n in first["notifications"] + rest["notifications"]] == [
        n["id"] for n in supervisor["notifications"]
    ]


def _texts(notifications: list[dict[str, Any]]) -> list[str]:
    return [
        m["text"]
        for n in notifications
        for m in n["message"]["data"].get("messages", [])
        if m.get("type") == "Text"
    ]


def test_the_stream_sends_server_sent_events_and_resumes_after_last_event_id(service: Service) -> None:
    service.post(
        "/coaching/v1/sessions", "routing", {"sessionId": "x2", "customerId": "c2", "customerNickname": "Cy"}
    )
    expected = [n["id"] for n in _gws(service.page("c2"))["notifications"]]
    assert expected
    url = f"{service.url}/coaching/v1/users/c2/notifications"
    ids = _read_events(url, {"X-Coaching-User": "c2"}, len(expected))
    assert ids == expected
    # a new event after reconnecting from the first id: the rest, then the new one, nothing twice
    service.post("/coaching/v1/sessions/x2/customer-messages", "sms-gateway", {"text": "anyone?"})
    expected_after = [n["id"] for n in _gws(service.page("c2", after=expected[0]))["notifications"]]
    assert len(expected_after) == len(expected)  # the rest of the old ones, plus the message
    assert (
        _read_events(url, {"X-Coaching-User": "c2", "Last-Event-ID": expected[0]}, len(expected_after))
        == expected_after
    )


def _read_events(url: str, headers: dict[str, str], count: int) -> list[str]:
    ids: list[str] = []
    with httpx.stream("GET", url, headers=headers, timeout=10) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("id: "):
                ids.append(line.removeprefix("id: "))
            elif line.startswith("data: "):
                orjson.loads(line.removeprefix("data: "))
            if len(ids) == count:
                break
    return ids


@pytest.mark.parametrize(
    ("method", "path", "headers", "content", "status", "code"),
    [
        ("POST", "/api/v2/me/smssessions/x1", {}, b'{"operationName": "Leave"}', 401, 20),
        ("POST", "/api/v2/nothing", {"X-Coaching-User": "s1"}, b"{}", 404, 6),
        (
            "POST",
            "/api/v2/me/smssessions/x1",
            {"X-Coaching-User": "c9"},
            b'{"operationName": "Leave"}',
            409,
            2,
        ),
        (
            "POST",
            "/coaching/v1/agents",
            {"X-Coaching-User": "admin"},
            b'{"agentId": "s1", "username": "x"}',
            409,
            18,
        ),
        ("GET", "/api/v2/me/smssessions/x1", {"X-Coaching-User": "s1"}, b"", 405, 6),
        ("POST", "/api/v2/me/smssessions/x1", {"X-Coaching-User": "s1"}, b"{not json", 400, 10),
        (
            "POST",
            "/api/v2/me/smssessions/x1",
            {"X-Coaching-User": "s1"},
            b"x" * (MAX_BODY_BYTES + 1),
            413,
            10,
        ),
        (
            "POST",
            "/api/v2/me/smssessions/nope",
            {"X-Coaching-User": "s1"},
            b'{"operationName": "Leave"}',
            404,
            6,
        ),
        ("GET", "/coaching/v1/users/c1/notifications", {"X-Coaching-User": "s1"}, b"", 403, 3),
        ("GET", "/coaching/v1/users/c1/notifications", {}, b"", 401, 20),
        ("GET", "/coaching/v1/users/c1/notifications?after=bogus", {"X-Coaching-User": "c1"}, b"", 400, 10),
        (
            "GET",
            "/coaching/v1/users/c1/notifications?after=999999.0",
            {"X-Coaching-User": "c1"},
            b"",
            400,
            10,
        ),
        ("GET", "/coaching/v1/users/c1/notifications?wait=31", {"X-Coaching-User": "c1"}, b"", 400, 10),
        (
            "GET",
            "/coaching/v1/users/c1/notifications?wait=0&limit=0",
            {"X-Coaching-User": "c1"},
            b"",
            400,
            10,
        ),
    ],
)
def test_refusals_keep_their_gws_body_and_http_status_on_the_wire(
    service: Service, method: str, path: str, headers: dict[str, str], content: bytes, status: int, code: int
) -> None:
    before = service.app.log_position()
    response = httpx.request(method, service.url + path, headers=headers, content=content, timeout=10)
    body = _gws(response)
    assert (response.status_code, body["statusCode"]) == (status, code), body
    assert set(body) == {"statusCode", "statusMessage"} and body["statusMessage"]
    assert service.app.log_position() == before
    if status == 405:
        assert response.headers["allow"] == "POST"


def test_a_waiting_page_returns_as_soon_as_a_notification_arrives(service: Service) -> None:
    end = _gws(service.page("s1"))["lastEventId"]
    result: dict[str, Any] = {}

    def wait() -> None:
        result["page"] = _gws(service.page("s1", after=end, wait=30))

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.2)
    service.post(
        "/coaching/v1/sessions", "routing", {"sessionId": "x3", "customerId": "c3", "customerNickname": "Dee"}
    )
    service.post("/coaching/v1/sessions/x3/offers", "routing", {"agentId": AGENT})
    service.post("/api/v2/me/smssessions/x3", AGENT, {"operationName": "Accept"})  # s1's NextChat is used up
    service.post(
        "/api/v2/users/" + AGENT + "/smssessions/x3",
        "s1",
        {"operationName": "Intrude", "supervisorVisibilityMode": "Monitor"},
    )
    waiter.join(20)  # a guard only: the page must answer at the Intrude, long before its 30 s wait
    assert not waiter.is_alive() and result["page"]["notifications"], result
