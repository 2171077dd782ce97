"""Time travel over a stored log: where a cut falls, what it keeps, and what it refuses.

One scripted day with a clock that ticks one second per command, so every position and time
below can be read off the script. ADR 0023 is the specification: a position keeps every record
up to it; a time keeps each stream up to its first event recorded later; a naive time is refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

import coaching.audit.history as history_module
from coaching.application import Coaching
from coaching.audit.history import (
    History,
    Position,
    UnreadableRecord,
    check_at,
    parse_at,
    session_at,
    supervisions_at,
    supervisor_at,
    transcript,
    viewers,
)
from coaching.audit.transfer import export_log
from coaching.domain.errors import InvalidValue, NotFound
from coaching.domain.events import DomainEvent
from coaching.domain.values import ParticipantType, SessionStatus, SupervisorMode
from coaching.replay import rebuild
from coaching.store.record import Record
from coaching.store.source import AppSource, LogSource, open_source
from coaching.testing import StepClock
from tests.audit.test_transcript_tamper import STORY, write_log

START = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class Plain:
    """Only the LogSource protocol over a store: no index, no path, so History scans."""

    def __init__(self, path: Path) -> None:
        self.inner = open_source(path)
        self.reads = 0

    def count(self) -> int:
        return self.inner.count()

    def records(self, start: int = 1) -> Iterator[Record]:
        self.reads += 1
        return self.inner.records(start)

    def close(self) -> None:
        self.inner.close()


def second(n: int) -> datetime:
    """The time the n-th command was decided at (StepClock: one second per reading)."""
    return START + timedelta(seconds=n)


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, int]]]:
    """A stored day; ``marks`` names the log position each step ended at."""
    path = tmp_path_factory.mktemp("day") / "day.sqlite"
    app = Coaching.sqlite(str(path), clock=StepClock())
    marks: dict[str, int] = {}
    app.register_agent("a1", "alice", nickname="Ann", team="t1")               # 1 s
    app.register_supervisor("s1", "sam", teams=frozenset({"t1"}))              # 2 s
    app.coach("s1", "a1")                                                      # 3 s
    marks["coached"] = app.log_position()
    app.open_session("x1", customer_id="c1", customer_nickname="Carol")        # 4 s
    marks["opened"] = app.log_position()
    app.send_message("c1", "x1", "hello?")                                     # 5 s
    app.offer_session("x1", "a1")                                              # 6 s
    accepted = app.accept("a1", "x1")                                          # 7 s: 3 events
    marks["accept_first"], marks["accepted"] = accepted.positions[0], accepted.positions[-1]
    app.send_message("s1", "x1", "offer the refund")                           # 8 s
    app.switch_to_barge_in("s1", "x1")                                         # 9 s
    app.send_message("s1", "x1", "manager here")                               # 10 s
    app.cancel_supervisor_monitoring("s1", "a1")                               # 11 s
    marks["cancelled"] = app.log_position()
    app.complete("a1", "x1")                                                   # 12 s
    marks["end"] = app.log_position()
    app.close()
    yield path, marks


# --- where: positions and times ---------------------------------------------------------------


def test_parse_at_reads_positions_and_zoned_times() -> None:
    assert parse_at("812") == Position(812) and isinstance(parse_at(" 7 "), Position)
    assert parse_at("2025-04-14T09:30:00Z") == datetime(2025, 4, 14, 9, 30, tzinfo=UTC)
    plus_two = parse_at("2025-04-14T11:30:00+02:00")
    assert isinstance(plus_two, datetime) and plus_two == datetime(2025, 4, 14, 9, 30, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2025-04-14T09:30:00", "2025-04-14", "yesterday", "-3", "1.5", ""])
def test_parse_at_refuses_what_does_not_name_one_moment(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        parse_at(text)
    assert refused.value.status_code == 10
    if text.startswith("2025"):
        assert "no timezone" in refused.value.message and f"{text}Z" in refused.value.message


def test_positions_are_whole_and_not_negative() -> None:
    for bad in (-1, True):
        with pytest.raises(InvalidValue):
            Position(bad)
    assert check_at(5) == Position(5)
    with pytest.raises(InvalidValue, match="no timezone"):
        check_at(datetime(2026, 1, 5, 9, 0))
    with pytest.raises(InvalidValue):
        check_at("5")  # type: ignore[arg-type]


# --- what a cut keeps ---------------------------------------------------------------------------


def test_a_position_inside_a_command_shows_the_prefix_of_the_log(day: tuple[Path, dict[str, int]]) -> None:
    """After AgentAccepted and before SupervisorAdded: a state no reader of the live app saw, but
    the one the log's prefix folds to."""
    path, marks = day
    cut = Position(marks["accept_first"])
    session = session_at(path, "x1", cut)
    assert list(session.agents) == ["a1"] and not session.supervisors
    prefix = rebuild(e for p, e in _events(path) if p <= cut)
    assert session == prefix.sessions["session:x1"]
    assert list(session_at(path, "x1", Position(marks["accepted"])).supervisors) == ["s1"]


