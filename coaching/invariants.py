"""The supervision rules, checked over a recorded log: one definition, used by tests and audits.

:class:`LogChecker` reads events in recorded order (with their positions) and reports every
place the log breaks a rule. It trusts nothing but the log: it keeps its own small view of who
is present and which supervisions are active, built from the events themselves.

The property tests (``coaching.testing``) run it over every log they produce; an audit of a
stored log (``coaching audit``, :mod:`coaching.audit.check`) runs the same code, so a rule has
exactly one definition.

Why the rules read *fields* rather than event objects: an audit of a year of logs cannot afford
to build a validated pydantic event per record (it would triple the cost of the whole audit),
so it hands the checker the record's decoded JSON as is. :meth:`LogChecker.feed` passes a
domain event's own field dict instead (``event.__dict__``); every comparison below is written to
hold for both (``StrEnum`` members equal their values, tuples and lists are both iterated), so
the same lines judge the property tests' events and an audit's raw records (ADR 0020).

Why memory stays flat: a session's state is forgotten as soon as it is completed and every
supervisor present got its Revoked; only agents' supervisions (bounded by agents × supervisors)
and live sessions are kept, so a log of millions of events is checked in constant memory.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from coaching.domain.events import (
    AGENT_EVENTS,
    SESSION_EVENTS,
    AgentAccepted,
    AgentLeft,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionAccepted,
    SessionCompleted,
    SessionQueued,
    SupervisionCancelled,
    SupervisionEnded,
    SupervisionStarted,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.values import JoinedVia, MonitoringMode, ParticipantType, SupervisorMode

Fields = Mapping[str, Any]
"""An event's fields: a domain event's ``__dict__``, or a stored record's decoded JSON state."""


class Rule(StrEnum):
    """The rules a log must keep; each violation names one."""

    COACH_NEVER_TO_CUSTOMER = "coach-messages-never-reach-the-customer"
    MONITOR_NEVER_SENDS = "a-monitoring-supervisor-never-sends"
    NEXTCHAT_AT_MOST_ONCE = "nextchat-joins-at-most-one-session"
    NEXTCHAT_ENDS_AT_FIRST_ACCEPT = "nextchat-ends-at-the-first-accepted-session"
    ALLCHATS_EVERY_ACCEPT = "every-active-supervision-joins-each-accepted-session"
    NO_JOIN_IN_PROGRESS = "no-supervision-joins-a-session-in-progress"
    REVOKED_EXACTLY_ONCE = "revoked-exactly-once-at-completion-or-queueing"
    AGENT_LEAVING_KEEPS_SUPERVISORS = "an-agent-leaving-removes-no-supervisor"
    NO_DUPLICATE_PRESENCE = "a-supervisor-is-present-at-most-once"


@dataclass(frozen=True, slots=True)
class Violation:
    """A broken rule: where (session, log positions), who, and what happened."""

    rule: Rule
    session_id: str | None
    positions: tuple[int, ...]
    participants: tuple[str, ...]
    detail: str

    def __str__(self) -> str:
        where = f"session {self.session_id}" if self.session_id else "log"
        return (f"{self.rule}: {where}, positions {list(self.positions)}, "
                f"participants {list(self.participants)}: {self.detail}")

    def to_dict(self) -> dict[str, Any]:
        """Plain data (for JSON reports)."""
        return {"rule": self.rule.value, "session_id": self.session_id,
                "positions": list(self.positions), "participants": list(self.participants),
                "detail": self.detail}


@dataclass(slots=True)
class _Session:
    """What the checker must remember about one live session (forgotten once it is over)."""

    agents: set[str] = field(default_factory=set)
    supervisors: dict[str, str] = field(default_factory=dict)  # supervisor -> mode
    pending_revoked: dict[str, int] = field(default_factory=dict)  # supervisor -> position of the end
    completed: bool = False
    accept_position: int = 0
    accept_agent: str | None = None
    accept_added: set[str] = field(default_factory=set)
    accept_present_before: set[str] = field(default_factory=set)


_MESSAGE_TO_ALL = MessageVisibleToAll.TOPIC
_SUPERVISOR_ADDED = SupervisorAdded.TOPIC
_REVOKED = Revoked.TOPIC
_NEXT_CHAT = MonitoringMode.NEXT_CHAT.value
_SUPERVISION = JoinedVia.SUPERVISION.value
_SUPERVISOR = ParticipantType.SUPERVISOR.value
_MONITOR = SupervisorMode.MONITOR.value
_COACH = SupervisorMode.COACH.value


