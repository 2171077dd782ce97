"""GWS notifications, as properties over random sessions: visibility at the way out, transcripts
replayed from the notification streams, up-to-date rosters and states, and resumption from any
cursor after a restart without loss or duplicates.

Random sessions come from two places: many small seeded shifts of the simulator (realistic:
conferences, queues and re-offers, intrusions, switches), and the hypothesis state machine of
``coaching.testing`` (adversarial: rejoins, supervisors in two agents' sessions, every refusal).
The oracle below is written from the documentation (``docs/notifications.md``, ADR 0016) against
the domain's transcript (``coaching.domain.transcript``), not from the projection's code.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.application import Coaching
from coaching.domain.events import (
    AgentAccepted,
    AgentInvited,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionEvent,
    SessionOpened,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.transcript import EntryKind, TranscriptEntry
from coaching.domain.values import ParticipantType, SupervisorMode, Visibility, can_see
from coaching.gws.notifications import Follower, Notification, NotificationProjection, notifications_for
from coaching.simulation import Shift, ShiftPlan, run_shift
from coaching.testing.machine import SupervisionMachine, Target

GWS_TYPE = {ParticipantType.CUSTOMER: "Customer", ParticipantType.AGENT: "Agent",
            ParticipantType.SUPERVISOR: "Agent"}
TERMINAL = {"LeftChat", "Completed", "Revoked"}


# --- the oracle -------------------------------------------------------------------------------


def every_notification(log: Iterable[tuple[int, DomainEvent]]) -> dict[str, list[Notification]]:
    """Every recipient's notifications, from one projection fed the whole log."""
    projection = NotificationProjection()
    by_recipient: dict[str, list[Notification]] = defaultdict(list)
    for position, event in log:
        for n in projection.feed(position, event):
            by_recipient[n.recipient_id].append(n)
    return by_recipient


def received(notifications: Iterable[Notification], session_id: str) -> list[dict[str, Any]]:
    """The message-log lines a recipient was sent for one session, in order."""
    lines: list[dict[str, Any]] = []
    for n in notifications:
        data = n.message["data"]
        if data["messageType"] == "MessageLogUpdated" and data["smsSession"]["id"] == session_id:
            lines.extend(data["messages"])
    return lines


def _fields(m: dict[str, Any]) -> dict[str, Any]:
    """What of a received line is compared with the transcript."""
    found = {"index": m["index"], "type": m["type"], "noticeType": m.get("noticeType"),
             "participantId": m["from"]["participantId"], "fromType": m["from"]["type"],
             "nickname": m["from"]["nickname"], "visibility": m["visibility"],
             "mode": m["from"].get("supervisorVisibilityMode"),
             "timestamp": datetime.fromisoformat(m["timestamp"])}
    if m["type"] == "Text":
        found["text"] = m["text"]
    if m.get("noticeType") == "Queued":
        found["text"] = m["queueName"]
    return found