def _events(path: Path) -> list[tuple[int, DomainEvent]]:
    app = Coaching.sqlite(str(path))
    try:
        return list(app.all_events())
    finally:
        app.close()


def test_a_time_keeps_everything_recorded_then(day: tuple[Path, dict[str, int]]) -> None:
    path, _ = day
    assert session_at(path, "x1", second(7)).supervisors  # the Accept's three events, all at 7 s
    assert not session_at(path, "x1", second(7) - timedelta(milliseconds=1)).agents
    barging = session_at(path, "x1", second(9) + timedelta(milliseconds=500))
    assert barging.supervisors["s1"].mode is SupervisorMode.BARGE_IN
    # the same moment written in another zone is the same moment
    paris = second(9).astimezone(timezone(timedelta(hours=1)))
    assert session_at(path, "x1", paris) == session_at(path, "x1", second(9))
    assert session_at(path, "x1", second(12)).status is SessionStatus.COMPLETED


def test_supervisions_as_they_were(day: tuple[Path, dict[str, int]]) -> None:
    path, marks = day
    assert supervisions_at(path, "a1", Position(marks["coached"] - 1)) == ()
    (coach,) = supervisions_at(path, "a1", Position(marks["coached"]))
    assert (coach.supervisor_id, coach.mode, coach.started_at) == ("s1", SupervisorMode.COACH, second(3))
    assert supervisions_at(path, "a1", Position(marks["cancelled"])) == ()
    assert supervisions_at(path, "a1") == ()
    held = supervisor_at(path, "s1", Position(marks["accepted"]))
    assert list(held.supervisions) == ["a1"] and list(held.sessions) == ["x1"]
    later = supervisor_at(path, "s1", Position(marks["cancelled"]))
    assert not later.supervisions and later.sessions["x1"].mode is SupervisorMode.BARGE_IN
    assert not supervisor_at(path, "s1").sessions  # revoked at completion


def test_a_transcript_as_it_stood(day: tuple[Path, dict[str, int]]) -> None:
    path, marks = day
    texts = [e.text for e in transcript(path, "x1", "a1", at=second(8)) if e.kind == "Message"]
    assert texts == ["hello?", "offer the refund"]
    assert [e.text for e in transcript(path, "x1", "c1", at=second(8)) if e.kind == "Message"] == ["hello?"]
    # a1 is a viewer of x1, but had not joined yet: it was shown nothing by then
    assert transcript(path, "x1", "a1", at=Position(marks["opened"])) == []
    full = transcript(path, "x1", "c1")
    assert transcript(path, "x1", "c1", at=Position(marks["end"] + 1000)) == full


def test_viewers_name_everyone_shown_something(day: tuple[Path, dict[str, int]]) -> None:
    path, marks = day
    found = {v.participant_id: (v.type, v.nickname) for v in viewers(path, "x1")}
    assert found == {"c1": (ParticipantType.CUSTOMER, "Carol"), "a1": (ParticipantType.AGENT, "Ann"),
                     "s1": (ParticipantType.SUPERVISOR, "sam")}
    assert [v.participant_id for v in viewers(path, "x1", Position(marks["opened"]))] == ["c1"]


# --- what a cut refuses ---------------------------------------------------------------------------