class LogChecker:
    """Feed events in recorded order; read :attr:`violations` after :meth:`finish`.

    ``keep`` bounds how many violations are kept in detail (all of them by default); every one
    is counted in :attr:`counts` regardless, so a log broken a million times is still audited
    in bounded memory.
    """

    def __init__(self, keep: int | None = None) -> None:
        self.violations: list[Violation] = []
        self.counts: Counter[Rule] = Counter()
        self.keep = keep
        self.sessions: dict[str, _Session] = {}
        self.supervisions: dict[str, dict[str, str]] = {}  # agent -> sup -> monitoring mode
        # (agent, sup) -> positions of the NextChat joins of that pair's latest supervision
        self.nextchat_joins: dict[tuple[str, str], list[int]] = {}
        # agent -> (position of its SessionAccepted, session, NextChat supervisors still to end)
        self.nextchat_owed: dict[str, tuple[int, str, set[str]]] = {}
        self.events = 0
        self.sessions_forgotten = 0
        session_handlers: dict[str, Callable[[int, Fields, _Session], None]] = {
            AgentAccepted.TOPIC: self._agent_accepted,
            SupervisorAdded.TOPIC: self._supervisor_added,
            SupervisorModeSwitched.TOPIC: self._switched,
            SupervisorLeft.TOPIC: self._supervisor_left,
            Revoked.TOPIC: self._revoked,
            SessionCompleted.TOPIC: self._completed,
            SessionQueued.TOPIC: self._queued,
            AgentLeft.TOPIC: self._agent_left,
            MessageVisibleToAll.TOPIC: self._message_to_all,
            MessageVisibleToAgent.TOPIC: self._message_to_agents,
        }
        for cls in SESSION_EVENTS:  # the others still close an Accept and owe Revoked checks
            session_handlers.setdefault(cls.TOPIC, self._other_session_event)
        self._session_handlers = session_handlers
        agent_handlers: dict[str, Callable[[int, Fields], None]] = {
            SupervisionStarted.TOPIC: self._supervision_started,
            SupervisionCancelled.TOPIC: self._supervision_cancelled,
            SessionAccepted.TOPIC: self._accepted_by_agent,
        }
        self._agent_handlers = agent_handlers
        self._agent_topics = {cls.TOPIC for cls in AGENT_EVENTS}

    # --- input ----------------------------------------------------------------------------------

    def feed(self, position: int, event: DomainEvent) -> None:
        """Check one event against everything seen before it."""
        self.feed_fields(position, event.TOPIC, event.__dict__)

    def feed_fields(self, position: int, topic: str, fields: Fields) -> None:
        """Check one event given as its topic and fields (an audit's decoded record)."""
        self.events += 1
        self.check_fields(position, topic, fields)

    def check_fields(self, position: int, topic: str, fields: Fields) -> None:
        """:meth:`feed_fields` without counting (a driver streaming millions counts by itself)."""
        if topic == _MESSAGE_TO_ALL:
            # the most common event by far, a customer or an agent talking in a settled session:
            # nothing to check (the general path below would conclude the same, more slowly)
            s = self.sessions.get(fields["session_id"])
            if (s is not None and s.accept_agent is None and not s.pending_revoked
                    and fields["sender_type"] != _SUPERVISOR and fields["sender_id"] not in s.supervisors):
                return
        handler = self._session_handlers.get(topic)
        if handler is not None:
            session_id = fields["session_id"]
            s = self.sessions.get(session_id)
            if s is None:
                s = self.sessions[session_id] = _Session()
            if s.accept_agent is not None and topic != _SUPERVISOR_ADDED:
                self._accept_unrecorded(s, session_id, position)
            if s.pending_revoked and topic != _REVOKED:
                self._flag(Rule.REVOKED_EXACTLY_ONCE, session_id, [*s.pending_revoked.values(), position],
                           sorted(s.pending_revoked), "supervisors present at the end got no Revoked")
                s.pending_revoked.clear()
                self._forget_if_over(session_id, s)
            handler(position, fields, s)
            return
        if topic == SupervisionEnded.TOPIC:
            self._nextchat_ended(position, fields)
            return
        agent_handler = self._agent_handlers.get(topic)
        if agent_handler is not None or topic in self._agent_topics:
            self._settle_nextchat(fields["agent_id"], position)
            if agent_handler is not None:
                agent_handler(position, fields)

    def _forget_if_over(self, session_id: str, s: _Session) -> None:
        """Completed and every Revoked is in: nothing later can be judged against this session."""
        if s.completed and not s.pending_revoked:
            del self.sessions[session_id]
            self.sessions_forgotten += 1

    def _flag(self, rule: Rule, session_id: str | None, positions: Iterable[int],
              participants: Iterable[str], detail: str) -> None:
        self.counts[rule] += 1
        if self.keep is None or len(self.violations) < self.keep:
            self.violations.append(Violation(rule, session_id, tuple(positions),
                                             tuple(participants), detail))

    @property
    def total(self) -> int:
        """Every violation found, kept in detail or not."""
        return sum(self.counts.values())

    # --- agents' supervisions ---------------------------------------------------------------------

    def _supervision_started(self, position: int, f: Fields) -> None:
        agent_id, sup = f["agent_id"], f["supervisor_id"]
        self.supervisions.setdefault(agent_id, {})[sup] = f["monitoring_mode"]
        self.nextchat_joins.pop((agent_id, sup), None)

    def _supervision_cancelled(self, position: int, f: Fields) -> None:
        self.supervisions.get(f["agent_id"], {}).pop(f["supervisor_id"], None)

    def _settle_nextchat(self, agent_id: str, position: int | None) -> None:
        """The agent's Accept is over: every NextChat supervision active at it must have ended."""
        owed = self.nextchat_owed.pop(agent_id, None)
        if owed is not None and owed[2]:
            at, session_id, sups = owed
            self._flag(Rule.NEXTCHAT_ENDS_AT_FIRST_ACCEPT, session_id,
                       [at] if position is None else [at, position], [*sorted(sups), agent_id],
                       f"agent {agent_id} accepted {session_id}, the first session since these "
                       "NextChat supervisions were set up, but they did not end")

    def _nextchat_ended(self, position: int, f: Fields) -> None:
        agent_id, sup, session_id = f["agent_id"], f["supervisor_id"], f["session_id"]
        owed = self.nextchat_owed.get(agent_id)
        if (owed is None or owed[1] != session_id or sup not in owed[2]
                or self.supervisions.get(agent_id, {}).get(sup) != _NEXT_CHAT):
            self._flag(Rule.NEXTCHAT_ENDS_AT_FIRST_ACCEPT, session_id, [position], [sup, agent_id],
                       "a supervision ended other than as a NextChat at its agent's Accept")
        else:
            owed[2].discard(sup)
        self.supervisions.get(agent_id, {}).pop(sup, None)

    def _accepted_by_agent(self, position: int, f: Fields) -> None:
        """The agent's side of an Accept closes it: every active supervision must have joined."""
        agent_id, session_id = f["agent_id"], f["session_id"]
        mine = self.supervisions.get(agent_id, {})
        nextchats = {sup for sup, mode in mine.items() if mode == _NEXT_CHAT}
        self.nextchat_owed[agent_id] = (position, session_id, nextchats)
        s = self.sessions.get(session_id)
        if s is None or s.accept_agent != agent_id:
            self._flag(Rule.ALLCHATS_EVERY_ACCEPT, session_id, [position], [agent_id],
                       f"agent {agent_id} recorded accepting {session_id}, "
                       "which records no such Accept just before")
            return
        active = set(mine)
        expected = active - s.accept_present_before
        if expected != s.accept_added or set(f["supervisors_added"]) != s.accept_added:
            self._flag(Rule.ALLCHATS_EVERY_ACCEPT, session_id, (s.accept_position, position),
                       sorted(expected ^ s.accept_added),
                       f"agent {agent_id} accepted with active supervisions {sorted(active)}; "
                       f"expected to join {sorted(expected)}, joined {sorted(s.accept_added)}")
        for sup in s.accept_added:
            # a NextChat joins once: while active, and never again once it has joined (even if a
            # corrupted log lets it join after its SupervisionEnded)
            key = (agent_id, sup)
            if mine.get(sup) == _NEXT_CHAT or key in self.nextchat_joins:
                joins = self.nextchat_joins.setdefault(key, [])
                joins.append(position)
                if len(joins) > 1:
                    self._flag(Rule.NEXTCHAT_AT_MOST_ONCE, session_id, joins, [sup, agent_id],
                               f"NextChat supervision of {agent_id} by {sup} "
                               f"joined {len(joins)} sessions")
        s.accept_agent = None

    # --- sessions -------------------------------------------------------------------------------

    def _agent_accepted(self, p: int, f: Fields, s: _Session) -> None:
        s.agents.add(f["agent_id"])
        s.accept_position, s.accept_agent = p, f["agent_id"]
        s.accept_added, s.accept_present_before = set(), set(s.supervisors)

    def _supervisor_added(self, p: int, f: Fields, s: _Session) -> None:
        sup = f["supervisor_id"]
        if sup in s.supervisors:
            self._flag(Rule.NO_DUPLICATE_PRESENCE, f["session_id"], [p], [sup],
                       "added while already present")
        if f["via"] == _SUPERVISION:
            if s.accept_agent is None or s.accept_agent != f["supervised_agent_id"]:
                self._flag(Rule.NO_JOIN_IN_PROGRESS, f["session_id"], [p], [sup, f["supervised_agent_id"]],
                           "a supervision joined other than at its agent's Accept")
            else:
                s.accept_added.add(sup)
        s.supervisors[sup] = f["mode"]

    def _switched(self, p: int, f: Fields, s: _Session) -> None:
        s.supervisors[f["supervisor_id"]] = f["to_mode"]

    def _supervisor_left(self, p: int, f: Fields, s: _Session) -> None:
        sup = f["supervisor_id"]
        s.supervisors.pop(sup, None)
        if f["actor"] != sup:
            self._flag(Rule.AGENT_LEAVING_KEEPS_SUPERVISORS, f["session_id"], [p], [sup, f["actor"]],
                       "a supervisor was made to leave by another")

    def _revoked(self, p: int, f: Fields, s: _Session) -> None:
        sup = f["supervisor_id"]
        if sup not in s.pending_revoked:
            rule = Rule.AGENT_LEAVING_KEEPS_SUPERVISORS if s.agents else Rule.REVOKED_EXACTLY_ONCE
            self._flag(rule, f["session_id"], [p], [sup],
                       "Revoked outside a completion or queueing, or twice")
        s.pending_revoked.pop(sup, None)
        s.supervisors.pop(sup, None)
        self._forget_if_over(f["session_id"], s)

    def _queued(self, p: int, f: Fields, s: _Session) -> None:
        """Every agent is out and every supervisor present is owed one Revoked."""
        s.agents.clear()
        s.pending_revoked = dict.fromkeys(s.supervisors, p)

    def _completed(self, p: int, f: Fields, s: _Session) -> None:
        """As a queueing, and the session is over for good (then forgotten)."""
        self._queued(p, f, s)
        s.completed = True
        self._forget_if_over(f["session_id"], s)

    def _other_session_event(self, p: int, f: Fields, s: _Session) -> None:
        """A session event no rule reads (the checks every session event gets are done)."""

    def _agent_left(self, p: int, f: Fields, s: _Session) -> None:
        s.agents.discard(f["agent_id"])

    def _message_to_all(self, p: int, f: Fields, s: _Session) -> None:
        # judged by who the sender is in the session, not by the type the event claims for it
        sender = f["sender_id"]
        if f["sender_type"] != _SUPERVISOR and sender not in s.supervisors:
            return
        mode = s.supervisors.get(sender)
        if mode is None or mode == _MONITOR:
            self._flag(Rule.MONITOR_NEVER_SENDS, f["session_id"], [p], [sender],
                       f"a message from a supervisor in mode {_text(mode)}")
        elif mode == _COACH:
            self._flag(Rule.COACH_NEVER_TO_CUSTOMER, f["session_id"], [p], [sender],
                       "a coaching supervisor's message was visible to all (the customer included)")

    def _message_to_agents(self, p: int, f: Fields, s: _Session) -> None:
        sender = f["sender_id"]
        mode = s.supervisors.get(sender)
        if mode is None or mode == _MONITOR:
            self._flag(Rule.MONITOR_NEVER_SENDS, f["session_id"], [p], [sender],
                       f"a message from a supervisor in mode {_text(mode)}")

    def _accept_unrecorded(self, s: _Session, session_id: str, p: int | None) -> None:
        """An AgentAccepted with no SessionAccepted after it: the supervisions were not applied."""
        self._flag(Rule.ALLCHATS_EVERY_ACCEPT, session_id,
                   [s.accept_position] if p is None else [s.accept_position, p],
                   [s.accept_agent or ""],
                   f"agent {s.accept_agent} joined {session_id} but its Accept never reached its "
                   "supervisions (no SessionAccepted)")
        s.accept_agent = None

    def finish(self) -> list[Violation]:
        """End of the log: revocations still owed are violations too."""
        for agent_id in list(self.nextchat_owed):
            self._settle_nextchat(agent_id, None)
        for session_id, s in self.sessions.items():
            if s.accept_agent is not None:
                self._accept_unrecorded(s, session_id, None)
            if s.pending_revoked:
                self._flag(Rule.REVOKED_EXACTLY_ONCE, session_id, s.pending_revoked.values(),
                           sorted(s.pending_revoked), "supervisors present at the end got no Revoked")
                s.pending_revoked.clear()
        return self.violations


def _text(mode: str | None) -> str:
    """A mode as its GWS spelling (``None`` when the sender was not present at all)."""
    return "None" if mode is None else str(mode)


def check_log(events: Iterable[tuple[int, DomainEvent]]) -> list[Violation]:
    """Every violation in a log of ``(position, event)`` pairs, in recorded order."""
    checker = LogChecker()
    for position, event in events:
        checker.feed(position, event)
    return checker.finish()

