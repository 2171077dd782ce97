"""The application service: ``Coaching``, a thin layer of get → decide → save over eventsourcing.

Every command goes through :meth:`Coaching.handle`: load the states it needs, call the pure
:func:`~coaching.domain.decide.decide`, save all resulting events (of every aggregate touched)
in ONE atomic ``save`` with optimistic concurrency, and on a conflict start over, a bounded
number of times. A refused command raises a :class:`~coaching.domain.errors.CoachingError`
before anything is saved.

Storage is chosen in eventsourcing's way, by environment: the default is an SQLite file
(``SQLITE_DBNAME``, default ``coaching.sqlite``); ``PERSISTENCE_MODULE=eventsourcing.popo`` keeps
everything in memory; ``eventsourcing.postgres`` with the ``POSTGRES_*`` settings uses PostgreSQL.
Each of the three keeps a tamper-evidence hash chain beside the events, in the same transaction
(``coaching.store.chain``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Final

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import ApplicationRecorder, Mapper, RecordConflictError
from eventsourcing.utils import EnvType

from coaching.domain import agent as agent_rules
from coaching.domain import session as session_rules
from coaching.domain import supervisor as supervisor_rules
from coaching.domain.agent import Agent, Supervision
from coaching.domain.commands import (
    Accept,
    BargeIn,
    CancelSupervisorMonitoring,
    Coach,
    Command,
    Complete,
    Intrude,
    Invite,
    Leave,
    Monitor,
    OfferSession,
    OpenSession,
    Queue,
    RegisterAgent,
    RegisterSupervisor,
    Reject,
    SendMessage,
    SwitchToBargeIn,
    SwitchToCoach,
    SwitchToMonitor,
)
from coaching.domain.decide import decide, require_agent, require_session, require_supervisor
from coaching.domain.errors import ConcurrencyConflict, NotFound
from coaching.domain.events import DomainEvent
from coaching.domain.session import SmsSession
from coaching.domain.stream import agent_key, session_key, supervisor_key
from coaching.domain.supervisor import Supervisor
from coaching.domain.transcript import TranscriptEntry, transcript
from coaching.domain.values import MonitoringMode, ParticipantType, SupervisorMode, Visibility
from coaching.store.chain import chained_recorder
from coaching.store.codec import CODEC, PydanticMapper

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command did: the events it recorded, with their positions in the log."""

    command: Command
    events: tuple[DomainEvent, ...]
    positions: tuple[int, ...]
    attempts: int


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """A participant of a session as a read model: who, what type, which mode and visibility."""

    participant_id: str
    type: ParticipantType
    nickname: str
    visibility: Visibility
    mode: SupervisorMode | None = None
    supervised_agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class SessionView:
    """A session as a read model."""

    session_id: str
    status: str
    queue_name: str | None
    participants: tuple[ParticipantView, ...]
    invited_agents: tuple[str, ...]
    message_count: int

    @classmethod
    def of(cls, s: SmsSession) -> SessionView:
        """Build the view from the session's state."""
        people = [ParticipantView(s.customer_id, ParticipantType.CUSTOMER, s.customer_nickname,
                                  Visibility.ALL)] if s.status.value != "Completed" else []
        people += [ParticipantView(a, ParticipantType.AGENT, nick, Visibility.ALL)
                   for a, nick in s.agents.items()]
        people += [ParticipantView(p.supervisor_id, ParticipantType.SUPERVISOR, p.nickname,
                                   p.visibility, p.mode, p.supervised_agent_id)
                   for p in s.supervisors.values()]
        return cls(s.session_id, s.status.value, s.queue_name, tuple(people),
                   tuple(s.invitations), s.message_count)


_LOADING: Final = datetime.min.replace(tzinfo=UTC)
"""The time of a first decision whose events are dropped (it only loads what the command needs)."""


