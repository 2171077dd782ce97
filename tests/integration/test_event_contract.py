"""The event contract: committed schemas, topic names, upcasting of old logs, and round trips.

Stored events outlive the code that wrote them. These tests make a change of an event's shape
fail CI unless it comes with a new topic version and an upcaster, prove that an old log written
under retired topics still reads (through the upcaster chain, without rewriting a record), and
that every event of a realistic shift survives encode → decode unchanged and matches its schema.
"""

from __future__ import annotations

import re
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
import pytest
from eventsourcing.persistence import Mapper, MapperDeserialisationError

from coaching.application import Coaching
from coaching.cli import schema_file_name
from coaching.domain import events as events_module
from coaching.domain.events import ALL_EVENTS, DomainEvent, SessionEvent
from coaching.simulation import Shift, ShiftPlan
from coaching.store.codec import CODEC, EventCodec, PydanticMapper, UnknownTopicError

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"
TOPIC = re.compile(r"^coaching:(?P<name>[A-Z][A-Za-z0-9]*)@v(?P<version>[1-9][0-9]*)$")
WHAT_TO_DO = """\
The JSON schema of {topic} no longer matches {path}.
Stored events are a contract kept for years: if the event's SHAPE changed (a field added,
removed, renamed or retyped), do not edit the class in place. Instead:
  1. keep the old shape's topic retired: give the class a new TOPIC (coaching:<Name>@v<N+1>);
  2. register an upcaster from the old topic with EventCodec.upcaster("...@v<N>", "...@v<N+1>")
     in coaching/store/codec.py, and a test that an old record decodes through it;
  3. regenerate the contract: `coaching schema --out docs/events`, and commit the new file
     (keep the old one: it documents what old logs hold).
If only a description/docstring changed, regenerating the files (step 3) is all that is needed."""


# --- (a) the committed schema of every current topic equals the generated one --------------------


@pytest.mark.parametrize("topic", sorted(CODEC.schemas()))
def test_committed_schema_matches_the_code(topic: str) -> None:
    path = DOCS / schema_file_name(topic)
    assert path.exists(), (f"{path} is missing: a new event needs its committed schema; run "
                           "`coaching schema --out docs/events` and commit it")
    committed = orjson.loads(path.read_bytes())
    generated = CODEC.schemas()[topic]
    assert committed == generated, WHAT_TO_DO.format(topic=topic, path=path)


def test_every_committed_schema_is_a_current_topic_or_an_upcast_one() -> None:
    """A file for a topic nothing can read any more would document a log nobody can replay."""
    files = sorted(DOCS.glob("*.schema.json"))
    assert len(files) >= len(ALL_EVENTS)
    for path in files:
        topic = orjson.loads(path.read_bytes())["$id"]
        assert schema_file_name(topic) == path.name
        assert topic in CODEC.classes or topic in CODEC.upcasters, (
            f"{path.name} describes {topic}, which has neither a class nor an upcaster")


# --- (b) topics are unique and well formed ----------------------------------------------------


def test_topics_are_unique_and_follow_the_naming_rule() -> None:
    topics = [cls.TOPIC for cls in ALL_EVENTS]
    assert len(topics) == len(set(topics)), "two event classes share a topic"
    for cls in ALL_EVENTS:
        match = TOPIC.match(cls.TOPIC)
        assert match, f"{cls.__name__}.TOPIC = {cls.TOPIC!r} does not follow coaching:<Name>@v<N>"
        assert match["name"] == cls.__name__, f"{cls.TOPIC!r} names another class than {cls.__name__}"
    assert set(CODEC.classes) == set(topics)


def test_every_concrete_event_class_is_known_to_the_codec() -> None:
    defined = {obj for obj in vars(events_module).values()
               if isinstance(obj, type) and issubclass(obj, DomainEvent) and "TOPIC" in vars(obj)}
    assert defined == set(ALL_EVENTS), "an event class is missing from ALL_EVENTS (it could not be read back)"


