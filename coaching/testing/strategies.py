"""Hypothesis strategies for commands over a small, fixed cast, so that ids collide often.

Small pools are deliberate: with three agents and six sessions, random commands keep landing
on the same aggregates, which is where the interesting rules (a second Accept, a supervisor
already present, a session completed under a supervisor) are exercised. The pools include ids
that are never registered, so refusals for unknown ids (GWS 6) are generated too.
"""

from __future__ import annotations

from hypothesis import strategies as st

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
    Reject,
    SendMessage,
    SwitchToBargeIn,
    SwitchToCoach,
    SwitchToMonitor,
)
from coaching.domain.values import MonitoringMode, SupervisorMode

AGENTS = ("a0", "a1", "a2")
SUPERVISORS = ("s0", "s1", "s2")
SESSIONS = ("x0", "x1", "x2", "x3", "x4", "x5")
GHOST = "ghost"
"""An id that is never registered."""


def customer_of(session_id: str) -> str:
    """Each session has its own customer: ``x1`` → ``c1``."""
    return "c" + session_id[1:]


agent_ids = st.sampled_from((*AGENTS, GHOST))
supervisor_ids = st.sampled_from((*SUPERVISORS, GHOST))
session_ids = st.sampled_from((*SESSIONS, GHOST))
any_user_ids = st.sampled_from((*AGENTS, *SUPERVISORS, *(customer_of(s) for s in SESSIONS), GHOST))
texts = st.sampled_from(("hi", "one moment please", "offer the refund", "thanks", "é ✓ 😀"))
monitoring_modes = st.sampled_from(tuple(MonitoringMode))
visibility_modes = st.none() | st.sampled_from(tuple(SupervisorMode))


def set_ups() -> st.SearchStrategy[Command]:
    """Monitor, Coach and BargeIn, NextChat or AllChats, sometimes with a nickname."""
    return st.builds(
        lambda cls, sup, agent, mode, nick: cls(actor=sup, agent_id=agent,
                                                supervisor_monitoring_mode=mode, nickname=nick),
        st.sampled_from((Monitor, Coach, BargeIn)), supervisor_ids, agent_ids, monitoring_modes,
        st.none() | st.just("Boss"))


def session_commands() -> st.SearchStrategy[Command]:
    """A session's life: open, offer, invite, accept, reject, leave, queue, complete, messages."""
    return st.one_of(
        session_ids.map(lambda s: OpenSession(actor="routing", session_id=s,
                                              customer_id=customer_of(s), customer_nickname="Carol")),
        st.builds(lambda s, a: OfferSession(actor="routing", session_id=s, agent_id=a),
                  session_ids, agent_ids),
        st.builds(lambda a, s, b: Invite(actor=a, session_id=s, agent_id=b),
                  agent_ids, session_ids, agent_ids),
        st.builds(lambda a, s: Accept(actor=a, session_id=s), agent_ids, session_ids),
        st.builds(lambda a, s: Reject(actor=a, session_id=s), agent_ids, session_ids),
        st.builds(lambda u, s: Leave(actor=u, session_id=s), any_user_ids, session_ids),
        st.builds(lambda a, s: Queue(actor=a, session_id=s, queue_name="billing"), agent_ids, session_ids),
        st.builds(lambda a, s: Complete(actor=a, session_id=s), agent_ids, session_ids),
        st.builds(lambda u, s, t: SendMessage(actor=u, session_id=s, text=t),
                  any_user_ids, session_ids, texts),
    )


def supervisor_commands() -> st.SearchStrategy[Command]:
    """Set-ups, cancellations, Intrude and the three switches."""
    return st.one_of(
        set_ups(),
        st.builds(lambda s, a: CancelSupervisorMonitoring(actor=s, agent_id=a), supervisor_ids, agent_ids),
        st.builds(lambda s, a, x, m: Intrude(actor=s, agent_id=a, session_id=x,
                                             supervisor_visibility_mode=m),
                  supervisor_ids, agent_ids, session_ids, visibility_modes),
        st.builds(lambda cls, s, x: cls(actor=s, session_id=x),
                  st.sampled_from((SwitchToCoach, SwitchToBargeIn, SwitchToMonitor)),
                  supervisor_ids, session_ids),
    )


def commands() -> st.SearchStrategy[Command]:
    """Any command over the cast, legal or not."""
    return st.one_of(session_commands(), supervisor_commands())
