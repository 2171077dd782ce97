"""Given / When / Then scenarios, run alike on the pure core and on the event-sourced application.

A scenario is a specification a reader can check against the GWS rules::

    from coaching.testing import event, given, make_runner

    scenario = (
        given(RegisterAgent(actor="admin", agent_id="a1", username="alice"),
              RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam",
                                 features=frozenset({"api-multimedia"}), agents=frozenset({"a1"})))
        .when(Coach(actor="s1", agent_id="a1"))
        .then(event(SupervisionStarted, "agent:a1", 2, actor="s1", agent_id="a1",
                    supervisor_id="s1", mode="Coach", monitoring_mode="AllChats", nickname="sam"))
    )
    with make_runner("pure", tmp_dir) as runner:
        runner.run(scenario)

- **Given** is a list of commands (decided and recorded in order) or of events (recorded as facts),
  or a mix of both.
- **When** is one command; or plain data (a dict or JSON, read by
  :func:`~coaching.domain.commands.parse_command`); or a function that builds the command, so a
  malformed value that the command's constructor refuses is a refusal of the scenario too.
- **Then** is the exact list of events the command causes. Events are compared on their type,
  ``originator_id``, ``originator_version``, ``actor`` and every domain field; the timestamp is
  ignored. The events must also be exactly what was appended to the log.
- **Then-raises** is a :class:`~coaching.domain.errors.CoachingError` class and its GWS status
  code; the runner also checks that nothing at all was written.

The same scenario runs on three backends (:data:`RUNNER_KINDS`): ``pure`` folds events with the
aggregates' ``evolve`` into an in-memory ``Given`` and calls :func:`~coaching.domain.decide.decide`
directly; ``memory`` and ``sqlite`` go through :class:`~coaching.application.Coaching` (in memory,
and on an SQLite file). Every backend uses the fixed clock :data:`AT`, so runs are deterministic.
A runner is a context manager: leaving it closes the applications it made.
"""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Final, TypeVar

from coaching.application import Clock, Coaching
from coaching.domain.agent import Agent
from coaching.domain.commands import Command, parse_command
from coaching.domain.decide import decide
from coaching.domain.errors import CoachingError, NotFound
from coaching.domain.events import DomainEvent
from coaching.domain.session import SmsSession
from coaching.domain.stream import agent_key, session_key, supervisor_key
from coaching.domain.supervisor import Supervisor
from coaching.domain.transcript import TranscriptEntry, transcript
from coaching.replay import States

__all__ = [
    "AT",
    "RUNNER_KINDS",
    "AppWorld",
    "PureWorld",
    "Runner",
    "Scenario",
    "ScenarioFailed",
    "ScenarioSetupError",
    "World",
    "assert_same_events",
    "event",
    "fixed_clock",
    "given",
    "make_runner",
    "run_everywhere",
]

#: The one instant every scenario runs at: the clock never moves, so runs are repeatable.
AT: Final = datetime(2025, 4, 12, 9, 0, tzinfo=UTC)

#: The backends a scenario runs on.
RUNNER_KINDS: Final = ("pure", "memory", "sqlite")

E = TypeVar("E", bound=DomainEvent)

GivenItem = Command | DomainEvent
"""One step of a Given: a command to decide and record, or an event to record as a fact."""

WhenItem = Command | Mapping[str, Any] | str | bytes | Callable[[], Command]
"""The When: a command, its plain data or JSON, or a function that builds it."""


class ScenarioFailed(AssertionError):
    """The system did not do what the scenario's Then says."""


class ScenarioSetupError(Exception):
    """The scenario's Given could not be played: a mistake in the scenario, not in the system."""


def fixed_clock(at: datetime = AT) -> Clock:
    """A clock that always says ``at``."""
    return lambda: at


def event(cls: type[E], originator_id: str, originator_version: int, *, actor: str,
          timestamp: datetime = AT, **fields: Any) -> E:
    """An expected (or given) event; ``timestamp`` defaults to :data:`AT`."""
    return cls(originator_id=originator_id, originator_version=originator_version,
               timestamp=timestamp, actor=actor, **fields)


