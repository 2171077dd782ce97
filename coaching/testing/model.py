"""A small, independent reference model of the supervision rules, written from the seed.

It shares no code with ``coaching.domain`` except the vocabulary (enum values and command
classes). Given a command it predicts either a refusal (its GWS status code) or the facts the
command must produce: which supervisors join, which are revoked, which NextChat supervisions
end, and the visibility of a message. The state machine in :mod:`coaching.testing.machine`
holds the library to these predictions, so a rule broken in the library and not in the model
(or the other way round) shows up as a disagreement.

It also predicts every viewer's transcript (ADR 0005), written the other way round from the
library's fold: each entry is pushed, when it happens, to the viewers present, and a viewer that
joins is handed the entries it has not been offered yet (history on join).
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

FEATURE = "api-multimedia"

# GWS status codes, spelled out so the model does not borrow the library's error classes.
OK, MISSING, INVALID_STATE, FORBIDDEN, NO_PERMISSION, NOT_FOUND, OUT_OF_RANGE, EXISTS = (
    0, 1, 2, 3, 5, 6, 10, 18)

_SWITCH_TARGET = {SwitchToCoach: "Coach", SwitchToBargeIn: "BargeIn", SwitchToMonitor: "Monitor"}
_SET_UP_MODE = {Monitor: "Monitor", Coach: "Coach", BargeIn: "BargeIn"}


class Refused(Exception):
    """The model predicts a refusal with this GWS status code."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Expected:
    """What an accepted command must have done, as far as the supervision rules go."""

    added: frozenset[str] = frozenset()
    """Supervisors that join the session (SupervisorAdded)."""
    revoked: frozenset[str] = frozenset()
    """Supervisors that receive Revoked."""
    ended: frozenset[str] = frozenset()
    """Supervisors whose NextChat supervision ends (SupervisionEnded)."""
    message_visibility: str | None = None
    """The visibility of the message sent, if the command sends one."""


Entry = tuple[str, str, str, str, str | None]
"""A transcript line as the model predicts it: (kind, participant id, nickname, visibility, text)."""

_MODE_VISIBILITY = {"Monitor": "Supervisors", "Coach": "Agents", "BargeIn": "All"}
_AUDIENCE = {"All": {"Customer", "Agent", "Supervisor"}, "Agents": {"Agent", "Supervisor"},
             "Supervisors": {"Supervisor"}}
_WIDTH = {"Supervisors": 1, "Agents": 2, "All": 3}


@dataclass
class _Viewer:
    """One participant's view of one session: what it was shown, and how far it was offered."""

    kind: str  # Customer | Agent | Supervisor
    present: bool = False
    offered: int = 0  # entries before this index were offered to it already
    shown: list[Entry] = field(default_factory=list)


@dataclass
class _Agent:
    team: str | None
    name: str  # shown to others: the registered nickname, else the username
    # sup -> (mode, NextChat|AllChats, nickname)
    supervisions: dict[str, tuple[str, str, str]] = field(default_factory=dict)


@dataclass
class _Supervisor:
    features: frozenset[str]
    agents: frozenset[str]
    teams: frozenset[str]
    name: str  # ADR 0004: the registered nickname, else the username (the seed names only the username)


@dataclass
class _Session:
    customer: str
    status: str = "Waiting"  # Waiting | Chatting | Completed
    agents: list[str] = field(default_factory=list)
    invited: set[str] = field(default_factory=set)
    supervisors: dict[str, str] = field(default_factory=dict)  # sup -> mode
    offered_to: str | None = None  # the agent routing's pending offer went to
    entries: list[Entry] = field(default_factory=list)
    viewers: dict[str, _Viewer] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # participant -> nickname at its last join
    switches: dict[int, tuple[str, str]] = field(default_factory=dict)  # entry -> (before, after)

    # --- what each participant is shown (ADR 0005) ---------------------------------------------

    def _offer(self, v: _Viewer) -> None:
        for i in range(v.offered, len(self.entries)):
            e = self.entries[i]
            if i in self.switches:  # a mode switch reads as a join or a departure to some roles
                before, after = self.switches[i]
                saw, sees = v.kind in _AUDIENCE[before], v.kind in _AUDIENCE[after]
                if saw and not sees:
                    e = ("ParticipantLeft", e[1], e[2], before, None)
                elif sees and not saw:
                    e = ("ParticipantJoined", e[1], e[2], after, None)
                elif not saw:
                    continue
            elif v.kind not in _AUDIENCE[e[3]]:
                continue
            v.shown.append(e)
        v.offered = len(self.entries)

    def say(self, kind: str, who: str, visibility: str, text: str | None = None) -> None:
        """A new transcript line, shown at once to every participant present."""
        self.entries.append((kind, who, self.names.get(who, who), visibility, text))
        for v in self.viewers.values():
            if v.present:
                self._offer(v)

    def arrive(self, who: str, kind: str) -> None:
        """``who`` joins (its join line already said): it is shown everything not yet offered."""
        v = self.viewers.setdefault(who, _Viewer(kind))
        v.kind, v.present = kind, True
        self._offer(v)

    def go(self, who: str) -> None:
        """``who`` is no longer shown anything (its departure line, if any, already said)."""
        if who in self.viewers:
            self.viewers[who].present = False

    def transcript(self, viewer: str) -> list[Entry]:
        """What ``viewer`` was shown, in order."""
        v = self.viewers.get(viewer)
        return list(v.shown) if v is not None else []


