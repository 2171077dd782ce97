"""GWS notifications, as a projection of the log: what each participant's CometD client receives.

GWS pushes two kinds of message on ``/v2/me/smssessions``: ``SMSsessionStateChangeMessage``
(``StatusChange``: the recipient's own state in a session, ``Invited``, ``Chatting``,
``LeftChat``, ``Completed`` or ``Revoked``; ``ParticipantsUpdated``: who is in it now) and
``MessageLogUpdated`` (``NewMessages``: lines of the session's message log). This module computes
them from the events alone, per recipient, as a pure left fold: the same log prefix always gives
the same notifications, numbered by the log position of the event that caused them (a *cursor*,
``"<position>.<index>"``), so a backend can stream them, stop, and resume from any cursor
without losing or repeating one (ADR 0017). ``docs/notifications.md`` shows every message.

Why a projection of its own, rather than the transcript function per viewer: the transcript
(:mod:`coaching.domain.transcript`) answers "what was this viewer shown?" for one viewer by
reading one session; a backend needs "what must every connected client be sent now?" for each
new event, in one pass over the whole log. The projection is held to the transcript: every
participant's ``NewMessages`` stream, replayed, is its transcript (the property tests check it).

Visibility is enforced here, at the way out (ADR 0016), and judged by the mode the log records for
a supervisor at that moment rather than by the visibility an event claims (as the transcript and
:mod:`coaching.invariants` judge it): a customer is never sent an ``Agents`` or ``Supervisors``
line, nor a participant it may not see. What a recipient may not see of a mode switch is shown
as what it is to that recipient: a supervisor that becomes invisible to it *left*, one that
becomes visible *joined*; only recipients that see the supervisor before and after are told its
new mode. A line's ``index`` counts the lines that recipient's role may see, so it has no gaps
that would betray a hidden line.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Generator, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from orjson import dumps as _dumps

from coaching.domain.errors import InvalidValue
from coaching.domain.events import (
    AgentAccepted,
    AgentInvited,
    AgentLeft,
    AgentRejected,
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SessionCompleted,
    SessionOpened,
    SessionQueued,
    SupervisorAdded,
    SupervisorLeft,
    SupervisorModeSwitched,
)
from coaching.domain.transcript import EntryKind
from coaching.domain.values import (
    JoinedVia,
    ParticipantType,
    SupervisorMode,
    Visibility,
    can_see,
    narrower,
    wider,
)

if TYPE_CHECKING:
    from coaching.application import Coaching

#: The CometD channel every SMS session notification is published on.
CHANNEL: Final = "/v2/me/smssessions"

STATE_CHANGE: Final = "SMSsessionStateChangeMessage"
MESSAGE_LOG: Final = "MessageLogUpdated"
STATUS_CHANGE: Final = "StatusChange"
PARTICIPANTS_UPDATED: Final = "ParticipantsUpdated"
NEW_MESSAGES: Final = "NewMessages"

# The recipient's state in a session (GWS smsSession.state, as that recipient sees it).
INVITED: Final = "Invited"
CHATTING: Final = "Chatting"
LEFT_CHAT: Final = "LeftChat"
COMPLETED: Final = "Completed"
REVOKED: Final = "Revoked"

# Message types of the message log (GWS), and what a Notice is about.
TEXT: Final = "Text"
PARTICIPANT_JOINED: Final = "ParticipantJoined"
PARTICIPANT_LEFT: Final = "ParticipantLeft"
NOTICE: Final = "Notice"

_CURSOR = re.compile(r"(0|[1-9][0-9]{0,18})\.(0|[1-9][0-9]{0,8})")

# Roles as list indexes: per-role caches are 3-slot lists, cheaper than dicts on the hot path.
_CUSTOMER, _AGENT, _SUPERVISOR = 0, 1, 2
_ROLES: Final = (ParticipantType.CUSTOMER, ParticipantType.AGENT, ParticipantType.SUPERVISOR)
_ROLE: Final = {t: i for i, t in enumerate(_ROLES)}
#: Which roles may see each visibility: derived from ``can_see``, the one definition of the rule.
_SEES: Final = {v: tuple(can_see(t, v) for t in _ROLES) for v in Visibility}
_GWS_TYPE: Final = ("Customer", "Agent", "Agent")  # GWS shows supervisors as type Agent
_NO_INDEX: Final = -1
_ALL_ROLES: Final = (_CUSTOMER, _AGENT, _SUPERVISOR)
#: The roles shown the same ``from`` as a role, when the line is a supervisor's (with its mode).
_MATES: Final = ((_CUSTOMER,), (_AGENT, _SUPERVISOR), (_AGENT, _SUPERVISOR))
# enum members as module constants: reading ``EntryKind.MESSAGE`` goes through the enum's class
_MESSAGE: Final = EntryKind.MESSAGE
_JOINED: Final = EntryKind.JOINED
_LEFT: Final = EntryKind.LEFT
_SWITCHED: Final = EntryKind.MODE_SWITCHED
_REVOKED: Final = EntryKind.REVOKED
_QUEUED: Final = EntryKind.QUEUED
_COMPLETED: Final = EntryKind.COMPLETED
_ALL: Final = Visibility.ALL
_AGENTS: Final = Visibility.AGENTS
_SUPERVISORS: Final = Visibility.SUPERVISORS
_SUPERVISOR_TYPE: Final = ParticipantType.SUPERVISOR
#: Enum members as plain ``str``: payloads hold only JSON types, and ``.value`` is slow to read.
_TEXT: Final[dict[Any, str]] = {m: m.value for enum in (Visibility, SupervisorMode) for m in enum}
#: Lines whose payload differs between roles only by index (unless a supervisor's mode is shown).
_SAME_FOR_EVERY_ROLE: Final = frozenset({EntryKind.MESSAGE, EntryKind.JOINED, EntryKind.LEFT,
                                         EntryKind.QUEUED, EntryKind.COMPLETED})


def _iso(at: datetime) -> str:
    """``at.isoformat()``, in half the time: orjson writes the same text."""
    text: str = _dumps(at)[1:-1].decode()
    return text


def _narrower_role(a: int | None, b: int) -> int:
    """Of two roles, the one that may see less (the transcript applies the same rule)."""
    if a is None:
        return b
    return a if sum(_SEES[v][a] for v in Visibility) <= sum(_SEES[v][b] for v in Visibility) else b


#: ``narrower`` and ``SupervisorMode.visibility`` as tables: read once or twice per event.
_NARROWER: Final = {a: {b: narrower(a, b) for b in Visibility} for a in Visibility}
_MODE_VISIBILITY: Final = {m: m.visibility for m in SupervisorMode}


class Notification(NamedTuple):
    """One CometD message for one recipient, caused by the event at log position ``position``.

    Immutable (a named tuple: every event makes several, and a tuple is built in a fraction of
    a frozen dataclass's time). ``message`` is JSON-ready (str, int, None, lists, dicts).
    Payloads are shared between the recipients of one role and between notifications (history
    re-sends the same lines): treat them as read-only, and copy before changing one.
    """

    position: int
    """The log position (notification id) of the event that caused it."""
    index: int  # type: ignore[assignment]  # a field named like tuple.index, which it hides
    """0-based, among the notifications that event caused for this recipient."""
    recipient_id: str
    message: dict[str, Any]

    @property
    def cursor(self) -> str:
        """Where this notification is in the recipient's stream; opaque to clients."""
        return f"{self.position}.{self.index}"


#: ``_tuple(Notification, (position, index, recipient_id, message))`` is ``Notification(...)``
#: without the generated ``__new__``'s layer of Python (a third of the time); likewise for lines.
_tuple: Final = tuple.__new__


def parse_cursor(cursor: str) -> tuple[int, int]:
    """``"<position>.<index>"`` → ``(position, index)``; anything else is refused with GWS 10."""
    match = _CURSOR.fullmatch(cursor) if isinstance(cursor, str) else None
    if match is None:
        raise InvalidValue(
            f"malformed notification cursor {cursor!r}: expected '<position>.<index>' as a "
            "notification gave it (e.g. '812.0'), or no cursor to start from the beginning")
    return int(match[1]), int(match[2])


# --- the projection's state -------------------------------------------------------------------


class _Line(NamedTuple):
    """One line of a session's message log (a transcript entry), with its payload per role.

    Payloads (``msgs``) are built when first sent, once per role; a role whose payload would be
    the same shares another's (or copies it and changes the index), which keeps a text sent to a
    customer, an agent and a supervisor at one dict build.
    """

    kind: EntryKind
    pid: str
    prole: int
    nick: str
    vis: Visibility
    at: datetime
    text: str | None
    mode: SupervisorMode | None
    extra: tuple[Any, ...]  # ModeSwitched: (visibility before, after, mode before); Queued: (queue,)
    idx: tuple[int, int, int]  # the line's index in each role's view of the log (-1: not seen)
    msgs: list[Any]  # the message per role once built; [3]: the timestamp's text, once written


def _line_message(line: _Line, role: int) -> dict[str, Any]:
    """The GWS message-log entry of ``line`` for a recipient of this role (built once, then shared)."""
    msgs = line.msgs
    m: dict[str, Any] | None = msgs[role]
    if m is not None:
        return m
    idx = line.idx[role]
    if line.kind in _SAME_FOR_EVERY_ROLE:
        # roles that read the same ``from`` read the same line but for its index
        for mate in _MATES[role] if line.mode is not None else _ALL_ROLES:
            other: dict[str, Any] | None = msgs[mate]
            if other is not None:
                if other["index"] != idx:
                    other = other.copy()
                    other["index"] = idx
                msgs[role] = other
                return other
    m = msgs[role] = _build(line, role, idx)
    return m


def _build(line: _Line, role: int, idx: int) -> dict[str, Any]:
    kind, mode, text = line.kind, line.mode, line.text
    frm: dict[str, Any] = {"nickname": line.nick, "type": _GWS_TYPE[line.prole],
                           "participantId": line.pid}
    notice: str | None = None
    if kind is _MESSAGE:
        gws_type = TEXT
    elif kind is _JOINED:
        gws_type = PARTICIPANT_JOINED
    elif kind is _LEFT:
        gws_type = PARTICIPANT_LEFT
    elif kind is _SWITCHED:
        before, after, was = line.extra
        saw, sees = _SEES[before][role], _SEES[after][role]
        if saw and sees:
            gws_type, notice = NOTICE, "ModeSwitched"
            text = f"{line.nick} is now in {_TEXT[mode]} mode"
        elif sees:  # it appears to this recipient: for it, the supervisor joined
            gws_type = PARTICIPANT_JOINED
        else:  # it disappears for this recipient, which is not told into what
            gws_type, mode = PARTICIPANT_LEFT, was
    elif kind is _REVOKED:
        if role == _CUSTOMER:  # a customer is not told about supervisors: it left
            gws_type = PARTICIPANT_LEFT
        else:
            gws_type, notice, text = NOTICE, "Revoked", f"{line.nick} was revoked"
    elif kind is _QUEUED:
        gws_type, notice = NOTICE, "Queued"
        text = f"placed in queue {line.extra[0]}"
    else:
        gws_type, notice, text = NOTICE, "Completed", "session completed"
    if mode is not None and role != _CUSTOMER:
        frm["supervisorVisibilityMode"] = _TEXT[mode]
    timestamp = line.msgs[3]
    if timestamp is None:
        timestamp = line.msgs[3] = _iso(line.at)
    m: dict[str, Any] = {"index": idx, "type": gws_type, "from": frm, "text": text,
                         "visibility": _TEXT[line.vis], "timestamp": timestamp}
    if notice is not None:
        m["noticeType"] = notice
        if notice == "Queued":
            m["queueName"] = line.extra[0]
    return m


class _Viewer:
    """A participant's place in one session: its role, whether present, what it was offered."""

    __slots__ = ("offered", "present", "role")

    def __init__(self, role: int) -> None:
        self.role = role
        self.present = False
        self.offered = 0  # lines before this index were sent to it already (when not present)


class _Supervisor:
    """A supervisor present in a session, as the log records it."""

    __slots__ = ("entries", "mode", "nick", "vis")

    def __init__(self, nick: str, mode: SupervisorMode, vis: Visibility) -> None:
        self.nick = nick
        self.mode = mode
        self.vis = vis  # the narrower of its mode's visibility and the one its event claimed
        # its roster entry as a customer is shown it and as staff are (with its mode): built
        # when first needed, then shared by every roster until its mode changes
        self.entries: list[dict[str, Any] | None] = [None, None]

    def switch(self, mode: SupervisorMode, vis: Visibility) -> None:
        self.mode, self.vis = mode, vis
        self.entries = [None, None]

    def entry(self, supervisor_id: str, role: int) -> dict[str, Any]:
        staff = role != _CUSTOMER
        found = self.entries[staff]
        if found is None:
            found = {"participantId": supervisor_id, "nickname": self.nick, "type": "Agent",
                     "visibility": _TEXT[self.vis]}
            if staff:
                found["supervisorVisibilityMode"] = _TEXT[self.mode]
            self.entries[staff] = found
        return found


class _Session:
    """What the projection keeps of one session until it is over."""

    __slots__ = ("agents", "counts", "customer", "everyone", "head", "id", "invited", "lines",
                 "nicknames", "open", "present", "rosters", "supervisors", "viewers")

    def __init__(self, session_id: str, customer: str, nickname: str) -> None:
        self.id = session_id
        self.head = {"id": session_id}  # smsSession of NewMessages: the same for everyone
        self.customer = customer
        self.open = True
        self.nicknames = {customer: nickname}
        self.agents: dict[str, str] = {}  # present agents → nickname, in order of joining
        self.invited: dict[str, None] = {}  # pending invitations, in order
        self.supervisors: dict[str, _Supervisor] = {}
        self.lines: list[_Line] = []
        self.counts = (0, 0, 0)  # lines each role may see so far: the next line's index
        self.viewers: dict[str, _Viewer] = {}
        self.present: dict[str, _Viewer] = {}  # the viewers present, in order of (last) joining
        self.rosters: list[list[dict[str, Any]] | None] = [None, None, None]
        self.everyone: list[dict[str, Any]] | None = None  # the customer and agents, as all see them

    def roster(self, role: int) -> list[dict[str, Any]]:
        """The participants a recipient of this role may see now (cached until they change).

        Roles shown the same participants are given the same list (payloads are read-only).
        """
        found = self.rosters[role]
        if found is None:
            found = self.everyone
            if found is None:
                found = self.everyone = []
                if self.open:
                    found.append({"participantId": self.customer,
                                  "nickname": self.nicknames[self.customer],
                                  "type": "Customer", "visibility": "All"})
                for a, nick in self.agents.items():
                    found.append({"participantId": a, "nickname": nick, "type": "Agent",
                                  "visibility": "All"})
            if self.supervisors:
                shown = [p.entry(s, role) for s, p in self.supervisors.items() if _SEES[p.vis][role]]
                if shown:
                    found = found + shown
            self.rosters[role] = found
        return found

    def changed(self) -> None:
        """The participants changed: rosters are rebuilt when next needed."""
        self.rosters = [None, None, None]
        self.everyone = None

    def add(self, kind: EntryKind, pid: str, prole: int, nick: str, vis: Visibility, at: datetime,
            text: str | None = None, mode: SupervisorMode | None = None,
            extra: tuple[Any, ...] = ()) -> _Line:
        """Append a line of visibility ``vis``, numbered in the view of each role that may see it."""
        c0, c1, c2 = counts = self.counts
        if vis is _ALL:
            idx = counts
            self.counts = (c0 + 1, c1 + 1, c2 + 1)
        elif vis is _AGENTS:
            idx = (_NO_INDEX, c1, c2)
            self.counts = (c0, c1 + 1, c2 + 1)
        else:
            idx = (_NO_INDEX, _NO_INDEX, c2)
            self.counts = (c0, c1, c2 + 1)
        line: _Line = _tuple(_Line, (kind, pid, prole, nick, vis, at, text, mode, extra, idx,
                                     [None, None, None, None]))
        self.lines.append(line)
        return line


def _state_change(s: _Session, state: str, notification_type: str,
                  participants: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channel": CHANNEL, "data": {
        "messageType": STATE_CHANGE, "notificationType": notification_type,
        "smsSession": {"id": s.id, "state": state, "participants": participants}}}