# --- the scenario, as data --------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    """Given / When / Then (``then``) or Then-raises (``raises`` with ``status_code``)."""

    given: tuple[GivenItem, ...]
    when: WhenItem
    then: tuple[DomainEvent, ...] | None = None
    raises: type[CoachingError] | None = None
    status_code: int | None = None

    def __post_init__(self) -> None:
        if (self.then is None) == (self.raises is None):
            raise ValueError("a scenario has either Then events or Then-raises, not both or neither")
        if self.raises is not None and self.status_code is None:
            raise ValueError("Then-raises needs the GWS status_code the caller would receive")


@dataclass(frozen=True)
class GivenStep:
    """The Given of a scenario under construction; :meth:`when` goes on."""

    items: tuple[GivenItem, ...]

    def when(self, command: WhenItem) -> WhenStep:
        """The command under test."""
        return WhenStep(self.items, command)


@dataclass(frozen=True)
class WhenStep:
    """Given and When of a scenario under construction; :meth:`then` or :meth:`then_raises` ends it."""

    items: tuple[GivenItem, ...]
    command: WhenItem

    def then(self, *events: DomainEvent) -> Scenario:
        """The command causes exactly these events, in this order."""
        return Scenario(self.items, self.command, then=tuple(events))

    def then_raises(self, error: type[CoachingError], status_code: int) -> Scenario:
        """The command is refused with this error and GWS status code, and nothing is written."""
        return Scenario(self.items, self.command, raises=error, status_code=status_code)


def given(*items: GivenItem | Iterable[GivenItem]) -> GivenStep:
    """Start a scenario. Items are commands or events; iterables of them are flattened."""
    flat: list[GivenItem] = []
    for item in items:
        if isinstance(item, (Command, DomainEvent)):
            flat.append(item)
        else:
            flat.extend(item)
    return GivenStep(tuple(flat))


# --- comparing events -------------------------------------------------------------------------


def _key(e: DomainEvent) -> tuple[str, dict[str, Any]]:
    """What two events are compared on: the type (by its stable topic) and every field but time."""
    return e.TOPIC.removeprefix("coaching:"), e.model_dump(mode="json", exclude={"timestamp"})


def _line(e: DomainEvent) -> str:
    name, fields = _key(e)
    head = f"{name} {fields.pop('originator_id')} v{fields.pop('originator_version')}"
    return f"{head} {fields}"


def _difference(expected: Sequence[DomainEvent], actual: Sequence[DomainEvent]) -> str | None:
    exp, act = [_key(e) for e in expected], [_key(e) for e in actual]
    if exp == act:
        return None
    lines = ["expected:"] + ([f"  {_line(e)}" for e in expected] or ["  (nothing)"])
    lines += ["actual:"] + ([f"  {_line(e)}" for e in actual] or ["  (nothing)"])
    for i, (x, y) in enumerate(zip(exp, act, strict=False)):
        if x != y:
            if x[0] != y[0]:
                lines.append(f"first difference at #{i}: {x[0]} expected, {y[0]} found")
            else:
                fields = sorted(k for k in x[1].keys() | y[1].keys() if x[1].get(k) != y[1].get(k))
                detail = ", ".join(f"{k}: {x[1].get(k)!r} != {y[1].get(k)!r}" for k in fields)
                lines.append(f"first difference at #{i} ({x[0]}): {detail}")
            break
    else:
        lines.append(f"{len(expected)} events expected, {len(actual)} found")
    return "\n".join(lines)


def assert_same_events(expected: Sequence[DomainEvent], actual: Sequence[DomainEvent],
                       what: str = "events") -> None:
    """Fail unless both lists hold the same events (type, ids, version, fields; not timestamp)."""
    difference = _difference(expected, actual)
    if difference is not None:
        raise ScenarioFailed(f"{what} differ\n{difference}")


# --- worlds: one backend's state, built by a Given ----------------------------------------------


