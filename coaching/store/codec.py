"""Adapter between domain events and eventsourcing's stored events: topics, JSON, upcasters.

- Topics are the events' explicit ``TOPIC`` strings (``coaching:Revoked@v1``), never derived
  from Python module paths, so code can move without orphaning a year of logs.
- The stored state is the event's JSON (pydantic's serialiser) without ``originator_id`` and
  ``originator_version``, which the record already holds in its own columns. Decoding splices
  them back in front of the bytes and validates in one call to pydantic's JSON parser.
- An old topic is brought up to date by a chain of upcasters (``coaching:X@v1`` → ``@v2`` …),
  registered with :meth:`EventCodec.upcaster`; a record is never rewritten in place.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

import orjson
from eventsourcing.domain import DomainEventProtocol
from eventsourcing.persistence import (
    Cipher,
    Compressor,
    JSONTranscoder,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
)

from coaching.domain.events import ALL_EVENTS, DomainEvent

Upcast = Callable[[dict[str, Any]], dict[str, Any]]

_ORIGINATOR_FIELDS = {"originator_id", "originator_version"}

_dumps = orjson.dumps


class UnknownTopicError(MapperDeserialisationError):
    """A stored record names a topic that no event class and no upcaster knows."""


class EventCodec:
    """Knows every topic: current ones map to classes, old ones to an upcaster chain."""

    def __init__(self, classes: Iterable[type[DomainEvent]] = ALL_EVENTS) -> None:
        self.classes: dict[str, type[DomainEvent]] = {}
        self.upcasters: dict[str, tuple[str, Upcast]] = {}
        for cls in classes:
            self.add(cls)

    def add(self, cls: type[DomainEvent]) -> None:
        """Map an event class's topic to it; a topic may name one class only."""
        existing = self.classes.setdefault(cls.TOPIC, cls)
        if existing is not cls:
            raise ValueError(f"topic {cls.TOPIC!r} already names {existing.__qualname__}")

    def upcaster(self, from_topic: str, to_topic: str) -> Callable[[Upcast], Upcast]:
        """Register ``fn(state) -> state`` turning a stored ``from_topic`` state into ``to_topic``'s."""

        def register(fn: Upcast) -> Upcast:
            if from_topic in self.classes:
                raise ValueError(f"{from_topic!r} is a current topic; retire its class first")
            self.upcasters[from_topic] = (to_topic, fn)
            return fn

        return register

    def encode(self, event: DomainEvent) -> tuple[str, bytes]:
        """Topic and JSON state of an event (without the originator fields)."""
        return event.TOPIC, event.model_dump_json(exclude=_ORIGINATOR_FIELDS).encode()

    def decode(self, topic: str, originator_id: str, originator_version: int,
               state: bytes) -> DomainEvent:
        """Rebuild an event from a stored record, upcasting an old topic first."""
        cls = self.classes.get(topic)
        if cls is not None:  # the fast path: one JSON parse + validation, in pydantic-core
            # What ``cls.model_validate_json`` does with its default arguments, minus a layer of
            # Python (this runs once per event of every replay); the head is spliced in front of
            # the state's bytes after its opening brace, copied once.
            validated: DomainEvent = cls.__pydantic_validator__.validate_json(
                b'{"originator_id":%b,"originator_version":%d,' % (
                    _dumps(originator_id), originator_version) + memoryview(state)[1:])
            return validated
        data: dict[str, Any] = orjson.loads(state)
        seen = [topic]
        while topic not in self.classes:
            try:
                topic, upcast = self.upcasters[topic]
            except KeyError:
                raise UnknownTopicError(
                    f"no event class or upcaster for topic {topic!r} (reached from {seen[0]!r}) "
                    f"at {originator_id!r} version {originator_version}"
                ) from None
            data = upcast(data)
            seen.append(topic)
        data["originator_id"] = originator_id
        data["originator_version"] = originator_version
        return self.classes[topic].model_validate(data)

    def schemas(self) -> dict[str, dict[str, Any]]:
        """The JSON schema of every current event, keyed by topic (the public contract)."""
        result: dict[str, dict[str, Any]] = {}
        for topic, cls in sorted(self.classes.items()):
            schema = cls.model_json_schema()
            schema["$id"] = topic
            schema["description"] = (cls.__doc__ or cls.__name__).strip()
            result[topic] = schema
        return result


#: The codec every application uses unless given another.
CODEC = EventCodec()


class PydanticMapper(Mapper[str]):
    """eventsourcing's Mapper for pydantic events; honours the configured compressor and cipher."""

    def __init__(self, codec: EventCodec = CODEC, compressor: Compressor | None = None,
                 cipher: Cipher | None = None) -> None:
        super().__init__(transcoder=JSONTranscoder(), compressor=compressor, cipher=cipher)
        self.codec = codec

    def to_stored_event(self, domain_event: DomainEventProtocol[str]) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        topic, state = self.codec.encode(event)
        if self.compressor:
            state = self.compressor.compress(state)
        if self.cipher:
            state = self.cipher.encrypt(state)
        return StoredEvent(originator_id=event.originator_id,
                           originator_version=event.originator_version, topic=topic, state=state)

    def to_domain_event(self, stored_event: StoredEvent) -> DomainEventProtocol[str]:
        state = stored_event.state
        if self.cipher:
            state = self.cipher.decrypt(state)
        if self.compressor:
            state = self.compressor.decompress(state)
        return self.codec.decode(stored_event.topic, str(stored_event.originator_id),
                                 stored_event.originator_version, state)