def test_every_upcaster_chain_ends_at_a_current_topic() -> None:
    for start in CODEC.upcasters:
        topic, seen = start, {start}
        while topic not in CODEC.classes:
            topic = CODEC.upcasters[topic][0]
            assert topic not in seen, f"upcaster cycle from {start}"
            seen.add(topic)


# --- (c) an old log, written by hand, replays through the upcaster chain ------------------------


class Note(SessionEvent):
    """A test-only event, current shape v3: v2 renamed ``text`` to ``body``, v3 added ``pinned``."""

    TOPIC: ClassVar[str] = "coaching:TestNote@v3"
    body: str
    pinned: bool


# Raw stored rows as an old release would have written them: JSONL, one record a line, by hand.
OLD_LOG_JSONL = """\
{"originator_id": "session:s1", "originator_version": 1, "topic": "coaching:TestNote@v1", \
"state": {"timestamp": "2024-03-01T09:00:00Z", "actor": "a1", "session_id": "s1", "text": "call back at 5"}}
{"originator_id": "session:s1", "originator_version": 2, "topic": "coaching:TestNote@v2", \
"state": {"timestamp": "2024-09-01T09:00:00Z", "actor": "a1", "session_id": "s1", "body": "refund sent"}}
{"originator_id": "session:s1", "originator_version": 3, "topic": "coaching:TestNote@v3", \
"state": {"timestamp": "2025-04-01T09:00:00Z", "actor": "a2", "session_id": "s1", "body": "done", \
"pinned": true}}
"""


def _note_codec(calls: list[str]) -> EventCodec:
    """A fresh codec that knows TestNote@v3 and upcasts v1 → v2 → v3, noting every upcast."""
    codec = EventCodec([Note])

    @codec.upcaster("coaching:TestNote@v1", "coaching:TestNote@v2")
    def _rename_text(state: dict[str, Any]) -> dict[str, Any]:
        calls.append("v1->v2")
        state["body"] = state.pop("text")
        return state

    @codec.upcaster("coaching:TestNote@v2", "coaching:TestNote@v3")
    def _add_pinned(state: dict[str, Any]) -> dict[str, Any]:
        calls.append("v2->v3")
        return {**state, "pinned": False}

    return codec


def _write_old_sqlite_log(path: Path, jsonl: str) -> None:
    """An SQLite file in eventsourcing's table layout, filled row by row without any coaching code."""
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE stored_events (originator_id TEXT, originator_version INTEGER, "
                   "topic TEXT, state BLOB, PRIMARY KEY (originator_id, originator_version))")
        for line in jsonl.splitlines():
            row = orjson.loads(line)
            db.execute("INSERT INTO stored_events VALUES (?, ?, ?, ?)",
                       (row["originator_id"], row["originator_version"], row["topic"],
                        orjson.dumps(row["state"])))


def _notes_app(codec: EventCodec, path: Path) -> Coaching:
    class NotesApp(Coaching):
        def construct_mapper(self) -> Mapper[str]:
            return PydanticMapper(codec)

    return NotesApp.sqlite(str(path))