class World(ABC):
    """One backend's state of the domain, which a scenario's Given builds and its When changes."""

    kind: str

    @abstractmethod
    def handle(self, command: Command) -> list[DomainEvent]:
        """Decide the command and record its events; raise ``CoachingError`` if refused."""

    @abstractmethod
    def record(self, events: Sequence[DomainEvent]) -> None:
        """Record events as facts, without deciding anything."""

    @abstractmethod
    def log(self) -> list[DomainEvent]:
        """Every event recorded so far, in order."""

    @abstractmethod
    def fingerprint(self) -> object:
        """Everything written so far, as a value: equal before and after means nothing was written."""

    @abstractmethod
    def agent(self, agent_id: str) -> Agent | None:
        """The agent's current state."""

    @abstractmethod
    def supervisor(self, supervisor_id: str) -> Supervisor | None:
        """The supervisor's current state."""

    @abstractmethod
    def session(self, session_id: str) -> SmsSession | None:
        """The session's current state."""

    @abstractmethod
    def transcript(self, session_id: str, viewer_id: str) -> list[TranscriptEntry]:
        """What the viewer was shown of the session."""

    @abstractmethod
    def close(self) -> None:
        """Release what the world holds."""

    def play(self, items: Iterable[GivenItem]) -> None:
        """Play a Given: decide and record each command, record each event."""
        for number, item in enumerate(items, start=1):
            if isinstance(item, DomainEvent):
                self.record([item])
                continue
            try:
                self.handle(item)
            except CoachingError as error:
                raise ScenarioSetupError(
                    f"Given step {number} ({type(item).__name__}) was refused on {self.kind}: {error}"
                ) from error


class PureWorld(World):
    """The pure core: states folded with each aggregate's ``evolve``, commands given to ``decide``.

    It is also the ``Given`` that :func:`~coaching.domain.decide.decide` reads.
    """

    kind = "pure"

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or fixed_clock()
        self._log: list[DomainEvent] = []
        self._states = States()  # the same fold a replay uses

    def handle(self, command: Command) -> list[DomainEvent]:
        events = decide(command, self, self.clock())
        self.record(events)
        return events

    def record(self, events: Sequence[DomainEvent]) -> None:
        for e in events:
            self._states.apply(e)
            self._log.append(e)

    def log(self) -> list[DomainEvent]:
        return list(self._log)

    def fingerprint(self) -> object:
        # A deep copy: a decision that mutated a state in place would show as a difference.
        states = self._states
        return copy.deepcopy((len(self._log), states.agents, states.supervisors, states.sessions))

    def agent(self, agent_id: str) -> Agent | None:
        return self._states.agents.get(agent_key(agent_id))

    def supervisor(self, supervisor_id: str) -> Supervisor | None:
        return self._states.supervisors.get(supervisor_key(supervisor_id))

    def session(self, session_id: str) -> SmsSession | None:
        return self._states.sessions.get(session_key(session_id))

    def transcript(self, session_id: str, viewer_id: str) -> list[TranscriptEntry]:
        key = session_key(session_id)
        return transcript((e for e in self._log if e.originator_id == key), viewer_id)

    def close(self) -> None:
        """Nothing to release: the world is plain objects."""


class AppWorld(World):
    """The application: :class:`~coaching.application.Coaching` over its event store."""

    def __init__(self, app: Coaching, kind: str) -> None:
        self.app = app
        self.kind = kind

    def handle(self, command: Command) -> list[DomainEvent]:
        return list(self.app.handle(command).events)

    def record(self, events: Sequence[DomainEvent]) -> None:
        self.app.save(*events)

    def log(self) -> list[DomainEvent]:
        return [e for _, e in self.app.all_events()]

    def fingerprint(self) -> object:
        return self.app.recorder.max_notification_id(), [_key(e) for e in self.log()]

    def agent(self, agent_id: str) -> Agent | None:
        try:
            return self.app.get_agent(agent_id)
        except NotFound:
            return None

    def supervisor(self, supervisor_id: str) -> Supervisor | None:
        try:
            return self.app.get_supervisor(supervisor_id)
        except NotFound:
            return None

    def session(self, session_id: str) -> SmsSession | None:
        try:
            return self.app.get_session(session_id)
        except NotFound:
            return None

    def transcript(self, session_id: str, viewer_id: str) -> list[TranscriptEntry]:
        return self.app.transcript(session_id, viewer_id)

    def close(self) -> None:
        self.app.close()