def test_not_found_says_what_exists(day: tuple[Path, dict[str, int]]) -> None:
    path, marks = day
    with pytest.raises(NotFound, match=r"no SMS session with id 'x9' in this log; it records: x1"):
        session_at(path, "x9")
    with pytest.raises(NotFound, match=r"did not exist yet as of log position 3: its first event is at "
                                       rf"log position {marks['opened']}"):
        session_at(path, "x1", Position(3))
    with pytest.raises(NotFound, match=r"never took part .* its viewers are: c1 \(Customer\), a1 \(Agent\), "
                                       r"s1 \(Supervisor\)"):
        transcript(path, "x1", "s2")
    with pytest.raises(NotFound, match="no agent with id 'a2'"):
        supervisions_at(path, "a2")
    with pytest.raises(InvalidValue):
        transcript(path, "bad id!", "c1")


def test_a_stream_whose_times_go_backwards_is_cut_at_its_first_later_event(tmp_path: Path) -> None:
    """Only a prefix of a stream is a state that existed: the cut never skips an event."""
    session = [e for e in STORY if e.originator_id == "session:x1"]
    coaching = session[8]  # version 9, recorded 5 s after version 3: say it was recorded before
    early = session[1].timestamp + timedelta(milliseconds=500)
    log = [e.model_copy(update={"timestamp": early}) if e is coaching else e for e in STORY]
    path = write_log(tmp_path / "log.sqlite", log)
    with History(path) as history:
        cut = history.session("x1", session[2].timestamp)[0]
    assert [e.originator_version for e in cut.events] == [1, 2, 3]  # not 9, though "earlier"


def test_a_source_without_an_index_gives_the_same_answers(day: tuple[Path, dict[str, int]],
                                                         tmp_path: Path) -> None:
    """A plain filter over ``records()`` (export files, any LogSource) answers as the index does."""
    path, marks = day
    plain = Plain(path)
    export = tmp_path / "day.jsonl"
    export_log(path, export)
    sources: list[LogSource | Path] = [plain, export]
    for source in sources:
        for at in (None, Position(marks["accept_first"]), second(9)):
            with History(path) as indexed, History(source) as scanned:
                assert scanned.session_at("x1", at) == indexed.session_at("x1", at)
                assert scanned.transcript("x1", "c1", at=at) == indexed.transcript("x1", "c1", at=at)
                assert scanned.supervisor_at("s1", at) == indexed.supervisor_at("s1", at)
                assert scanned.agent_at("a1", at) == indexed.agent_at("a1", at)
    assert plain.reads > 0
    plain.close()


def test_progress_is_reported_while_scanning(day: tuple[Path, dict[str, int]],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(history_module, "PROGRESS_EVERY", 2)
    path, _ = day
    seen: list[int] = []
    source = Plain(path)
    with History(source, progress=seen.append) as history:
        history.session_at("x1")
    total = source.count()
    assert seen == [*range(2, total + 1, 2), *([total] if total % 2 else [])]  # then the end
    source.close()


def test_an_undecodable_record_is_named_by_its_position(day: tuple[Path, dict[str, int]],
                                                        tmp_path: Path) -> None:
    path, marks = day
    broken = tmp_path / "broken.sqlite"
    broken.write_bytes(path.read_bytes())
    with sqlite3.connect(broken) as db:
        db.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (b"{not json", marks["opened"]))
    with pytest.raises(UnreadableRecord, match=rf"log position {marks['opened']} \(session:x1 version 1"):
        session_at(broken, "x1")
    assert supervisions_at(broken, "a1") == ()  # other streams are still readable


def test_a_running_application_is_a_source_too() -> None:
    """A backend (on PostgreSQL, say) asks through its own application: ``AppSource``."""
    app = Coaching.in_memory(clock=StepClock())
    app.register_agent("a1", "alice", team="t1")
    app.register_supervisor("s1", "sam", teams=frozenset({"t1"}))
    app.coach("s1", "a1")
    app.open_session("x1", customer_id="c1", customer_nickname="Carol")
    app.offer_session("x1", "a1")
    app.accept("a1", "x1")
    app.send_message("s1", "x1", "psst")
    with History(AppSource(app)) as history:
        for viewer in ("c1", "a1", "s1"):
            assert history.transcript("x1", viewer) == app.transcript("x1", viewer)
        assert history.session_at("x1") == app.get_session("x1")
        assert history.supervisions_at("a1") == app.supervisions("a1")
