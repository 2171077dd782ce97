"""Workloads: the same contact-center day, driven through ``coaching`` and through the baseline.

A day is a pool of agents, each coached (AllChats) by one supervisor, and many sessions, each
opened, offered, accepted (the supervisor joins), messaged a few times by the customer, the
agent and the coaching supervisor, and completed (the supervisor is revoked). Both sides get
the same agents, sessions, nicknames and message texts, so they produce the same number of
events per aggregate; only the libraries differ.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import StoredEvent

from bench.baseline import BaselineAgent, BaselineApp, BaselineSession, BaselineSupervisor
from bench.baseline import accept as baseline_accept
from coaching.application import Coaching

_WORDS = ("hello", "thanks", "order", "delivery", "refund", "account", "please", "number", "today",
          "tomorrow", "address", "payment", "card", "help", "sorry", "waiting", "check", "update",
          "invoice", "the", "a", "my", "your", "is", "was", "will", "can", "not", "yes", "no")


@dataclass(frozen=True, slots=True)
class Day:
    """The shape of a workload."""

    agents: int
    """Agents in the pool."""
    agents_per_supervisor: int
    """Each supervisor coaches (AllChats) this many agents."""
    sessions: int
    """Sessions in the day."""
    seed: int = 7

    @property
    def supervisors(self) -> int:
        return -(-self.agents // self.agents_per_supervisor)

    def agent_id(self, i: int) -> str:
        return f"agent-{i:04d}"

    def supervisor_id(self, i: int) -> str:
        return f"supervisor-{i:03d}"

    def supervisor_of(self, agent: int) -> int:
        return agent // self.agents_per_supervisor

    def session_id(self, i: int) -> str:
        return f"sms-{i:07d}"


@dataclass(frozen=True, slots=True)
class Message:
    sender: str
    """``customer``, ``agent`` or ``supervisor``."""
    text: str


@dataclass(frozen=True, slots=True)
class SessionScript:
    index: int
    agent: int
    messages: tuple[Message, ...]


def scripts(day: Day) -> Iterator[SessionScript]:
    """Every session of the day: who takes it, and what is said (2 to 10 messages, 13 events avg)."""
    rng = random.Random(day.seed)
    for i in range(day.sessions):
        count = 2 + rng.randrange(9)
        messages = []
        for m in range(count):
            sender = ("customer", "agent", "customer", "agent", "supervisor")[m % 5]
            words = rng.choices(_WORDS, k=4 + rng.randrange(24))
            messages.append(Message(sender, " ".join(words).capitalize() + "."))
        yield SessionScript(i, i % day.agents, tuple(messages))


def expected_events(day: Day) -> int:
    """How many events a day writes (the same on both sides)."""
    set_up = day.agents * 2 + day.supervisors
    per_session = sum(7 + len(s.messages) for s in scripts(day))
    return set_up + per_session


# --- coaching ---------------------------------------------------------------------------------


def coaching_staff(app: Coaching, day: Day) -> None:
    """Register agents and supervisors, and set up one AllChats Coach supervision per agent."""
    for a in range(day.agents):
        app.register_agent(day.agent_id(a), f"Agent {a}", nickname=f"Agent{a}", team="team-1")
    for s in range(day.supervisors):
        coached = frozenset(day.agent_id(a) for a in range(day.agents) if day.supervisor_of(a) == s)
        app.register_supervisor(day.supervisor_id(s), f"Supervisor {s}", nickname=f"Boss{s}",
                                agents=coached)
    for a in range(day.agents):
        app.coach(day.supervisor_id(day.supervisor_of(a)), day.agent_id(a))


def coaching_open_and_offer(app: Coaching, day: Day, session: int, agent: int) -> None:
    sid = day.session_id(session)
    app.open_session(sid, f"customer-{session}", f"Customer {session}")
    app.offer_session(sid, day.agent_id(agent))


def coaching_day(app: Coaching, day: Day) -> None:
    """The whole day through ``Coaching``'s commands."""
    coaching_staff(app, day)
    for script in scripts(day):
        sid = day.session_id(script.index)
        agent_id = day.agent_id(script.agent)
        supervisor_id = day.supervisor_id(day.supervisor_of(script.agent))
        coaching_open_and_offer(app, day, script.index, script.agent)
        app.accept(agent_id, sid)
        senders = {"customer": f"customer-{script.index}", "agent": agent_id,
                   "supervisor": supervisor_id}
        for message in script.messages:
            app.send_message(senders[message.sender], sid, message.text)
        app.complete(agent_id, sid)