def _new_messages(s: _Session, messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {"channel": CHANNEL, "data": {
        "messageType": MESSAGE_LOG, "notificationType": NEW_MESSAGES, "smsSession": s.head,
        "messages": messages}}


# --- the projection ---------------------------------------------------------------------------


class NotificationProjection:
    """A pure left fold over ``(position, event)`` in log order, giving each event's notifications.

    ``feed`` returns the notifications of one event for every recipient (or only for
    ``recipient_id`` when one is given: the state is the same, only the output is filtered).
    ``skip`` folds an event without building any payload: how a resumed stream catches up to its
    cursor cheaply. Events of agents' and supervisors' own streams cause no notification here
    (their requests are answered by the request's response).

    Memory follows the sessions still open: a session's state is dropped once it is completed and
    its last supervisor revoked (nothing can happen in it after that).
    """

    __slots__ = ("_only", "_sessions", "events")

    def __init__(self, recipient_id: str | None = None) -> None:
        self._only = recipient_id
        self._sessions: dict[str, _Session] = {}
        self.events = 0

    @property
    def open_sessions(self) -> int:
        """How many sessions the projection holds state for."""
        return len(self._sessions)

    def feed(self, position: int, event: DomainEvent) -> list[Notification]:
        """The notifications ``event`` (at log ``position``) causes, for every recipient."""
        self.events += 1
        handler = _HANDLERS.get(type(event))
        out: list[Notification] = []
        if handler is not None:
            handler(self, position, event, out)
        return out

    def skip(self, position: int, event: DomainEvent) -> None:
        """Fold ``event`` into the state without producing its notifications."""
        self.events += 1
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, position, event, None)  # no list to fill: no payload is built

    # --- helpers ------------------------------------------------------------------------------

    def _wanted(self, recipient: str) -> bool:
        return self._only is None or self._only == recipient

    def _broadcast(self, s: _Session, position: int, line: _Line, roster_changed: bool,
                   out: list[Notification] | None, skip: str | None = None) -> None:
        """Send a new line to every present viewer that may see it (with the new roster first).

        Payloads are built once per role, and shared between roles when the line reads the same
        to them. (Messages, most events, have their own unrolled copy of this in ``_message``.)
        """
        if out is None:
            return
        only = self._only
        idx = line.idx
        msgs = line.msgs
        news: list[dict[str, Any] | None] = [None, None, None]
        rosters: list[dict[str, Any] | None] = [None, None, None]
        last_message: dict[str, Any] | None = None
        payload_before: dict[str, Any] = {}
        last_roster: list[dict[str, Any]] | None = None
        update_before: dict[str, Any] = {}
        append = out.append
        for rid, v in s.present.items():
            role = v.role
            if idx[role] < 0 or rid == skip or (only is not None and rid != only):
                continue
            payload = news[role]
            if payload is None:
                m = msgs[role] or _line_message(line, role)
                if m is last_message:  # two roles read the same line: one payload for both
                    payload = news[role] = payload_before
                else:
                    payload = news[role] = payload_before = {"channel": CHANNEL, "data": {
                        "messageType": MESSAGE_LOG, "notificationType": NEW_MESSAGES,
                        "smsSession": s.head, "messages": [m]}}
                    last_message = m
            if roster_changed:
                update = rosters[role]
                if update is None:
                    roster = s.roster(role)
                    if roster is last_roster:  # two roles see the same participants
                        update = rosters[role] = update_before
                    else:
                        update = rosters[role] = update_before = _state_change(
                            s, CHATTING, PARTICIPANTS_UPDATED, roster)
                        last_roster = roster
                append(_tuple(Notification, (position, 0, rid, update)))
                append(_tuple(Notification, (position, 1, rid, payload)))
            else:
                append(_tuple(Notification, (position, 0, rid, payload)))

    def _join(self, s: _Session, position: int, who: str, role: int, states: tuple[str, ...],
              out: list[Notification] | None) -> None:
        """``who`` becomes a participant (its join line already added): state, then history."""
        v = s.viewers.get(who)
        if v is None:
            v = s.viewers[who] = _Viewer(role)
        else:
            v.role = _narrower_role(v.role, role)
        s.present.pop(who, None)
        s.present[who] = v
        if v.present:  # already present (not in a log the rules wrote): its new line only
            self._broadcast_one(s, position, who, v, out)
            return
        v.present = True
        if out is not None and (self._only is None or self._only == who):
            role = v.role
            roster = s.roster(role)
            index = 0
            for state in states:
                out.append(_tuple(Notification, (position, index, who,
                                                 _state_change(s, state, STATUS_CHANGE, roster))))
                index += 1
            history = [line.msgs[role] or _line_message(line, role)
                       for line in s.lines[v.offered:] if line.idx[role] >= 0]
            if history:
                out.append(_tuple(Notification, (position, index, who, _new_messages(s, history))))

    def _broadcast_one(self, s: _Session, position: int, who: str, v: _Viewer,
                       out: list[Notification] | None) -> None:
        line = s.lines[-1]
        if out is not None and self._wanted(who) and line.idx[v.role] >= 0:
            out.append(_tuple(Notification, (position, 0, who,
                                             _new_messages(s, [_line_message(line, v.role)]))))

    def _leave(self, s: _Session, position: int, who: str, state: str,
               out: list[Notification] | None, change: dict[str, Any] | None = None) -> None:
        """``who`` is no longer a participant: shown its own departure line, then its new state
        (``change``, when the caller has built it already for another)."""
        v = s.present.pop(who, None)
        if v is None:
            return
        v.present = False
        lines = s.lines
        v.offered = len(lines)
        if out is not None and (self._only is None or self._only == who):
            index = 0
            if lines:
                line = lines[-1]
                role = v.role
                if line.idx[role] >= 0:
                    out.append(_tuple(Notification, (position, 0, who, _new_messages(
                        s, [line.msgs[role] or _line_message(line, role)]))))
                    index = 1
            out.append(_tuple(Notification, (position, index, who, change or _state_change(
                s, state, STATUS_CHANGE, []))))

    def _status(self, s: _Session, position: int, who: str, state: str, role: int,
                out: list[Notification] | None, with_roster: bool) -> None:
        """A state change for someone who is not (or no longer) present: an invitation's fate."""
        if out is not None and self._wanted(who):
            participants = s.roster(role) if with_roster else []
            out.append(_tuple(Notification, (position, 0, who, _state_change(
                s, state, STATUS_CHANGE, participants))))

    # --- one handler per session event --------------------------------------------------------

    def _opened(self, position: int, e: SessionOpened, out: list[Notification] | None) -> None:
        if e.session_id in self._sessions:
            return  # opened twice: not in a log the rules wrote; the first opening stands
        s = self._sessions[e.session_id] = _Session(e.session_id, e.customer_id, e.customer_nickname)
        s.add(_JOINED, e.customer_id, _CUSTOMER, e.customer_nickname, _ALL, e.timestamp)
        self._join(s, position, e.customer_id, _CUSTOMER, (CHATTING,), out)

    def _invited(self, position: int, e: AgentInvited, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        s.invited[e.agent_id] = None
        self._status(s, position, e.agent_id, INVITED, _AGENT, out, with_roster=True)

    def _rejected(self, position: int, e: AgentRejected, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None or e.agent_id not in s.invited:
            return
        del s.invited[e.agent_id]
        self._status(s, position, e.agent_id, REVOKED, _AGENT, out, with_roster=False)

    def _accepted(self, position: int, e: AgentAccepted, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        agent, nick = e.agent_id, e.nickname
        s.invited.pop(agent, None)
        s.agents[agent] = nick
        s.nicknames[agent] = nick
        s.changed()
        line = s.add(_JOINED, agent, _AGENT, nick, _ALL, e.timestamp)
        self._broadcast(s, position, line, True, out, skip=agent)
        self._join(s, position, agent, _AGENT, (CHATTING,), out)

    def _agent_left(self, position: int, e: AgentLeft, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        s.agents.pop(e.agent_id, None)
        s.changed()
        line = s.add(_LEFT, e.agent_id, _AGENT, s.nicknames.get(e.agent_id, e.agent_id), _ALL,
                     e.timestamp)
        self._broadcast(s, position, line, True, out, skip=e.agent_id)
        self._leave(s, position, e.agent_id, LEFT_CHAT, out)

    def _supervisor_added(self, position: int, e: SupervisorAdded, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        mode = e.mode
        vis = _NARROWER[e.visibility][_MODE_VISIBILITY[mode]]  # as visible as its mode, at most
        s.supervisors[e.supervisor_id] = _Supervisor(e.nickname, mode, vis)
        s.nicknames[e.supervisor_id] = e.nickname
        s.changed()
        line = s.add(_JOINED, e.supervisor_id, _SUPERVISOR, e.nickname, vis, e.timestamp, mode=mode)
        self._broadcast(s, position, line, True, out, skip=e.supervisor_id)
        states = (INVITED, CHATTING) if e.via is JoinedVia.INTRUDE else (CHATTING,)
        self._join(s, position, e.supervisor_id, _SUPERVISOR, states, out)

    def _switched(self, position: int, e: SupervisorModeSwitched, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        p = s.supervisors.get(e.supervisor_id)
        after = _NARROWER[e.visibility][_MODE_VISIBILITY[e.to_mode]]
        if p is None:  # a supervisor the log never shows present: as if it had been invisible
            before, was = _SUPERVISORS, None
            nick = s.nicknames.get(e.supervisor_id, e.supervisor_id)
        else:
            before, was, nick = _MODE_VISIBILITY[p.mode], p.mode, p.nick
            p.switch(e.to_mode, after)
            s.changed()
        line = s.add(_SWITCHED, e.supervisor_id, _SUPERVISOR, nick, wider(before, after),
                     e.timestamp, mode=e.to_mode, extra=(before, after, was))
        self._broadcast(s, position, line, p is not None, out)

    def _supervisor_gone(self, position: int, e: SupervisorLeft | Revoked,
                         out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        p = s.supervisors.pop(e.supervisor_id, None)
        kind = _LEFT if type(e) is SupervisorLeft else _REVOKED
        nick = s.nicknames.get(e.supervisor_id, e.supervisor_id)
        # a departure of a supervisor the log never shows present is for supervisors only
        if p is not None:
            s.changed()
            line = s.add(kind, e.supervisor_id, _SUPERVISOR, nick, _MODE_VISIBILITY[p.mode],
                         e.timestamp, mode=p.mode)
        else:
            line = s.add(kind, e.supervisor_id, _SUPERVISOR, nick, _SUPERVISORS, e.timestamp)
        self._broadcast(s, position, line, p is not None, out, skip=e.supervisor_id)
        self._leave(s, position, e.supervisor_id,
                    LEFT_CHAT if kind is _LEFT else REVOKED, out)
        if not s.open and not s.supervisors:
            del self._sessions[s.id]  # completed and every supervisor revoked: over for good

    def _message(self, position: int, e: MessageVisibleToAll | MessageVisibleToAgent,
                 out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        # whom it reaches is judged by who the sender is in the session, not by its event type
        sender = e.sender_id
        sender_role = _ROLE[e.sender_type]
        p = s.supervisors.get(sender) if s.supervisors else None
        mode = p.mode if p is not None else None
        vis = (_NARROWER[e.visibility][_MODE_VISIBILITY[mode]] if mode is not None
               else _SUPERVISORS if sender_role == _SUPERVISOR else e.visibility)
        # s.add(_MESSAGE, ...), unrolled: most events are messages
        c0, c1, c2 = idx = s.counts
        if vis is _ALL:
            s.counts = (c0 + 1, c1 + 1, c2 + 1)
        elif vis is _AGENTS:
            idx = (_NO_INDEX, c1, c2)
            s.counts = (c0, c1 + 1, c2 + 1)
        else:
            idx = (_NO_INDEX, _NO_INDEX, c2)
            s.counts = (c0, c1, c2 + 1)
        msgs: list[Any] = [None, None, None, None]
        line = _tuple(_Line, (_MESSAGE, sender, sender_role, e.nickname, vis, e.timestamp, e.text,
                              mode, (), idx, msgs))
        s.lines.append(line)
        if out is None:
            return
        if mode is not None or self._only is not None:  # a supervisor's, or one recipient's
            self._broadcast(s, position, line, False, out)
            return
        # _broadcast(s, position, line, False, out), unrolled for the common case: the line
        # reads the same to every role but for its index; one message dict, copied for a role
        # that numbers it otherwise, one payload per index
        payloads: list[dict[str, Any] | None] = [None, None, None]
        first: dict[str, Any] | None = None
        first_payload: dict[str, Any] = {}
        append = out.append
        for rid, v in s.present.items():
            role = v.role
            payload = payloads[role]
            if payload is None:
                index = idx[role]
                if index < 0:
                    continue
                if first is None:
                    m = first = {"index": index, "type": TEXT, "from": {
                        "nickname": line.nick, "type": _GWS_TYPE[sender_role],
                        "participantId": sender}, "text": line.text, "visibility": _TEXT[vis],
                        "timestamp": _iso(line.at)}
                elif first["index"] == index:
                    msgs[role] = first
                    payload = payloads[role] = first_payload
                    append(_tuple(Notification, (position, 0, rid, payload)))
                    continue
                else:
                    m = first.copy()
                    m["index"] = index
                msgs[role] = m
                payload = payloads[role] = {"channel": CHANNEL, "data": {
                    "messageType": MESSAGE_LOG, "notificationType": NEW_MESSAGES,
                    "smsSession": s.head, "messages": [m]}}
                if m is first:
                    first_payload = payload
            append(_tuple(Notification, (position, 0, rid, payload)))

    def _queued(self, position: int, e: SessionQueued, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        leaving = [a for a in e.agents_removed if a in s.present]
        withdrawn = list(s.invited)
        s.agents.clear()
        s.invited.clear()
        s.changed()
        line = s.add(_QUEUED, e.actor, _AGENT, s.nicknames.get(e.actor, e.actor), _ALL, e.timestamp,
                     text=e.queue_name, extra=(e.queue_name,))
        for a in leaving:
            self._leave(s, position, a, LEFT_CHAT, out)
        self._broadcast(s, position, line, True, out)
        for a in withdrawn:
            self._status(s, position, a, REVOKED, _AGENT, out, with_roster=False)

    def _completed(self, position: int, e: SessionCompleted, out: list[Notification] | None) -> None:
        s = self._sessions.get(e.session_id)
        if s is None:
            return
        withdrawn = list(s.invited)
        s.open = False
        s.agents.clear()
        s.invited.clear()
        s.changed()
        line = s.add(_COMPLETED, e.actor, _AGENT, s.nicknames.get(e.actor, e.actor), _ALL,
                     e.timestamp)
        # customer and agents are done; a supervisor is shown the completion, then its Revoked
        done = _state_change(s, COMPLETED, STATUS_CHANGE, []) if out is not None else None
        for who in [w for w, v in s.present.items() if v.role != _SUPERVISOR]:
            self._leave(s, position, who, COMPLETED, out, done)
        self._broadcast(s, position, line, True, out)
        for a in withdrawn:
            self._status(s, position, a, REVOKED, _AGENT, out, with_roster=False)
        if not s.supervisors:
            del self._sessions[s.id]


_HANDLERS: Final[dict[type[DomainEvent], Callable[[NotificationProjection, int, Any,
                                                   list[Notification] | None], None]]] = {
    SessionOpened: NotificationProjection._opened,
    AgentInvited: NotificationProjection._invited,
    AgentRejected: NotificationProjection._rejected,
    AgentAccepted: NotificationProjection._accepted,
    AgentLeft: NotificationProjection._agent_left,
    SupervisorAdded: NotificationProjection._supervisor_added,
    SupervisorModeSwitched: NotificationProjection._switched,
    SupervisorLeft: NotificationProjection._supervisor_gone,
    Revoked: NotificationProjection._supervisor_gone,
    MessageVisibleToAll: NotificationProjection._message,
    MessageVisibleToAgent: NotificationProjection._message,
    SessionQueued: NotificationProjection._queued,
    SessionCompleted: NotificationProjection._completed,
}


# --- following a log --------------------------------------------------------------------------


#: The topics of the events that cause notifications: the reader decodes only these.
_TOPICS: Final = tuple(sorted(cls.TOPIC for cls in _HANDLERS))


def _events(app: Coaching, start: int, stop: int,
            page_size: int) -> Iterator[tuple[int, DomainEvent]]:
    """The session events at positions ``start`` to ``stop`` (inclusive), decoded, page by page.

    Agents' and supervisors' own events cause no notification and change no state here, so they
    are not even read (about one event in twelve of a working day).
    """
    return app.all_events(page_size, start=start, stop=stop, topics=_TOPICS)


class Follower:
    """A long-running consumer's view of the log: call :meth:`poll` again and again.

    It keeps its projection in memory between polls, so each poll reads only the events recorded
    since the last one. Started from a cursor, it first folds the events up to the cursor without
    producing anything (ADR 0017), then gives every notification strictly after it. With no
    ``recipient_id`` it gives every recipient's notifications (a backend fanning out to clients).
    """

    def __init__(self, app: Coaching, recipient_id: str | None = None, after: str | None = None,
                 *, page_size: int = 1000) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.app = app
        self.recipient_id = recipient_id
        self.page_size = page_size
        self.projection = NotificationProjection(recipient_id)
        self.position = 0
        """The last log position folded."""
        self._pending: deque[Notification] = deque()
        self._after = (0, 0) if after is None else parse_cursor(after)
        self._resume_at = self._after[0]
        if after is not None:
            end = app.log_position()
            if self._after[0] > end:
                raise InvalidValue(
                    f"notification cursor {after!r} is beyond the end of this log (position {end}): "
                    "it was not issued by this store")

    def poll(self) -> list[Notification]:
        """Every notification recorded since the last poll (up to the log's end now), in order."""
        return list(self.iter())

    def iter(self) -> Generator[Notification, None, None]:
        """:meth:`poll`, lazily: for long catch-ups that should not be held in memory.

        A consumer may stop half-way through: what it did not take of an event already read is
        kept, and given first by the next :meth:`poll` or :meth:`iter`.
        """
        pending = self._pending
        take = pending.popleft
        while pending:
            yield take()
        end = self.app.log_position()
        feed, skip = self.projection.feed, self.projection.skip
        resume_at, (after_position, after_index) = self._resume_at, self._after
        for position, event in _events(self.app, self.position + 1, end, self.page_size):
            self.position = position
            if position < resume_at:
                skip(position, event)
                continue
            notes = feed(position, event)
            if notes:
                if position == after_position:
                    notes = [n for n in notes if n.index > after_index]
                pending.extend(notes)
                while pending:
                    yield take()
        self.position = max(self.position, end)  # the events after the last session event


def notifications_for(app: Coaching, recipient_id: str, after: str | None = None,
                      *, page_size: int = 1000) -> Iterator[Notification]:
    """Every notification for ``recipient_id`` strictly after cursor ``after`` (None: from the
    start), up to the end of the log when called; finite.

    A malformed cursor, or one beyond the end of this log, is refused with ``InvalidValue`` (10).
    """
    return Follower(app, recipient_id, after, page_size=page_size).iter()