class ReferenceModel:
    """Predicts each command's outcome; :meth:`apply` updates the model only when accepted."""

    def __init__(self) -> None:
        self.agents: dict[str, _Agent] = {}
        self.supervisors: dict[str, _Supervisor] = {}
        self.sessions: dict[str, _Session] = {}

    # --- lookups ------------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> _Agent:
        if agent_id not in self.agents:
            raise Refused(NOT_FOUND)
        return self.agents[agent_id]

    def _sup(self, sup_id: str) -> _Supervisor:
        if sup_id not in self.supervisors:
            raise Refused(NOT_FOUND)
        return self.supervisors[sup_id]

    def _session(self, session_id: str) -> _Session:
        if session_id not in self.sessions:
            raise Refused(NOT_FOUND)
        return self.sessions[session_id]

    @staticmethod
    def _open(s: _Session) -> None:
        if s.status == "Completed":
            raise Refused(INVALID_STATE)

    def _may_supervise(self, sup: _Supervisor, agent_id: str) -> None:
        if FEATURE not in sup.features:
            raise Refused(FORBIDDEN)
        team = self.agents[agent_id].team
        if agent_id not in sup.agents and (team is None or team not in sup.teams):
            raise Refused(NO_PERMISSION)

    def _end(self, s: _Session, actor: str, queue_name: str | None) -> Expected:
        """Queued (``queue_name``) or completed: agents are out, every supervisor is revoked."""
        revoked = frozenset(s.supervisors)
        if queue_name is not None:
            s.say("Queued", actor, "All", queue_name)
        else:
            s.say("Completed", actor, "All")
            s.go(s.customer)
        for agent in s.agents:
            s.go(agent)
        for sup, mode in s.supervisors.items():  # in the order they joined
            s.say("Revoked", sup, _MODE_VISIBILITY[mode])
            s.go(sup)
        s.supervisors.clear()
        s.agents.clear()
        s.invited.clear()
        s.offered_to = None
        s.status = "Waiting" if queue_name is not None else "Completed"
        return Expected(revoked=revoked)

    # --- the rules, per command -----------------------------------------------------------------

    def apply(self, c: Command) -> Expected:  # noqa: PLR0915 - one readable switch over commands
        """Predict and apply ``c``; raise :class:`Refused` (model unchanged) when it must be refused."""
        if isinstance(c, RegisterAgent | RegisterSupervisor):
            user = c.agent_id if isinstance(c, RegisterAgent) else c.supervisor_id
            if user in self.agents or user in self.supervisors:
                raise Refused(EXISTS)
            if isinstance(c, RegisterAgent):
                self.agents[user] = _Agent(c.team, c.nickname or c.username)
            else:
                self.supervisors[user] = _Supervisor(c.features, c.agents, c.teams,
                                                     c.nickname or c.username)
            return Expected()
        if isinstance(c, OpenSession):
            if c.session_id in self.sessions:
                raise Refused(EXISTS)
            s = self.sessions[c.session_id] = _Session(c.customer_id)
            s.names[c.customer_id] = c.customer_nickname
            s.say("ParticipantJoined", c.customer_id, "All")
            s.arrive(c.customer_id, "Customer")
            return Expected()
        if isinstance(c, OfferSession):
            s = self._session(c.session_id)
            self._agent(c.agent_id)
            self._open(s)
            if s.agents:
                raise Refused(INVALID_STATE)
            if c.agent_id in s.invited:
                raise Refused(EXISTS)
            if s.offered_to is not None:
                raise Refused(INVALID_STATE)  # one routing offer at a time
            s.invited.add(c.agent_id)
            s.offered_to = c.agent_id
            return Expected()
        if isinstance(c, Invite):
            s = self._session(c.session_id)
            self._agent(c.agent_id)
            self._open(s)
            if c.actor not in s.agents:
                raise Refused(INVALID_STATE)
            if c.agent_id in s.agents or c.agent_id in s.invited:
                raise Refused(EXISTS)
            s.invited.add(c.agent_id)
            return Expected()
        if isinstance(c, Accept):
            s = self._session(c.session_id)
            a = self._agent(c.actor)
            self._open(s)
            if c.actor not in s.invited:
                raise Refused(INVALID_STATE)
            s.invited.discard(c.actor)
            if s.offered_to == c.actor:
                s.offered_to = None
            s.agents.append(c.actor)
            s.status = "Chatting"
            s.names[c.actor] = c.nickname or a.name
            s.say("ParticipantJoined", c.actor, "All")
            s.arrive(c.actor, "Agent")
            added = set()
            for sup_id, (mode, _, nickname) in a.supervisions.items():
                if sup_id not in s.supervisors:
                    s.supervisors[sup_id] = mode
                    added.add(sup_id)
                    s.names[sup_id] = nickname
                    s.say("ParticipantJoined", sup_id, _MODE_VISIBILITY[mode])
                    s.arrive(sup_id, "Supervisor")
            ended = {sup_id for sup_id, (_, mm, _) in a.supervisions.items() if mm == "NextChat"}
            for sup_id in ended:
                del a.supervisions[sup_id]
            return Expected(added=frozenset(added), ended=frozenset(ended))
        if isinstance(c, Reject):
            s = self._session(c.session_id)
            self._open(s)
            if c.actor not in s.invited:
                raise Refused(INVALID_STATE)
            s.invited.discard(c.actor)
            if s.offered_to == c.actor:
                s.offered_to = None
            return Expected()
        if isinstance(c, Leave):
            s = self._session(c.session_id)
            self._open(s)
            if c.actor in s.agents:
                s.agents.remove(c.actor)
                s.say("ParticipantLeft", c.actor, "All")
                s.go(c.actor)
                if not s.agents:
                    return self._end(s, c.actor, None)
                return Expected()
            if c.actor in s.supervisors:
                s.say("ParticipantLeft", c.actor, _MODE_VISIBILITY[s.supervisors.pop(c.actor)])
                s.go(c.actor)
                return Expected()
            raise Refused(INVALID_STATE)
        if isinstance(c, Queue | Complete):
            s = self._session(c.session_id)
            self._open(s)
            if c.actor not in s.agents:
                raise Refused(INVALID_STATE)
            return self._end(s, c.actor, c.queue_name if isinstance(c, Queue) else None)
        if isinstance(c, SendMessage):
            s = self._session(c.session_id)
            self._open(s)
            speaking = s.supervisors.get(c.actor)
            if c.actor == s.customer or c.actor in s.agents or speaking == "BargeIn":
                visibility = "All"
            elif speaking == "Coach":
                visibility = "Agents"
            else:
                raise Refused(INVALID_STATE)  # a monitoring supervisor, or not a participant
            s.say("Message", c.actor, visibility, c.text)
            return Expected(message_visibility=visibility)
        if isinstance(c, Monitor | Coach | BargeIn):
            sup = self._sup(c.actor)
            a = self._agent(c.agent_id)
            self._may_supervise(sup, c.agent_id)
            if c.actor in a.supervisions:
                raise Refused(EXISTS)
            a.supervisions[c.actor] = (_SET_UP_MODE[type(c)], c.supervisor_monitoring_mode.value,
                                       c.nickname or sup.name)
            return Expected()
        if isinstance(c, CancelSupervisorMonitoring):
            sup = self._sup(c.actor)
            if FEATURE not in sup.features:
                raise Refused(FORBIDDEN)
            a = self._agent(c.agent_id)
            if c.actor not in a.supervisions:
                raise Refused(INVALID_STATE)
            del a.supervisions[c.actor]
            return Expected()
        if isinstance(c, Intrude):
            sup = self._sup(c.actor)
            s = self._session(c.session_id)
            a = self._agent(c.agent_id)
            self._may_supervise(sup, c.agent_id)
            self._open(s)
            if c.agent_id not in s.agents:
                raise Refused(INVALID_STATE)
            if c.actor in s.supervisors:
                raise Refused(EXISTS)
            if c.supervisor_visibility_mode is not None:
                mode = c.supervisor_visibility_mode.value
            elif c.actor in a.supervisions:
                mode = a.supervisions[c.actor][0]
            else:
                raise Refused(MISSING)
            s.supervisors[c.actor] = mode
            # the nickname its supervision of the agent was set up with, else its own
            s.names[c.actor] = a.supervisions[c.actor][2] if c.actor in a.supervisions else sup.name
            s.say("ParticipantJoined", c.actor, _MODE_VISIBILITY[mode])
            s.arrive(c.actor, "Supervisor")
            return Expected()
        if isinstance(c, SwitchToCoach | SwitchToBargeIn | SwitchToMonitor):
            sup = self._sup(c.actor)
            if FEATURE not in sup.features:
                raise Refused(FORBIDDEN)
            s = self._session(c.session_id)
            self._open(s)
            target = _SWITCH_TARGET[type(c)]
            if c.actor not in s.supervisors or s.supervisors[c.actor] == target:
                raise Refused(INVALID_STATE)
            before, after = _MODE_VISIBILITY[s.supervisors[c.actor]], _MODE_VISIBILITY[target]
            s.switches[len(s.entries)] = (before, after)
            s.say("ModeSwitched", c.actor, max(before, after, key=_WIDTH.__getitem__))
            s.supervisors[c.actor] = target
            return Expected()
        raise AssertionError(f"the model does not know {type(c).__name__}")