# --- runners ----------------------------------------------------------------------------------


def _command(when: WhenItem) -> Command:
    if isinstance(when, Command):
        return when
    if isinstance(when, (str, bytes)):
        return parse_command(when)
    if isinstance(when, Mapping):
        return parse_command(dict(when))
    return when()


class Runner:
    """Runs scenarios on one backend; each :meth:`run` starts from a new, empty world."""

    def __init__(self, kind: str, make_world: Callable[[], World]) -> None:
        self.kind = kind
        self._make_world = make_world
        self._worlds: list[World] = []

    def __repr__(self) -> str:
        return f"Runner({self.kind!r})"

    def world(self, *items: GivenItem | Iterable[GivenItem]) -> World:
        """A new world with the Given played: for questions a Then cannot ask (transcripts …)."""
        world = self._make_world()
        self._worlds.append(world)
        world.play(given(*items).items)
        return world

    def run(self, scenario: Scenario) -> World:
        """Play the Given, handle the When, check the Then; return the world for further checks."""
        world = self.world(*scenario.given)
        before = world.fingerprint()
        logged = len(world.log())
        try:
            decided = world.handle(_command(scenario.when))
        except CoachingError as error:
            if scenario.raises is None:
                raise ScenarioFailed(f"refused on {self.kind}, events were expected: {error}") from error
            if not isinstance(error, scenario.raises) or error.status_code != scenario.status_code:
                raise ScenarioFailed(
                    f"on {self.kind}: expected {scenario.raises.__name__} (statusCode "
                    f"{scenario.status_code}), got {type(error).__name__} (statusCode "
                    f"{error.status_code}): {error}"
                ) from error
            if world.fingerprint() != before:
                raise ScenarioFailed(
                    f"on {self.kind}: the command was refused ({error}) but wrote something"
                ) from error
            return world
        if scenario.raises is not None:
            raise ScenarioFailed(
                f"on {self.kind}: expected {scenario.raises.__name__} (statusCode "
                f"{scenario.status_code}), but the command was accepted:\n"
                + "\n".join(f"  {_line(e)}" for e in decided)
            )
        assert scenario.then is not None  # one of the two, checked by Scenario
        assert_same_events(scenario.then, decided, f"on {self.kind}: Then events")
        assert_same_events(decided, world.log()[logged:], f"on {self.kind}: decided and recorded events")
        return world

    def close(self) -> None:
        """Close every world this runner made."""
        while self._worlds:
            self._worlds.pop().close()

    def __enter__(self) -> Runner:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def make_runner(kind: str, directory: Path | str | None = None, clock: Clock | None = None) -> Runner:
    """A runner of ``kind`` (see :data:`RUNNER_KINDS`); ``sqlite`` makes its files in ``directory``.

    Every world it makes reads ``clock``, by default the fixed clock at :data:`AT`.
    """
    clock = clock or fixed_clock()
    if kind == "pure":
        return Runner(kind, lambda: PureWorld(clock))
    if kind == "memory":
        return Runner(kind, lambda: AppWorld(Coaching.in_memory(clock=clock), kind))
    if kind == "sqlite":
        if directory is None:
            raise ValueError("the sqlite runner needs a directory for its database files")
        folder = Path(directory)
        counter = iter(range(1, 1_000_000))

        def sqlite_world() -> World:
            path = folder / f"scenario-{next(counter)}.sqlite"
            return AppWorld(Coaching.sqlite(str(path), clock=clock), kind)

        return Runner(kind, sqlite_world)
    raise ValueError(f"unknown runner kind {kind!r}; choose one of {RUNNER_KINDS}")


def run_everywhere(scenario: Scenario, directory: Path | str) -> None:
    """Run the scenario on every backend in :data:`RUNNER_KINDS`; raise the first failure."""
    for kind in RUNNER_KINDS:
        with make_runner(kind, directory) as runner:
            runner.run(scenario)
