"""Transcripts and time travel from a recorded log agree with the live application and the model.

The shipped state machine (``coaching.testing.machine``) drives random commands, legal and not,
against the reference model and an SQLite store. This subclass also photographs the live state
after every accepted command (each session, each agent's supervisions, each supervisor's
presences, each viewer's transcript, with the log position and time the command ended at), then
at the end asks :mod:`coaching.audit.history`, reading only the stored file, about the past:

- every viewer's transcript of every session equals ``Coaching.transcript`` and the model's;
- at random photographed moments, by position AND by time, every answer equals the photograph;
- at random log positions (also inside a multi-event command) and random times, every
  session, agent and supervisor equals the fold of the log prefix (``coaching.replay.rebuild``),
  and one that did not exist yet is ``NotFound``;
- the CLI's JSON says the same as the API.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from coaching.application import Coaching
from coaching.audit.history import At, History, Position
from coaching.cli import main
from coaching.domain.agent import Agent, Supervision
from coaching.domain.commands import Command
from coaching.domain.errors import NotFound
from coaching.domain.events import DomainEvent
from coaching.domain.session import SmsSession, SupervisorPresence
from coaching.domain.transcript import TranscriptEntry
from coaching.replay import rebuild
from coaching.testing import strategies as cs
from coaching.testing.machine import SupervisionMachine, Target, _lines


@dataclass(frozen=True)
class Photo:
    """The live state right after one accepted command."""

    position: int
    time: datetime
    sessions: dict[str, SmsSession]
    supervisions: dict[str, tuple[Supervision, ...]]
    held: dict[str, dict[str, Supervision]]
    """Supervisor → agent → its supervision of that agent."""
    present: dict[str, dict[str, SupervisorPresence]]
    """Supervisor → session → its presence there."""
    transcripts: dict[tuple[str, str], list[TranscriptEntry]]


def _supervisor_view(agents: dict[str, Agent], sessions: dict[str, SmsSession], sup: str
                     ) -> tuple[dict[str, Supervision], dict[str, SupervisorPresence]]:
    held = {a.agent_id: a.supervisions[sup] for a in agents.values() if sup in a.supervisions}
    present = {s.session_id: s.supervisors[sup] for s in sessions.values() if sup in s.supervisors}
    return held, present


class HistoryMachine(SupervisionMachine):
    """The supervision machine on one SQLite store, photographed after every accepted command."""

    def make_targets(self, clock: Callable[[], Callable[[], datetime]]) -> list[tuple[str, Target]]:
        targets = super().make_targets(clock)
        self.app = next(t for name, t in targets if name == "sqlite")
        assert isinstance(self.app, Coaching)
        self.path = self.app.env.get("SQLITE_DBNAME") or ""
        self.photos: list[Photo] = []
        self.cuts: list[float] = []
        return [("sqlite", self.app)]

    @initialize(cuts=st.lists(st.floats(0, 1), min_size=2, max_size=5))
    def choose_cuts(self, cuts: list[float]) -> None:
        """Where the final checks cut the log (fractions of its length, and of its photos)."""
        self.cuts = cuts

    def run(self, command: Command) -> list[DomainEvent] | None:
        events = super().run(command)
        if events:
            self._photograph(events[-1].timestamp)
        return events

    def _photograph(self, time: datetime) -> None:
        app = self.app
        sessions = {x: app.get_session(x) for x in self.model.sessions}
        agents = {a: app.get_agent(a) for a in self.model.agents}
        views = {s: _supervisor_view(agents, sessions, s) for s in self.model.supervisors}
        self.photos.append(Photo(
            app.log_position(), time, sessions,
            {a: tuple(agent.supervisions.values()) for a, agent in agents.items()},
            {s: v[0] for s, v in views.items()}, {s: v[1] for s, v in views.items()},
            {(x, v): app.transcript(x, v) for x, s in self.model.sessions.items() for v in s.viewers}))

    def teardown(self) -> None:
        try:
            if not self._failed and self.photos:
                with History(self.path) as history:
                    self._final_transcripts(history)
                    self._photographed_moments(history)
                    self._log_prefixes(history)
                self._cli_agrees()
        finally:
            super().teardown()

    # --- the checks ------------------------------------------------------------------------------

    def _final_transcripts(self, history: History) -> None:
        for x, model_session in self.model.sessions.items():
            viewers = {v.participant_id for v in history.viewers(x)}
            assert viewers == set(model_session.viewers), (x, viewers)
            for viewer in viewers:
                got = history.transcript(x, viewer)
                assert got == self.app.transcript(x, viewer), (x, viewer)
                assert _lines(got) == model_session.transcript(viewer), (x, viewer)
            with pytest.raises(NotFound):
                history.transcript(x, cs.GHOST)

    def _chosen_photos(self) -> list[Photo]:
        picks = {round(c * (len(self.photos) - 1)) for c in self.cuts}
        return [self.photos[i] for i in sorted(picks | {len(self.photos) - 1})]

    def _photographed_moments(self, history: History) -> None:
        for photo in self._chosen_photos():
            for at in (Position(photo.position), photo.time):
                where = f"at {at!r}"
                for x, live in photo.sessions.items():
                    assert history.session_at(x, at) == live, (where, x)
                for a, live_supervisions in photo.supervisions.items():
                    assert history.supervisions_at(a, at) == live_supervisions, (where, a)
                for s in photo.held:
                    found = history.supervisor_at(s, at)
                    assert dict(found.supervisions) == photo.held[s], (where, s)
                    assert dict(found.sessions) == photo.present[s], (where, s)
                for (x, v), live_transcript in photo.transcripts.items():
                    assert history.transcript(x, v, at=at) == live_transcript, (where, x, v)

    def _log_prefixes(self, history: History) -> None:
        log = list(self.app.all_events())
        end = log[-1][0]
        times = [e.timestamp for _, e in log]
        cuts: list[At] = [Position(round(c * end)) for c in self.cuts]
        # a time between two commands, and the exact time of one, both from the drawn fractions
        cuts += [times[round(c * (len(times) - 1))] + timedelta(milliseconds=500 * (i % 2))
                 for i, c in enumerate(self.cuts)]
        for at in cuts:
            states = rebuild(e for p, e in log
                             if (p <= at if isinstance(at, Position) else e.timestamp <= at))
            for x in self.model.sessions:
                expected = states.sessions.get(f"session:{x}")
                if expected is None:
                    with pytest.raises(NotFound):
                        history.session_at(x, at)
                else:
                    assert history.session_at(x, at) == expected, (at, x)
            for a in self.model.agents:
                expected_agent = states.agents.get(f"agent:{a}")
                if expected_agent is not None:
                    assert history.agent_at(a, at) == expected_agent, (at, a)
            for s in self.model.supervisors:
                if f"supervisor:{s}" in states.supervisors:
                    found = history.supervisor_at(s, at)
                    held, present = _supervisor_view(
                        {k: v for k, v in states.agents.items()}, dict(states.sessions), s)
                    assert (dict(found.supervisions), dict(found.sessions)) == (held, present), (at, s)

    def _cli_agrees(self) -> None:
        photo = self._chosen_photos()[0]
        for (x, v), live in list(photo.transcripts.items())[:2]:
            out, err = io.StringIO(), io.StringIO()
            code = main(["transcript", self.path, x, "--as", v, "--at", str(photo.position),
                         "--format", "json", "--no-progress"], out=out, err=err)
            assert code == 0, err.getvalue()
            data: dict[str, Any] = json.loads(out.getvalue())
            assert [(e["kind"], e["participant_id"], e["visibility"], e["text"], e["version"])
                    for e in data["entries"]] == [
                (e.kind.value, e.participant_id, e.visibility.value, e.text, e.position) for e in live]


HistoryMachine.TestCase.settings = settings(
    max_examples=80, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestHistoryAgreesWithTheLiveRun = HistoryMachine.TestCase


def test_the_machine_uses_a_real_file(tmp_path: Path) -> None:
    """The photographs are compared with what a fresh reader finds in the file, not in memory."""
    machine = HistoryMachine()
    try:
        assert Path(machine.path).name == "log.sqlite"
    finally:
        machine.teardown()
