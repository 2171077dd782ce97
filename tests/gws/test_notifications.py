"""GWS notifications, by example: the documented story, logs the rules never wrote, and cursors.

``docs/notifications.md`` shows the notifications of :func:`story`; a test reads every example
out of that page and finds it, byte for byte as JSON, among what the projection sends, so the
page cannot drift from the code.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coaching.application import Coaching
from coaching.domain.errors import CoachingError, InvalidValue
from coaching.domain.events import (
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    SessionOpened,
    SupervisorAdded,
    SupervisorModeSwitched,
)
from coaching.domain.values import MonitoringMode, ParticipantType, SupervisorMode, Visibility
from coaching.gws.notifications import (
    CHANNEL,
    Follower,
    Notification,
    NotificationProjection,
    notifications_for,
    parse_cursor,
)
from coaching.testing import StepClock

DOC = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


def story() -> Coaching:
    """The session ``docs/notifications.md`` walks through, on a deterministic clock."""
    app = Coaching.in_memory(clock=StepClock())
    app.register_agent("a1", "alice", nickname="Ann", team="billing")
    app.register_agent("a2", "bob", team="billing")
    app.register_supervisor("s1", "sam", nickname="Sam", teams=frozenset({"billing"}))
    app.register_supervisor("s2", "sue", nickname="Sue", teams=frozenset({"billing"}))
    app.coach("s1", "a1")
    app.monitor("s2", "a1", mode=MonitoringMode.NEXT_CHAT)
    app.open_session("x1", "c1", "Carol")  # 7
    app.send_message("c1", "x1", "Hi, my refund hasn't arrived")  # 8
    app.offer_session("x1", "a1")  # 9
    app.accept("a1", "x1")  # 10; 11 s1 (Coach) and 12 s2 (Monitor) join
    app.send_message("a1", "x1", "Let me check that for you.")  # 15
    app.send_message("s1", "x1", "Offer the goodwill credit.")  # 16: agents only
    app.switch_to_barge_in("s2", "x1")  # 17: the customer sees Sue arrive
    app.send_message("s2", "x1", "I'm the team lead; I've approved the refund.")  # 18
    app.invite("a1", "x1", "a2")  # 19
    app.accept("a2", "x1")  # 20
    app.leave("a1", "x1")  # 22
    app.queue("a2", "x1", "billing")  # 23; 24 s1 and 25 s2 revoked
    app.offer_session("x1", "a2")  # 26
    app.accept("a2", "x1")  # 27
    app.complete("a2", "x1")  # 29
    app.open_session("x2", "c2", "Dan")  # 30
    app.offer_session("x2", "a1")  # 31
    app.reject("a1", "x2")  # 32
    app.offer_session("x2", "a1")  # 33
    app.accept("a1", "x2")  # 34; 35 s1 joins (its Coach supervision of a1 is AllChats)
    app.intrude("s2", "a1", "x2", mode=SupervisorMode.MONITOR)  # 37
    return app


def by_cursor(app: Coaching) -> dict[tuple[str, str], Notification]:
    projection = NotificationProjection()
    return {(n.recipient_id, n.cursor): n for position, event in app.all_events()
            for n in projection.feed(position, event)}


def _json_only(value: Any) -> bool:
    """Only the JSON types themselves: no enum, no datetime, no subclass that a serialiser may
    render differently."""
    if type(value) is dict:
        return all(type(k) is str and _json_only(v) for k, v in value.items())
    if type(value) is list:
        return all(_json_only(v) for v in value)
    return value is None or type(value) in (str, int)


# --- the documented shapes --------------------------------------------------------------------


def test_every_example_in_the_documentation_is_what_the_story_sends() -> None:
    sent = by_cursor(story())
    examples = re.findall(r"<!-- (\S+) (\d+\.\d+) -->\n```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert len(examples) >= 12
    for recipient, cursor, text in examples:
        assert (recipient, cursor) in sent, f"the page shows {recipient} {cursor}, not sent"
        assert json.loads(text) == sent[recipient, cursor].message, (recipient, cursor)


def test_payloads_are_plain_json_on_the_documented_channel() -> None:
    sent = by_cursor(story())
    for n in sent.values():
        assert _json_only(n.message), n
        assert n.message["channel"] == CHANNEL
        assert orjson.loads(orjson.dumps(n.message)) == n.message
        assert n.cursor == f"{n.position}.{n.index}"


def test_the_story_reads_as_documented_for_each_participant() -> None:
    sent = by_cursor(story())

    def states(recipient: str) -> list[str]:
        return [n.message["data"]["smsSession"]["state"] for (r, _), n in sorted(
            sent.items(), key=lambda kv: (kv[1].position, kv[1].index)) if r == recipient
            and n.message["data"]["notificationType"] == "StatusChange"]

    assert states("c1") == ["Chatting", "Completed"]
    assert states("a1") == ["Invited", "Chatting", "LeftChat",  # x1
                            "Invited", "Revoked", "Invited", "Chatting"]  # x2: rejected once
    assert states("s1") == ["Chatting", "Revoked", "Chatting"]
    assert states("s2") == ["Chatting", "Revoked", "Invited", "Chatting"]  # Intrude: Invited first
    # the coach's advice reached the agent and the supervisors, not the customer
    assert ("a1", "16.0") in sent and ("s2", "16.0") in sent and ("c1", "16.0") not in sent
    advice = sent["a1", "16.0"].message["data"]["messages"][0]
    assert advice["visibility"] == "Agents" and advice["from"]["supervisorVisibilityMode"] == "Coach"
    # a silent monitor intruding is news to supervisors only
    assert {r for (r, c) in sent if c.startswith("37.")} == {"s1", "s2"}
    roster = sent["s2", "37.1"].message["data"]["smsSession"]["participants"]
    assert [(p["participantId"], p["visibility"]) for p in roster] == [
        ("c2", "All"), ("a1", "All"), ("s1", "Agents"), ("s2", "Supervisors")]


# --- logs the rules never wrote: visibility is judged by the recorded mode --------------------


def _coached_session() -> tuple[Coaching, list[tuple[int, DomainEvent]]]:
    """c1 and a1 in x1, with s1 coaching and s2 monitoring."""
    app = story()
    log = [(p, e) for p, e in app.all_events() if p <= 12]
    return app, log


def _fed(log: list[tuple[int, DomainEvent]], forged: DomainEvent) -> list[Notification]:
    projection = NotificationProjection()
    for position, event in log:
        projection.feed(position, event)
    return projection.feed(log[-1][0] + 1, forged)


def _message_from(sender: str, nickname: str, sender_type: ParticipantType,
                  cls: type[MessageVisibleToAll | MessageVisibleToAgent] = MessageVisibleToAll,
                  ) -> DomainEvent:
    _, log = _coached_session()
    last = log[-1][1]
    fields: dict[str, Any] = {"originator_id": "session:x1", "originator_version": 7,
                              "timestamp": last.timestamp, "actor": sender, "session_id": "x1",
                              "index": 1, "sender_id": sender, "nickname": nickname,
                              "text": "the secret"}
    if cls is MessageVisibleToAll:
        fields["sender_type"] = sender_type
    return cls(**fields)


def test_a_coachs_message_claimed_visible_to_all_never_reaches_the_customer() -> None:
    _, log = _coached_session()
    sent = _fed(log, _message_from("s1", "Sam", ParticipantType.SUPERVISOR))
    assert sorted(n.recipient_id for n in sent) == ["a1", "s1", "s2"]
    assert {n.message["data"]["messages"][0]["visibility"] for n in sent} == {"Agents"}


def test_a_monitors_message_reaches_supervisors_only() -> None:
    _, log = _coached_session()
    sent = _fed(log, _message_from("s2", "Sue", ParticipantType.SUPERVISOR))
    assert sorted(n.recipient_id for n in sent) == ["s1", "s2"]


def test_a_message_typed_as_a_supervisors_from_someone_absent_reaches_supervisors_only() -> None:
    _, log = _coached_session()
    sent = _fed(log, _message_from("s9", "Mallory", ParticipantType.SUPERVISOR))
    assert sorted(n.recipient_id for n in sent) == ["s1", "s2"]
    sent = _fed(log, _message_from("s9", "Mallory", ParticipantType.SUPERVISOR, MessageVisibleToAgent))
    assert sorted(n.recipient_id for n in sent) == ["s1", "s2"]


def test_a_monitor_claimed_visible_to_all_is_shown_to_supervisors_only() -> None:
    _, log = _coached_session()
    joined = log[-1][1]
    assert isinstance(joined, SupervisorAdded) and joined.mode is SupervisorMode.MONITOR
    forged = joined.model_copy(update={"visibility": Visibility.ALL})
    sent = _fed(log[:-1], forged)
    assert {n.recipient_id for n in sent} == {"s1", "s2"}
    roster = next(n for n in sent if n.recipient_id == "s1").message["data"]["smsSession"]["participants"]
    assert roster[-1]["visibility"] == "Supervisors"


def test_a_switch_claimed_visible_to_all_is_shown_as_wide_as_its_modes() -> None:
    _, log = _coached_session()
    last = log[-1][1]
    forged = SupervisorModeSwitched(
        originator_id="session:x1", originator_version=7, timestamp=last.timestamp, actor="s2",
        session_id="x1", supervisor_id="s2", from_mode=SupervisorMode.BARGE_IN,
        to_mode=SupervisorMode.COACH, visibility=Visibility.ALL)  # it was Monitor: no one but staff
    sent = _fed(log, forged)
    assert "c1" not in {n.recipient_id for n in sent}
    assert all("Supervisors" not in repr(n.message) or n.recipient_id != "a1" for n in sent)
    assert [n.message["data"]["messages"][0]["type"] for n in sent
            if n.recipient_id == "a1" and "messages" in n.message["data"]] == ["ParticipantJoined"]


def test_events_of_unknown_sessions_and_other_streams_cause_nothing() -> None:
    _, log = _coached_session()
    projection = NotificationProjection()
    for position, event in log:
        if position < 7:
            assert projection.feed(position, event) == []  # registrations and set-ups
    message = _message_from("c1", "Carol", ParticipantType.CUSTOMER)
    assert projection.feed(99, message.model_copy(update={"session_id": "nowhere"})) == []


def test_completed_sessions_are_forgotten() -> None:
    projection = NotificationProjection()
    for position, event in story().all_events():
        projection.feed(position, event)
    assert projection.open_sessions == 1  # x1 is over; x2 is still open


# --- cursors ----------------------------------------------------------------------------------


@pytest.mark.parametrize("cursor", ["", "7", "7.", ".0", "07.0", "7.00", "-7.0", "7.0.0", "a.b",
                                    " 7.0", "7.0\n", "7,0", "+7.0", "٧.٠", "1" * 20 + ".0"])
def test_a_malformed_cursor_is_refused_with_status_code_10(cursor: str) -> None:
    with pytest.raises(InvalidValue) as refusal:
        notifications_for(story(), "c1", cursor)
    assert refusal.value.status_code == 10
    assert "cursor" in refusal.value.message


def test_a_cursor_that_is_not_a_string_is_refused_too() -> None:
    with pytest.raises(CoachingError) as refusal:
        parse_cursor(7.0)  # type: ignore[arg-type]
    assert refusal.value.status_code == 10


def test_a_cursor_beyond_the_end_of_the_log_is_refused() -> None:
    app = story()
    end = app.log_position()
    assert list(notifications_for(app, "a1", f"{end}.9")) == []
    with pytest.raises(InvalidValue) as refusal:
        notifications_for(app, "a1", f"{end + 1}.0")
    assert "beyond the end" in refusal.value.message


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=12))
def test_any_text_is_a_cursor_exactly_when_it_is_canonical(text: str) -> None:
    canonical = re.fullmatch(r"(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,8})", text, re.ASCII)
    try:
        position, index = parse_cursor(text)
    except InvalidValue:
        assert canonical is None, text
    else:
        assert canonical is not None and f"{position}.{index}" == text


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 10**18), st.integers(0, 10**8))
def test_a_cursor_reads_back_as_written(position: int, index: int) -> None:
    note = Notification(position, index, "c1", {})
    assert parse_cursor(note.cursor) == (position, index)


def test_a_follower_starts_after_its_cursor_and_reports_where_it_is() -> None:
    app = story()
    everything = list(notifications_for(app, "s2"))
    follower = Follower(app, "s2", everything[5].cursor, page_size=2)
    assert follower.poll() == everything[6:]
    assert follower.position == app.log_position()
    app.leave("s2", "x2")
    new = follower.poll()
    assert [n.message["data"]["smsSession"].get("state") for n in new] == [None, "LeftChat"]
    with pytest.raises(ValueError, match="page_size"):
        Follower(app, page_size=0)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(timezones=st.sampled_from((UTC, timezone(timedelta(hours=5, minutes=30)),
                                               timezone(-timedelta(hours=8))))))
def test_timestamps_are_the_events_time_in_iso_8601(at: datetime) -> None:
    projection = NotificationProjection()
    opened = SessionOpened(originator_id="session:x9", originator_version=1, timestamp=at,
                           actor="routing", session_id="x9", customer_id="c9", customer_nickname="Eve")
    sent = projection.feed(1, opened)
    assert sent[1].message["data"]["messages"][0]["timestamp"] == at.isoformat()


def test_a_consumer_that_stops_half_way_loses_nothing() -> None:
    app = story()
    everything = list(notifications_for(app, None))  # type: ignore[arg-type]
    follower = Follower(app)
    taken: list[Notification] = []
    for size in (1, 3, 2, 7, 5) * 40:
        stream = follower.iter()
        taken += [n for _, n in zip(range(size), stream, strict=False)]
        stream.close()
    taken += follower.poll()
    assert taken == everything