def expected(entries: Sequence[TranscriptEntry], role: ParticipantType,
             session_events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
    """The transcript as the documented GWS lines (ADR 0016): what each entry reads like to a
    recipient of ``role``. Supervisors' modes are shown to agents and supervisors only; a switch
    reads as a join (or a departure) to a recipient that could not see the supervisor before
    (or cannot after); a revocation reads as a departure to the customer."""
    by_version = {e.originator_version: e for e in session_events}
    lines = []
    for k, e in enumerate(entries):
        notice: str | None = None
        mode: SupervisorMode | None = e.mode
        if e.kind is EntryKind.MESSAGE:
            kind = "Text"
            if e.participant_type is ParticipantType.SUPERVISOR:
                mode = {Visibility.AGENTS: SupervisorMode.COACH,
                        Visibility.ALL: SupervisorMode.BARGE_IN}[e.visibility]
        elif e.kind is EntryKind.JOINED:
            kind = "ParticipantJoined"
        elif e.kind is EntryKind.LEFT:
            kind = "ParticipantLeft"
        elif e.kind is EntryKind.MODE_SWITCHED:
            switch = by_version[e.position]
            assert isinstance(switch, SupervisorModeSwitched)
            saw = can_see(role, switch.from_mode.visibility)
            sees = can_see(role, switch.to_mode.visibility)
            if saw and sees:
                kind, notice = "Notice", "ModeSwitched"
            elif sees:
                kind = "ParticipantJoined"
            else:
                kind, mode = "ParticipantLeft", switch.from_mode
        elif e.kind is EntryKind.REVOKED:
            kind, notice = ("ParticipantLeft", None) if role is ParticipantType.CUSTOMER else (
                "Notice", "Revoked")
        elif e.kind is EntryKind.QUEUED:
            kind, notice = "Notice", "Queued"
        else:
            kind, notice = "Notice", "Completed"
        line: dict[str, Any] = {
            "index": k, "type": kind, "noticeType": notice, "participantId": e.participant_id,
            "fromType": GWS_TYPE[e.participant_type], "nickname": e.nickname,
            "visibility": e.visibility.value, "timestamp": e.timestamp,
            "mode": mode.value if mode is not None and role is not ParticipantType.CUSTOMER
            and e.participant_type is ParticipantType.SUPERVISOR else None}
        if e.kind is EntryKind.MESSAGE or e.kind is EntryKind.QUEUED:
            line["text"] = e.text
        lines.append(line)
    return lines


def _participants(n: Notification) -> list[dict[str, Any]]:
    session = n.message["data"]["smsSession"]
    return list(session.get("participants", ()))


def _roster_ids(n: Notification) -> set[str]:
    """Every participant id a notification's roster names."""
    return {p["participantId"] for p in _participants(n)}


def _sessions(log: Sequence[tuple[int, DomainEvent]]) -> dict[str, list[tuple[int, SessionEvent]]]:
    found: dict[str, list[tuple[int, SessionEvent]]] = defaultdict(list)
    for position, event in log:
        if isinstance(event, SessionEvent):
            found[event.session_id].append((position, event))
    return found


def _visible_supervisors(events: Sequence[tuple[int, SessionEvent]],
                         role: ParticipantType) -> dict[int, set[str]]:
    """Per log position of a session's event: the supervisors ``role`` may see just before or just
    after it (a departure names the one leaving; an arrival the one arriving)."""
    modes: dict[str, SupervisorMode] = {}
    allowed: dict[int, set[str]] = {}
    for position, e in events:
        before = {s for s, m in modes.items() if can_see(role, m.visibility)}
        if isinstance(e, SupervisorAdded):
            modes[e.supervisor_id] = e.mode
        elif isinstance(e, SupervisorModeSwitched):
            modes[e.supervisor_id] = e.to_mode
        elif isinstance(e, SupervisorLeft | Revoked):
            modes.pop(e.supervisor_id, None)
        allowed[position] = before | {s for s, m in modes.items() if can_see(role, m.visibility)}
    return allowed


def _check_order(streams: dict[str, list[Notification]]) -> None:
    """Each stream in cursor order: (position, index) strictly increasing, index from 0 per event."""
    for recipient, stream in streams.items():
        keys = [(n.position, n.index) for n in stream]
        assert keys == sorted(set(keys)), f"{recipient}: notifications out of order or repeated"
        for (p, i), previous in zip(keys, [(0, -1), *keys], strict=False):
            assert i == (previous[1] + 1 if p == previous[0] else 0), (recipient, p, i)
        assert len({n.cursor for n in stream}) == len(stream)


def check_notifications(app: Coaching) -> int:
    """Every notification property over ``app``'s whole log; the number of notifications checked."""
    log = list(app.all_events())
    streams = every_notification(log)
    _check_order(streams)
    supervisors = {e.supervisor_id for _, e in log if isinstance(e, SupervisorAdded)}
    for session_id, events in _sessions(log).items():
        session_events = [e for _, e in events]
        opened = session_events[0]
        assert isinstance(opened, SessionOpened)
        roles: dict[str, ParticipantType] = {opened.customer_id: ParticipantType.CUSTOMER}
        for e in session_events:
            if isinstance(e, AgentAccepted):
                roles.setdefault(e.agent_id, ParticipantType.AGENT)
            elif isinstance(e, SupervisorAdded):
                roles.setdefault(e.supervisor_id, ParticipantType.SUPERVISOR)
        invited = {e.agent_id for e in session_events if isinstance(e, AgentInvited)}
        allowed = {role: _visible_supervisors(events, role)
                   for role in (ParticipantType.CUSTOMER, ParticipantType.AGENT)}
        positions = {e.originator_version: p for p, e in events}  # stream version → log position
        for viewer in {*roles, *invited, "ghost"}:
            mine = [n for n in streams.get(viewer, ())
                    if n.message["data"]["smsSession"]["id"] == session_id]
            role = roles.get(viewer, ParticipantType.AGENT)
            # 1. the stream, replayed, is the transcript the domain says the viewer was shown
            entries = app.transcript(session_id, viewer)
            lines = received(mine, session_id)
            want = expected(entries, role, session_events)
            got = [_fields(m) for m in lines]
            assert got == want, (f"{session_id}, {viewer} ({role}):\n  got  {got}\n  want {want}")
            # 2. nothing the viewer's role may not see, judged against the log independently
            if role is not ParticipantType.SUPERVISOR:
                for n in mine:
                    text = repr(n.message)
                    assert "'Supervisors'" not in text, (viewer, n)
                    assert "'Monitor'" not in text, (viewer, n)
                    if role is ParticipantType.CUSTOMER:
                        assert "supervisorVisibilityMode" not in text and "'Agents'" not in text, n
                    hidden = (_roster_ids(n) & supervisors) - allowed[role][n.position]
                    assert not hidden, f"{viewer} ({role}) was told of {hidden}: {n}"
                # a line names a supervisor only if the viewer could see it when the line happened
                for line, entry in zip(lines, entries, strict=True):
                    who = line["from"]["participantId"]
                    assert who not in supervisors or who in allowed[role][positions[entry.position]], (
                        viewer, line)
            # 3. the last state and roster it was sent are the session's now
            _check_state(app, session_events, viewer, role, mine,
                         known=viewer in roles or viewer in invited)
    return sum(len(s) for s in streams.values())


def _check_state(app: Coaching, session_events: list[SessionEvent], viewer: str,
                 role: ParticipantType, mine: list[Notification], *, known: bool) -> None:
    """The last state and roster a viewer was sent are the session's now; a supervisor was
    sent ``Revoked`` once per revocation."""
    session_id = session_events[0].session_id
    state = app.get_session(session_id)
    states = [n.message["data"]["smsSession"] for n in mine
              if n.message["data"]["messageType"] == "SMSsessionStateChangeMessage"]
    if state.participant_type(viewer) is not None:
        expected_roster = [
            {"participantId": p.participant_id, "nickname": p.nickname,
             "type": GWS_TYPE[p.type], "visibility": p.visibility.value,
             **({"supervisorVisibilityMode": p.mode.value}
                if p.mode is not None and role is not ParticipantType.CUSTOMER else {})}
            for p in app.session_view(session_id).participants if can_see(role, p.visibility)]
        assert states and states[-1]["state"] == "Chatting", (session_id, viewer, states[-1:])
        assert states[-1]["participants"] == expected_roster, (session_id, viewer)
    elif viewer in state.invitations:
        assert states and states[-1]["state"] == "Invited", (session_id, viewer, states[-1:])
    elif known:
        assert states and states[-1]["state"] in TERMINAL, (session_id, viewer, states[-1:])
    else:
        assert not mine, (session_id, viewer)
    if role is ParticipantType.SUPERVISOR:
        revoked = sum(1 for e in session_events if isinstance(e, Revoked) and e.supervisor_id == viewer)
        assert [s["state"] for s in states].count("Revoked") == revoked, (session_id, viewer)


def customer_never_reads_a_coach(app: Coaching) -> None:
    """The side door users complain about: a coach's words in anything a customer is sent."""
    log = list(app.all_events())
    coached = {e.text for _, e in log if isinstance(e, MessageVisibleToAgent)}
    openly = {e.text for _, e in log if isinstance(e, MessageVisibleToAll)}
    secret = coached - openly
    assert secret, "the shift had no coaching to keep secret"
    customers = {e.customer_id for _, e in log if isinstance(e, SessionOpened)}
    for recipient, stream in every_notification(log).items():
        if recipient in customers:
            text = repr([n.message for n in stream])
            assert not [s for s in secret if s in text], recipient


# --- random sessions: seeded shifts -----------------------------------------------------------


def small_shift(seed: int) -> Coaching:
    app, stats = run_shift(ShiftPlan(seed=seed, sessions=25, agents=4, supervisors=2, team_size=2,
                                     conference_rate=0.15, mistake_rate=0.0))
    assert not stats.unexpected
    return app


@pytest.mark.parametrize("seed", range(12))
def test_shift_streams_replay_the_transcripts_and_never_leak(seed: int) -> None:
    app = small_shift(seed)
    assert check_notifications(app) > 100
    customer_never_reads_a_coach(app)


def test_one_recipient_stream_is_its_part_of_the_whole() -> None:
    """``notifications_for`` (state for all, output for one) gives what the fan-out gives it."""
    app = small_shift(101)
    streams = every_notification(app.all_events())
    assert len(streams) > 10
    for recipient, stream in streams.items():
        assert list(notifications_for(app, recipient, page_size=7)) == stream, recipient
    assert list(notifications_for(app, "nobody")) == []


# --- random sessions: the state machine -------------------------------------------------------


class NotificationMachine(SupervisionMachine):
    """The property kit's machine, on one in-memory store, with the notification checks at the end."""

    def make_targets(self, clock: Callable[[], Callable[[], datetime]]) -> list[tuple[str, Target]]:
        return [("memory", Coaching.in_memory(clock=clock()))]

    def teardown(self) -> None:
        try:
            if not self._failed:
                app = self.targets[0][1]
                assert isinstance(app, Coaching)
                check_notifications(app)
        finally:
            super().teardown()


NotificationMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=35, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
TestNotificationMachine = NotificationMachine.TestCase


# --- resuming after a restart -----------------------------------------------------------------


@pytest.fixture(scope="module")
def stored_shift(
        tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, list[Notification]]]]:
    """A shift stored in an SQLite file, and every recipient's full stream from it."""
    path = tmp_path_factory.mktemp("notifications") / "shift.sqlite"
    shift = Shift(ShiftPlan(seed=5, sessions=30, agents=4, supervisors=2, team_size=2))
    app = Coaching.sqlite(str(path), clock=shift.clock)
    shift.run(app)
    streams = every_notification(app.all_events())
    app.close()
    yield path, streams


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_resuming_from_any_cursor_after_a_restart_loses_and_repeats_nothing(
        stored_shift: tuple[Path, dict[str, list[Notification]]], data: st.DataObject) -> None:
    path, streams = stored_shift
    recipient = data.draw(st.sampled_from(sorted(streams)))
    full = streams[recipient]
    split = data.draw(st.integers(0, len(full)))
    cursor = full[split - 1].cursor if split else None
    app = Coaching.sqlite(str(path))  # the backend restarted: a new application over the file
    try:
        rest = list(notifications_for(app, recipient, cursor,
                                      page_size=data.draw(st.sampled_from((1, 3, 1000)))))
    finally:
        app.close()
    assert full[:split] + rest == full


