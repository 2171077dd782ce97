"""What one viewer was shown of a session: the transcript rule, as a pure fold over its events.

A viewer is shown an entry only if :func:`~coaching.domain.values.can_see` allows the entry's
visibility for the viewer's type. On joining, a participant is shown the session's history so
far (filtered by visibility), then every new entry while present; after leaving (or Revoked),
nothing more (ADR 0005). The customer is present from the session's opening to its completion;
a supervisor present at the completion is shown the completion and then its own ``Revoked``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
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
from coaching.domain.values import ParticipantType, SupervisorMode, Visibility, can_see, wider


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
                                   event.nickname, event.visibility, text=event.text)
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
            return TranscriptEntry(p, t, EntryKind.JOINED, event.supervisor_id,
                                   ParticipantType.SUPERVISOR, event.nickname, event.visibility,
                                   mode=event.mode)
        case SupervisorModeSwitched():
            modes[event.supervisor_id] = event.to_mode
            return TranscriptEntry(p, t, EntryKind.MODE_SWITCHED, event.supervisor_id,
                                   ParticipantType.SUPERVISOR,
                                   nicknames.get(event.supervisor_id, event.supervisor_id),
                                   wider(event.from_mode.visibility, event.to_mode.visibility),
                                   mode=event.to_mode)
        case SupervisorLeft() | Revoked():
            mode = modes.pop(event.supervisor_id)
            kind = EntryKind.LEFT if isinstance(event, SupervisorLeft) else EntryKind.REVOKED
            return TranscriptEntry(p, t, kind, event.supervisor_id, ParticipantType.SUPERVISOR,
                                   nicknames.get(event.supervisor_id, event.supervisor_id),
                                   mode.visibility, mode=mode)
        case SessionQueued():
            return TranscriptEntry(p, t, EntryKind.QUEUED, event.actor, ParticipantType.AGENT,
                                   nicknames.get(event.actor, event.actor), Visibility.ALL,
                                   text=event.queue_name)
        case SessionCompleted():
            return TranscriptEntry(p, t, EntryKind.COMPLETED, event.actor, ParticipantType.AGENT,
                                   nicknames.get(event.actor, event.actor), Visibility.ALL)
    return None


def _presence_change(event: DomainEvent, viewer_id: str) -> tuple[ParticipantType, bool] | None:
    """Whether this event makes the viewer join (True) or leave (False) the session."""
    match event:
        case SessionOpened() if event.customer_id == viewer_id:
            return ParticipantType.CUSTOMER, True
        case AgentAccepted() if event.agent_id == viewer_id:
            return ParticipantType.AGENT, True
        case AgentLeft() if event.agent_id == viewer_id:
            return ParticipantType.AGENT, False
        case SessionQueued() if viewer_id in event.agents_removed:
            return ParticipantType.AGENT, False
        case SupervisorAdded() if event.supervisor_id == viewer_id:
            return ParticipantType.SUPERVISOR, True
        case SupervisorLeft() | Revoked() if event.supervisor_id == viewer_id:
            return ParticipantType.SUPERVISOR, False
    return None


def transcript(events: Iterable[DomainEvent], viewer_id: str) -> list[TranscriptEntry]:
    """Every entry the viewer was shown, in order; empty if it never took part."""
    entries: list[TranscriptEntry] = []
    shown: list[TranscriptEntry] = []
    modes: dict[str, SupervisorMode] = {}
    nicknames: dict[str, str] = {}
    viewer_type: ParticipantType | None = None
    present = False
    shown_up_to = 0  # entries before this index were already offered to the viewer
    for event in events:
        entry = _entry(event, modes, nicknames)
        change = _presence_change(event, viewer_id)
        if entry is not None:
            entries.append(entry)
        if change is not None:
            viewer_type, joining = change
            if joining and not present:
                present = True  # history on join: everything so far that it may see
            elif not joining and present:
                # the viewer is shown its own departure, then nothing more
                present = False
                shown.extend(e for e in entries[shown_up_to:] if can_see(viewer_type, e.visibility))
                shown_up_to = len(entries)
        if present and viewer_type is not None:
            shown.extend(e for e in entries[shown_up_to:] if can_see(viewer_type, e.visibility))
            shown_up_to = len(entries)
        if isinstance(event, SessionCompleted) and viewer_type is not ParticipantType.SUPERVISOR:
            present = False  # customer and agents are done; a supervisor is shown its own Revoked
    return shown
