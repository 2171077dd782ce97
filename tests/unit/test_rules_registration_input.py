"""Registration, the shared user-id space, and malformed input (GWS 1 and 10)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, Literal

import pytest

from coaching.domain.commands import (
    Accept,
    Coach,
    Command,
    Intrude,
    OfferSession,
    OpenSession,
    Queue,
    RegisterAgent,
    RegisterSupervisor,
    SendMessage,
)
from coaching.domain.errors import AlreadyExists, InvalidValue, MissingParameter
from coaching.domain.events import (
    AgentRegistered,
    MessageVisibleToAll,
    SessionOpened,
    SupervisionStarted,
    SupervisorRegistered,
)
from coaching.domain.values import MAX_TEXT_LENGTH, MonitoringMode, ParticipantType, SupervisorMode
from coaching.testing import Runner, event, given

MULTIMEDIA = frozenset({"api-multimedia"})

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice", team="t1"),
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam", features=MULTIMEDIA,
                       agents=frozenset({"a1"})),
    OpenSession(actor="routing", session_id="x1", customer_id="c1", customer_nickname="Carol"),
    OfferSession(actor="routing", session_id="x1", agent_id="a1"),
    Accept(actor="a1", session_id="x1"),
)
"""a1 chatting in x1 (version 3); s1 may supervise a1."""


# --- registration -------------------------------------------------------------------------------


def test_register_agent(runner: Runner) -> None:
    world = runner.run(
        given()
        .when(RegisterAgent(actor="hr", agent_id="a9", username="ann", nickname="Annie", team="t7"))
        .then(event(AgentRegistered, "agent:a9", 1, actor="hr", agent_id="a9", username="ann",
                    nickname="Annie", team="t7"))
    )
    agent = world.agent("a9")
    assert agent is not None
    assert (agent.display_name, dict(agent.supervisions)) == ("Annie", {})


def test_register_supervisor_stores_its_collections_sorted(runner: Runner) -> None:
    world = runner.run(
        given()
        .when(RegisterSupervisor(actor="hr", supervisor_id="s9", username="zed",
                                 features=frozenset({"voice", "api-multimedia"}),
                                 agents=frozenset({"b2", "a1"}), teams=frozenset({"t2", "t1"})))
        .then(event(SupervisorRegistered, "supervisor:s9", 1, actor="hr", supervisor_id="s9",
                    username="zed", nickname=None, features=("api-multimedia", "voice"),
                    agents=("a1", "b2"), teams=("t1", "t2")))
    )
    supervisor = world.supervisor("s9")
    assert supervisor is not None
    assert supervisor.agents == frozenset({"a1", "b2"})


@pytest.mark.parametrize("when", [
    pytest.param(RegisterAgent(actor="admin", agent_id="a1", username="other"), id="agent-as-agent"),
    pytest.param(RegisterSupervisor(actor="admin", supervisor_id="s1", username="other"),
                 id="supervisor-as-supervisor"),
    pytest.param(RegisterSupervisor(actor="admin", supervisor_id="a1", username="other"),
                 id="agent-id-as-supervisor"),
    pytest.param(RegisterAgent(actor="admin", agent_id="s1", username="other"),
                 id="supervisor-id-as-agent"),
])
def test_a_registered_user_id_cannot_be_registered_again(runner: Runner, when: Command) -> None:
    # agents and supervisors share one id space, as GWS users do
    runner.run(given(CAST).when(when).then_raises(AlreadyExists, 18))


def test_open_session(runner: Runner) -> None:
    runner.run(
        given()
        .when(OpenSession(actor="routing", session_id="x2", customer_id="c2", customer_nickname="Dan"))
        .then(event(SessionOpened, "session:x2", 1, actor="routing", session_id="x2", customer_id="c2",
                    customer_nickname="Dan"))
    )


def test_an_existing_session_id_cannot_be_opened_again(runner: Runner) -> None:
    runner.run(
        given(CAST)
        .when(OpenSession(actor="routing", session_id="x1", customer_id="c9", customer_nickname="Eve"))
        .then_raises(AlreadyExists, 18)
    )


# --- identifiers and values at their limits -------------------------------------------------------


@pytest.mark.parametrize("agent_id", ["a.b_c-d@e:f", "A" * 64, "7"])
def test_identifiers_with_every_allowed_character_and_length_are_accepted(
        runner: Runner, agent_id: str) -> None:
    runner.run(
        given()
        .when(RegisterAgent(actor="admin", agent_id=agent_id, username="x"))
        .then(event(AgentRegistered, f"agent:{agent_id}", 1, actor="admin", agent_id=agent_id,
                    username="x", nickname=None, team=None))
    )


def test_a_text_of_the_maximum_length_is_accepted(runner: Runner) -> None:
    text = "y" * MAX_TEXT_LENGTH
    runner.run(
        given(CAST)
        .when(SendMessage(actor="c1", session_id="x1", text=text))
        .then(event(MessageVisibleToAll, "session:x1", 4, actor="c1", session_id="x1", index=0,
                    sender_id="c1", sender_type=ParticipantType.CUSTOMER, nickname="Carol", text=text))
    )


def test_max_text_length_is_the_concatenated_sms_limit() -> None:
    assert MAX_TEXT_LENGTH == 1600


# --- malformed values: the command is refused before anything is decided -------------------------

BAD_VALUES: list[Any] = [
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="a 2", username="x"), id="id-with-space"),
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="-a2", username="x"), id="id-leading-dash"),
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="a/2", username="x"), id="id-with-slash"),
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="é", username="x"), id="id-non-ascii"),
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="", username="x"), id="id-empty"),
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="A" * 65, username="x"), id="id-too-long"),
    pytest.param(lambda: RegisterAgent(actor="admin", agent_id="a2", username="x\x07"),
                 id="name-with-control-char"),
    pytest.param(lambda: SendMessage(actor="c1", session_id="x1", text=""), id="text-empty"),
    pytest.param(lambda: SendMessage(actor="c1", session_id="x1", text="y" * (MAX_TEXT_LENGTH + 1)),
                 id="text-too-long"),
    pytest.param(lambda: SendMessage(actor="c 1", session_id="x1", text="hi"), id="actor-bad-id"),
    pytest.param(lambda: Coach(actor="s1", agent_id="a1", supervisor_monitoring_mode="Sometimes"),
                 id="unknown-monitoring-mode"),
    pytest.param(lambda: Intrude(actor="s1", agent_id="a1", session_id="x1",
                                 supervisor_visibility_mode="Whisper"), id="unknown-visibility-mode"),
    pytest.param(lambda: Queue(actor="a1", session_id="x1", queue_name=""), id="queue-name-empty"),
    pytest.param(lambda: RegisterSupervisor(actor="admin", supervisor_id="s2", username="x",
                                            features=frozenset({""})), id="feature-empty"),
    pytest.param(lambda: Accept(actor="a1", session_id="x1", colour="red"), id="unknown-field"),
    pytest.param(lambda: SendMessage(actor="c1", session_id="x1", text=42), id="text-not-a-string"),
    pytest.param(lambda: SendMessage(actor="c1", text=""), id="missing-and-bad"),
]


@pytest.mark.parametrize("build", BAD_VALUES)
def test_a_malformed_value_is_invalid(runner: Runner, build: Callable[[], Command]) -> None:
    runner.run(given(CAST).when(build).then_raises(InvalidValue, 10))


MISSING: list[Any] = [
    pytest.param(lambda: SendMessage(actor="c1", session_id="x1"), id="text"),
    pytest.param(lambda: Coach(actor="s1"), id="agent_id"),
    pytest.param(lambda: Accept(session_id="x1"), id="actor"),
    pytest.param(lambda: RegisterAgent(actor="admin"), id="agent_id-and-username"),
]


@pytest.mark.parametrize("build", MISSING)
def test_a_missing_field_is_a_missing_parameter(runner: Runner, build: Callable[[], Command]) -> None:
    runner.run(given(CAST).when(build).then_raises(MissingParameter, 1))


# --- plain data and JSON, as a transport adapter hands them over -----------------------------------


def test_a_command_given_as_plain_data_is_decided_like_the_typed_one(runner: Runner) -> None:
    runner.run(
        given(CAST)
        .when({"kind": "Monitor", "actor": "s1", "agent_id": "a1",
               "supervisor_monitoring_mode": "NextChat"})
        .then(event(SupervisionStarted, "agent:a1", 3, actor="s1", agent_id="a1", supervisor_id="s1",
                    mode=SupervisorMode.MONITOR, monitoring_mode=MonitoringMode.NEXT_CHAT,
                    nickname="sam"))
    )


def test_a_command_given_as_json_is_decided_like_the_typed_one(runner: Runner) -> None:
    runner.run(
        given(CAST)
        .when(json.dumps({"kind": "SendMessage", "actor": "a1", "session_id": "x1", "text": "hi"}))
        .then(event(MessageVisibleToAll, "session:x1", 4, actor="a1", session_id="x1", index=0,
                    sender_id="a1", sender_type=ParticipantType.AGENT, nickname="alice", text="hi"))
    )


@pytest.mark.parametrize("data", [
    pytest.param({"kind": "Coach", "actor": "s1", "agent_id": "a1",
                  "supervisor_monitoring_mode": "EveryOtherChat"}, id="unknown-monitoring-mode"),
    pytest.param({"kind": "Transfer", "actor": "a1", "session_id": "x1"}, id="unknown-operation"),
    pytest.param({"kind": "Leave", "actor": "a1", "session_id": "x1", "why": "lunch"}, id="unknown-field"),
    pytest.param({"kind": "SendMessage", "actor": "a1", "session_id": "x1", "text": "y" * 1601},
                 id="text-too-long"),
    pytest.param('{"kind": "Leave", "actor": "a1", ', id="broken-json"),
])
def test_malformed_plain_data_is_invalid(runner: Runner, data: dict[str, Any] | str) -> None:
    runner.run(given(CAST).when(data).then_raises(InvalidValue, 10))


@pytest.mark.parametrize("data", [
    pytest.param({"kind": "Coach", "actor": "s1"}, id="agent_id"),
    pytest.param({"kind": "SendMessage", "actor": "a1", "session_id": "x1"}, id="text"),
    pytest.param('{"kind": "Intrude", "actor": "s1", "agent_id": "a1"}', id="session_id-json"),
])
def test_plain_data_missing_a_field_is_a_missing_parameter(
        runner: Runner, data: dict[str, Any] | str) -> None:
    runner.run(given(CAST).when(data).then_raises(MissingParameter, 1))


class Transfer(Command):
    """A command the core has no rule for (GWS lists Transfer; this library does not decide it)."""

    kind: Literal["Transfer"] = "Transfer"
    session_id: str


def test_a_command_the_core_has_no_rule_for_is_refused(runner: Runner) -> None:
    runner.run(given(CAST).when(Transfer(actor="a1", session_id="x1")).then_raises(InvalidValue, 10))


def test_a_refusal_reads_as_a_gws_response() -> None:
    with pytest.raises(InvalidValue) as caught:
        SendMessage(actor="c1", session_id="x1", text="")
    body = caught.value.to_gws()
    assert body["statusCode"] == 10
    assert "text" in str(body["statusMessage"])


# --- a customer id never names a user (ADR 0003) ---------------------------------------------------


@pytest.mark.parametrize("user", ["a1", "s1"])
def test_a_session_cannot_open_for_a_customer_whose_id_is_a_user(runner: Runner, user: str) -> None:
    """Else that user would be shown the customer's view, and the customer a coach's messages."""
    runner.run(
        given(CAST)
        .when(OpenSession(actor="routing", session_id="x2", customer_id=user, customer_nickname="Eve"))
        .then_raises(AlreadyExists, 18)
    )


def test_a_user_registered_later_with_a_customer_id_cannot_join_as_agent(runner: Runner) -> None:
    runner.run(
        given(CAST,
              OpenSession(actor="routing", session_id="x2", customer_id="c2", customer_nickname="Eve"),
              RegisterAgent(actor="admin", agent_id="c2", username="eve-the-agent"))
        .when(OfferSession(actor="routing", session_id="x2", agent_id="c2"))
        .then_raises(AlreadyExists, 18)
    )


def test_a_supervisor_whose_id_is_the_customer_cannot_intrude(runner: Runner) -> None:
    runner.run(
        given(CAST,
              RegisterSupervisor(actor="admin", supervisor_id="c1", username="carol-sup",
                                 features=MULTIMEDIA, agents=frozenset({"a1"})))
        .when(Intrude(actor="c1", agent_id="a1", session_id="x1",
                      supervisor_visibility_mode=SupervisorMode.COACH))
        .then_raises(AlreadyExists, 18)
    )
