"""The hash chain: written with the events, in the same transaction; any tampering names its position.

Hand-corrupted stores (an edited byte, a deleted row, an inserted row, two rows swapped) are
made with sqlite3 straight on a copy of a simulated shift's store, the way an intruder would.
"""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import struct
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from eventsourcing.persistence import IntegrityError, StoredEvent
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from coaching import Coaching
from coaching.simulation import Shift, ShiftPlan
from coaching.store.chain import (
    CHAIN_TABLE,
    GENESIS,
    ChainError,
    ChainResult,
    ChainVerifier,
    link,
    verify,
)
from coaching.store.record import Record
from coaching.store.source import SQLiteSource, open_source
from tests.integration.test_concurrency import LockstepCoaching, race, set_up

SESSIONS = 25


def simulate(path: Path | None, seed: int = 3, sessions: int = SESSIONS) -> Coaching:
    """A seeded shift into a store at ``path`` (or in memory); the app is returned open."""
    shift = Shift(ShiftPlan(seed=seed, sessions=sessions, agents=6, supervisors=2))
    app = Coaching.sqlite(str(path), clock=shift.clock) if path else Coaching.in_memory(clock=shift.clock)
    shift.run(app, lambda _done, _total: None)
    return app


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("chain") / "shift.sqlite"
    simulate(path).close()
    return path


@pytest.fixture
def store(pristine: Path, tmp_path: Path) -> Path:
    """A private copy of the shift's store, to corrupt."""
    copy = tmp_path / "store.sqlite"
    shutil.copy(pristine, copy)
    return copy


class Log(list[Record]):
    """The shift's records (a short repr: hypothesis prints its arguments when a case fails)."""

    def __repr__(self) -> str:
        return f"<{len(self)} records>"


@pytest.fixture(scope="module")
def records(pristine: Path) -> list[Record]:
    source = SQLiteSource(pristine)
    try:
        return Log(source.records())
    finally:
        source.close()


def check(path: Path, *, with_source: bool = True, expected_head: str | None = None) -> ChainResult:
    source = open_source(path)
    try:
        return verify(source.records(), source=source if with_source else None, expected_head=expected_head)
    finally:
        source.close()


