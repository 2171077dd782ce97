"""What one viewer was shown of a session: the transcript rule, as a pure fold over its events.

A viewer is shown an entry only if :func:`~coaching.domain.values.can_see` allows the entry's
visibility for the viewer's type. On joining, a participant is shown the session's history so
far (filtered by visibility), then every new entry while present; after leaving (or Revoked),
nothing more (ADR 0005). The customer is present from the session's opening to its completion;
a supervisor present at the completion is shown the completion and then its own ``Revoked``.

The fold also reads logs it did not write (an audit of a stored log, ADR 0022), so it never
trusts a visibility an event claims where the log itself says otherwise: a supervisor's message
or presence is judged by the mode the log records for that supervisor at that moment, and a
viewer is shown what the narrowest role it has taken in the session may see. On a log written
by the rules the claims and the recorded modes agree, so nothing changes there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from coaching.domain.events import (
    AgentAccepted,
    AgentLeft,
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
from coaching.domain.values import ParticipantType, SupervisorMode, Visibility, can_see, narrower, wider


class EntryKind(StrEnum):
    """What a transcript line records."""

    MESSAGE = "Message"
    JOINED = "ParticipantJoined"
    LEFT = "ParticipantLeft"
    MODE_SWITCHED = "ModeSwitched"
    REVOKED = "Revoked"
    QUEUED = "Queued"
    COMPLETED = "Completed"


@dataclass(frozen=True, slots=True)
class TranscriptEntry:
    """One line a viewer was shown. ``position`` is the event's version in the session's stream."""

    position: int
    timestamp: datetime
    kind: EntryKind
    participant_id: str
    participant_type: ParticipantType
    nickname: str
    visibility: Visibility
    text: str | None = None
    mode: SupervisorMode | None = None
    from_mode: SupervisorMode | None = None
    """For a mode switch: the mode the log recorded before it (None if the log shows no presence)."""


def _narrower_type(a: ParticipantType | None, b: ParticipantType) -> ParticipantType:
    """Of two roles, the one that may see less (derived from :func:`can_see`, not a ranking)."""
    if a is None:
        return b
    sees_a = sum(can_see(a, v) for v in Visibility)
    return a if sees_a <= sum(can_see(b, v) for v in Visibility) else b


def _message_visibility(event: MessageVisibleToAll | MessageVisibleToAgent,
                        modes: dict[str, SupervisorMode]) -> Visibility:
    """Whom a message reaches: judged by who the sender is in the session, not by its event type.

    A supervisor present reaches at most what its recorded mode reaches (Coach: agents; Monitor
    may not send, so: supervisors only); a message typed as a supervisor's from one that is not
    present reaches supervisors only, since nothing in the log says it may reach more.
    """
    mode = modes.get(event.sender_id)
    if mode is not None:
        return narrower(event.visibility, mode.visibility)
    if event.sender_type is ParticipantType.SUPERVISOR:
        return Visibility.SUPERVISORS
    return event.visibility


def _entry(event: DomainEvent, modes: dict[str, SupervisorMode],
           nicknames: dict[str, str]) -> TranscriptEntry | None:
    """The transcript line an event makes, if any (invitations and rejections make none)."""
    p, t = event.originator_version, event.timestamp
    match event:
        case SessionOpened():
            nicknames[event.customer_id] = event.customer_nickname
            return TranscriptEntry(p, t, EntryKind.JOINED, event.customer_id,
                                   ParticipantType.CUSTOMER, event.customer_nickname, Visibility.ALL)
        case MessageVisibleToAll() | MessageVisibleToAgent():
            return TranscriptEntry(p, t, EntryKind.MESSAGE, event.sender_id, event.sender_type,
                                   event.nickname, _message_visibility(event, modes),
                                   text=event.text)
        case AgentAccepted():
            nicknames[event.agent_id] = event.nickname
            return TranscriptEntry(p, t, EntryKind.JOINED, event.agent_id, ParticipantType.AGENT,
                                   event.nickname, Visibility.ALL)
        case AgentLeft():
            return TranscriptEntry(p, t, EntryKind.LEFT, event.agent_id, ParticipantType.AGENT,
                                   nicknames.get(event.agent_id, event.agent_id), Visibility.ALL)
        case SupervisorAdded():
            modes[event.supervisor_id] = event.mode
            nicknames[event.supervisor_id] = event.nickname
            # the presence is as visible as its mode makes it, whatever visibility is claimed
            return TranscriptEntry(p, t, EntryKind.JOINED, event.supervisor_id,
                                   ParticipantType.SUPERVISOR, event.nickname,
                                   narrower(event.visibility, event.mode.visibility),
                                   mode=event.mode)
        case SupervisorModeSwitched():
            # from the mode the log records (not the one the event claims) to the new one
            before = modes.get(event.supervisor_id)
            after = narrower(event.visibility, event.to_mode.visibility)
            modes[event.supervisor_id] = event.to_mode
            return TranscriptEntry(p, t, EntryKind.MODE_SWITCHED, event.supervisor_id,
                                   ParticipantType.SUPERVISOR,
                                   nicknames.get(event.supervisor_id, event.supervisor_id),
                                   after if before is None else wider(before.visibility, after),
                                   mode=event.to_mode, from_mode=before)
        case SupervisorLeft() | Revoked():
            # a departure of a supervisor the log never shows present is for supervisors only
            gone = modes.pop(event.supervisor_id, None)
            kind = EntryKind.LEFT if isinstance(event, SupervisorLeft) else EntryKind.REVOKED
            return TranscriptEntry(p, t, kind, event.supervisor_id, ParticipantType.SUPERVISOR,
                                   nicknames.get(event.supervisor_id, event.supervisor_id),
                                   gone.visibility if gone else Visibility.SUPERVISORS, mode=gone)
        case SessionQueued():
            return TranscriptEntry(p, t, EntryKind.QUEUED, event.actor, ParticipantType.AGENT,
                                   nicknames.get(event.actor, event.actor), Visibility.ALL,
                                   text=event.queue_name)
        case SessionCompleted():
            return TranscriptEntry(p, t, EntryKind.COMPLETED, event.actor, ParticipantType.AGENT,
                                   nicknames.get(event.actor, event.actor), Visibility.ALL)
    return None


def _as_seen_by(entry: TranscriptEntry, viewer_type: ParticipantType) -> TranscriptEntry | None:
    """The line ``entry`` is to a viewer of ``viewer_type``, or None if it is not shown to it.

    A mode switch is the one line that reads differently by role (ADR 0005, ADR 0016): a viewer
    who could see the supervisor before and after is told of the switch; one who sees it only
    after is told it joined; one who saw it only before is told it left — and never the mode it
    left for, so a customer never learns that a supervisor stayed on, silent, in Monitor or Coach.
    """
    if entry.kind is not EntryKind.MODE_SWITCHED:
        return entry if can_see(viewer_type, entry.visibility) else None
    after = entry.mode.visibility if entry.mode is not None else entry.visibility
    after = narrower(entry.visibility, after)
    saw = entry.from_mode is not None and can_see(viewer_type, entry.from_mode.visibility)
    sees = can_see(viewer_type, after)
    if saw and sees:
        return entry
    if sees:
        return replace(entry, kind=EntryKind.JOINED, visibility=after, from_mode=None)
    if saw and entry.from_mode is not None:
        return replace(entry, kind=EntryKind.LEFT, visibility=entry.from_mode.visibility,
                       mode=entry.from_mode, from_mode=None)
    return None


def _joined(event: DomainEvent) -> tuple[str, ParticipantType] | None:
    """Who this event makes a participant of the session, and in which role."""
    match event:
        case SessionOpened():
            return event.customer_id, ParticipantType.CUSTOMER
        case AgentAccepted():
            return event.agent_id, ParticipantType.AGENT
        case SupervisorAdded():
            return event.supervisor_id, ParticipantType.SUPERVISOR
    return None


def _leaves(event: DomainEvent, viewer_id: str) -> bool:
    """Whether this event ends the viewer's presence (completion is handled by the caller)."""
    match event:
        case AgentLeft() if event.agent_id == viewer_id:
            return True
        case SessionQueued() if viewer_id in event.agents_removed:
            return True
        case SupervisorLeft() | Revoked() if event.supervisor_id == viewer_id:
            return True
    return False