class _StoreLookup:
    """The ``Given`` of :func:`decide`, backed by the application's repository."""

    __slots__ = ("_app", "_loaded")

    def __init__(self, app: Coaching) -> None:
        self._app = app
        # one load per stream per attempt: a second decision sees exactly the states the first
        # loaded, so anything recorded since makes the save conflict (and the attempt retry)
        self._loaded: dict[str, Any] = {}

    def _get(self, key: str, projector: Callable[[Any, Any], Any]) -> Any:
        if key in self._loaded:
            return self._loaded[key]
        self._loaded[key] = state = self._load(key, projector)
        return state

    def _load(self, key: str, projector: Callable[[Any, Any], Any]) -> Any:
        repository = self._app.repository
        try:
            state = repository.get(key, projector_func=projector)
        except AggregateNotFoundError:
            return None
        if repository.cache is not None:
            # eventsourcing fast-forwards a cached aggregate by mutating it in place; our states
            # are immutable, so the fast-forwarded state must be put back, or every later get
            # replays everything since the first one (quadratic in the length of the stream).
            repository.cache.put(key, state)
        return state

    def agent(self, agent_id: str) -> Agent | None:
        found: Agent | None = self._get(agent_key(agent_id), agent_rules.project)
        return found

    def supervisor(self, supervisor_id: str) -> Supervisor | None:
        found: Supervisor | None = self._get(supervisor_key(supervisor_id), supervisor_rules.project)
        return found

    def session(self, session_id: str) -> SmsSession | None:
        found: SmsSession | None = self._get(session_key(session_id), session_rules.project)
        return found


