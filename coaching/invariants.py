"""The supervision rules, checked over a recorded log: one definition, used by tests and audits.

:class:`LogChecker` reads events in recorded order (with their positions) and reports every
place the log breaks a rule. It trusts nothing but the log: it keeps its own small view of who
is present and which supervisions are active, built from the events themselves.

The property tests (``coaching.testing``) run it over every log they produce; an audit of a
stored log runs the same code, so a rule has exactly one definition.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from coaching.domain.events import (
    AgentAccepted,
    AgentEvent,
    AgentLeft,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionAccepted,
    SessionCompleted,
    SessionEvent,
    SessionQueued,
    SupervisionCancelled,
    SupervisionEnded,
    SupervisionStarted,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.values import JoinedVia, MonitoringMode, ParticipantType, SupervisorMode


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


@dataclass
class _Session:
    customer: str = ""
    agents: set[str] = field(default_factory=set)
    supervisors: dict[str, SupervisorMode] = field(default_factory=dict)
    last: DomainEvent | None = None
    pending_revoked: dict[str, int] = field(default_factory=dict)  # supervisor -> position of the end
    accept_position: int = 0
    accept_agent: str | None = None
    accept_added: set[str] = field(default_factory=set)
    accept_present_before: set[str] = field(default_factory=set)


class LogChecker:
    """Feed events in recorded order; read :attr:`violations` after :meth:`finish`."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []
        self.sessions: dict[str, _Session] = {}
        self.supervisions: dict[str, dict[str, MonitoringMode]] = {}  # agent -> sup -> mode
        self.nextchat_joins: dict[tuple[str, str], list[int]] = {}  # (agent, sup) -> positions
        # agent -> (position of its SessionAccepted, session, NextChat supervisors still to end)
        self.nextchat_owed: dict[str, tuple[int, str, set[str]]] = {}
        self.events = 0

    def _flag(self, rule: Rule, session_id: str | None, positions: Iterable[int],
              participants: Iterable[str], detail: str) -> None:
        self.violations.append(Violation(rule, session_id, tuple(positions),
                                         tuple(participants), detail))

    def feed(self, position: int, event: DomainEvent) -> None:
        """Check one event against everything seen before it."""
        self.events += 1
        if isinstance(event, SessionEvent):
            self._session_event(position, event)
            return
        if isinstance(event, SupervisionEnded):
            self._nextchat_ended(position, event)
            return
        if isinstance(event, AgentEvent):
            self._settle_nextchat(event.agent_id, position)
        if isinstance(event, SupervisionStarted):
            self.supervisions.setdefault(event.agent_id, {})[event.supervisor_id] = event.monitoring_mode
            self.nextchat_joins.pop((event.agent_id, event.supervisor_id), None)
        elif isinstance(event, SupervisionCancelled):
            self.supervisions.get(event.agent_id, {}).pop(event.supervisor_id, None)
        elif isinstance(event, SessionAccepted):
            self._accepted_by_agent(position, event)

    def _settle_nextchat(self, agent_id: str, position: int | None) -> None:
        """The agent's Accept is over: every NextChat supervision active at it must have ended."""
        owed = self.nextchat_owed.pop(agent_id, None)
        if owed is not None and owed[2]:
            at, session_id, sups = owed
            self._flag(Rule.NEXTCHAT_ENDS_AT_FIRST_ACCEPT, session_id,
                       [at] if position is None else [at, position], [*sorted(sups), agent_id],
                       f"agent {agent_id} accepted {session_id}, the first session since these "
                       "NextChat supervisions were set up, but they did not end")

    def _nextchat_ended(self, position: int, event: SupervisionEnded) -> None:
        owed = self.nextchat_owed.get(event.agent_id)
        if (owed is None or owed[1] != event.session_id or event.supervisor_id not in owed[2]
                or self.supervisions.get(event.agent_id, {}).get(event.supervisor_id)
                is not MonitoringMode.NEXT_CHAT):
            self._flag(Rule.NEXTCHAT_ENDS_AT_FIRST_ACCEPT, event.session_id, [position],
                       [event.supervisor_id, event.agent_id],
                       "a supervision ended other than as a NextChat at its agent's Accept")
        else:
            owed[2].discard(event.supervisor_id)
        self.supervisions.get(event.agent_id, {}).pop(event.supervisor_id, None)

    def _accepted_by_agent(self, position: int, event: SessionAccepted) -> None:
        """The agent's side of an Accept closes it: every active supervision must have joined."""
        nextchats = {sup for sup, mode in self.supervisions.get(event.agent_id, {}).items()
                     if mode is MonitoringMode.NEXT_CHAT}
        self.nextchat_owed[event.agent_id] = (position, event.session_id, nextchats)
        s = self.sessions.get(event.session_id)
        if s is None or s.accept_agent != event.agent_id:
            self._flag(Rule.ALLCHATS_EVERY_ACCEPT, event.session_id, [position], [event.agent_id],
                       f"agent {event.agent_id} recorded accepting {event.session_id}, "
                       "which records no such Accept just before")
            return
        active = set(self.supervisions.get(event.agent_id, {}))
        expected = active - s.accept_present_before
        if expected != s.accept_added or set(event.supervisors_added) != s.accept_added:
            self._flag(Rule.ALLCHATS_EVERY_ACCEPT, event.session_id, (s.accept_position, position),
                       sorted(expected ^ s.accept_added),
                       f"agent {event.agent_id} accepted with active supervisions {sorted(active)}; "
                       f"expected to join {sorted(expected)}, joined {sorted(s.accept_added)}")
        for sup in s.accept_added:
            if self.supervisions.get(event.agent_id, {}).get(sup) is MonitoringMode.NEXT_CHAT:
                joins = self.nextchat_joins.setdefault((event.agent_id, sup), [])
                joins.append(position)
                if len(joins) > 1:
                    self._flag(Rule.NEXTCHAT_AT_MOST_ONCE, event.session_id, joins,
                               [sup, event.agent_id],
                               f"NextChat supervision of {event.agent_id} by {sup} "
                               f"joined {len(joins)} sessions")
        s.accept_agent = None

    def _session_event(self, p: int, e: SessionEvent) -> None:
        s = self.sessions.setdefault(e.session_id, _Session())
        if s.accept_agent is not None and not isinstance(e, SupervisorAdded):
            self._accept_unrecorded(s, e.session_id, p)
        if s.pending_revoked and not isinstance(e, Revoked):
            self._flag(Rule.REVOKED_EXACTLY_ONCE, e.session_id, [*s.pending_revoked.values(), p],
                       sorted(s.pending_revoked), "supervisors present at the end got no Revoked")
            s.pending_revoked.clear()
        match e:
            case AgentAccepted():
                s.agents.add(e.agent_id)
                s.accept_position, s.accept_agent = p, e.agent_id
                s.accept_added, s.accept_present_before = set(), set(s.supervisors)
            case SupervisorAdded():
                if e.supervisor_id in s.supervisors:
                    self._flag(Rule.NO_DUPLICATE_PRESENCE, e.session_id, [p], [e.supervisor_id],
                               "added while already present")
                if e.via is JoinedVia.SUPERVISION:
                    joined_on_accept = (s.accept_agent == e.supervised_agent_id
                                        and isinstance(s.last, AgentAccepted | SupervisorAdded))
                    if not joined_on_accept:
                        self._flag(Rule.NO_JOIN_IN_PROGRESS, e.session_id, [p],
                                   [e.supervisor_id, e.supervised_agent_id],
                                   "a supervision joined other than at its agent's Accept")
                    else:
                        s.accept_added.add(e.supervisor_id)
                s.supervisors[e.supervisor_id] = e.mode
            case SupervisorModeSwitched():
                s.supervisors[e.supervisor_id] = e.to_mode
            case SupervisorLeft():
                s.supervisors.pop(e.supervisor_id, None)
                if e.actor != e.supervisor_id:
                    self._flag(Rule.AGENT_LEAVING_KEEPS_SUPERVISORS, e.session_id, [p],
                               [e.supervisor_id, e.actor], "a supervisor was made to leave by another")
            case Revoked():
                if e.supervisor_id not in s.pending_revoked:
                    rule = (Rule.AGENT_LEAVING_KEEPS_SUPERVISORS if s.agents
                            else Rule.REVOKED_EXACTLY_ONCE)
                    self._flag(rule, e.session_id, [p], [e.supervisor_id],
                               "Revoked outside a completion or queueing, or twice")
                s.pending_revoked.pop(e.supervisor_id, None)
                s.supervisors.pop(e.supervisor_id, None)
            case SessionCompleted() | SessionQueued():
                s.agents.clear()
                s.pending_revoked = dict.fromkeys(s.supervisors, p)
            case AgentLeft():
                s.agents.discard(e.agent_id)
            case MessageVisibleToAll() | MessageVisibleToAgent():
                self._message(p, e, s)
        s.last = e

    def _accept_unrecorded(self, s: _Session, session_id: str, p: int | None) -> None:
        """An AgentAccepted with no SessionAccepted after it: the supervisions were not applied."""
        self._flag(Rule.ALLCHATS_EVERY_ACCEPT, session_id,
                   [s.accept_position] if p is None else [s.accept_position, p],
                   [s.accept_agent or ""],
                   f"agent {s.accept_agent} joined {session_id} but its Accept never reached its "
                   "supervisions (no SessionAccepted)")
        s.accept_agent = None

    def _message(self, p: int, e: MessageVisibleToAll | MessageVisibleToAgent, s: _Session) -> None:
        # judged by who the sender is in the session, not by the type the event claims for it
        if e.sender_type is not ParticipantType.SUPERVISOR and e.sender_id not in s.supervisors:
            return
        mode = s.supervisors.get(e.sender_id)
        if mode is SupervisorMode.MONITOR or mode is None:
            self._flag(Rule.MONITOR_NEVER_SENDS, e.session_id, [p], [e.sender_id],
                       f"a message from a supervisor in mode {mode}")
        elif mode is SupervisorMode.COACH and isinstance(e, MessageVisibleToAll):
            self._flag(Rule.COACH_NEVER_TO_CUSTOMER, e.session_id, [p], [e.sender_id],
                       "a coaching supervisor's message was visible to all (the customer included)")

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


def check_log(events: Iterable[tuple[int, DomainEvent]]) -> list[Violation]:
    """Every violation in a log of ``(position, event)`` pairs, in recorded order."""
    checker = LogChecker()
    for position, event in events:
        checker.feed(position, event)
    return checker.finish()
