"""A hypothesis state machine: random commands, legal and illegal, against every store in lockstep.

Modelled on hypothesis's own database-agreement test. Each step draws a command, asks the
independent :class:`~coaching.testing.model.ReferenceModel` what must happen, runs it on every
target (the in-memory store and an SQLite file by default) and checks that:

- every target accepts or refuses exactly as the model predicts, with the same GWS status code,
  and a refused command leaves each log exactly where it was;
- the targets record identical events (a deterministic clock per target makes that exact);
- an Accept adds exactly the supervisors of the agent's active supervisions not yet present,
  and ends exactly its NextChat supervisions; Complete and Queue revoke exactly the supervisors
  present, once each; a coach's message is ``MessageVisibleToAgent``;
- after every step each session's status, pending invitations and participants (with their
  modes), and each agent's active supervisions, match the model, and the customer's transcript
  holds nothing but ``All``-visibility entries;
- at the end, :func:`coaching.invariants.check_log` finds no violation in any log, every
  viewer's transcript of every session is the one the model predicts (history on join, nothing
  after leaving, visibility per entry), and every aggregate rebuilt from the stored log equals
  the one the application serves.

To run the same properties against your own embedding, subclass :class:`SupervisionMachine`
and override :meth:`~SupervisionMachine.make_targets`; see ``docs/testing.md``.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from coaching.application import Coaching
from coaching.domain.agent import Agent
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
    parse_command,
)
from coaching.domain.errors import CoachingError
from coaching.domain.events import (
    DomainEvent,
    MessageVisibleToAgent,
    MessageVisibleToAll,
    Revoked,
    SupervisionEnded,
    SupervisorAdded,
)
from coaching.domain.session import SmsSession
from coaching.domain.supervisor import Supervisor
from coaching.domain.transcript import TranscriptEntry
from coaching.domain.values import JoinedVia, MonitoringMode, SupervisorMode, Visibility
from coaching.invariants import check_log
from coaching.replay import rebuild
from coaching.testing import strategies as cs
from coaching.testing.model import Entry, Expected, ReferenceModel, Refused


class HasEvents(Protocol):
    """What a target's ``handle`` returns: at least the events it recorded."""

    @property
    def events(self) -> tuple[DomainEvent, ...]: ...


class Target(Protocol):
    """What the machine needs of an embedding. :class:`~coaching.application.Coaching` is one."""

    def handle(self, command: Command) -> HasEvents: ...
    def log_position(self) -> int: ...
    def all_events(self) -> Iterator[tuple[int, DomainEvent]]: ...
    def get_agent(self, agent_id: str) -> Agent: ...
    def get_supervisor(self, supervisor_id: str) -> Supervisor: ...
    def get_session(self, session_id: str) -> SmsSession: ...
    def transcript(self, session_id: str, viewer_id: str) -> list[TranscriptEntry]: ...


