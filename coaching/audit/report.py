"""The audit report: what a recorded log says happened, accumulated in one pass, rendered three ways.

:class:`ReportBuilder` is fed every record of a log in order (its topic and its fields: the
record's decoded JSON, or a domain event's ``__dict__``) and keeps:

- aggregates, whose size depends on the floor (agents × supervisors), never on the length of
  the log: supervisions set up and ended per supervisor, agent, mode and NextChat/AllChats; each
  supervisor's time present per mode, mode switches, how its presences ended; revocations by
  reason; messages by visibility and by sender;
- a detailed timeline (every event, who was present in which mode, who saw each message) for a
  bounded selection of sessions only: the ones asked for, else the first ``timeline_limit``.

A live session's state is folded into the totals and forgotten once the session is completed
and its supervisors are revoked, so memory follows the sessions open at one time (ADR 0021).

:func:`render_text`, :func:`render_json` and :func:`render_html` turn a finished
:class:`AuditReport` (with the violations) into a terminal summary, JSON for machines, and one
self-contained HTML page (inline CSS, no script, every text escaped).
"""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

import orjson

from coaching.domain.events import (
    ALL_EVENTS,
    AgentAccepted,
    AgentInvited,
    AgentLeft,
    AgentRejected,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionAccepted,
    SessionCompleted,
    SessionOpened,
    SessionQueued,
    SupervisionCancelled,
    SupervisionEnded,
    SupervisionStarted,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.values import ParticipantType, Visibility, can_see
from coaching.invariants import Fields, Rule, Violation

MODES: Final = ("Monitor", "Coach", "BargeIn")
_SUPERVISOR: Final = ParticipantType.SUPERVISOR.value
_VIA_SUPERVISION: Final = "Supervision"
DEFAULT_TIMELINE_LIMIT: Final = 50
"""Sessions given a detailed timeline when none are named: enough to read, bounded on any log."""


def _name(topic: str) -> str:
    """``coaching:SupervisorAdded@v1`` → ``SupervisorAdded``."""
    return topic.partition(":")[2].partition("@")[0] or topic


def _when(value: Any) -> datetime:
    """A timestamp from a decoded record (ISO text) or a domain event (``datetime``)."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(value)


def _iso(value: Any) -> str | None:
    if value is None:
        return None
    return _when(value).isoformat().replace("+00:00", "Z")


# --- the accumulated figures --------------------------------------------------------------------


@dataclass
class SupervisionTotals:
    """One (supervisor, agent, mode, monitoring mode) kind of supervision: how often and how it ended."""

    started: int = 0
    cancelled: int = 0
    nextchat_used: int = 0
    sessions_joined: int = 0
    active_at_end: int = 0


@dataclass
class SupervisorTotals:
    """Everything one supervisor did inside sessions."""

    joined_via: Counter[str] = field(default_factory=Counter)
    presences: int = 0
    seconds_by_mode: dict[str, float] = field(default_factory=dict)
    ended_by: Counter[str] = field(default_factory=Counter)
    switches: Counter[str] = field(default_factory=Counter)
    messages_by_visibility: Counter[str] = field(default_factory=Counter)
    longest_presence_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        return float(sum(self.seconds_by_mode.values()))


@dataclass(slots=True)
class Segment:
    """A stretch of one supervisor's presence in one mode."""

    mode: str
    start: datetime
    end: datetime | None = None
    start_position: int = 0

    def seconds(self, until: datetime | None) -> float | None:
        """How long it lasted (up to ``until`` when still open); None when it cannot be told."""
        end = self.end or until
        return None if end is None else (end - self.start).total_seconds()


@dataclass(slots=True)
class Presence:
    """One supervisor's presence in one session: from join to leave/revoke, mode by mode."""

    supervisor_id: str
    nickname: str
    via: str
    supervised_agent_id: str
    joined_position: int
    segments: list[Segment]
    ended_by: str | None = None
    end_position: int | None = None

    @property
    def mode(self) -> str:
        return self.segments[-1].mode

    def seconds(self, until: datetime | None) -> float:
        return sum(s.seconds(until) or 0.0 for s in self.segments)


@dataclass(slots=True)
class TimelineEntry:
    """One event of a session, with who was present (and how) right after it."""

    position: int
    timestamp: str
    event: str
    actor: str
    summary: str
    states: dict[str, str]
    """participant → ``"present"`` or a supervisor's mode, after this event."""
    sender: str | None = None
    viewers: tuple[str, ...] = ()
    """For a message: the participants present and allowed to see it, the sender included."""
    visibility: str | None = None


@dataclass
class SessionTimeline:
    """The detailed story of one session (kept for a bounded selection of sessions only)."""

    session_id: str
    customer_id: str = ""
    participants: dict[str, str] = field(default_factory=dict)
    """participant → type (Customer, Agent, Supervisor), in order of first appearance."""
    nicknames: dict[str, str] = field(default_factory=dict)
    entries: list[TimelineEntry] = field(default_factory=list)
    presences: list[Presence] = field(default_factory=list)
    status: str = "Waiting"
    agents: set[str] = field(default_factory=set)
    """Agents present now (while the log is being read)."""
    customer_present: bool = False


@dataclass(slots=True)
class _Live:
    """A session a supervisor joined, until it is over: who is present, how, and since when."""

    present: dict[str, Presence] = field(default_factory=dict)
    modes_seen: set[str] = field(default_factory=set)
    intruded: bool = False
    completed: bool = False


@dataclass
class AuditReport:
    """The figures of one audited log (aggregate-sized), plus the selected sessions' timelines."""

    events: int = 0
    first_position: int | None = None
    last_position: int | None = None
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    events_by_type: Counter[str] = field(default_factory=Counter)
    sessions: Counter[str] = field(default_factory=Counter)
    """opened, accepted (Accepts), invitations, rejected, queued, completed, completed: <reason>,
    supervised, supervised in <mode>, intruded, open at end."""
    supervisions: dict[tuple[str, str, str, str], SupervisionTotals] = field(default_factory=dict)
    """(supervisor, agent, mode, monitoring mode) → totals."""
    supervisors: dict[str, SupervisorTotals] = field(default_factory=dict)
    revoked_by_reason: Counter[str] = field(default_factory=Counter)
    messages_by_visibility: Counter[str] = field(default_factory=Counter)
    messages_by_sender_type: Counter[str] = field(default_factory=Counter)
    timelines: list[SessionTimeline] = field(default_factory=list)
    timelines_selected: tuple[str, ...] | None = None
    """The sessions asked for by id (None: the first ``timeline_limit`` sessions of the log)."""
    timeline_limit: int = DEFAULT_TIMELINE_LIMIT
    sessions_without_timeline: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: every figure, keyed and sorted for stable output."""
        return {
            "log": {"events": self.events, "first_position": self.first_position,
                    "last_position": self.last_position, "first_timestamp": self.first_timestamp,
                    "last_timestamp": self.last_timestamp,
                    "events_by_type": dict(sorted(self.events_by_type.items()))},
            "sessions": dict(sorted(self.sessions.items())),
            "supervisions": [
                {"supervisor_id": sup, "agent_id": agent, "mode": mode, "monitoring_mode": mm,
                 "started": t.started, "cancelled": t.cancelled, "nextchat_used": t.nextchat_used,
                 "sessions_joined": t.sessions_joined, "active_at_end": t.active_at_end}
                for (sup, agent, mode, mm), t in sorted(self.supervisions.items())],
            "supervisors": {
                sup: {"presences": t.presences, "joined_via": dict(sorted(t.joined_via.items())),
                      "seconds_present": round(t.seconds, 3),
                      "seconds_by_mode": {m: round(t.seconds_by_mode.get(m, 0.0), 3) for m in MODES},
                      "longest_presence_seconds": round(t.longest_presence_seconds, 3),
                      "ended_by": dict(sorted(t.ended_by.items())),
                      "mode_switches": dict(sorted(t.switches.items())),
                      "messages_by_visibility": dict(sorted(t.messages_by_visibility.items()))}
                for sup, t in sorted(self.supervisors.items())},
            "revoked_by_reason": dict(sorted(self.revoked_by_reason.items())),
            "messages": {"by_visibility": dict(sorted(self.messages_by_visibility.items())),
                         # plain str keys for JSON, whichever decoder counted them
                         "by_sender_type": {str(k): n
                                            for k, n in sorted(self.messages_by_sender_type.items())}},
        }

    def timelines_dict(self) -> list[dict[str, Any]]:
        """The selected sessions' timelines and presences as plain data."""
        end = _when(self.last_timestamp) if self.last_timestamp else None
        return [{
            "session_id": t.session_id, "customer_id": t.customer_id, "status": t.status,
            "participants": t.participants,
            "presences": [{
                "supervisor_id": p.supervisor_id, "via": p.via, "supervised_agent_id": p.supervised_agent_id,
                "joined_position": p.joined_position, "end_position": p.end_position,
                "ended_by": p.ended_by or "present at end of log",
                "seconds": round(p.seconds(end), 3) if end else None,
                "segments": [{"mode": s.mode, "start": _iso(s.start), "end": _iso(s.end),
                              "seconds": _round(s.seconds(end))}
                             for s in p.segments]} for p in t.presences],
            "events": [{"position": e.position, "timestamp": e.timestamp, "event": e.event,
                        "actor": e.actor, "summary": e.summary, "present": e.states,
                        **({"sender": e.sender, "visibility": e.visibility, "seen_by": list(e.viewers)}
                           if e.sender is not None else {})}
                       for e in t.entries],
        } for t in self.timelines]


# --- the accumulator ----------------------------------------------------------------------------


class ReportBuilder:
    """Feed ``(position, topic, fields)`` in recorded order; :meth:`finish` gives the report.

    ``sessions`` names the sessions to keep a timeline for; without it the first
    ``timeline_limit`` sessions opened in the log get one.

    Why the handlers look the way they do: they run once per event of logs of millions of
    events, so the common events (messages, invitations, accepts) touch a counter and one
    dict at most; a session gets live state only once a supervisor joins it, and a timeline
    only when it is selected.
    """

    def __init__(self, sessions: Collection[str] | None = None,
                 timeline_limit: int = DEFAULT_TIMELINE_LIMIT) -> None:
        self.report = AuditReport(timelines_selected=tuple(sessions) if sessions is not None else None,
                                  timeline_limit=timeline_limit)
        self._pick_first = sessions is None
        self._timeline_room = timeline_limit
        self._tl: dict[str, SessionTimeline] = {}
        for session_id in sessions or ():
            self._add_timeline(session_id)
        self._live: dict[str, _Live] = {}
        self._active: dict[tuple[str, str], tuple[str, str, str, str]] = {}  # (agent, sup) -> key
        self._by_type: Counter[str] = Counter()
        self._first: tuple[int, Any] | None = None
        self._last_position = 0
        self._last_fields: Fields | None = None
        r = self.report
        self._sessions = r.sessions
        self._by_sender = r.messages_by_sender_type
        self._handlers: dict[str, Callable[[int, Fields], None]] = {
            MessageVisibleToAll.TOPIC: self._message_to_all,
            MessageVisibleToAgent.TOPIC: self._message_to_agents,
            SessionOpened.TOPIC: self._opened,
            AgentInvited.TOPIC: self._invited,
            AgentRejected.TOPIC: self._rejected,
            AgentAccepted.TOPIC: self._agent_accepted,
            AgentLeft.TOPIC: self._agent_left,
            SupervisorAdded.TOPIC: self._supervisor_added,
            SupervisorModeSwitched.TOPIC: self._switched,
            SupervisorLeft.TOPIC: self._supervisor_left,
            Revoked.TOPIC: self._revoked,
            SessionQueued.TOPIC: self._queued,
            SessionCompleted.TOPIC: self._completed,
            SupervisionStarted.TOPIC: self._supervision_started,
            SupervisionCancelled.TOPIC: self._supervision_cancelled,
            SupervisionEnded.TOPIC: self._supervision_ended,
            SessionAccepted.TOPIC: self._session_accepted,
        }
        for cls in ALL_EVENTS:  # every current topic has a handler (a driver may index by topic)
            self._handlers.setdefault(cls.TOPIC, self._nothing)

    # --- input ----------------------------------------------------------------------------------

    def feed_fields(self, position: int, topic: str, fields: Fields) -> None:
        """Account for one event."""
        self._by_type[topic] += 1
        if self._first is None:
            self._first = (position, fields["timestamp"])
        self._last_position = position
        self._last_fields = fields
        handler = self._handlers.get(topic)
        if handler is not None:
            handler(position, fields)

    def _nothing(self, position: int, fields: Fields) -> None:
        """An event the report only counts (registrations)."""

    @property
    def handlers(self) -> Mapping[str, Callable[[int, Fields], None]]:
        """topic → what the report does with such an event, for a driver that counts by itself.

        A driver streaming millions of records calls these directly and reports the counting
        :meth:`feed_fields` would have done with :meth:`counted` (one call per event less).
        """
        return self._handlers

    def counted(self, by_type: Mapping[str, int], first: tuple[int, Fields] | None,
                last: tuple[int, Fields] | None) -> None:
        """Add what a driver counted itself: events by topic, the first and the last event."""
        self._by_type.update(by_type)
        if first is not None and self._first is None:
            self._first = (first[0], first[1]["timestamp"])
        if last is not None:
            self._last_position, self._last_fields = last

    def _add_timeline(self, session_id: str) -> SessionTimeline:
        timeline = self._tl[session_id] = SessionTimeline(session_id)
        self.report.timelines.append(timeline)
        return timeline

    def _live_of(self, session_id: str) -> _Live:
        live = self._live.get(session_id)
        if live is None:
            live = self._live[session_id] = _Live()
        return live

    def _supervisor(self, sup: str) -> SupervisorTotals:
        totals = self.report.supervisors.get(sup)
        if totals is None:
            totals = self.report.supervisors[sup] = SupervisorTotals()
        return totals

    # --- sessions -------------------------------------------------------------------------------

    def _opened(self, p: int, f: Fields) -> None:
        session_id = f["session_id"]
        tl = self._tl.get(session_id)
        if tl is None and self._pick_first:
            if self._timeline_room > 0:
                self._timeline_room -= 1
                tl = self._add_timeline(session_id)
            else:
                self.report.sessions_without_timeline += 1
        if tl is not None:
            tl.customer_id = customer = f["customer_id"]
            tl.customer_present = True
            self._join(tl, customer, "Customer", f["customer_nickname"])
            self._entry(tl, p, f, "SessionOpened", f"customer {customer} wrote in")

    def _message_to_all(self, p: int, f: Fields) -> None:
        sender_type = f["sender_type"]
        self._by_sender[sender_type] += 1  # --validate gives ParticipantType: equal to its str, merged
        if sender_type == _SUPERVISOR:
            self._supervisor(f["sender_id"]).messages_by_visibility["All"] += 1
        if self._tl:
            tl = self._tl.get(f["session_id"])
            if tl is not None:
                self._message_entry(tl, p, f, Visibility.ALL)

    def _message_to_agents(self, p: int, f: Fields) -> None:
        self._by_sender[_SUPERVISOR] += 1
        self._supervisor(f["sender_id"]).messages_by_visibility["Agents"] += 1
        tl = self._tl.get(f["session_id"])
        if tl is not None:
            self._message_entry(tl, p, f, Visibility.AGENTS)

    def _invited(self, p: int, f: Fields) -> None:
        tl = self._tl.get(f["session_id"]) if self._tl else None
        if tl is not None:
            self._entry(tl, p, f, "AgentInvited", f"{f['agent_id']} invited ({f['invitation']})")

    def _rejected(self, p: int, f: Fields) -> None:
        tl = self._tl.get(f["session_id"])
        if tl is not None:
            self._entry(tl, p, f, "AgentRejected", f"{f['agent_id']} rejected the invitation")

    def _agent_accepted(self, p: int, f: Fields) -> None:
        tl = self._tl.get(f["session_id"]) if self._tl else None
        if tl is not None:
            tl.agents.add(f["agent_id"])
            self._join(tl, f["agent_id"], "Agent", f["nickname"])
            tl.status = "Chatting"
            self._entry(tl, p, f, "AgentAccepted", f"{f['agent_id']} accepted and joined")

    def _agent_left(self, p: int, f: Fields) -> None:
        tl = self._tl.get(f["session_id"])
        if tl is not None:
            tl.agents.discard(f["agent_id"])
            self._entry(tl, p, f, "AgentLeft", f"{f['agent_id']} left")

    def _supervisor_added(self, p: int, f: Fields) -> None:
        session_id = f["session_id"]
        live = self._live_of(session_id)
        sup, mode, via = f["supervisor_id"], str(f["mode"]), str(f["via"])
        totals = self._supervisor(sup)
        totals.joined_via[via] += 1
        totals.presences += 1
        if via == _VIA_SUPERVISION:
            key = self._active.get((f["supervised_agent_id"], sup)) or (
                sup, f["supervised_agent_id"], mode, str(f["monitoring_mode"]))
            self._supervision(key).sessions_joined += 1
        else:
            live.intruded = True
        presence = Presence(sup, f["nickname"], via, f["supervised_agent_id"], p,
                            [Segment(mode, _when(f["timestamp"]), start_position=p)])
        previous = live.present.get(sup)
        if previous is not None:  # a duplicate join (the rules flag it): close the first one
            self._close(previous, "added again", p, f["timestamp"])
        live.present[sup] = presence
        live.modes_seen.add(mode)
        tl = self._tl.get(session_id)
        if tl is not None:
            tl.presences.append(presence)
            self._join(tl, sup, "Supervisor", f["nickname"])
            self._entry(tl, p, f, "SupervisorAdded",
                        f"{sup} joined in {mode} via {via} (supervising {f['supervised_agent_id']})")

    def _switched(self, p: int, f: Fields) -> None:
        session_id = f["session_id"]
        live = self._live_of(session_id)
        sup, to_mode = f["supervisor_id"], str(f["to_mode"])
        presence = live.present.get(sup)
        if presence is not None:
            now = _when(f["timestamp"])
            presence.segments[-1].end = now
            presence.segments.append(Segment(to_mode, now, start_position=p))
        self._supervisor(sup).switches[f"{f['from_mode']}→{to_mode}"] += 1
        live.modes_seen.add(to_mode)
        tl = self._tl.get(session_id)
        if tl is not None:
            self._entry(tl, p, f, "SupervisorModeSwitched", f"{sup} switched {f['from_mode']} → {to_mode}")

    def _supervisor_left(self, p: int, f: Fields) -> None:
        session_id = f["session_id"]
        live = self._live_of(session_id)
        presence = live.present.pop(f["supervisor_id"], None)
        if presence is not None:
            self._close(presence, "Left", p, f["timestamp"])
        tl = self._tl.get(session_id)
        if tl is not None:
            self._entry(tl, p, f, "SupervisorLeft", f"{f['supervisor_id']} left")

    def _revoked(self, p: int, f: Fields) -> None:
        session_id = f["session_id"]
        reason = str(f["reason"])
        self.report.revoked_by_reason[reason] += 1
        live = self._live_of(session_id)
        presence = live.present.pop(f["supervisor_id"], None)
        if presence is not None:
            self._close(presence, f"Revoked: {reason}", p, f["timestamp"])
        tl = self._tl.get(session_id)
        if tl is not None:
            self._entry(tl, p, f, "Revoked", f"{f['supervisor_id']} revoked ({reason})")
        if live.completed and not live.present:
            self._forget(session_id, live)

    def _queued(self, p: int, f: Fields) -> None:
        tl = self._tl.get(f["session_id"])
        if tl is not None:
            tl.agents.clear()
            tl.status = "Waiting"
            self._entry(tl, p, f, "SessionQueued", f"placed in queue {f['queue_name']}")

    def _completed(self, p: int, f: Fields) -> None:
        session_id = f["session_id"]
        self._sessions[f"completed: {f['reason']}"] += 1
        live = self._live.get(session_id)
        if live is not None:
            live.completed = True
            if not live.present:
                self._forget(session_id, live)
        tl = self._tl.get(session_id)
        if tl is not None:
            tl.agents.clear()
            tl.customer_present = False
            tl.status = "Completed"
            self._entry(tl, p, f, "SessionCompleted", f"completed ({f['reason']})")

    def _close(self, presence: Presence, how: str, p: int, timestamp: Any) -> None:
        now = _when(timestamp)
        presence.segments[-1].end = now
        presence.ended_by, presence.end_position = how, p
        totals = self._supervisor(presence.supervisor_id)
        totals.ended_by[how] += 1
        for segment in presence.segments:
            totals.seconds_by_mode[segment.mode] = (totals.seconds_by_mode.get(segment.mode, 0.0)
                                                    + (segment.seconds(now) or 0.0))
        totals.longest_presence_seconds = max(totals.longest_presence_seconds, presence.seconds(now))

    def _forget(self, session_id: str, live: _Live) -> None:
        """Completed with nobody left to revoke: fold the session into the totals, forget it."""
        self._fold(live)
        del self._live[session_id]

    def _fold(self, live: _Live) -> None:
        if live.modes_seen:
            self._sessions["supervised"] += 1
            for mode in live.modes_seen:
                self._sessions[f"supervised in {mode}"] += 1
        if live.intruded:
            self._sessions["with an Intrude"] += 1

    # --- agents' supervisions -------------------------------------------------------------------

    def _supervision(self, key: tuple[str, str, str, str]) -> SupervisionTotals:
        totals = self.report.supervisions.get(key)
        if totals is None:
            totals = self.report.supervisions[key] = SupervisionTotals()
        return totals

    def _supervision_started(self, p: int, f: Fields) -> None:
        key = (f["supervisor_id"], f["agent_id"], str(f["mode"]), str(f["monitoring_mode"]))
        self._active[f["agent_id"], f["supervisor_id"]] = key
        self._supervision(key).started += 1

    def _supervision_cancelled(self, p: int, f: Fields) -> None:
        key = self._active.pop((f["agent_id"], f["supervisor_id"]), None) or (
            f["supervisor_id"], f["agent_id"], str(f["mode"]), str(f["monitoring_mode"]))
        self._supervision(key).cancelled += 1

    def _supervision_ended(self, p: int, f: Fields) -> None:
        key = self._active.pop((f["agent_id"], f["supervisor_id"]), None) or (
            f["supervisor_id"], f["agent_id"], "?", "NextChat")
        self._supervision(key).nextchat_used += 1

    def _session_accepted(self, p: int, f: Fields) -> None:
        tl = self._tl.get(f["session_id"]) if self._tl else None
        if tl is not None and f["supervisors_added"]:
            self._entry(tl, p, f, "SessionAccepted",
                        f"{f['agent_id']}'s supervisions applied: {', '.join(f['supervisors_added'])}")

    # --- timelines ------------------------------------------------------------------------------

    @staticmethod
    def _join(timeline: SessionTimeline, participant: str, kind: str, nickname: str | None) -> None:
        timeline.participants.setdefault(participant, kind)
        if nickname:
            timeline.nicknames.setdefault(participant, nickname)

    def _states(self, tl: SessionTimeline) -> dict[str, str]:
        states = dict.fromkeys(sorted(tl.agents), "present")
        if tl.customer_present and tl.customer_id:
            states[tl.customer_id] = "present"
        live = self._live.get(tl.session_id)
        if live is not None:
            states.update({s: p.mode for s, p in live.present.items()})
        return states

    def _entry(self, tl: SessionTimeline, p: int, f: Fields, event: str, summary: str) -> None:
        tl.entries.append(TimelineEntry(p, _iso(f["timestamp"]) or "", event, f["actor"], summary,
                                        self._states(tl)))

    def _message_entry(self, tl: SessionTimeline, p: int, f: Fields, visibility: Visibility) -> None:
        sender = f["sender_id"]
        if sender not in tl.participants:
            self._join(tl, sender, str(f.get("sender_type", _SUPERVISOR)), f["nickname"])
        states = self._states(tl)
        types = tl.participants
        viewers = tuple(who for who in states
                        if who == sender or can_see(ParticipantType(types.get(who, "Agent")), visibility))
        name = "MessageVisibleToAll" if visibility is Visibility.ALL else "MessageVisibleToAgent"
        tl.entries.append(TimelineEntry(p, _iso(f["timestamp"]) or "", name, f["actor"], f["text"],
                                        states, sender, viewers, visibility.value))

    # --- the end ----------------------------------------------------------------------------------

    def finish(self) -> AuditReport:
        """Close every presence still open at the end of the log and return the report."""
        r = self.report
        r.events = sum(self._by_type.values())
        r.events_by_type = Counter({_name(t): n for t, n in self._by_type.items()})
        by_type = r.events_by_type
        r.messages_by_visibility = Counter({"All": by_type.get("MessageVisibleToAll", 0),
                                            "Agents": by_type.get("MessageVisibleToAgent", 0)})
        for key, name in (("opened", "SessionOpened"), ("invitations", "AgentInvited"),
                          ("invitations rejected", "AgentRejected"),
                          ("accepted by an agent", "AgentAccepted"), ("queued", "SessionQueued"),
                          ("completed", "SessionCompleted")):
            r.sessions[key] = by_type.get(name, 0)
        r.sessions["open at end of log"] = max(0, r.sessions["opened"] - r.sessions["completed"])
        if self._first is not None and self._last_fields is not None:
            r.first_position, r.first_timestamp = self._first[0], _iso(self._first[1])
            r.last_position, r.last_timestamp = self._last_position, _iso(self._last_fields["timestamp"])
            last_ts = self._last_fields["timestamp"]
            for live in self._live.values():
                for presence in list(live.present.values()):
                    self._close(presence, "present at end of log", self._last_position, last_ts)
                    presence.end_position = None
                    presence.segments[-1].end = None
                self._fold(live)
        for active in self._active.values():
            self._supervision(active).active_at_end += 1
        return r


# --- renderings ---------------------------------------------------------------------------------


def _round(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _hms(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(frozen=True, slots=True)
class Findings:
    """What the rules (and the chain, and the decoder) found, for rendering next to the report."""

    violations: Sequence[Violation]
    counts: dict[Rule, int]
    undecodable: Sequence[tuple[int, str, str]] = ()
    undecodable_count: int = 0
    chain: dict[str, Any] | None = None
    """``{"ok", "records", "head", "first_break", "reason", "expected_head"}`` when verified."""

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _rows(rows: Sequence[tuple[str, Any]], indent: str = "  ", width: int = 44) -> list[str]:
    if not rows:
        return [f"{indent}(none)"]
    w = max(width, *(len(name) + 2 for name, _ in rows))
    return [f"{indent}{name:<{w}}{value:>12,}" if isinstance(value, int)
            else f"{indent}{name:<{w}}{value!s:>12}" for name, value in rows]


def render_text(report: AuditReport, findings: Findings, source: str = "", *, show: int = 50) -> str:
    """The terminal summary: verdict first, then the figures, then (if any) the timelines asked for."""
    out: list[str] = []
    out.append(f"coaching audit: {source}" if source else "coaching audit")
    span = (f", {report.first_timestamp} → {report.last_timestamp}" if report.first_timestamp else "")
    out.append(f"  log          {report.events:,} events, positions "
               f"{report.first_position or 0:,}–{report.last_position or 0:,}{span}")
    out += _verdict_lines(findings, len(Rule), report.events)
    if findings.violations:
        out.append("")
        out.append(f"violations (first {min(show, len(findings.violations))} of {findings.total:,})")
        out += [f"  {v}" for v in findings.violations[:show]]
    if findings.undecodable:
        out.append("")
        out.append(f"records that do not decode ({findings.undecodable_count:,})")
        out += [f"  position {p}: {topic}: {why}" for p, topic, why in findings.undecodable[:show]]
    out.append("")
    out.append("sessions")
    out += _rows([(k, report.sessions.get(k, 0)) for k in (
        "opened", "invitations", "invitations rejected", "accepted by an agent", "queued", "completed")]
        + [(f"  {k}", v) for k, v in sorted(report.sessions.items()) if k.startswith("completed: ")]
        + [(k, report.sessions.get(k, 0)) for k in ("supervised", *(f"supervised in {m}" for m in MODES),
                                                     "with an Intrude", "open at end of log")])
    out.append("")
    out.append("supervisions set up and ended (supervisor, agent, mode, NextChat/AllChats)")
    if report.supervisions:
        out.append(f"  {'supervisor':<14}{'agent':<14}{'mode':<9}{'for':<10}{'set up':>8}{'cancelled':>10}"
                   f"{'used':>6}{'joined':>8}{'active':>8}")
        for (sup, agent, mode, mm), kind in sorted(report.supervisions.items()):
            out.append(f"  {sup:<14}{agent:<14}{mode:<9}{mm:<10}{kind.started:>8,}{kind.cancelled:>10,}"
                       f"{kind.nextchat_used:>6,}{kind.sessions_joined:>8,}{kind.active_at_end:>8,}")
    else:
        out.append("  (none)")
    out.append("")
    out.append("supervisors in sessions (time present by mode, how presences ended)")
    if report.supervisors:
        out.append(f"  {'supervisor':<14}{'joins':>7}{'intrude':>8}{'Monitor':>10}{'Coach':>10}"
                   f"{'BargeIn':>10}{'switches':>9}{'left':>6}{'revoked':>8}{'msgs':>6}")
        for sup, t in sorted(report.supervisors.items()):
            revoked = sum(n for how, n in t.ended_by.items() if how.startswith("Revoked"))
            out.append(f"  {sup:<14}{t.presences:>7,}{t.joined_via.get('Intrude', 0):>8,}"
                       + "".join(f"{_hms(t.seconds_by_mode.get(m, 0.0)):>10}" for m in MODES)
                       + f"{sum(t.switches.values()):>9,}{t.ended_by.get('Left', 0):>6,}{revoked:>8,}"
                       f"{sum(t.messages_by_visibility.values()):>6,}")
    else:
        out.append("  (none)")
    out.append("")
    out.append("revocations by reason")
    out += _rows(sorted(report.revoked_by_reason.items()))
    out.append("")
    out.append("messages by visibility")
    out += _rows([(v, report.messages_by_visibility.get(v, 0)) for v in ("All", "Agents")])
    out.append("")
    out.append("messages by sender")
    out += _rows(sorted(report.messages_by_sender_type.items()))
    out.append("")
    out.append("events by type")
    out += _rows(sorted(report.events_by_type.items(), key=lambda kv: (-kv[1], kv[0])))
    if report.timelines_selected is not None:
        for timeline in report.timelines:
            out.append("")
            out += _text_timeline(timeline, report)
    return "\n".join(out)


def _verdict_lines(findings: Findings, rules: int, events: int) -> list[str]:
    out = []
    if findings.total:
        by_rule = ", ".join(f"{rule.value} {n:,}" for rule, n in sorted(findings.counts.items()) if n)
        out.append(f"  rules        FAILED: {findings.total:,} violations ({by_rule})")
    else:
        out.append(f"  rules        OK: {rules} rules over {events:,} events")
    if findings.undecodable_count:
        out.append(f"  records      FAILED: {findings.undecodable_count:,} do not decode")
    if findings.chain is not None:
        chain = findings.chain
        if chain["ok"]:
            out.append(f"  chain        OK: {chain['records']:,} records, head {chain['head']}")
        else:
            out.append(f"  chain        BROKEN at position {chain['first_break']}: {chain['reason']}")
    return out


def _text_timeline(t: SessionTimeline, report: AuditReport) -> list[str]:
    out = [f"session {t.session_id} (customer {t.customer_id or '?'}, {t.status})"]
    end = _when(report.last_timestamp) if report.last_timestamp else None
    for p in t.presences:
        modes = " → ".join(f"{s.mode} {_hms(s.seconds(end))}" for s in p.segments)
        out.append(f"  {p.supervisor_id} via {p.via}: {modes}; {p.ended_by or 'present at end of log'}")
    for e in t.entries:
        seen = f"  [seen by {', '.join(e.viewers)}]" if e.sender is not None else ""
        out.append(f"  {e.position:>8} {e.timestamp} {e.event:<22} {e.summary}{seen}")
    return out


def render_json(report: AuditReport, findings: Findings, source: str = "") -> bytes:
    """JSON for machines: the verdict, every figure, kept violations, selected timelines."""
    data: dict[str, Any] = {
        "source": source,
        "ok": not findings.total and not findings.undecodable_count
        and (findings.chain is None or bool(findings.chain["ok"])),
        "rules": {"checked": [r.value for r in Rule],
                  "violations": {r.value: findings.counts.get(r, 0) for r in Rule}},
        "violations": [v.to_dict() for v in findings.violations],
        "undecodable": {"count": findings.undecodable_count,
                        "records": [{"position": p, "topic": t, "reason": why}
                                    for p, t, why in findings.undecodable]},
        "chain": findings.chain,
        **report.to_dict(),
    }
    if report.timelines_selected is not None:
        data["timelines"] = report.timelines_dict()
    return orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n"


_CSS: Final = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;background:#fff}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
th{background:#f4f4f4}td.n{text-align:right}.ok{color:#070;font-weight:bold}.bad{color:#b00;font-weight:bold}
.absent{background:#fff}.present{background:#e8eef8}
.Monitor{background:#ddd}.Coach{background:#ffe08a}.BargeIn{background:#f6a6a6}
.tl td{font-size:12px;white-space:nowrap}.tl td.text{white-space:normal;max-width:28em}
.legend span{padding:1px 6px;margin-right:6px;border:1px solid #ccc}.note{color:#666}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _html_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{v:,}</td>' if isinstance(v, int) else f"<td>{_e(v)}</td>" for v in row) + "</tr>"
        for row in rows)
    return f'<table class="{_e(cls)}"><tr>{head}</tr>{body}</table>'


def render_html(report: AuditReport, findings: Findings, source: str = "") -> str:
    """One self-contained page: verdict, figures, and a timeline per selected session."""
    shown = {t.session_id for t in report.timelines}
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
             f"<title>coaching audit: {_e(source)}</title><style>{_CSS}</style></head><body>",
             f"<h1>coaching audit: {_e(source)}</h1>"]
    ok = not findings.total and not findings.undecodable_count and (
        findings.chain is None or findings.chain["ok"])
    parts.append(f'<p class="{"ok" if ok else "bad"}">{"PASSED" if ok else "FAILED"}</p><ul>')
    parts += [f"<li>{_e(line.strip())}</li>" for line in _verdict_lines(findings, len(Rule), report.events)]
    parts.append(f"<li>log: {report.events:,} events, positions {report.first_position or 0:,}–"
                 f"{report.last_position or 0:,}, {_e(report.first_timestamp or '')} → "
                 f"{_e(report.last_timestamp or '')}</li></ul>")
    if findings.violations:
        parts.append(f"<h2>Violations ({findings.total:,}, {len(findings.violations):,} listed)</h2>")
        rows = []
        for v in findings.violations:
            where = (f'<a href="#session-{_e(v.session_id)}">{_e(v.session_id)}</a>'
                     if v.session_id in shown else _e(v.session_id or "log"))
            rows.append(f"<tr><td>{_e(v.rule.value)}</td><td>{where}</td><td>{_e(list(v.positions))}</td>"
                        f"<td>{_e(', '.join(v.participants))}</td><td>{_e(v.detail)}</td></tr>")
        parts.append("<table><tr><th>rule</th><th>session</th><th>positions</th><th>participants</th>"
                     "<th>what happened</th></tr>" + "".join(rows) + "</table>")
    if findings.undecodable:
        parts.append("<h2>Records that do not decode</h2>")
        parts.append(_html_table(["position", "topic", "reason"], findings.undecodable))
    parts.append("<h2>Sessions</h2>")
    parts.append(_html_table(["", "count"], sorted(report.sessions.items())))
    parts.append("<h2>Supervisions set up and ended</h2>")
    parts.append(_html_table(
        ["supervisor", "agent", "mode", "monitoring mode", "set up", "cancelled", "NextChat used",
         "sessions joined", "active at end"],
        [(s, a, m, mm, t.started, t.cancelled, t.nextchat_used, t.sessions_joined, t.active_at_end)
         for (s, a, m, mm), t in sorted(report.supervisions.items())]))
    parts.append("<h2>Supervisors in sessions</h2>")
    parts.append(_html_table(
        ["supervisor", "presences", "via Intrude", *(f"time in {m}" for m in MODES), "longest", "switches",
         "ended by", "messages"],
        [(s, t.presences, t.joined_via.get("Intrude", 0),
          *(_hms(t.seconds_by_mode.get(m, 0.0)) for m in MODES),
          _hms(t.longest_presence_seconds), sum(t.switches.values()),
          ", ".join(f"{k} {n}" for k, n in sorted(t.ended_by.items())),
          sum(t.messages_by_visibility.values()))
         for s, t in sorted(report.supervisors.items())]))
    parts.append("<h2>Revocations by reason</h2>")
    parts.append(_html_table(["reason", "count"], sorted(report.revoked_by_reason.items())))
    parts.append("<h2>Messages</h2>")
    parts.append(_html_table(["visibility", "count"], sorted(report.messages_by_visibility.items())))
    parts.append(_html_table(["sender", "count"], sorted(report.messages_by_sender_type.items())))
    parts.append("<h2>Session timelines</h2>")
    parts.append('<p class="legend">cells: <span class="present">present</span>'
                 '<span class="Monitor">Monitor</span><span class="Coach">Coach</span>'
                 '<span class="BargeIn">BargeIn</span>; on a message row ✉ marks the sender, ✓ who was '
                 "shown it, · who was present but not shown it (a coach's message and the customer)</p>")
    if report.sessions_without_timeline:
        parts.append(f'<p class="note">{len(report.timelines):,} sessions shown (the first '
                     f"{report.timeline_limit:,} of the log); {report.sessions_without_timeline:,} more "
                     "sessions are in the totals only: name sessions with --sessions ID … to see them.</p>")
    for timeline in report.timelines:
        parts.append(_html_timeline(timeline, report))
    parts.append("</body></html>\n")
    return "".join(parts)


def _html_timeline(t: SessionTimeline, report: AuditReport) -> str:
    end = _when(report.last_timestamp) if report.last_timestamp else None
    who = list(t.participants)
    out = [f'<section id="session-{_e(t.session_id)}" class="session" data-session="{_e(t.session_id)}">',
           f"<h3>Session {_e(t.session_id)}</h3>",
           f"<p>customer {_e(t.customer_id or '?')}, {_e(t.status)} at the end of the log</p>"]
    if t.presences:
        presences = [(p.supervisor_id, p.via, p.supervised_agent_id, p.joined_position,
                      " → ".join(f"{s.mode} {_hms(s.seconds(end))}" for s in p.segments),
                      _hms(p.seconds(end)) if end else "?", p.ended_by or "present at end of log")
                     for p in t.presences]
        out.append(_html_table(["supervisor", "via", "supervising", "joined at", "modes", "present for",
                                "ended by"], presences, "presence"))
    head = "".join(
        f'<th class="participant" data-participant="{_e(p)}" title="{_e(t.participants[p])}">'
        f"{_e(p)}<br><small>{_e(t.participants[p])}{': ' + _e(t.nicknames[p]) if p in t.nicknames else ''}"
        "</small></th>" for p in who)
    rows = []
    for e in t.entries:
        cells = []
        for participant in who:
            state = e.states.get(participant)
            cls = "absent" if state is None else state
            mark = ""
            if e.sender is not None and state is not None:
                mark = "✉" if participant == e.sender else ("✓" if participant in e.viewers else "·")
            cells.append(f'<td class="{_e(cls)}" title="{_e(state or "absent")}">{mark}</td>')
        seen = f" — seen by {', '.join(e.viewers)}" if e.sender is not None else ""
        rows.append(f"<tr><td>{e.position:,}</td><td>{_e(e.timestamp)}</td><td>{_e(e.event)}</td>"
                    f'<td class="text">{_e(e.summary)}{_e(seen)}</td>{"".join(cells)}</tr>')
    out.append(f'<table class="tl"><tr><th>position</th><th>time</th><th>event</th><th>what</th>{head}</tr>'
               + "".join(rows) + "</table></section>")
    return "".join(out)
