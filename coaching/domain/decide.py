"""``decide(command, given, at) -> events``: the one entry to every rule, pure.

``given`` looks up current states by id (the application backs it with the event store, tests
with a dict). This module only finds the states a command needs, refuses unknown ids (GWS 6)
and the supervisor's missing feature (GWS 3), and hands over to the aggregate module that owns
the rule. It performs no I/O of its own and reads no clock: ``at`` is passed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import singledispatch
from typing import Protocol

from coaching.domain import agent as agent_rules
from coaching.domain import session as session_rules
from coaching.domain import supervisor as supervisor_rules
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
)
from coaching.domain.errors import AlreadyExists, InvalidValue, NotFound
from coaching.domain.events import DomainEvent
from coaching.domain.session import SmsSession
from coaching.domain.supervisor import Supervisor


class Given(Protocol):
    """Read access to current states; ``None`` means no such aggregate."""

    def agent(self, agent_id: str) -> Agent | None: ...
    def supervisor(self, supervisor_id: str) -> Supervisor | None: ...
    def session(self, session_id: str) -> SmsSession | None: ...


def require_agent(given: Given, agent_id: str) -> Agent:
    """The agent, or ``NotFound`` (GWS 6)."""
    found = given.agent(agent_id)
    if found is None:
        raise NotFound(f"no agent with id {agent_id!r}")
    return found


def require_supervisor(given: Given, supervisor_id: str) -> Supervisor:
    """The supervisor, or ``NotFound`` (GWS 6)."""
    found = given.supervisor(supervisor_id)
    if found is None:
        raise NotFound(f"no supervisor with id {supervisor_id!r}")
    return found


def require_session(given: Given, session_id: str) -> SmsSession:
    """The session, or ``NotFound`` (GWS 6)."""
    found = given.session(session_id)
    if found is None:
        raise NotFound(f"no SMS session with id {session_id!r}")
    return found


def _check_new_user(given: Given, user_id: str) -> None:
    """Agents and supervisors share one user-id space, as GWS users do (ADR 0003)."""
    if given.agent(user_id) is not None or given.supervisor(user_id) is not None:
        raise AlreadyExists(f"a user with id {user_id!r} is already registered")


@singledispatch
def decide(command: Command, given: Given, at: datetime) -> list[DomainEvent]:
    """Decide which events a command causes, or raise a :class:`CoachingError` (nothing written)."""
    raise InvalidValue(f"unknown command {type(command).__name__}")


def _on(cls: type[Command]) -> Callable[[Callable[..., list[DomainEvent]]], object]:
    return decide.register(cls)


@_on(RegisterAgent)
def _(c: RegisterAgent, given: Given, at: datetime) -> list[DomainEvent]:
    _check_new_user(given, c.agent_id)
    return agent_rules.register(c.agent_id, c.username, c.nickname, c.team, at, c.actor)


@_on(RegisterSupervisor)
def _(c: RegisterSupervisor, given: Given, at: datetime) -> list[DomainEvent]:
    _check_new_user(given, c.supervisor_id)
    return supervisor_rules.register(c.supervisor_id, c.username, c.nickname, c.features,
                                     c.agents, c.teams, at, c.actor)


@_on(OpenSession)
def _(c: OpenSession, given: Given, at: datetime) -> list[DomainEvent]:
    if given.session(c.session_id) is not None:
        raise AlreadyExists(f"an SMS session with id {c.session_id!r} already exists")
    if given.agent(c.customer_id) is not None or given.supervisor(c.customer_id) is not None:
        # ADR 0003: a participant id must say who it is; a customer id equal to a user's would
        # let that user be shown the customer's view, and the customer a coach's messages
        raise AlreadyExists(f"customer id {c.customer_id!r} is a registered user's id")
    return session_rules.open_session(c.session_id, c.customer_id, c.customer_nickname, at, c.actor)


@_on(OfferSession)
def _(c: OfferSession, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.offer(require_session(given, c.session_id), require_agent(given, c.agent_id),
                               at, c.actor)


@_on(Invite)
def _(c: Invite, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.invite(require_session(given, c.session_id), c.actor,
                                require_agent(given, c.agent_id), at)


@_on(Accept)
def _(c: Accept, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.accept(require_session(given, c.session_id), require_agent(given, c.actor),
                                c.nickname, at)


@_on(Reject)
def _(c: Reject, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.reject(require_session(given, c.session_id), c.actor, at)


@_on(Leave)
def _(c: Leave, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.leave(require_session(given, c.session_id), c.actor, at)


@_on(Queue)
def _(c: Queue, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.queue(require_session(given, c.session_id), c.actor, c.queue_name, at)


@_on(Complete)
def _(c: Complete, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.complete(require_session(given, c.session_id), c.actor, at)


@_on(SendMessage)
def _(c: SendMessage, given: Given, at: datetime) -> list[DomainEvent]:
    return session_rules.send_message(require_session(given, c.session_id), c.actor, c.text, at)


def _set_up(c: Monitor | Coach | BargeIn, given: Given, at: datetime) -> list[DomainEvent]:
    supervisor = require_supervisor(given, c.actor)
    agent = require_agent(given, c.agent_id)
    supervisor_rules.check_may_supervise(supervisor, agent)
    return agent_rules.start_supervision(agent, supervisor.supervisor_id, c.mode,
                                         c.supervisor_monitoring_mode,
                                         supervisor.default_nickname(c.nickname), at)


decide.register(Monitor, _set_up)
decide.register(Coach, _set_up)
decide.register(BargeIn, _set_up)


@_on(CancelSupervisorMonitoring)
def _(c: CancelSupervisorMonitoring, given: Given, at: datetime) -> list[DomainEvent]:
    supervisor = require_supervisor(given, c.actor)
    supervisor_rules.check_feature(supervisor)
    return agent_rules.cancel_supervision(require_agent(given, c.agent_id), supervisor.supervisor_id, at)


@_on(Intrude)
def _(c: Intrude, given: Given, at: datetime) -> list[DomainEvent]:
    supervisor = require_supervisor(given, c.actor)
    return session_rules.intrude(require_session(given, c.session_id), require_agent(given, c.agent_id),
                                 supervisor, c.supervisor_visibility_mode, at)


def _switch(c: SwitchToCoach | SwitchToBargeIn | SwitchToMonitor, given: Given,
            at: datetime) -> list[DomainEvent]:
    supervisor_rules.check_feature(require_supervisor(given, c.actor))
    return session_rules.switch(require_session(given, c.session_id), c.actor, c.to_mode, at)


decide.register(SwitchToCoach, _switch)
decide.register(SwitchToBargeIn, _switch)
decide.register(SwitchToMonitor, _switch)