class StepClock:
    """A deterministic clock: one second later at every reading, from a fixed start."""

    def __init__(self, start: datetime = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def _dump(events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
    return [{"topic": e.TOPIC, **e.model_dump(mode="json")} for e in events]


def _lines(entries: Sequence[TranscriptEntry]) -> list[Entry]:
    """A transcript in the model's terms: (kind, participant, nickname, visibility, text)."""
    return [(e.kind.value, e.participant_id, e.nickname, e.visibility.value, e.text) for e in entries]


_SET_UP = st.sampled_from((Monitor, Coach, BargeIn))
_PERMITTED_PAIRS = (("s0", "a0"), ("s0", "a1"), ("s1", "a1"), ("s1", "a2"))
"""Supervisor-agent pairs the cast permits: s0 and s1 share a1, so conferences share supervisors."""
_PERMITTED = st.sampled_from(_PERMITTED_PAIRS)


class SupervisionMachine(RuleBasedStateMachine):
    """Random commands against the reference model and every target, in lockstep."""

    def __init__(self) -> None:
        super().__init__()
        self.model = ReferenceModel()
        self._cleanups: list[Callable[[], None]] = []
        self._failed = False  # a check failed: the final checks would only report its fallout
        self.targets = self.make_targets(StepClock)

    # --- override these to test your own embedding ---------------------------------------------

    def make_targets(self, clock: Callable[[], Callable[[], datetime]]) -> list[tuple[str, Target]]:
        """The embeddings to drive, by name. Each must use its own ``clock()`` for lockstep events.

        Register clean-up work with :meth:`on_teardown`.
        """
        directory = tempfile.mkdtemp(prefix="coaching-machine-")
        self.on_teardown(lambda: shutil.rmtree(directory, ignore_errors=True))
        memory = Coaching.in_memory(clock=clock())
        sqlite = Coaching.sqlite(f"{directory}/log.sqlite", clock=clock())
        self.on_teardown(sqlite.close)
        return [("memory", memory), ("sqlite", sqlite)]

    def on_teardown(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` when the machine is torn down (after the final checks)."""
        self._cleanups.append(fn)

    # --- the step ----------------------------------------------------------------------------

    def run(self, command: Command) -> list[DomainEvent] | None:
        """Run one command on the model and every target; check they agree. Events, or None if refused."""
        self._failed = True
        events = self._run(command)
        self._failed = False
        return events

    def _run(self, command: Command) -> list[DomainEvent] | None:
        try:
            expected: Expected | None = self.model.apply(command)
            code = 0
        except Refused as refusal:
            expected, code = None, refusal.code
        recorded: list[tuple[str, list[DomainEvent]]] = []
        for name, target in self.targets:
            before = target.log_position()
            try:
                events = list(target.handle(command).events)
                got = 0
            except CoachingError as error:
                events, got = [], error.status_code
                assert target.log_position() == before, (
                    f"{name}: refused {command!r} ({error}) but the log moved from {before} "
                    f"to {target.log_position()}")
            assert got == code, (
                f"{name}: {command!r} gave statusCode {got}, the model expects {code}"
                + (f" ({events})" if got == 0 else ""))
            recorded.append((name, events))
        first_name, first = recorded[0]
        for name, events in recorded[1:]:
            assert _dump(events) == _dump(first), f"{name} and {first_name} recorded different events"
        if expected is not None:
            self._check_expected(command, expected, first)
            return first
        return None

    def _check_expected(self, command: Command, expected: Expected, events: list[DomainEvent]) -> None:
        added = [e.supervisor_id for e in events
                 if isinstance(e, SupervisorAdded) and e.via is JoinedVia.SUPERVISION]
        assert sorted(added) == sorted(expected.added), (
            f"{command!r}: supervisions joined {sorted(added)}, expected {sorted(expected.added)}")
        revoked = [e.supervisor_id for e in events if isinstance(e, Revoked)]
        assert sorted(revoked) == sorted(expected.revoked), (
            f"{command!r}: revoked {revoked}, expected each of {sorted(expected.revoked)} once")
        ended = [e.supervisor_id for e in events if isinstance(e, SupervisionEnded)]
        assert sorted(ended) == sorted(expected.ended), (
            f"{command!r}: NextChat supervisions ended {ended}, expected {sorted(expected.ended)}")
        messages = [e for e in events if isinstance(e, MessageVisibleToAll | MessageVisibleToAgent)]
        if expected.message_visibility is None:
            assert not messages, f"{command!r} sent a message unexpectedly"
        else:
            assert [m.visibility.value for m in messages] == [expected.message_visibility], (
                f"{command!r}: message visibility {[m.visibility for m in messages]}, "
                f"expected {expected.message_visibility}")

    # --- rules -------------------------------------------------------------------------------

    @initialize(early=st.lists(st.tuples(_SET_UP, _PERMITTED, cs.monitoring_modes), min_size=1,
                               max_size=4),
                busy=st.lists(st.sampled_from(cs.AGENTS), min_size=1, max_size=3))
    def cast(self, early: list[tuple[type[Monitor | Coach | BargeIn], tuple[str, str],
                                     MonitoringMode]], busy: list[str]) -> None:
        """Three agents in two teams; s0 has team t0, s1 agents a1 and a2, s2 lacks the feature.

        Then a few permitted supervisions and a few sessions already accepted, so that every run
        starts with supervisors in sessions whichever rules hypothesis's swarm testing turns off
        (a repeated set-up among them is refused with 18, as it must be).
        """
        for agent, team in (("a0", "t0"), ("a1", "t0"), ("a2", "t1")):
            self.run(RegisterAgent(actor="admin", agent_id=agent, username=f"user-{agent}", team=team,
                                   nickname="Ann" if agent == "a1" else None))
        feature = frozenset({"api-multimedia"})
        self.run(RegisterSupervisor(actor="admin", supervisor_id="s0", username="sam",
                                    features=feature, teams=frozenset({"t0"})))
        self.run(RegisterSupervisor(actor="admin", supervisor_id="s1", username="sue", nickname="Sue N.",
                                    features=feature, agents=frozenset({"a1", "a2"})))
        self.run(RegisterSupervisor(actor="admin", supervisor_id="s2", username="sid",
                                    teams=frozenset({"t0", "t1"})))
        for cls, (sup, agent), mode in early:
            self.run(cls(actor=sup, agent_id=agent, supervisor_monitoring_mode=mode))
        for x, agent in zip(cs.SESSIONS, busy, strict=False):
            self.run(OpenSession(actor="routing", session_id=x, customer_id=cs.customer_of(x),
                                 customer_nickname="Carol"))
            self.run(OfferSession(actor="routing", session_id=x, agent_id=agent))
            self.run(Accept(actor=agent, session_id=x))

    @rule(command=cs.commands())
    def any_command(self, command: Command) -> None:
        """Any command over the cast: most are refused, some are not."""
        self.run(command)

    @rule(command=cs.supervisor_commands())
    def supervisor_command(self, command: Command) -> None:
        """Supervisors act more often than chance would make them."""
        self.run(command)

    # Guided rules: drawn from what the model says exists, so runs get deep (accepted sessions,
    # supervisors present, conferences, completions) instead of bouncing off unknown ids.

    def _live(self) -> list[str]:
        return sorted(x for x, s in self.model.sessions.items() if s.status != "Completed")

    @rule(data=st.data())
    def open_a_session(self, data: st.DataObject) -> None:
        """A new customer writes in."""
        fresh = [x for x in cs.SESSIONS if x not in self.model.sessions]
        if fresh:
            x = data.draw(st.sampled_from(fresh))
            self.run(OpenSession(actor="routing", session_id=x, customer_id=cs.customer_of(x),
                                 customer_nickname="Carol"))

    @rule(data=st.data(), agent=st.sampled_from(cs.AGENTS))
    def a_session_reaches_an_agent(self, data: st.DataObject, agent: str) -> None:
        """The common story in one step: a customer writes in, routing offers, the agent accepts."""
        fresh = [x for x in cs.SESSIONS if x not in self.model.sessions]
        if fresh:
            x = data.draw(st.sampled_from(fresh))
            self.run(OpenSession(actor="routing", session_id=x, customer_id=cs.customer_of(x),
                                 customer_nickname="Carol"))
            self.run(OfferSession(actor="routing", session_id=x, agent_id=agent))
            self.run(Accept(actor=agent, session_id=x))

    @rule(data=st.data(), agent=st.sampled_from(cs.AGENTS),
          answer=st.sampled_from((None, Accept, Accept, Reject)))
    def offer_a_session(self, data: st.DataObject, agent: str,
                        answer: type[Accept | Reject] | None) -> None:
        """Routing offers a session that has no agent (new or queued); maybe the agent answers."""
        waiting = [x for x in self._live() if not self.model.sessions[x].agents]
        if waiting:
            x = data.draw(st.sampled_from(waiting))
            if not self.run(OfferSession(actor="routing", session_id=x, agent_id=agent)):
                return
            if answer is not None:
                self.run(answer(actor=agent, session_id=x))
            else:  # left pending; a second offer meanwhile is refused (2): one offer at a time
                other = data.draw(st.sampled_from([b for b in cs.AGENTS if b != agent]))
                self.run(OfferSession(actor="routing", session_id=x, agent_id=other))

    @rule(cls=st.sampled_from((Monitor, Coach, BargeIn)), sup=st.sampled_from(cs.SUPERVISORS),
          agent=st.sampled_from(cs.AGENTS), mode=cs.monitoring_modes)
    def set_up_a_supervision(self, cls: type[Monitor | Coach | BargeIn], sup: str, agent: str,
                             mode: MonitoringMode) -> None:
        """A registered supervisor sets up on a registered agent (permission may still refuse)."""
        self.run(cls(actor=sup, agent_id=agent, supervisor_monitoring_mode=mode))

    @rule(cls=_SET_UP, pair=_PERMITTED, mode=cs.monitoring_modes, nickname=st.none() | st.just("QA"))
    def set_up_a_permitted_supervision(self, cls: type[Monitor | Coach | BargeIn],
                                       pair: tuple[str, str], mode: MonitoringMode,
                                       nickname: str | None) -> None:
        """A set-up the cast permits, so one supervisor often supervises two agents at once."""
        self.run(cls(actor=pair[0], agent_id=pair[1], supervisor_monitoring_mode=mode, nickname=nickname))

    @rule(data=st.data())
    def cancel_a_supervision(self, data: st.DataObject) -> None:
        """A supervisor cancels one of its active supervisions."""
        active = sorted((a, sup) for a, m in self.model.agents.items() for sup in m.supervisions)
        if active:
            a, sup = data.draw(st.sampled_from(active))
            self.run(CancelSupervisorMonitoring(actor=sup, agent_id=a))

    @rule(data=st.data(),
          how=st.sampled_from(("Leave", "Complete", "Complete", "Queue", "Queue", "Invite", "Invite")),
          then_end=st.sampled_from((None, None, Leave, Complete, Queue)))
    def an_agent_acts(self, data: st.DataObject, how: str,
                      then_end: type[Leave | Complete | Queue] | None) -> None:
        """A present agent leaves, completes, queues or invites another agent.

        The invitee may accept, reject, or not answer yet; then the inviter may end its part
        (Leave, Complete, Queue) before the invitee answers (which must then be refused).
        """
        present = sorted((x, a) for x in self._live() for a in self.model.sessions[x].agents)
        if not present:
            return
        x, a = data.draw(st.sampled_from(present))
        if how == "Leave":
            self.run(Leave(actor=a, session_id=x))
        elif how == "Complete":
            self.run(Complete(actor=a, session_id=x))
        elif how == "Queue":
            if self.run(Queue(actor=a, session_id=x, queue_name="billing")) and data.draw(st.booleans()):
                b = data.draw(st.sampled_from(cs.AGENTS))  # back from the queue: supervisions afresh
                self.run(OfferSession(actor="routing", session_id=x, agent_id=b))
                self.run(Accept(actor=b, session_id=x))
        else:
            others = [b for b in cs.AGENTS if b not in self.model.sessions[x].agents]
            if not others:
                return
            b = data.draw(st.sampled_from(others))
            if not self.run(Invite(actor=a, session_id=x, agent_id=b)):
                return
            if then_end is Queue:
                self.run(Queue(actor=a, session_id=x, queue_name="billing"))
            elif then_end is Leave or then_end is Complete:
                self.run(then_end(actor=a, session_id=x))
            answer = data.draw(st.sampled_from((Accept, Accept, Reject, None)))
            if answer is not None:
                self.run(answer(actor=b, session_id=x))  # None: pending through what follows

    @rule(data=st.data(), cls=_SET_UP, mode=cs.monitoring_modes)
    def conference_under_a_present_supervisor(self, data: st.DataObject,
                                              cls: type[Monitor | Coach | BargeIn],
                                              mode: MonitoringMode) -> None:
        """A supervisor present in a session (by supervision or Intrude) supervises a second
        agent, who is invited into that session and accepts: the supervisor must not be added
        twice, and a NextChat supervision of the second agent is used up all the same."""
        options = sorted((x, sup, b) for x in self._live() for sup in self.model.sessions[x].supervisors
                         for b in cs.AGENTS if b not in self.model.sessions[x].agents
                         and b not in self.model.sessions[x].invited)
        if options:
            x, sup, b = data.draw(st.sampled_from(options))
            self.run(cls(actor=sup, agent_id=b, supervisor_monitoring_mode=mode))  # may be 5 or 18
            self.run(Invite(actor=self.model.sessions[x].agents[0], session_id=x, agent_id=b))
            self.run(Accept(actor=b, session_id=x))

    @rule(data=st.data(), cls=_SET_UP, pair=_PERMITTED)
    def next_chat_survives_a_reject(self, data: st.DataObject, cls: type[Monitor | Coach | BargeIn],
                                    pair: tuple[str, str]) -> None:
        """A NextChat supervision, then the agent rejects a session (nothing consumed) and accepts
        the next one offered: the supervisor joins that one, and only then is NextChat used up."""
        sup, agent = pair
        self.run(cls(actor=sup, agent_id=agent, supervisor_monitoring_mode=MonitoringMode.NEXT_CHAT))
        waiting = [x for x in self._live()
                   if not self.model.sessions[x].agents and not self.model.sessions[x].invited]
        fresh = [x for x in cs.SESSIONS if x not in self.model.sessions]
        if not waiting and fresh:
            x = data.draw(st.sampled_from(fresh))
            self.run(OpenSession(actor="routing", session_id=x, customer_id=cs.customer_of(x),
                                 customer_nickname="Carol"))
            waiting = [x]
        if waiting:
            x = data.draw(st.sampled_from(waiting))
            self.run(OfferSession(actor="routing", session_id=x, agent_id=agent))
            self.run(Reject(actor=agent, session_id=x))
            self.run(OfferSession(actor="routing", session_id=x, agent_id=agent))
            self.run(Accept(actor=agent, session_id=x))

    @rule(data=st.data(), cls=_SET_UP, mode=cs.monitoring_modes)
    def set_up_mid_session_then_conference(self, data: st.DataObject,
                                           cls: type[Monitor | Coach | BargeIn],
                                           mode: MonitoringMode) -> None:
        """A supervision is set up on an agent already in a session, then another agent joins
        that session: the new supervision must not join it (only the newcomer's do)."""
        options = sorted((x, sup, a) for x in self._live() for sup, a in _PERMITTED_PAIRS
                         if a in self.model.sessions[x].agents
                         and sup not in self.model.sessions[x].supervisors)
        if options:
            x, sup, a = data.draw(st.sampled_from(options))
            self.run(cls(actor=sup, agent_id=a, supervisor_monitoring_mode=mode))  # may be 18
            others = [b for b in cs.AGENTS if b not in self.model.sessions[x].agents
                      and b not in self.model.sessions[x].invited]
            if others:
                b = data.draw(st.sampled_from(others))
                self.run(Invite(actor=a, session_id=x, agent_id=b))
                self.run(Accept(actor=b, session_id=x))

    @rule(data=st.data(), conference=st.booleans())
    def an_agent_leaves(self, data: st.DataObject, conference: bool) -> None:
        """An agent leaves: in a conference another agent remains and no supervisor goes with it;
        alone, the session is completed and every supervisor present is revoked."""
        options = sorted((x, a) for x in self._live()
                         if len(self.model.sessions[x].agents) > (1 if conference else 0)
                         for a in self.model.sessions[x].agents)
        if options:
            x, a = data.draw(st.sampled_from(options))
            self.run(Leave(actor=a, session_id=x))

    @rule(data=st.data(), switch=st.sampled_from((SwitchToCoach, SwitchToBargeIn, SwitchToMonitor, Leave)))
    def a_present_supervisor_acts(self, data: st.DataObject,
                                  switch: type[SwitchToCoach | SwitchToBargeIn | SwitchToMonitor | Leave]
                                  ) -> None:
        """A supervisor in a session switches mode (and maybe speaks in its new mode) or leaves."""
        present = sorted((x, u) for x in self._live() for u in self.model.sessions[x].supervisors)
        if present:
            x, u = data.draw(st.sampled_from(present))
            if self.run(switch(actor=u, session_id=x)) and data.draw(st.booleans()):
                if switch is Leave:  # shown nothing more after leaving
                    self.run(SendMessage(actor=self.model.sessions[x].customer, session_id=x,
                                         text="are you still there?"))
                else:  # speaks in its new mode (refused in Monitor)
                    self.run(SendMessage(actor=u, session_id=x, text="after the switch"))

    @rule(data=st.data(), mode=cs.visibility_modes)
    def intrude_where_permitted(self, data: st.DataObject, mode: SupervisorMode | None) -> None:
        """A permitted supervisor, absent from a live session of its agent, intrudes into it.

        Without a mode, the mode of its supervision of the agent applies (else statusCode 1).
        """
        options = sorted((x, sup, a) for x in self._live() for sup, a in _PERMITTED_PAIRS
                         if a in self.model.sessions[x].agents
                         and sup not in self.model.sessions[x].supervisors)
        supervising = [(x, sup, a) for x, sup, a in options if sup in self.model.agents[a].supervisions]
        prefer_supervising: bool = data.draw(st.booleans())
        if supervising and prefer_supervising:
            options = supervising  # the case where the mode may come from the supervision
        if options:
            x, sup, a = data.draw(st.sampled_from(options))
            self.run(Intrude(actor=sup, agent_id=a, session_id=x, supervisor_visibility_mode=mode))

    @rule(data=st.data(), sup=st.sampled_from(cs.SUPERVISORS), mode=cs.visibility_modes)
    def intrude_on_a_live_session(self, data: st.DataObject, sup: str, mode: SupervisorMode | None) -> None:
        """A supervisor intrudes into a session where an agent is present."""
        present = sorted((x, a) for x in self._live() for a in self.model.sessions[x].agents)
        if present:
            x, a = data.draw(st.sampled_from(present))
            self.run(Intrude(actor=sup, agent_id=a, session_id=x, supervisor_visibility_mode=mode))

    @rule(data=st.data(), reject=st.booleans(), nickname=st.none() | st.just("Desk 7"))
    def answer_an_invitation(self, data: st.DataObject, reject: bool, nickname: str | None) -> None:
        """Accept a pending invitation (maybe under a nickname), or Reject it (consuming nothing)."""
        pending = sorted((x, a) for x, s in self.model.sessions.items() for a in s.invited)
        if pending:
            session_id, agent_id = data.draw(st.sampled_from(pending))
            if reject:
                self.run(Reject(actor=agent_id, session_id=session_id))
            else:
                self.run(Accept(actor=agent_id, session_id=session_id, nickname=nickname))

    @rule(data=st.data(), text=cs.texts)
    def a_participant_speaks(self, data: st.DataObject, text: str) -> None:
        """A present participant sends a message (a monitoring supervisor is refused)."""
        speakers = sorted((x, u) for x, s in self.model.sessions.items() if s.status != "Completed"
                          for u in (s.customer, *s.agents, *s.supervisors))
        if speakers:
            session_id, user = data.draw(st.sampled_from(speakers))
            self.run(SendMessage(actor=user, session_id=session_id, text=text))

    @rule(data=st.data())
    def register_again(self, data: st.DataObject) -> None:
        """Registering an id already taken, as agent or as supervisor, is refused (18)."""
        user = data.draw(st.sampled_from(("a0", "s1")))
        if data.draw(st.booleans()):
            self.run(RegisterAgent(actor="admin", agent_id=user, username="again"))
        else:
            self.run(RegisterSupervisor(actor="admin", supervisor_id=user, username="again"))

    @rule(payload=st.sampled_from((
        {"kind": "Coach", "actor": "s0"},
        {"kind": "Coach", "actor": "s0", "agent_id": "a0", "supervisor_monitoring_mode": "EveryChat"},
        {"kind": "SendMessage", "actor": "c0", "session_id": "x0", "text": "x" * 1601},
        {"kind": "Leave", "actor": "bad id!", "session_id": "x0"},
        {"kind": "Teleport", "actor": "s0"},
    )))
    def malformed(self, payload: dict[str, Any]) -> None:
        """Malformed input is a typed refusal (GWS 1 or 10) before any target is reached."""
        positions = [t.log_position() for _, t in self.targets]
        try:
            parse_command(payload)
        except CoachingError as error:
            assert error.status_code in (1, 10), error
        else:
            raise AssertionError(f"{payload} was accepted")
        assert positions == [t.log_position() for _, t in self.targets]

    # --- invariants ----------------------------------------------------------------------------

    @invariant()
    def participants_match_the_model(self) -> None:
        """Sessions and supervisions are the model's; the customer sees only All."""
        self._failed = True
        for agent_id, model_agent in self.model.agents.items():
            for name, target in self.targets:
                got = {k: (v.mode.value, v.monitoring_mode.value, v.nickname)
                       for k, v in target.get_agent(agent_id).supervisions.items()}
                assert got == model_agent.supervisions, (name, agent_id, "supervisions", got)
        for session_id, expected in self.model.sessions.items():
            invitations = {a: "Offer" if a == expected.offered_to else "Conference"
                           for a in expected.invited}
            for name, target in self.targets:
                session = target.get_session(session_id)
                assert session.status.value == expected.status, (name, session_id, "status")
                assert {a: k.value for a, k in session.invitations.items()} == invitations, (
                    name, session_id, "invitations")
                assert set(session.agents) == set(expected.agents), (name, session_id, "agents")
                assert {k: v.mode.value for k, v in session.supervisors.items()} == expected.supervisors, (
                    name, session_id, "supervisors")
                shown = target.transcript(session_id, expected.customer)
                leaked = [e for e in shown if e.visibility is not Visibility.ALL]
                assert not leaked, f"{name}: the customer of {session_id} was shown {leaked}"
        self._failed = False

    def teardown(self) -> None:
        """The final checks: no rule broken in any log, every transcript is the model's, every
        aggregate rebuilds from its log. Skipped after a failed step: the model and the targets
        disagree by then, and a second report would hide the first (hypothesis tears down in a
        ``finally``)."""
        try:
            for name, target in [] if self._failed else self.targets:
                log = list(target.all_events())
                violations = check_log(log)
                assert not violations, f"{name}: " + "; ".join(map(str, violations))
                for session_id, model_session in self.model.sessions.items():
                    for viewer in (*cs.AGENTS, *cs.SUPERVISORS, model_session.customer, cs.GHOST):
                        got = _lines(target.transcript(session_id, viewer))
                        expected = model_session.transcript(viewer)
                        assert got == expected, (
                            f"{name}: transcript of {session_id} for {viewer}:\n  got      {got}"
                            f"\n  expected {expected}")
                states = rebuild(event for _, event in log)
                for key, agent in states.agents.items():
                    assert target.get_agent(key.split(":", 1)[1]) == agent, (name, key)
                for key, supervisor in states.supervisors.items():
                    assert target.get_supervisor(key.split(":", 1)[1]) == supervisor, (name, key)
                for key, session in states.sessions.items():
                    assert target.get_session(key.split(":", 1)[1]) == session, (name, key)
        finally:
            for fn in reversed(self._cleanups):
                fn()
