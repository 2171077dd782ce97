"""A hostile client on the wire: what a review found by driving ``coaching serve`` adversarially.

Each test names the symptom it guards against: an encoded ``?`` that cut the path (and so acted
on another session), a second identity header that let the client's value win, methods Starlette
answered in plain text, a notification path with a trailing slash, a fractional ``limit``, and a
valid SendMessage of 1600 emoji refused as too large when its JSON is ASCII-only.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from coaching import Coaching
from coaching.gws import GwsAdapter
from tests.gws.serving import serving
from tests.gws.world import build_world, me


@dataclass
class Floor:
    url: str
    app: Coaching

    def request(self, method: str, path: str, headers: list[tuple[str, str]] | None = None,
                content: bytes = b"") -> tuple[httpx.Response, dict[str, Any], bool]:
        """The answer, its GWS body, and whether the log stayed as it was."""
        before = self.app.log_position()
        response = httpx.request(method, self.url + path, headers=headers or [], content=content, timeout=10)
        assert response.headers["content-type"] == "application/json", response.text
        body: dict[str, Any] = response.json()
        return response, body, self.app.log_position() == before


@pytest.fixture(scope="module")
def floor() -> Iterator[Floor]:
    app = build_world(Coaching.in_memory())
    with serving(app) as url:
        yield Floor(url, app)


def test_an_encoded_question_mark_is_part_of_the_id_not_a_query(floor: Floor) -> None:
    """``x-chat%3Fjunk`` names no session (10); it must not act on ``x-chat``."""
    leave = json.dumps({"operationName": "Leave"}).encode()
    response, body, unchanged = floor.request("POST", me("x-chat") + "%3Fjunk", [("X-Coaching-User", "s1")],
                                              leave)
    assert (response.status_code, body["statusCode"]) == (400, 10), body
    assert unchanged and floor.app.get_session("x-chat").participant_type("s1") is not None


def test_a_second_identity_header_is_refused_not_overridden(floor: Floor) -> None:
    """A gateway that appends its header after the client's must not see the client's win."""
    leave = json.dumps({"operationName": "Leave"}).encode()
    headers = [("X-Coaching-User", "s1"), ("X-Coaching-User", "c9")]
    response, body, unchanged = floor.request("POST", me("x-chat"), headers, leave)
    assert (response.status_code, body["statusCode"]) == (401, 20), body
    assert unchanged
    page, body, _ = floor.request("GET", "/coaching/v1/users/c2/notifications?wait=0",
                                  [("X-Coaching-User", "c2"), ("X-Coaching-User", "s1")])
    assert (page.status_code, body["statusCode"]) == (401, 20), body


@pytest.mark.parametrize("method", ["TRACE", "PROPFIND", "GET"])
def test_any_wrong_method_is_a_gws_405_with_the_right_allow(floor: Floor, method: str) -> None:
    response, body, unchanged = floor.request(method, me("x-chat"), [("X-Coaching-User", "s1")])
    assert (response.status_code, body["statusCode"], response.headers["allow"]) == (405, 6, "POST")
    assert unchanged


def test_the_notification_path_with_a_trailing_slash_is_served(floor: Floor) -> None:
    response, body, _ = floor.request("GET", "/coaching/v1/users/c2/notifications/?wait=0",
                                      [("X-Coaching-User", "c2")])
    assert (response.status_code, body["statusCode"]) == (200, 0), body
    assert body["notifications"]


@pytest.mark.parametrize("limit", ["1.5", "100.25"])
def test_a_fractional_page_limit_is_refused(floor: Floor, limit: str) -> None:
    response, body, _ = floor.request("GET", f"/coaching/v1/users/c2/notifications?wait=0&limit={limit}",
                                      [("X-Coaching-User", "c2")])
    assert (response.status_code, body["statusCode"]) == (400, 10), body


def test_1600_emoji_in_ascii_only_json_are_sent_over_http(floor: Floor) -> None:
    """``json.dumps`` escapes each emoji as a 12-byte surrogate pair: 19 KB for a valid message."""
    raw = json.dumps({"operationName": "SendMessage", "text": "\N{GRINNING FACE}" * 1600}).encode()
    assert len(raw) > 16 * 1024
    response, body, _ = floor.request("POST", me("x-chat"), [("X-Coaching-User", "a2")], raw)
    assert (response.status_code, body["statusCode"]) == (200, 0), body


def test_1600_emoji_in_ascii_only_json_are_sent_through_the_adapter() -> None:
    app = build_world(Coaching.in_memory())
    raw = json.dumps({"operationName": "SendMessage", "text": "\N{GRINNING FACE}" * 1600})
    answer = GwsAdapter(app).handle("POST", me("x-chat"), "a2", raw)
    assert answer.body == {"statusCode": 0, "referenceId": app.log_position()}