def db(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


# --- the algorithm ------------------------------------------------------------------------------------


def test_link_is_the_documented_algorithm() -> None:
    """An independent re-implementation from docs/export.md's description, and its published vector."""
    oid, version, topic, state = "session:x1", 7, "coaching:Revoked@v1", b'{"a":"\xc3\xa9"}'
    by_hand = hashlib.sha256(
        bytes(32) + struct.pack(">I", len(oid)) + oid.encode() + struct.pack(">q", version)
        + struct.pack(">I", len(topic)) + topic.encode() + struct.pack(">Q", len(state)) + state).hexdigest()
    assert link(GENESIS, oid, version, topic, state) == by_hand
    doc = (Path(__file__).parents[2] / "docs" / "export.md").read_text()
    assert by_hand in doc, "docs/export.md must publish this test vector"


def test_fields_cannot_be_shifted_between_each_other() -> None:
    """Length prefixes: moving bytes from one field to the next changes the hash."""
    assert link(GENESIS, "ab", 1, "c", b"{}") != link(GENESIS, "a", 1, "bc", b"{}")
    assert link(GENESIS, "a", 1, "b", b"{}") != link(GENESIS, "a", 1, "b{", b"}")


# --- written by every recorder, in the same transaction ----------------------------------------------


def test_every_event_of_a_shift_gets_its_chain_entry(pristine: Path, records: list[Record]) -> None:
    with db(pristine) as conn:
        (events,) = conn.execute("SELECT COUNT(*) FROM stored_events").fetchone()
        (chained,) = conn.execute(f"SELECT COUNT(*) FROM {CHAIN_TABLE}").fetchone()
    assert events == chained == len(records) > 300
    result = check(pristine)
    assert result.ok, result.reason
    assert result.records == len(records)
    assert result.head == records[-1].chain_hash


def test_the_chain_does_not_depend_on_the_store(tmp_path: Path) -> None:
    """Memory and SQLite record the same seeded shift with the same hashes (positions are not hashed)."""
    on_disk = simulate(tmp_path / "a.sqlite", seed=11, sessions=8)
    in_memory = simulate(None, seed=11, sessions=8)
    try:
        count = on_disk.log_position()
        assert count == in_memory.log_position() > 50
        assert on_disk.recorder.select_chain(1, count) == in_memory.recorder.select_chain(1, count)  # type: ignore[attr-defined]
    finally:
        on_disk.close()
        in_memory.close()


def test_a_failed_save_leaves_events_and_chain_consistent(tmp_path: Path) -> None:
    """A conflict in the middle of a multi-event save rolls back the events AND their chain entries."""
    app = simulate(tmp_path / "s.sqlite", sessions=3)
    try:
        before = app.log_position()
        head = app.recorder.chain_head()  # type: ignore[attr-defined]
        fresh = StoredEvent(originator_id="session:new", originator_version=1, topic="coaching:X@v1",
                            state=b"{}")
        taken = app.recorder.select_notifications(start=1, limit=1)[0]
        clash = StoredEvent(originator_id=taken.originator_id, originator_version=taken.originator_version,
                            topic=taken.topic, state=taken.state)
        with pytest.raises(IntegrityError):
            app.recorder.insert_events([fresh, clash])
        assert app.log_position() == before
        assert app.recorder.chain_head() == head  # type: ignore[attr-defined]
        app.register_agent("late", "late")  # the chain continues from the same head
    finally:
        app.close()
    result = check(tmp_path / "s.sqlite")
    assert result.ok, result.reason
    assert result.records == before + 1


def test_a_lost_race_leaves_no_chain_entry(tmp_path: Path) -> None:
    """Two Accepts race (tests/integration/test_concurrency.py); the loser's rolled-back save chains
    nothing."""
    path = tmp_path / "race.sqlite"
    app = LockstepCoaching(str(path))
    try:
        set_up(app)
        app.barrier = threading.Barrier(2)
        outcomes = race(app)
        assert max(o.attempts for o in outcomes.values()) == 2  # one save lost and was retried
        count = app.log_position()
    finally:
        app.close()
    with db(path) as conn:
        (chained,) = conn.execute(f"SELECT COUNT(*) FROM {CHAIN_TABLE}").fetchone()
    assert chained == count
    result = check(path)
    assert result.ok, result.reason


def test_a_store_with_a_removed_last_event_refuses_to_chain_more(store: Path) -> None:
    """SQLite reuses the freed position; the chain entry still there makes the write fail, typed."""
    with db(store) as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = (SELECT MAX(rowid) FROM stored_events)")
    app = Coaching.sqlite(str(store))
    try:
        before = app.log_position()
        with pytest.raises(ChainError, match="removed from this store"):
            app.register_agent("new", "newbie")
        assert app.log_position() == before
    finally:
        app.close()


def test_a_recorder_named_by_the_user_is_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APPLICATION_RECORDER_TOPIC", "eventsourcing.sqlite:SQLiteApplicationRecorder")
    path = tmp_path / "plain.sqlite"
    app = Coaching.sqlite(str(path))
    try:
        assert type(app.recorder).__name__ == "SQLiteApplicationRecorder"
        app.register_agent("a1", "alice")
    finally:
        app.close()
    result = check(path)
    assert not result.ok
    assert result.first_break == 1
    assert "no chain entry" in (result.reason or "")


# --- hand-corrupted stores ----------------------------------------------------------------------------

MIDDLE = 120


def test_an_edited_byte_is_named(store: Path) -> None:
    with db(store) as conn:
        (state,) = conn.execute("SELECT state FROM stored_events WHERE rowid = ?", (MIDDLE,)).fetchone()
        edited = bytearray(state)
        edited[len(edited) // 2] ^= 0x01
        conn.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (bytes(edited), MIDDLE))
    result = check(store)
    assert (result.ok, result.first_break) == (False, MIDDLE)
    assert "content does not match its hash" in (result.reason or "")
    assert result.head is None


@pytest.mark.parametrize("with_source", [True, False])
def test_a_deleted_row_is_named(store: Path, with_source: bool) -> None:
    with db(store) as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (MIDDLE,))
    result = check(store, with_source=with_source)
    assert (result.ok, result.first_break) == (False, MIDDLE)
    assert "removed" in (result.reason or "")


def test_a_row_deleted_from_both_tables_is_named(store: Path) -> None:
    with db(store) as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (MIDDLE,))
        conn.execute(f"DELETE FROM {CHAIN_TABLE} WHERE position = ?", (MIDDLE,))
    result = check(store)
    assert (result.ok, result.first_break) == (False, MIDDLE)