class Coaching(Application[str]):
    """Supervisors monitoring, coaching and barging into agents' SMS sessions, event-sourced."""

    name = "Coaching"
    env: ClassVar[dict[str, str]] = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": "coaching.sqlite",
        "ORIGINATOR_ID_TYPE": "text",
        "AGGREGATE_CACHE_MAXSIZE": "10000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",  # states are immutable: no copy needed
    }
    #: How many times a command is decided afresh after losing a race, before giving up.
    max_attempts = 5

    def __init__(self, env: EnvType | None = None, clock: Clock = utc_now) -> None:
        super().__init__(env)
        self.clock = clock

    @classmethod
    def in_memory(cls, clock: Clock = utc_now) -> Coaching:
        """An application whose log lives in memory: for tests and experiments."""
        return cls({"PERSISTENCE_MODULE": "eventsourcing.popo"}, clock=clock)

    @classmethod
    def sqlite(cls, path: str, clock: Clock = utc_now) -> Coaching:
        """An application whose log is the SQLite file at ``path`` (created if missing)."""
        return cls({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": path},
                   clock=clock)

    def construct_mapper(self) -> Mapper[str]:
        return PydanticMapper(CODEC, compressor=self.factory.compressor(),
                              cipher=self.factory.cipher())

    def construct_recorder(self) -> ApplicationRecorder:
        """eventsourcing's recorder for the configured store, plus the tamper-evidence chain (ADR 0018)."""
        return chained_recorder(self.factory)

    # --- the one entry point --------------------------------------------------------------

    def handle(self, command: Command) -> Outcome:
        """Decide and record one command atomically; raise ``CoachingError`` if refused."""
        for attempt in range(1, self.max_attempts + 1):
            given = _StoreLookup(self)
            # Decide once to load (and check) what the command needs, then again at the time read
            # once, after loading: another writer may have recorded an event in one of our streams
            # between a clock read and our load, and a stream's timestamps must never go back
            # (an auditor's time cut relies on it, ADR 0023). The second decision reads the
            # repository's cache, and decide is pure, so it costs microseconds.
            decide(command, given, _LOADING)
            events = decide(command, given, self.clock())
            try:
                recordings = self.save(*events)
            except RecordConflictError:
                continue  # someone else wrote to one of our aggregates: decide again
            return Outcome(command, tuple(events),
                           tuple(r.notification.id for r in recordings), attempt)
        raise ConcurrencyConflict(
            f"{type(command).__name__} lost the race for its aggregates {self.max_attempts} "
            "times in a row; nothing was written, try again"
        )

    # --- one method per command -----------------------------------------------------------

    def register_agent(self, agent_id: str, username: str, *, nickname: str | None = None,
                       team: str | None = None, actor: str = "admin") -> Outcome:
        """Make an agent known."""
        return self.handle(RegisterAgent(actor=actor, agent_id=agent_id, username=username,
                                         nickname=nickname, team=team))

    def register_supervisor(self, supervisor_id: str, username: str, *,
                            nickname: str | None = None,
                            features: frozenset[str] = frozenset({"api-multimedia"}),
                            agents: frozenset[str] = frozenset(),
                            teams: frozenset[str] = frozenset(),
                            actor: str = "admin") -> Outcome:
        """Make a supervisor known, with its features and whom it may supervise."""
        return self.handle(RegisterSupervisor(
            actor=actor, supervisor_id=supervisor_id, username=username, nickname=nickname,
            features=features, agents=agents, teams=teams))

    def open_session(self, session_id: str, customer_id: str, customer_nickname: str, *,
                     actor: str = "routing") -> Outcome:
        """A customer's SMS arrives."""
        return self.handle(OpenSession(actor=actor, session_id=session_id,
                                       customer_id=customer_id,
                                       customer_nickname=customer_nickname))

    def offer_session(self, session_id: str, agent_id: str, *, actor: str = "routing") -> Outcome:
        """Routing invites an agent to a waiting session."""
        return self.handle(OfferSession(actor=actor, session_id=session_id, agent_id=agent_id))

    def invite(self, agent_id: str, session_id: str, invitee_id: str) -> Outcome:
        """Agent ``agent_id`` invites ``invitee_id`` into the session (conference)."""
        return self.handle(Invite(actor=agent_id, session_id=session_id, agent_id=invitee_id))

    def accept(self, agent_id: str, session_id: str, *, nickname: str | None = None) -> Outcome:
        """The agent accepts; its supervisions join."""
        return self.handle(Accept(actor=agent_id, session_id=session_id, nickname=nickname))

    def reject(self, agent_id: str, session_id: str) -> Outcome:
        """The agent declines its invitation."""
        return self.handle(Reject(actor=agent_id, session_id=session_id))

    def leave(self, user_id: str, session_id: str) -> Outcome:
        """An agent or a supervisor leaves the session."""
        return self.handle(Leave(actor=user_id, session_id=session_id))

    def queue(self, agent_id: str, session_id: str, queue_name: str) -> Outcome:
        """Place the session in a queue (GWS Complete with queueName)."""
        return self.handle(Queue(actor=agent_id, session_id=session_id, queue_name=queue_name))

    def complete(self, agent_id: str, session_id: str) -> Outcome:
        """Complete the session."""
        return self.handle(Complete(actor=agent_id, session_id=session_id))

    def send_message(self, sender_id: str, session_id: str, text: str) -> Outcome:
        """Customer, agent or supervisor sends a message."""
        return self.handle(SendMessage(actor=sender_id, session_id=session_id, text=text))

    def monitor(self, supervisor_id: str, agent_id: str, *,
                mode: MonitoringMode = MonitoringMode.ALL_CHATS,
                nickname: str | None = None) -> Outcome:
        """Set up silent monitoring of the agent's sessions."""
        return self.handle(Monitor(actor=supervisor_id, agent_id=agent_id,
                                   supervisor_monitoring_mode=mode, nickname=nickname))

    def coach(self, supervisor_id: str, agent_id: str, *,
              mode: MonitoringMode = MonitoringMode.ALL_CHATS,
              nickname: str | None = None) -> Outcome:
        """Set up coaching of the agent's sessions (the seed's operation)."""
        return self.handle(Coach(actor=supervisor_id, agent_id=agent_id,
                                 supervisor_monitoring_mode=mode, nickname=nickname))

    def barge_in(self, supervisor_id: str, agent_id: str, *,
                 mode: MonitoringMode = MonitoringMode.ALL_CHATS,
                 nickname: str | None = None) -> Outcome:
        """Set up barging into the agent's sessions."""
        return self.handle(BargeIn(actor=supervisor_id, agent_id=agent_id,
                                   supervisor_monitoring_mode=mode, nickname=nickname))

    def cancel_supervisor_monitoring(self, supervisor_id: str, agent_id: str) -> Outcome:
        """End the supervision (sessions in progress are not left)."""
        return self.handle(CancelSupervisorMonitoring(actor=supervisor_id, agent_id=agent_id))

    def intrude(self, supervisor_id: str, agent_id: str, session_id: str, *,
                mode: SupervisorMode | None = None) -> Outcome:
        """Join a session in progress of a supervised agent."""
        return self.handle(Intrude(actor=supervisor_id, agent_id=agent_id, session_id=session_id,
                                   supervisor_visibility_mode=mode))

    def switch_to_coach(self, supervisor_id: str, session_id: str) -> Outcome:
        """Switch a present supervisor to Coach."""
        return self.handle(SwitchToCoach(actor=supervisor_id, session_id=session_id))

    def switch_to_barge_in(self, supervisor_id: str, session_id: str) -> Outcome:
        """Switch a present supervisor to BargeIn."""
        return self.handle(SwitchToBargeIn(actor=supervisor_id, session_id=session_id))

    def switch_to_monitor(self, supervisor_id: str, session_id: str) -> Outcome:
        """Switch a present supervisor to Monitor."""
        return self.handle(SwitchToMonitor(actor=supervisor_id, session_id=session_id))

    # --- read models ----------------------------------------------------------------------

    def get_agent(self, agent_id: str) -> Agent:
        """The agent's current state (raises ``NotFound``)."""
        return require_agent(_StoreLookup(self), agent_id)

    def get_supervisor(self, supervisor_id: str) -> Supervisor:
        """The supervisor's current state (raises ``NotFound``)."""
        return require_supervisor(_StoreLookup(self), supervisor_id)

    def get_session(self, session_id: str) -> SmsSession:
        """The session's current state (raises ``NotFound``)."""
        return require_session(_StoreLookup(self), session_id)

    def session_view(self, session_id: str) -> SessionView:
        """Participants of the session, with their mode and visibility."""
        return SessionView.of(self.get_session(session_id))

    def supervisions(self, agent_id: str) -> tuple[Supervision, ...]:
        """The supervisions active on an agent, oldest first."""
        return tuple(self.get_agent(agent_id).supervisions.values())

    def session_events(self, session_id: str) -> list[DomainEvent]:
        """The session's events, in order (raises ``NotFound``)."""
        found = [e for e in self.events.get(session_key(session_id)) if isinstance(e, DomainEvent)]
        if not found:
            raise NotFound(f"no SMS session with id {session_id!r}")
        return found

    def transcript(self, session_id: str, viewer_id: str) -> list[TranscriptEntry]:
        """Exactly what ``viewer_id`` (customer, agent or supervisor) was shown, in order."""
        return transcript(self.session_events(session_id), viewer_id)

    def log_position(self) -> int:
        """The position of the newest event in the log (0 when empty): a refusal never moves it."""
        return self.recorder.max_notification_id() or 0

    def all_events(self, page_size: int = 1000, *, start: int = 1, stop: int | None = None,
                   topics: Sequence[str] = ()) -> Iterator[tuple[int, DomainEvent]]:
        """Every event in the order it was recorded, with its position, read page by page.

        ``start``/``stop`` bound the positions (inclusive); ``topics`` keeps only those topics,
        filtered by the store, so a reader that needs a few kinds of event decodes only those.
        """
        mapper = self.mapper
        # Without a cipher or compressor the stored state is the codec's JSON: decode it directly
        # (a replay calls this once per event, so one layer of indirection less is measurable).
        plain = isinstance(mapper, PydanticMapper) and not (mapper.cipher or mapper.compressor)
        decode = mapper.codec.decode if isinstance(mapper, PydanticMapper) else CODEC.decode
        while stop is None or start <= stop:
            page = self.recorder.select_notifications(start=start, limit=page_size, stop=stop,
                                                      topics=topics)
            if plain:
                for n in page:
                    yield n.id, decode(n.topic, n.originator_id, n.originator_version, n.state)  # type: ignore[arg-type]
            else:
                for n in page:
                    yield n.id, mapper.to_domain_event(n)  # type: ignore[misc]
            if len(page) < page_size:
                return
            start = page[-1].id + 1
