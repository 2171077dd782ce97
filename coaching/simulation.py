"""A seeded, deterministic contact-center shift, driven through the public ``Coaching`` API.

Why it exists: a demo and a benchmark need a log that looks like a real day (agents holding
several sessions, conferences, supervisors switching modes and intruding, sessions queued and
re-offered), and a test needs the same log twice. Everything random comes from one
``random.Random(seed)`` and every timestamp from a :class:`SimulatedClock` the simulator moves,
so a seed reproduces the log byte for byte.

How it works: a discrete-event loop (a heap of timed steps: arrivals, offers, answers, chat
turns, supervisor actions). The simulator never reads the store to decide what to do next: it
folds the events each command returned into its own copy of the states, with the domain's own
``evolve`` functions, so it stays exact and costs no query. It only issues commands the rules
should accept, except for a few deliberate mistakes (a monitoring supervisor sending, a leave by
a non-participant …) whose refusal it expects and counts by GWS status code. A refusal it did
not expect, or a mistake that was accepted, is recorded in :attr:`ShiftStats.unexpected`: that
is a bug in the rules or here, and the demo exits non-zero on it.
"""

from __future__ import annotations

import heapq
import itertools
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from coaching.application import Coaching, Outcome
from coaching.domain import agent as agent_rules
from coaching.domain import session as session_rules
from coaching.domain import supervisor as supervisor_rules
from coaching.domain.agent import Agent
from coaching.domain.errors import CoachingError
from coaching.domain.events import (
    AgentEvent,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionCompleted,
    SessionEvent,
    SupervisionStarted,
    SupervisorAdded,
    SupervisorEvent,
    SupervisorModeSwitched,
)
from coaching.domain.session import SmsSession
from coaching.domain.supervisor import Supervisor
from coaching.domain.values import (
    MAX_TEXT_LENGTH,
    MonitoringMode,
    SessionStatus,
    SupervisorMode,
)

#: The id of the supervisor registered without ``api-multimedia``: only deliberate mistakes use it.
TRAINEE_ID: Final = "sup-trainee"

#: Queues a session may be placed in (GWS Complete with queueName).
QUEUES: Final = ("billing", "tech-support", "retention")

_FIRST_NAMES: Final = (
    "Ada", "Bea", "Cal", "Dee", "Eli", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou", "Max", "Nia",
    "Oli", "Pam", "Quinn", "Ray", "Sue", "Tom", "Uma", "Vic", "Wes", "Xia", "Yan", "Zoe",
)
_CUSTOMER_LINES: Final = (
    "Hi, my order hasn't arrived yet", "Can you check my last invoice?", "I was charged twice",
    "What time do you close today?", "My card was declined", "I need to change my address",
    "Is the refund on its way?", "The app keeps logging me out", "Thanks, that helps",
    "Sorry, one more question", "ok", "Can I speak to someone else?",
)
_AGENT_LINES: Final = (
    "Hello, happy to help. May I have your order number?", "Let me check that for you.",
    "Thanks for waiting.", "I can see the payment on your account.", "I've updated your address.",
    "The refund was issued today.", "Is there anything else I can help with?",
    "I'll bring in a colleague who knows this best.",
)
_COACH_LINES: Final = (
    "Offer the goodwill credit here.", "Confirm the address before closing.",
    "Slow down, ask one question at a time.", "Good, now summarise and close.",
    "Check the second payment in the ledger.",
)
_BARGE_LINES: Final = (
    "Hello, I'm the team lead; I'll make sure this is resolved today.",
    "I've approved the refund personally.", "Apologies for the trouble.",
)

_SETUP_MODES: Final = (SupervisorMode.MONITOR, SupervisorMode.COACH, SupervisorMode.BARGE_IN)
_SETUP_WEIGHTS: Final = (4, 4, 2)
_SWITCH_TO: Final[dict[SupervisorMode, Callable[[Coaching, str, str], Outcome]]] = {
    SupervisorMode.MONITOR: Coaching.switch_to_monitor,
    SupervisorMode.COACH: Coaching.switch_to_coach,
    SupervisorMode.BARGE_IN: Coaching.switch_to_barge_in,
}
_SET_UP: Final = {
    SupervisorMode.MONITOR: Coaching.monitor,
    SupervisorMode.COACH: Coaching.coach,
    SupervisorMode.BARGE_IN: Coaching.barge_in,
}


