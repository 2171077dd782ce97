"""On simulated shifts (the demo's realistic logs), the stored log answers as the live run did.

A seeded :class:`~coaching.simulation.Shift` runs into an SQLite store through an application
that records every command it handles. Afterwards:

- every viewer's transcript of every session, read from the file by :mod:`coaching.audit.history`,
  equals ``Coaching.transcript`` and the reference model's prediction (the model is fed the same
  commands and must accept and refuse exactly the same ones);
- after each accepted command the aggregates it touched were photographed; at the command's log
  position, and at its time when no later command shares it, the history gives back exactly
  those states.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching.application import Coaching, Outcome
from coaching.audit.history import At, History, Position
from coaching.domain.agent import Agent
from coaching.domain.commands import Command
from coaching.domain.errors import CoachingError
from coaching.domain.events import AgentEvent, SessionEvent
from coaching.domain.session import SmsSession
from coaching.simulation import Shift, ShiftPlan
from coaching.testing.machine import _lines
from coaching.testing.model import ReferenceModel, Refused


@dataclass
class Photo:
    position: int
    time: datetime
    sessions: dict[str, SmsSession] = field(default_factory=dict)
    agents: dict[str, Agent] = field(default_factory=dict)


class Recording(Coaching):
    """The application, noting each command's outcome and photographing what it touched."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands: list[tuple[Command, int]] = []
        self.photos: list[Photo] = []

    def handle(self, command: Command) -> Outcome:
        try:
            outcome = super().handle(command)
        except CoachingError as refusal:
            self.commands.append((command, refusal.status_code))
            raise
        self.commands.append((command, 0))
        photo = Photo(outcome.positions[-1], outcome.events[-1].timestamp)
        for event in outcome.events:
            if isinstance(event, SessionEvent):
                photo.sessions[event.session_id] = self.get_session(event.session_id)
            elif isinstance(event, AgentEvent):
                photo.agents[event.agent_id] = self.get_agent(event.agent_id)
        self.photos.append(photo)
        return outcome


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), sessions=st.integers(8, 20))
def test_a_shift_read_back_from_its_store(tmp_path_factory: Any, seed: int, sessions: int) -> None:
    path = tmp_path_factory.mktemp("shift") / "day.sqlite"
    shift = Shift(ShiftPlan(seed=seed, sessions=sessions, agents=6, supervisors=3))
    app = Recording({"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(path)},
                    clock=shift.clock)
    try:
        stats = shift.run(app)
        assert not stats.unexpected
        model = ReferenceModel()
        for command, code in app.commands:
            try:
                model.apply(command)
                predicted = 0
            except Refused as refusal:
                predicted = refusal.code
            assert predicted == code, (command, predicted, code)
        with History(Path(path)) as history:
            checked = 0
            for session_id, model_session in model.sessions.items():
                for viewer in model_session.viewers:
                    got = history.transcript(session_id, viewer)
                    assert got == app.transcript(session_id, viewer), (session_id, viewer)
                    assert _lines(got) == model_session.transcript(viewer), (session_id, viewer)
                    checked += 1
            assert checked >= 2 * sessions  # every session has at least a customer and an agent
            photos = app.photos
            for i in range(0, len(photos), 7):
                photo = photos[i]
                # several commands may share a simulated millisecond: a time cut keeps them all,
                # so the photo stands for its time only if it is the last one taken then
                last_at_its_time = i + 1 == len(photos) or photos[i + 1].time > photo.time
                cuts: list[At] = [Position(photo.position)]
                if last_at_its_time:
                    cuts.append(photo.time)
                for at in cuts:
                    for session_id, state in photo.sessions.items():
                        assert history.session_at(session_id, at) == state, (at, session_id)
                    for agent_id, agent in photo.agents.items():
                        assert history.agent_at(agent_id, at) == agent, (at, agent_id)
    finally:
        app.close()