def _ops(app: Coaching, n: int) -> Callable[[], None]:
    """A small session story, played a step at a time, so a follower can poll in between."""
    steps: list[tuple[Callable[..., Any], tuple[Any, ...]]] = [
        (lambda: app.register_agent("a1", "alice", team="t"), ()),
        (lambda: app.register_supervisor("s1", "sam", teams=frozenset({"t"})), ()),
        (app.coach, ("s1", "a1")),
    ]
    for i in range(n):
        x, c = f"x{i}", f"c{i}"
        steps += [(app.open_session, (x, c, "Carol")), (app.offer_session, (x, "a1")),
                  (app.accept, ("a1", x)), (app.send_message, (c, x, "hello")),
                  (app.send_message, ("s1", x, "offer the refund")),
                  (app.switch_to_barge_in, ("s1", x)), (app.send_message, ("s1", x, "manager here")),
                  (app.complete, ("a1", x))]
    remaining = iter(steps)

    def step() -> None:
        call, args = next(remaining)  # StopIteration when the story is over
        call(*args)

    return step


@settings(max_examples=25, deadline=None)
@given(polls=st.lists(st.integers(0, 6), min_size=1, max_size=12),
       recipient=st.sampled_from((None, "a1", "s1", "c0", "c1")))
def test_a_follower_polling_as_the_log_grows_gets_each_notification_once(
        polls: list[int], recipient: str | None) -> None:
    app = Coaching.in_memory()
    step = _ops(app, 3)
    follower = Follower(app, recipient)
    got: list[Notification] = []
    try:
        for n in polls:
            for _ in range(n):
                step()
            got += follower.poll()
    except StopIteration:
        pass
    got += follower.poll()
    assert follower.position == app.log_position()
    everything = [n for _, notes in sorted(every_notification(app.all_events()).items())
                  for n in notes if recipient in (None, n.recipient_id)]
    assert sorted(got, key=lambda n: (n.position, n.recipient_id, n.index)) == sorted(
        everything, key=lambda n: (n.position, n.recipient_id, n.index))
    assert follower.poll() == []


