"""A small, independent reference model of the supervision rules, written from the seed.

It shares no code with ``coaching.domain`` except the vocabulary (enum values and command
classes). Given a command it predicts either a refusal (its GWS status code) or the facts the
command must produce: which supervisors join, which are revoked, which NextChat supervisions
end, and the visibility of a message. The state machine in :mod:`coaching.testing.machine`
holds the library to these predictions, so a rule broken in the library and not in the model
(or the other way round) shows up as a disagreement.
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


@dataclass
class _Agent:
    team: str | None
    supervisions: dict[str, tuple[str, str]] = field(default_factory=dict)  # sup -> (mode, NextChat|AllChats)


@dataclass
class _Supervisor:
    features: frozenset[str]
    agents: frozenset[str]
    teams: frozenset[str]


@dataclass
class _Session:
    customer: str
    status: str = "Waiting"  # Waiting | Chatting | Completed
    agents: list[str] = field(default_factory=list)
    invited: set[str] = field(default_factory=set)
    supervisors: dict[str, str] = field(default_factory=dict)  # sup -> mode
    offered_to: str | None = None  # the agent routing's pending offer went to


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

    def _end(self, s: _Session, reason_queue: bool) -> Expected:
        revoked = frozenset(s.supervisors)
        s.supervisors.clear()
        s.agents.clear()
        s.invited.clear()
        s.offered_to = None
        s.status = "Waiting" if reason_queue else "Completed"
        return Expected(revoked=revoked)

    # --- the rules, per command -----------------------------------------------------------------

    def apply(self, c: Command) -> Expected:  # noqa: PLR0915 - one readable switch over commands
        """Predict and apply ``c``; raise :class:`Refused` (model unchanged) when it must be refused."""
        if isinstance(c, RegisterAgent | RegisterSupervisor):
            user = c.agent_id if isinstance(c, RegisterAgent) else c.supervisor_id
            if user in self.agents or user in self.supervisors:
                raise Refused(EXISTS)
            if isinstance(c, RegisterAgent):
                self.agents[user] = _Agent(c.team)
            else:
                self.supervisors[user] = _Supervisor(c.features, c.agents, c.teams)
            return Expected()
        if isinstance(c, OpenSession):
            if c.session_id in self.sessions:
                raise Refused(EXISTS)
            self.sessions[c.session_id] = _Session(c.customer_id)
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
            added = set()
            for sup_id, (mode, _) in a.supervisions.items():
                if sup_id not in s.supervisors:
                    s.supervisors[sup_id] = mode
                    added.add(sup_id)
            ended = {sup_id for sup_id, (_, mm) in a.supervisions.items() if mm == "NextChat"}
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
                if not s.agents:
                    return self._end(s, reason_queue=False)
                return Expected()
            if c.actor in s.supervisors:
                del s.supervisors[c.actor]
                return Expected()
            raise Refused(INVALID_STATE)
        if isinstance(c, Queue | Complete):
            s = self._session(c.session_id)
            self._open(s)
            if c.actor not in s.agents:
                raise Refused(INVALID_STATE)
            return self._end(s, reason_queue=isinstance(c, Queue))
        if isinstance(c, SendMessage):
            s = self._session(c.session_id)
            self._open(s)
            if c.actor == s.customer or c.actor in s.agents:
                return Expected(message_visibility="All")
            speaking = s.supervisors.get(c.actor)
            if speaking == "Coach":
                return Expected(message_visibility="Agents")
            if speaking == "BargeIn":
                return Expected(message_visibility="All")
            raise Refused(INVALID_STATE)  # a monitoring supervisor, or not a participant
        if isinstance(c, Monitor | Coach | BargeIn):
            sup = self._sup(c.actor)
            a = self._agent(c.agent_id)
            self._may_supervise(sup, c.agent_id)
            if c.actor in a.supervisions:
                raise Refused(EXISTS)
            a.supervisions[c.actor] = (_SET_UP_MODE[type(c)], c.supervisor_monitoring_mode.value)
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
            s.supervisors[c.actor] = target
            return Expected()
        raise AssertionError(f"the model does not know {type(c).__name__}")