def test_an_old_log_replays_through_the_upcaster_chain(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    _write_old_sqlite_log(path, OLD_LOG_JSONL)
    calls: list[str] = []
    app = _notes_app(_note_codec(calls), path)
    try:
        replayed = [event for _, event in app.all_events()]
    finally:
        app.close()

    assert all(type(e) is Note for e in replayed)
    notes: list[Note] = [e for e in replayed if isinstance(e, Note)]
    assert [(n.originator_version, n.body, n.pinned, n.actor) for n in notes] == [
        (1, "call back at 5", False, "a1"), (2, "refund sent", False, "a1"), (3, "done", True, "a2")]
    assert notes[0].timestamp == datetime.fromisoformat("2024-03-01T09:00:00+00:00")
    # v1 went through both upcasters, v2 through one, the current v3 record through none
    assert calls == ["v1->v2", "v2->v3", "v2->v3"]
    # upcasting reads; it never rewrites a stored record
    with sqlite3.connect(path) as db:
        topics = [t for (t,) in db.execute("SELECT topic FROM stored_events ORDER BY rowid")]
    assert topics == ["coaching:TestNote@v1", "coaching:TestNote@v2", "coaching:TestNote@v3"]


def test_upcast_events_are_written_back_under_the_current_topic_only(tmp_path: Path) -> None:
    calls: list[str] = []
    codec = _note_codec(calls)
    old = orjson.loads(OLD_LOG_JSONL.splitlines()[0])
    event = codec.decode(old["topic"], old["originator_id"], old["originator_version"],
                         orjson.dumps(old["state"]))
    topic, state = codec.encode(event)
    assert topic == "coaching:TestNote@v3"
    assert orjson.loads(state) == {"timestamp": "2024-03-01T09:00:00Z", "actor": "a1", "session_id": "s1",
                                   "body": "call back at 5", "pinned": False}


def test_an_unknown_topic_is_refused_with_a_clear_message() -> None:
    with pytest.raises(UnknownTopicError) as raised:
        CODEC.decode("coaching:Nope@v1", "session:s9", 4, b'{"timestamp":"2025-01-01T00:00:00Z"}')
    message = str(raised.value)
    assert "'coaching:Nope@v1'" in message and "'session:s9'" in message and "version 4" in message
    assert isinstance(raised.value, MapperDeserialisationError), "eventsourcing's own error type"


def test_an_upcaster_chain_to_nowhere_names_where_it_started() -> None:
    codec = EventCodec([Note])
    codec.upcaster("coaching:TestNote@v0", "coaching:TestNote@v1")(lambda state: state)
    expected = r"'coaching:TestNote@v1' \(reached from 'coaching:TestNote@v0'\)"
    with pytest.raises(UnknownTopicError, match=expected):
        codec.decode("coaching:TestNote@v0", "session:s1", 1, b"{}")


def test_an_unknown_topic_in_a_stored_log_stops_the_replay(tmp_path: Path) -> None:
    path = tmp_path / "unknown.sqlite"
    _write_old_sqlite_log(path, OLD_LOG_JSONL.replace("coaching:TestNote@v2", "coaching:Gone@v7"))
    app = _notes_app(_note_codec([]), path)
    try:
        with pytest.raises(UnknownTopicError, match="Gone@v7"):
            list(app.all_events())
    finally:
        app.close()


def test_a_current_topic_cannot_get_an_upcaster() -> None:
    with pytest.raises(ValueError, match="current topic"):
        EventCodec([Note]).upcaster("coaching:TestNote@v3", "coaching:TestNote@v4")(lambda state: state)


# --- (d) a whole shift round-trips, and every stored state matches its committed schema ---------


class _Schema:
    """The subset of JSON Schema that pydantic emits for our events, checked by hand.

    ``jsonschema`` is not a dependency of this project; this covers what the committed files use:
    type, enum, const, anyOf, $ref into $defs, properties/required/additionalProperties, items,
    and format date-time. Any keyword it does not know fails loudly rather than passing silently.
    """

    KNOWN: ClassVar[set[str]] = {"type", "enum", "const", "anyOf", "$ref", "properties", "required",
                                 "additionalProperties", "items", "format", "title", "description",
                                 "default", "$defs", "$id"}
    TYPES: ClassVar[dict[str, tuple[type, ...]]] = {
        "string": (str,), "integer": (int,), "boolean": (bool,), "array": (list,),
        "object": (dict,), "null": (type(None),)}

    def __init__(self, root: dict[str, Any]) -> None:
        self.root = root

    def errors(self, value: Any, schema: dict[str, Any] | None = None, at: str = "$") -> list[str]:
        schema = self.root if schema is None else schema
        unknown = set(schema) - self.KNOWN
        if unknown:
            return [f"{at}: schema keywords not understood by this checker: {sorted(unknown)}"]
        if "$ref" in schema:
            name = schema["$ref"].removeprefix("#/$defs/")
            return self.errors(value, self.root["$defs"][name], at)
        if "anyOf" in schema:
            options = [self.errors(value, option, at) for option in schema["anyOf"]]
            return [] if any(not o for o in options) else [f"{at}: matches no anyOf option: {options}"]
        found: list[str] = []
        if "type" in schema:
            expected = self.TYPES[schema["type"]]
            wrong_bool = isinstance(value, bool) and schema["type"] == "integer"
            if not isinstance(value, expected) or wrong_bool:
                return [f"{at}: {value!r} is not of type {schema['type']}"]
        if "enum" in schema and value not in schema["enum"]:
            found.append(f"{at}: {value!r} not in {schema['enum']}")
        if "const" in schema and value != schema["const"]:
            found.append(f"{at}: {value!r} is not {schema['const']!r}")
        if schema.get("format") == "date-time":
            try:
                datetime.fromisoformat(value)
            except ValueError:
                found.append(f"{at}: {value!r} is not a date-time")
        if isinstance(value, dict):
            props = schema.get("properties", {})
            found += [f"{at}: missing required {k!r}" for k in schema.get("required", ()) if k not in value]
            if schema.get("additionalProperties") is False:
                found += [f"{at}: unexpected key {k!r}" for k in value if k not in props]
            for k, v in value.items():
                if k in props:
                    found += self.errors(v, props[k], f"{at}.{k}")
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                found += self.errors(item, schema["items"], f"{at}[{i}]")
        return found


class _RecordingCoaching(Coaching):
    """Keeps every event object exactly as the rules made it, before any encoding."""

    made: list[DomainEvent]

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self.made.extend(objs)
        return super().save(*objs, **kwargs)


@pytest.fixture(scope="module")
def shift_events() -> tuple[list[DomainEvent], list[DomainEvent]]:
    """A simulated shift: the events as made, and as read back from the store."""
    shift = Shift(ShiftPlan(seed=21, sessions=120))
    app = _RecordingCoaching({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=shift.clock)
    app.made = []
    assert shift.run(app).unexpected == []
    stored = [event for _, event in app.all_events()]
    return app.made, stored


def test_every_event_of_a_shift_round_trips(
        shift_events: tuple[list[DomainEvent], list[DomainEvent]]) -> None:
    made, stored = shift_events
    assert {type(e) for e in made} == set(ALL_EVENTS), "the shift exercises every event type"
    assert stored == made, "what the store gives back equals what the rules made, in order"
    for event in made:
        topic, state = CODEC.encode(event)
        again = CODEC.decode(topic, event.originator_id, event.originator_version, state)
        assert again == event and type(again) is type(event)
        assert again.timestamp.utcoffset() is not None, "timestamps keep their timezone"


def test_every_stored_state_matches_its_committed_schema(
        shift_events: tuple[list[DomainEvent], list[DomainEvent]]) -> None:
    made, _ = shift_events
    checkers = {topic: _Schema(orjson.loads((DOCS / schema_file_name(topic)).read_bytes()))
                for topic in CODEC.classes}
    for event in made:
        topic, state = CODEC.encode(event)
        record = {"originator_id": event.originator_id, "originator_version": event.originator_version,
                  **orjson.loads(state)}
        assert checkers[topic].errors(record) == [], (topic, record)


def test_the_schema_checker_can_fail() -> None:
    """The hand-written checker must reject what the schema forbids, or the test above proves nothing."""
    checker = _Schema(orjson.loads((DOCS / "SupervisorAdded.v1.schema.json").read_bytes()))
    good = {"originator_id": "session:s1", "originator_version": 3, "timestamp": "2025-04-14T08:00:00Z",
            "actor": "a1", "session_id": "s1", "supervisor_id": "sup", "supervised_agent_id": "a1",
            "mode": "Coach", "visibility": "Agents", "monitoring_mode": None, "nickname": "Lead",
            "via": "Intrude"}
    assert checker.errors(good) == []
    bad_cases = [
        {k: v for k, v in good.items() if k != "mode"},  # missing required
        {**good, "mode": "Whisper"},  # not in the enum
        {**good, "originator_version": "3"},  # wrong type
        {**good, "originator_version": True},  # a bool is not an integer
        {**good, "monitoring_mode": "Sometimes"},  # no anyOf option
        {**good, "timestamp": "yesterday"},  # not a date-time
        {**good, "extra": 1},  # additionalProperties false
    ]
    for bad in bad_cases:
        assert checker.errors(bad), bad