# --- logs the rules did not write: widened claims ---------------------------------------------


def _widened(event: DomainEvent) -> DomainEvent:
    """The event claiming to reach more than its sender's mode allows (or to be an agent's)."""
    if isinstance(event, MessageVisibleToAgent):
        return MessageVisibleToAll(**event.model_dump(exclude={"sender_type", "visibility"}),
                                   sender_type=ParticipantType.SUPERVISOR)
    if isinstance(event, MessageVisibleToAll):
        return event.model_copy(update={"sender_type": ParticipantType.AGENT})
    return event.model_copy(update={"visibility": Visibility.ALL})


def customer_safety(log: Sequence[tuple[int, DomainEvent]]) -> int:
    """No customer is sent a line or a participant that the modes the log records hide from it,
    whatever the events claim; the number of customer notifications checked."""
    streams = every_notification(log)
    checked = 0
    for session_id, events in _sessions(log).items():
        opened = events[0][1]
        assert isinstance(opened, SessionOpened)
        allowed = _visible_supervisors(events, ParticipantType.CUSTOMER)
        supervisors = {e.supervisor_id for _, e in events if isinstance(e, SupervisorAdded)}
        for n in streams.get(opened.customer_id, ()):
            assert n.message["data"]["smsSession"]["id"] == session_id
            text = repr(n.message)
            for word in ("'Agents'", "'Supervisors'", "supervisorVisibilityMode", "Monitor", "Coach"):
                assert word not in text, (word, n)
            named = _roster_ids(n) | {m["from"]["participantId"]
                                      for m in n.message["data"].get("messages", ())}
            hidden = (named & supervisors) - allowed[n.position]
            assert not hidden, f"the customer was told of {hidden}: {n}"
            checked += 1
    return checked


@cache
def forgeable(seed: int) -> list[tuple[int, DomainEvent]]:
    """A legal log to forge claims into (simulated once per test session)."""
    return list(small_shift(seed).all_events())


@settings(max_examples=80, deadline=None)
@given(seed=st.sampled_from((3, 4, 5)), data=st.data())
def test_widened_claims_in_a_log_never_reach_the_customer(seed: int, data: st.DataObject) -> None:
    log = forgeable(seed)
    candidates = [i for i, (_, e) in enumerate(log)
                  if isinstance(e, MessageVisibleToAgent | SupervisorAdded | SupervisorModeSwitched)
                  or (isinstance(e, MessageVisibleToAll)
                      and e.sender_type is ParticipantType.SUPERVISOR)]
    picks = data.draw(st.lists(st.sampled_from(candidates), min_size=1, max_size=6, unique=True))
    forged = list(log)
    for i in picks:
        forged[i] = (forged[i][0], _widened(forged[i][1]))
    assert customer_safety(forged) > 50