@dataclass(frozen=True, slots=True)
class ShiftPlan:
    """The shape of a shift. Same plan (seed included) → same log."""

    seed: int = 7
    sessions: int = 300
    """Customer sessions arriving during the shift."""
    agents: int = 12
    supervisors: int = 3
    """Supervisors with ``api-multimedia`` (a trainee without it is registered as well)."""
    team_size: int = 4
    agent_capacity: int = 3
    """Sessions (accepted or offered) an agent holds at once."""
    mean_turn_seconds: float = 25.0
    """Mean time between two messages of one session."""
    reject_rate: float = 0.12
    queue_rate: float = 0.12
    conference_rate: float = 0.02
    mistake_rate: float = 0.03
    """Chance, at each chat turn, of also issuing a command the rules must refuse."""
    start: datetime = datetime(2025, 4, 14, 8, 0, tzinfo=UTC)

    def __post_init__(self) -> None:
        if self.sessions < 0:
            raise ValueError("sessions must be 0 or more")
        if self.agents < 1:
            raise ValueError("a shift needs at least 1 agent")
        if self.supervisors < 0:
            raise ValueError("supervisors must be 0 or more")
        if self.team_size < 1 or self.agent_capacity < 1:
            raise ValueError("team_size and agent_capacity must be at least 1")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")

    @property
    def teams(self) -> int:
        """Number of teams: agents are split into teams of ``team_size``."""
        return -(-self.agents // self.team_size)


class SimulatedClock:
    """The application's clock during a simulation: it moves only when the simulator moves it."""

    __slots__ = ("now", "start")

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def set(self, seconds_since_start: float) -> None:
        """Move to ``start + seconds`` (never backwards), rounded to the millisecond."""
        moved = self.start + timedelta(milliseconds=round(seconds_since_start * 1000))
        self.now = max(self.now, moved)


@dataclass
class ShiftStats:
    """What a shift did: counted from the events each command returned, and from refusals.

    Every count about events can be recounted from the stored log; refusals wrote nothing, so
    they are known only here.
    """

    plan: ShiftPlan
    commands: int = 0
    accepted: int = 0
    """Commands that recorded their events."""
    events: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    completions_by_reason: Counter[str] = field(default_factory=Counter)
    revoked_by_reason: Counter[str] = field(default_factory=Counter)
    supervisions_by_mode: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Set-ups (SupervisionStarted) by (mode, monitoring mode)."""
    supervisors_joined_via: Counter[str] = field(default_factory=Counter)
    messages_by_visibility: Counter[str] = field(default_factory=Counter)
    messages_by_sender: Counter[str] = field(default_factory=Counter)
    sessions_supervised: set[str] = field(default_factory=set)
    """Sessions in which at least one supervisor took part."""
    sessions_by_mode: dict[str, set[str]] = field(default_factory=dict)
    """Sessions in which some supervisor took part in that mode (joined in it or switched to it)."""
    refusals_by_status: Counter[int] = field(default_factory=Counter)
    refusals_by_kind: Counter[str] = field(default_factory=Counter)
    unexpected: list[str] = field(default_factory=list)
    """Outcomes the simulator did not expect: any entry is a bug (in the rules or here)."""
    simulated_start: datetime | None = None
    simulated_end: datetime | None = None
    wall_seconds: float = 0.0

    @property
    def refusals(self) -> int:
        """Commands refused on purpose (expected refusals)."""
        return sum(self.refusals_by_status.values())

    def count(self, event_type: str) -> int:
        """How many events of that class name were recorded."""
        return self.events_by_type.get(event_type, 0)

    def record(self, events: Sequence[DomainEvent]) -> None:
        """Count one command's events."""
        self.events += len(events)
        for e in events:
            name = type(e).__name__
            self.events_by_type[name] += 1
            if isinstance(e, MessageVisibleToAll | MessageVisibleToAgent):
                self.messages_by_visibility[e.visibility.value] += 1
                self.messages_by_sender[e.sender_type.value] += 1
            elif isinstance(e, SupervisorAdded):
                self.sessions_supervised.add(e.session_id)
                self.sessions_by_mode.setdefault(e.mode.value, set()).add(e.session_id)
                self.supervisors_joined_via[e.via.value] += 1
            elif isinstance(e, SupervisorModeSwitched):
                self.sessions_by_mode.setdefault(e.to_mode.value, set()).add(e.session_id)
            elif isinstance(e, SupervisionStarted):
                self.supervisions_by_mode[e.mode.value, e.monitoring_mode.value] += 1
            elif isinstance(e, SessionCompleted):
                self.completions_by_reason[e.reason.value] += 1
            elif isinstance(e, Revoked):
                self.revoked_by_reason[e.reason.value] += 1


@dataclass(slots=True)
class _Plan:
    """The simulator's private plan for one session (never stored)."""

    session_id: str
    customer_id: str
    turns_left: int = 0
    generation: int = 0
    """Bumped when the session leaves the Chatting state, so stale chat turns are dropped."""
    queued: int = 0
    conferenced: bool = False


class _Mirror:
    """The simulator's copy of the states, folded from returned events with the domain's evolve.

    ``load`` is the sessions each agent is in or invited to; ``present`` the sessions each
    supervisor is in. Completed sessions are dropped, so memory follows the live sessions only.
    """

    def __init__(self) -> None:
        self.agents: dict[str, Agent] = {}
        self.supervisors: dict[str, Supervisor] = {}
        self.sessions: dict[str, SmsSession] = {}
        self.load: dict[str, set[str]] = {}
        self.present: dict[str, set[str]] = {}
        self.recently_completed: deque[str] = deque(maxlen=32)

    def apply(self, events: Iterable[DomainEvent]) -> None:
        before: dict[str, SmsSession | None] = {}
        for e in events:
            if isinstance(e, SessionEvent):
                sid = e.session_id
                current = self.sessions.get(sid)
                before.setdefault(sid, current)
                self.sessions[sid] = session_rules.evolve(current, e)
            elif isinstance(e, AgentEvent):
                self.agents[e.agent_id] = agent_rules.evolve(self.agents.get(e.agent_id), e)
            elif isinstance(e, SupervisorEvent):
                self.supervisors[e.supervisor_id] = supervisor_rules.evolve(None, e)
        for sid, old in before.items():
            self._reindex(sid, old, self.sessions[sid])

    def _reindex(self, sid: str, old: SmsSession | None, new: SmsSession) -> None:
        old_agents = set(old.agents) | set(old.invitations) if old else set()
        new_agents = set(new.agents) | set(new.invitations)
        for a in old_agents - new_agents:
            self.load[a].discard(sid)
        for a in new_agents - old_agents:
            self.load.setdefault(a, set()).add(sid)
        old_sups = set(old.supervisors) if old else set()
        for s in old_sups - set(new.supervisors):
            self.present[s].discard(sid)
        for s in set(new.supervisors) - old_sups:
            self.present.setdefault(s, set()).add(sid)
        if new.status is SessionStatus.COMPLETED:
            del self.sessions[sid]
            self.recently_completed.append(sid)


class _Mistake:
    """A deliberate wrong command: what it is, and the GWS status code the rules must answer."""

    __slots__ = ("call", "expected", "kind")

    def __init__(self, kind: str, expected: type[CoachingError] | int,
                 call: Callable[[], Outcome]) -> None:
        self.kind = kind
        self.expected = expected if isinstance(expected, int) else expected.status_code
        self.call = call


class Shift:
    """One simulated shift. Build the application with :attr:`clock`, then :meth:`run` it::

        shift = Shift(ShiftPlan(seed=7))
        app = Coaching.sqlite("day.sqlite", clock=shift.clock)
        stats = shift.run(app)
    """

    def __init__(self, plan: ShiftPlan) -> None:
        self.plan = plan
        self.clock = SimulatedClock(plan.start)
        self.rng = random.Random(plan.seed)
        self.mirror = _Mirror()
        self.stats = ShiftStats(plan)
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = itertools.count()
        self._now = 0.0
        self._plans: dict[str, _Plan] = {}
        self._arrived = 0
        self._finished = 0
        self._progress: Callable[[int, int], None] | None = None
        self._app: Coaching | None = None
        self.agent_ids = [f"agent-{i:03d}" for i in range(1, plan.agents + 1)]
        self.supervisor_ids = [f"sup-{i:02d}" for i in range(1, plan.supervisors + 1)]
        self.team_of = {a: f"team-{i // plan.team_size + 1}" for i, a in enumerate(self.agent_ids)}
        self.team_agents: dict[str, list[str]] = {}
        for a, team in self.team_of.items():
            self.team_agents.setdefault(team, []).append(a)
        width = max(5, len(str(plan.sessions)))
        self._session_fmt = f"sms-{{:0{width}d}}"
        self._customer_fmt = f"cust-{{:0{width}d}}"
        # arrivals keep the agents busy but not swamped: ~70% of their capacity on average
        mean_session = plan.mean_turn_seconds * 12 + 30
        self._mean_gap = mean_session / max(1.0, plan.agents * plan.agent_capacity * 0.7)

    # --- the loop -------------------------------------------------------------------------

    @property
    def app(self) -> Coaching:
        if self._app is None:
            raise RuntimeError("the shift is not running")
        return self._app

    def run(self, app: Coaching, progress: Callable[[int, int], None] | None = None) -> ShiftStats:
        """Play the whole shift into ``app``; ``progress(done, total)`` after each finished session.

        ``app`` must use :attr:`clock`, else timestamps (and so the log) would not be reproducible.
        """
        if app.clock is not self.clock:
            raise ValueError("build the application with clock=shift.clock, or the log is not reproducible")
        if self._app is not None:
            raise RuntimeError("a Shift runs once; make a new one")
        self._app = app
        self._progress = progress
        started = time.perf_counter()
        self.stats.simulated_start = self.clock()
        self._set_up_floor()
        if self.plan.sessions:
            self._at(self._gap(), self._arrive)
        for s in self.supervisor_ids:
            self._at(self.rng.uniform(30, 120), self._supervisor_acts, s)
        heap = self._heap
        while heap:
            when, _, step, args = heapq.heappop(heap)
            self._now = when
            self.clock.set(when)
            step(*args)
        self._end_of_shift()
        self.stats.simulated_end = self.clock()
        self.stats.wall_seconds = time.perf_counter() - started
        return self.stats

    def _at(self, delay: float, step: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._heap, (self._now + delay, next(self._seq), step, args))

    def _gap(self) -> float:
        return self.rng.expovariate(1 / self._mean_gap)

    def _do(self, call: Callable[..., Outcome], *args: Any, **kwargs: Any) -> Outcome | None:
        """Issue a command the rules should accept; fold its events into the mirror."""
        self.stats.commands += 1
        try:
            outcome = call(self.app, *args, **kwargs)
        except CoachingError as error:
            self.stats.unexpected.append(f"{call.__name__}{args}: refused: {error}")
            return None
        self.stats.accepted += 1
        self.stats.record(outcome.events)
        self.mirror.apply(outcome.events)
        return outcome

    def _mistake(self, mistake: _Mistake) -> None:
        """Issue a command the rules must refuse with ``mistake.expected``; count the refusal."""
        self.stats.commands += 1
        try:
            outcome = mistake.call()
        except CoachingError as error:
            if error.status_code != mistake.expected:
                self.stats.unexpected.append(
                    f"{mistake.kind}: expected statusCode {mistake.expected}, got {error}")
            self.stats.refusals_by_status[error.status_code] += 1
            self.stats.refusals_by_kind[mistake.kind] += 1
            return
        self.stats.unexpected.append(f"{mistake.kind}: accepted, expected statusCode {mistake.expected}")
        self.stats.accepted += 1
        self.stats.record(outcome.events)
        self.mirror.apply(outcome.events)

    # --- set-up and end of the shift --------------------------------------------------------

    def _set_up_floor(self) -> None:
        rng, plan = self.rng, self.plan
        for i, a in enumerate(self.agent_ids):
            name = f"{_FIRST_NAMES[i % len(_FIRST_NAMES)]} {chr(65 + (i // len(_FIRST_NAMES)) % 26)}."
            self._do(Coaching.register_agent, a, name.replace(" ", "").lower(),
                     nickname=name if rng.random() < 0.7 else None, team=self.team_of[a])
        teams = sorted(self.team_agents)
        for i, s in enumerate(self.supervisor_ids):
            mine = {teams[i % len(teams)]}
            if len(teams) > 2 and rng.random() < 0.5:
                mine.add(teams[(i + 1) % len(teams)])
            self._do(Coaching.register_supervisor, s, f"lead{i + 1}", nickname=f"Lead {i + 1}",
                     teams=frozenset(mine))
        self._do(Coaching.register_supervisor, TRAINEE_ID, "trainee", features=frozenset({"api-voice"}),
                 teams=frozenset(teams))
        if plan.supervisors:
            for s in self.supervisor_ids:
                self._set_up_supervision(s)

    def _end_of_shift(self) -> None:
        """Supervisors cancel what they still supervise before going home."""
        for s in self.supervisor_ids:
            for a in self.agent_ids:
                if s in self.mirror.agents[a].supervisions:
                    self._do(Coaching.cancel_supervisor_monitoring, s, a)

    # --- a session's life -----------------------------------------------------------------

    def _arrive(self) -> None:
        self._arrived += 1
        n = self._arrived
        plan = _Plan(self._session_fmt.format(n), self._customer_fmt.format(n))
        self._plans[plan.session_id] = plan
        name = f"{self.rng.choice(_FIRST_NAMES)} {self.rng.choice(_FIRST_NAMES)[0]}."
        self._do(Coaching.open_session, plan.session_id, plan.customer_id, name)
        self._do(Coaching.send_message, plan.customer_id, plan.session_id, self.rng.choice(_CUSTOMER_LINES))
        self._at(self.rng.uniform(1, 6), self._route, plan.session_id)
        if self._arrived < self.plan.sessions:
            self._at(self._gap(), self._arrive)

    def _available(self, exclude: Iterable[str] = ()) -> str | None:
        """The least-loaded agent with room for one more session, ties broken at random."""
        load = self.mirror.load
        cap = self.plan.agent_capacity
        skip = set(exclude)
        best: list[str] = []
        best_load = cap
        for a in self.agent_ids:
            n = len(load.get(a, ()))
            if n >= cap or a in skip:
                continue
            if n < best_load:
                best, best_load = [a], n
            elif n == best_load:
                best.append(a)
        return self.rng.choice(best) if best else None

    def _route(self, sid: str) -> None:
        session = self.mirror.sessions[sid]
        if session.status is not SessionStatus.WAITING or session.invitations:
            return
        agent = self._available()
        if agent is None:  # everyone is busy: routing tries again later
            self._at(self.rng.uniform(15, 45), self._route, sid)
            return
        self._do(Coaching.offer_session, sid, agent)
        self._at(max(1.0, self.rng.expovariate(1 / 8)), self._answer_offer, sid, agent)

    def _answer_offer(self, sid: str, agent: str) -> None:
        session = self.mirror.sessions[sid]
        if agent not in session.invitations:
            return
        if self.rng.random() < self.plan.reject_rate:
            self._do(Coaching.reject, agent, sid)
            self._at(self.rng.uniform(2, 8), self._route, sid)
            return
        nickname = None if self.rng.random() < 0.8 else f"{self.mirror.agents[agent].display_name} (SMS)"
        self._do(Coaching.accept, agent, sid, nickname=nickname)
        plan = self._plans[sid]
        plan.turns_left = self.rng.randint(3, 16)
        plan.generation += 1
        self._at(self.rng.uniform(2, 10), self._turn, sid, plan.generation)

    def _answer_invite(self, sid: str, agent: str) -> None:
        session = self.mirror.sessions.get(sid)
        if session is None or agent not in session.invitations:
            return  # completed or queued meanwhile: the invitation is gone
        if self.rng.random() < 0.2:
            self._do(Coaching.reject, agent, sid)
        else:
            self._do(Coaching.accept, agent, sid)

    def _turn(self, sid: str, generation: int) -> None:
        plan = self._plans.get(sid)
        session = self.mirror.sessions.get(sid)
        if plan is None or session is None or plan.generation != generation:
            return
        rng = self.rng
        agents = list(session.agents)
        if plan.turns_left > 0:
            plan.turns_left -= 1
            self._chat(session, agents)
            if (not plan.conferenced and len(agents) == 1 and not session.invitations
                    and rng.random() < self.plan.conference_rate):
                invitee = self._available(exclude=agents)
                if invitee is not None:
                    plan.conferenced = True
                    self._do(Coaching.invite, agents[0], sid, invitee)
                    self._at(rng.uniform(3, 15), self._answer_invite, sid, invitee)
            if rng.random() < self.plan.mistake_rate:
                self._make_mistake(sid)
            self._at(max(2.0, rng.expovariate(1 / self.plan.mean_turn_seconds)), self._turn, sid, generation)
            return
        self._wrap_up(plan, session, agents)

    def _chat(self, session: SmsSession, agents: list[str]) -> None:
        rng = self.rng
        sid = session.session_id
        r = rng.random()
        if r < 0.12:
            talkers = [s for s, p in session.supervisors.items() if p.mode is not SupervisorMode.MONITOR]
            if talkers:
                sup = rng.choice(talkers)
                coaching = session.supervisors[sup].mode is SupervisorMode.COACH
                lines = _COACH_LINES if coaching else _BARGE_LINES
                self._do(Coaching.send_message, sup, sid, rng.choice(lines))
                return
        if r < 0.55:
            self._do(Coaching.send_message, rng.choice(agents), sid, rng.choice(_AGENT_LINES))
        else:
            self._do(Coaching.send_message, session.customer_id, sid, rng.choice(_CUSTOMER_LINES))

    def _wrap_up(self, plan: _Plan, session: SmsSession, agents: list[str]) -> None:
        rng = self.rng
        sid = session.session_id
        if len(agents) > 1:
            # the agent who brought a colleague in hands over and leaves; the session goes on
            self._do(Coaching.leave, agents[0], sid)
            plan.turns_left = rng.randint(1, 4)
            self._at(rng.uniform(5, 20), self._turn, sid, plan.generation)
            return
        plan.generation += 1
        agent = agents[0]
        r = rng.random()
        if r < self.plan.queue_rate and plan.queued < 2:
            plan.queued += 1
            self._do(Coaching.queue, agent, sid, rng.choice(QUEUES))
            self._at(rng.uniform(30, 180), self._route, sid)
            return
        if r < self.plan.queue_rate + 0.1:
            self._do(Coaching.leave, agent, sid)  # the last agent leaves: completed
        else:
            self._do(Coaching.complete, agent, sid)
        self._plans.pop(sid, None)
        self._finished += 1
        if self._progress is not None:
            self._progress(self._finished, self.plan.sessions)

    # --- supervisors ----------------------------------------------------------------------

    def _supervisable(self, s: str) -> list[str]:
        teams = self.mirror.supervisors[s].teams
        return [a for t in sorted(teams) for a in self.team_agents.get(t, ())]

    def _set_up_supervision(self, s: str) -> None:
        rng = self.rng
        candidates = [a for a in self._supervisable(s) if s not in self.mirror.agents[a].supervisions]
        if not candidates:
            return
        agent = rng.choice(candidates)
        mode = rng.choices(_SETUP_MODES, _SETUP_WEIGHTS)[0]
        mm = MonitoringMode.NEXT_CHAT if rng.random() < 0.4 else MonitoringMode.ALL_CHATS
        nickname = "Quality" if rng.random() < 0.2 else None
        self._do(_SET_UP[mode], s, agent, mode=mm, nickname=nickname)

    def _supervisor_acts(self, s: str) -> None:
        if self._finished >= self.plan.sessions:
            return  # the shift is over: stop scheduling
        rng = self.rng
        mirror = self.mirror
        here = sorted(mirror.present.get(s, ()))
        action = rng.choices(("set-up", "cancel", "intrude", "switch", "leave"), (3, 2, 3, 3, 2))[0]
        if action == "set-up":
            self._set_up_supervision(s)
        elif action == "cancel":
            mine = [a for a in self._supervisable(s) if s in mirror.agents[a].supervisions]
            if mine:
                self._do(Coaching.cancel_supervisor_monitoring, s, rng.choice(mine))
        elif action == "intrude":
            self._intrude(s)
        elif action == "switch" and here:
            sid = rng.choice(here)
            current = mirror.sessions[sid].supervisors[s].mode
            to = rng.choice([m for m in _SETUP_MODES if m is not current])
            self._do(_SWITCH_TO[to], s, sid)
        elif action == "leave" and here:
            self._do(Coaching.leave, s, rng.choice(here))
        self._at(rng.expovariate(1 / 60), self._supervisor_acts, s)

    def _intrude(self, s: str) -> None:
        mirror = self.mirror
        options: list[tuple[str, str]] = []
        for a in self._supervisable(s):
            for sid in sorted(mirror.load.get(a, ())):
                session = mirror.sessions[sid]
                if a in session.agents and s not in session.supervisors:
                    options.append((a, sid))
        if not options:
            return
        agent, sid = self.rng.choice(options)
        supervision = mirror.agents[agent].supervisions.get(s)
        mode: SupervisorMode | None = self.rng.choice(_SETUP_MODES)
        if supervision is not None and self.rng.random() < 0.4:
            mode = None  # take the mode of the supervision (GWS default)
        self._do(Coaching.intrude, s, agent, sid, mode=mode)

    # --- deliberate mistakes --------------------------------------------------------------

    def _make_mistake(self, sid: str) -> None:
        """Pick one mistake that applies now and issue it; each names the refusal it expects."""
        options = list(self._mistakes(sid))
        if options:
            self._mistake(self.rng.choice(options))

    def _mistakes(self, sid: str) -> Iterable[_Mistake]:
        app, mirror, rng = self.app, self.mirror, self.rng
        session = mirror.sessions[sid]
        agent = next(iter(session.agents))
        members = set(session.agents) | set(session.invitations)
        monitors = [s for s, p in session.supervisors.items() if p.mode is SupervisorMode.MONITOR]
        if monitors:
            m = rng.choice(monitors)
            yield _Mistake("monitoring supervisor sends", 2,
                           lambda: app.send_message(m, sid, "psst, ask for the order number"))
        outsiders = [a for a in self.agent_ids if a not in members]
        if outsiders:
            o = rng.choice(outsiders)
            yield _Mistake("leave by non-participant", 2, lambda: app.leave(o, sid))
            yield _Mistake("accept without invitation", 2, lambda: app.accept(o, sid))
        someone = rng.choice(self.agent_ids)
        yield _Mistake("set-up without api-multimedia", 3, lambda: app.coach(TRAINEE_ID, someone))
        yield _Mistake("unknown session", 6, lambda: app.complete(agent, "sms-missing"))
        yield _Mistake("text too long", 10,
                       lambda: app.send_message(agent, sid, "x" * (MAX_TEXT_LENGTH + 1)))
        yield _Mistake("register an existing user", 18, lambda: app.register_agent(someone, "again"))
        if mirror.recently_completed:
            done = mirror.recently_completed[-1]
            yield _Mistake("message into a completed session", 2,
                           lambda: app.send_message(agent, done, "are you still there?"))
        if self.supervisor_ids:
            yield from self._supervisor_mistakes(rng.choice(self.supervisor_ids), session, agent)

    def _supervisor_mistakes(self, s: str, session: SmsSession, agent: str) -> Iterable[_Mistake]:
        """Mistakes one supervisor can make now, given whom it may and does supervise."""
        app, mirror, rng = self.app, self.mirror, self.rng
        sid = session.session_id
        allowed = self._supervisable(s)
        foreign = [a for a in self.agent_ids if a not in set(allowed)]
        if foreign:
            f = rng.choice(foreign)
            yield _Mistake("set-up outside own teams", 5, lambda: app.barge_in(s, f))
        supervised = [a for a in allowed if s in mirror.agents[a].supervisions]
        if supervised:
            a = rng.choice(supervised)
            yield _Mistake("set-up while already supervising", 18, lambda: app.monitor(s, a))
        unsupervised = [a for a in allowed if s not in mirror.agents[a].supervisions]
        if unsupervised:
            u = rng.choice(unsupervised)
            yield _Mistake("cancel without supervision", 2, lambda: app.cancel_supervisor_monitoring(s, u))
        if agent in unsupervised and s not in session.supervisors:
            yield _Mistake("intrude without mode or supervision", 1, lambda: app.intrude(s, agent, sid))


def run_shift(plan: ShiftPlan, make_app: Callable[[SimulatedClock], Coaching] | None = None,
              progress: Callable[[int, int], None] | None = None) -> tuple[Coaching, ShiftStats]:
    """Simulate ``plan`` into a new application (in memory unless ``make_app`` builds another)."""
    shift = Shift(plan)
    app = make_app(shift.clock) if make_app is not None else Coaching.in_memory(clock=shift.clock)
    return app, shift.run(app, progress)