def viewers(events: Iterable[DomainEvent]) -> dict[str, ParticipantType]:
    """Everyone the session ever showed anything to, in order of first joining, with the role it
    is shown as (the narrowest it took, as :func:`transcript` applies it)."""
    found: dict[str, ParticipantType] = {}
    for event in events:
        joined = _joined(event)
        if joined is not None:
            who, role = joined
            found[who] = _narrower_type(found.get(who), role)
    return found


def _offer(shown: list[TranscriptEntry], entries: Iterable[TranscriptEntry],
           viewer_type: ParticipantType) -> None:
    for entry in entries:
        seen = _as_seen_by(entry, viewer_type)
        if seen is not None:
            shown.append(seen)


def transcript(events: Iterable[DomainEvent], viewer_id: str) -> list[TranscriptEntry]:
    """Every entry the viewer was shown, in order; empty if it never took part.

    The viewer is shown what the narrowest role it has taken so far may see: on a log written by
    the rules a participant has one role per session (ADR 0003), but a log that names the
    customer as an agent or a supervisor must not show the customer what only they may see.
    """
    entries: list[TranscriptEntry] = []
    shown: list[TranscriptEntry] = []
    modes: dict[str, SupervisorMode] = {}
    nicknames: dict[str, str] = {}
    viewer_type: ParticipantType | None = None
    present = False
    shown_up_to = 0  # entries before this index were already offered to the viewer
    for event in events:
        entry = _entry(event, modes, nicknames)
        if entry is not None:
            entries.append(entry)
        joined = _joined(event)
        if joined is not None and joined[0] == viewer_id:
            viewer_type = _narrower_type(viewer_type, joined[1])
            present = True  # history on join: everything so far that it may see
        elif present and viewer_type is not None and _leaves(event, viewer_id):
            # the viewer is shown its own departure, then nothing more
            present = False
            _offer(shown, entries[shown_up_to:], viewer_type)
            shown_up_to = len(entries)
        if present and viewer_type is not None:
            _offer(shown, entries[shown_up_to:], viewer_type)
            shown_up_to = len(entries)
        if isinstance(event, SessionCompleted) and viewer_type is not ParticipantType.SUPERVISOR:
            present = False  # customer and agents are done; a supervisor is shown its own Revoked
    return shown