# --- baseline ---------------------------------------------------------------------------------


@dataclass
class BaselineStaff:
    agents: list[UUID]
    supervisors: list[UUID]


def baseline_staff(app: BaselineApp, day: Day) -> BaselineStaff:
    """The same staff as :func:`coaching_staff`, as ordinary aggregates."""
    agents: list[BaselineAgent] = []
    for a in range(day.agents):
        agent = BaselineAgent(agent_id=day.agent_id(a), username=f"Agent {a}",
                              nickname=f"Agent{a}", team="team-1", actor="admin")
        app.save(agent)
        agents.append(agent)
    supervisors: list[BaselineSupervisor] = []
    for s in range(day.supervisors):
        coached = sorted(day.agent_id(a) for a in range(day.agents) if day.supervisor_of(a) == s)
        supervisor = BaselineSupervisor(supervisor_id=day.supervisor_id(s),
                                        username=f"Supervisor {s}", nickname=f"Boss{s}",
                                        features=["api-multimedia"], agents=coached, teams=[],
                                        actor="admin")
        app.save(supervisor)
        supervisors.append(supervisor)
    for a, agent in enumerate(agents):
        sup = day.supervisor_of(a)
        agent.start_supervision(agent_id=agent.agent_id, supervisor_id=day.supervisor_id(sup),
                                mode="Coach", monitoring_mode="AllChats", nickname=f"Boss{sup}",
                                actor=day.supervisor_id(sup))
        app.save(agent)
    return BaselineStaff([x.id for x in agents], [x.id for x in supervisors])


def baseline_open_and_offer(app: BaselineApp, day: Day, session: int, agent: int) -> UUID:
    sid = day.session_id(session)
    opened = BaselineSession(session_id=sid, customer_id=f"customer-{session}",
                             customer_nickname=f"Customer {session}", actor="routing")
    app.save(opened)
    offered: BaselineSession = app.repository.get(opened.id)
    offered.invite(session_id=sid, agent_id=day.agent_id(agent), invitation="Offer", actor="routing")
    app.save(offered)
    return opened.id


def baseline_day(app: BaselineApp, day: Day) -> None:
    """The whole day through the baseline's aggregates, one ``save`` per command as ``coaching``."""
    staff = baseline_staff(app, day)
    for script in scripts(day):
        agent_id = day.agent_id(script.agent)
        supervisor_id = day.supervisor_id(day.supervisor_of(script.agent))
        sid = baseline_open_and_offer(app, day, script.index, script.agent)
        baseline_accept(app, sid, staff.agents[script.agent])
        senders = {"customer": f"customer-{script.index}", "agent": agent_id,
                   "supervisor": supervisor_id}
        for index, message in enumerate(script.messages):
            session: BaselineSession = app.repository.get(sid)
            sender_id = senders[message.sender]
            if message.sender == "supervisor":
                sender_type, visibility = "Supervisor", "Agents"
                nickname = session.supervisors[sender_id]["nickname"]
            elif message.sender == "agent":
                sender_type, visibility, nickname = "Agent", "All", session.agents[sender_id]
            else:
                sender_type, visibility, nickname = "Customer", "All", session.customer_nickname
            session.message(session_id=session.session_id, index=index, sender_id=sender_id,
                            sender_type=sender_type, nickname=nickname, text=message.text,
                            visibility=visibility, actor=sender_id)
            app.save(session)
        ending: BaselineSession = app.repository.get(sid)
        ending.complete(session_id=ending.session_id, reason="CompletedByAgent",
                        agents_removed=list(ending.agents), actor=agent_id)
        for present in list(ending.supervisors):
            ending.revoke(session_id=ending.session_id, supervisor_id=present,
                          reason="Completed", actor=agent_id)
        app.save(ending)


# --- moving a log -----------------------------------------------------------------------------


def copy_log(source: Application[Any], target: Application[Any], page_size: int = 2000) -> int:
    """Copy every stored event, in order and byte for byte, into another application's store."""
    copied = 0
    start = 1
    while True:
        page = source.recorder.select_notifications(start=start, limit=page_size)
        if not page:
            return copied
        target.recorder.insert_events([
            StoredEvent(originator_id=n.originator_id, originator_version=n.originator_version,
                        topic=n.topic, state=n.state)
            for n in page
        ])
        copied += len(page)
        start = page[-1].id + 1