def test_a_deleted_last_row_is_named_when_the_source_is_given(store: Path, records: list[Record]) -> None:
    last = records[-1].position
    with db(store) as conn:
        conn.execute("DELETE FROM stored_events WHERE rowid = ?", (last,))
    assert check(store).first_break == last


def _shift_up(conn: sqlite3.Connection, table: str, key: str, start: int) -> None:
    """Make room at ``start`` by moving every row at or after it one position up."""
    conn.execute(f"UPDATE {table} SET {key} = -{key} - 1 WHERE {key} >= ?", (start,))
    conn.execute(f"UPDATE {table} SET {key} = -{key} WHERE {key} < 0")


def test_an_inserted_row_without_a_chain_entry_is_named(store: Path) -> None:
    with db(store) as conn:
        _shift_up(conn, "stored_events", "rowid", MIDDLE)
        conn.execute("INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                     "VALUES (?, 'session:forged', 1, 'coaching:SessionOpened@v1', '{}')", (MIDDLE,))
    result = check(store)
    assert (result.ok, result.first_break) == (False, MIDDLE)


def test_a_row_appended_without_a_chain_entry_is_named(store: Path, records: list[Record]) -> None:
    """Nothing else moves: only the missing chain entry gives it away (a LEFT JOIN, not a JOIN)."""
    last = records[-1]
    with db(store) as conn:
        conn.execute("INSERT INTO stored_events (originator_id, originator_version, topic, state) "
                     "VALUES (?, ?, ?, ?)", (last.originator_id, last.originator_version + 1, last.topic,
                                            last.state))
    result = check(store)
    assert (result.ok, result.first_break) == (False, last.position + 1)
    assert "no chain entry" in (result.reason or "")


def test_an_inserted_row_with_a_forged_link_breaks_the_next_one(store: Path, records: list[Record]) -> None:
    """The forger links the new row to its predecessor; the row after it no longer follows."""
    before = records[MIDDLE - 2]
    assert before.position == MIDDLE - 1 and before.chain_hash is not None
    state = b'{"x":1}'
    forged = link(before.chain_hash, "session:forged", 1, "coaching:SessionOpened@v1", state)
    with db(store) as conn:
        _shift_up(conn, "stored_events", "rowid", MIDDLE)
        _shift_up(conn, CHAIN_TABLE, "position", MIDDLE)
        conn.execute("INSERT INTO stored_events (rowid, originator_id, originator_version, topic, state) "
                     "VALUES (?, 'session:forged', 1, 'coaching:SessionOpened@v1', ?)", (MIDDLE, state))
        conn.execute(f"INSERT INTO {CHAIN_TABLE} VALUES (?, ?)", (MIDDLE, forged))
    result = check(store)
    assert (result.ok, result.first_break) == (False, MIDDLE + 1)


@pytest.mark.parametrize("with_chain", [False, True], ids=["events-only", "events-and-chain"])
def test_two_swapped_rows_are_named(store: Path, with_chain: bool) -> None:
    a, b = MIDDLE, MIDDLE + 7
    with db(store) as conn:
        conn.execute("UPDATE stored_events SET rowid = -1 WHERE rowid = ?", (a,))
        conn.execute("UPDATE stored_events SET rowid = ? WHERE rowid = ?", (a, b))
        conn.execute("UPDATE stored_events SET rowid = ? WHERE rowid = -1", (b,))
        if with_chain:
            conn.execute(f"UPDATE {CHAIN_TABLE} SET position = -1 WHERE position = ?", (a,))
            conn.execute(f"UPDATE {CHAIN_TABLE} SET position = ? WHERE position = ?", (a, b))
            conn.execute(f"UPDATE {CHAIN_TABLE} SET position = ? WHERE position = -1", (b,))
    result = check(store)
    assert (result.ok, result.first_break) == (False, a)


def test_expected_head_anchors_a_prefix_and_catches_a_cut_tail(store: Path, records: list[Record]) -> None:
    anchored = records[-10]
    intact = check(store, expected_head=anchored.chain_hash)
    assert intact.ok and intact.anchor_position == anchored.position
    with db(store) as conn:  # cut the last 10 events from both tables: undetectable without an anchor
        conn.execute("DELETE FROM stored_events WHERE rowid >= ?", (anchored.position,))
        conn.execute(f"DELETE FROM {CHAIN_TABLE} WHERE position >= ?", (anchored.position,))
    assert check(store).ok
    cut = check(store, expected_head=anchored.chain_hash)
    assert not cut.ok
    assert cut.first_break == anchored.position
    assert "expected head" in (cut.reason or "")


# --- properties ---------------------------------------------------------------------------------------


def _verify(records: list[Record]) -> ChainResult:
    verifier = ChainVerifier()
    for record in records:
        verifier.feed(record)
    return verifier.finish()


def _flip(data: bytes, index: int, mask: int) -> bytes:
    edited = bytearray(data)
    edited[index % len(edited)] ^= mask
    return bytes(edited)


@st.composite
def mutations(draw: st.DrawFn, records: list[Record]) -> tuple[int, Record]:
    """One record, changed in one of its hashed columns, byte by byte."""
    index = draw(st.integers(0, len(records) - 1))
    record = records[index]
    field = draw(st.sampled_from(["state", "topic", "originator_id", "originator_version",
                                  "delete", "insert"]))
    mask = draw(st.integers(1, 255))
    at = draw(st.integers(0, 10_000))
    if field == "state":
        changed = replace(record, state=_flip(record.state, at, mask))
    elif field in ("topic", "originator_id"):
        raw = getattr(record, field).encode()
        changed = replace(record, **{field: _flip(raw, at, mask).decode("utf-8", "surrogateescape")})
    elif field == "originator_version":
        changed = replace(record, originator_version=record.originator_version + draw(
            st.integers(-5, 5).filter(lambda d: d != 0)))
    elif field == "delete":  # a byte removed from the stored state
        cut = at % len(record.state)
        changed = replace(record, state=record.state[:cut] + record.state[cut + 1:])
    else:  # a byte added to the stored state
        cut = at % (len(record.state) + 1)
        changed = replace(record, state=record.state[:cut] + bytes([mask]) + record.state[cut:])
    return index, changed


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_single_mutation_of_a_stored_record_is_caught_at_its_position(
        records: list[Record], data: st.DataObject) -> None:
    index, changed = data.draw(mutations(records))
    tampered = [*records[:index], changed, *records[index + 1:]]
    result = _verify(tampered)
    assert not result.ok
    assert result.first_break == changed.position


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_reordering_removal_or_duplication_is_caught(records: list[Record],
                                                           data: st.DataObject) -> None:
    """Rows keep their stored hashes, moved with them; positions are renumbered as SQLite would."""
    i = data.draw(st.integers(0, len(records) - 2))
    kind = data.draw(st.sampled_from(["swap", "remove", "duplicate"]))
    rows = list(records)
    if kind == "swap":
        j = data.draw(st.integers(i + 1, len(records) - 1))
        rows[i], rows[j] = rows[j], rows[i]
    elif kind == "remove":
        del rows[i]
    else:
        k = data.draw(st.integers(0, len(records) - 1))
        rows.insert(i, rows[k])
        if k == i:  # r_i, r_i: the first copy is where it belongs, the second one breaks
            i += 1
    renumbered = [replace(r, position=n) for n, r in enumerate(rows, start=1)]
    result = _verify(renumbered)
    assert not result.ok
    assert result.first_break == i + 1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(1, 400), column=st.sampled_from(["state", "topic", "originator_id"]),
       at=st.integers(0, 1000), mask=st.integers(1, 127))
def test_a_byte_changed_in_the_store_file_is_caught(pristine: Path, tmp_path_factory: pytest.TempPathFactory,
                                                   row: int, column: str, at: int, mask: int) -> None:
    path = tmp_path_factory.mktemp("mutated") / "store.sqlite"
    shutil.copy(pristine, path)
    with db(path) as conn:
        (value,) = conn.execute(f"SELECT {column} FROM stored_events WHERE rowid = ?", (row,)).fetchone()
        raw = value if isinstance(value, bytes) else value.encode()
        edited = _flip(raw, at, mask)
        try:
            conn.execute(f"UPDATE stored_events SET {column} = ? WHERE rowid = ?",
                         (edited if isinstance(value, bytes) else edited.decode(), row))
        except sqlite3.IntegrityError:  # the edit names another stream's existing version
            assume(False)
    result = check(path)
    assert (result.ok, result.first_break) == (False, row)


def test_records_iterate_in_order_with_their_hashes(records: list[Record]) -> None:
    positions = [r.position for r in records]
    assert positions == sorted(positions) == list(range(1, len(records) + 1))
    previous = GENESIS
    for r in records:
        previous = link(previous, r.originator_id, r.originator_version, r.topic, r.state)
        assert r.chain_hash == previous
