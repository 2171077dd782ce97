"""The scenario runner itself: it must fail whenever the system does not do what a Then says."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from coaching.application import Coaching
from coaching.domain.commands import Coach, Command, RegisterAgent, RegisterSupervisor
from coaching.domain.decide import decide
from coaching.domain.errors import AlreadyExists, InvalidState, NoPermission, NotFound
from coaching.domain.events import DomainEvent, SupervisionStarted
from coaching.domain.values import MonitoringMode, SupervisorMode
from coaching.testing import (
    AT,
    Runner,
    Scenario,
    ScenarioFailed,
    ScenarioSetupError,
    event,
    given,
    make_runner,
    run_everywhere,
)
from coaching.testing.scenario import AppWorld, PureWorld

CAST = (
    RegisterAgent(actor="admin", agent_id="a1", username="alice"),
    RegisterSupervisor(actor="admin", supervisor_id="s1", username="sam",
                       features=frozenset({"api-multimedia"}), agents=frozenset({"a1"})),
)
COACH = Coach(actor="s1", agent_id="a1")


def started(version: int = 2, actor: str = "s1", **changes: object) -> SupervisionStarted:
    fields: dict[str, object] = {"agent_id": "a1", "supervisor_id": "s1", "mode": SupervisorMode.COACH,
                                 "monitoring_mode": MonitoringMode.ALL_CHATS, "nickname": "sam"}
    return event(SupervisionStarted, "agent:a1", version, actor=actor, **{**fields, **changes})


def test_a_true_then_passes_and_the_timestamp_is_ignored(runner: Runner) -> None:
    runner.run(given(CAST).when(COACH).then(started(timestamp=datetime(1999, 1, 1, tzinfo=UTC))))


@pytest.mark.parametrize("wrong", [
    pytest.param(started(nickname="Sam"), id="field"),
    pytest.param(started(actor="admin"), id="actor"),
    pytest.param(started(version=3), id="version"),
])
def test_a_then_differing_in_any_compared_field_fails(runner: Runner, wrong: DomainEvent) -> None:
    with pytest.raises(ScenarioFailed, match="first difference"):
        runner.run(given(CAST).when(COACH).then(wrong))


@pytest.mark.parametrize("expected", [
    pytest.param((), id="fewer"),
    pytest.param((started(), started(version=3)), id="more"),
])
def test_a_then_with_another_number_of_events_fails(
        runner: Runner, expected: tuple[DomainEvent, ...]) -> None:
    with pytest.raises(ScenarioFailed, match="differ"):
        runner.run(given(CAST).when(COACH).then(*expected))


def test_an_expected_refusal_that_does_not_happen_fails(runner: Runner) -> None:
    with pytest.raises(ScenarioFailed, match="was accepted"):
        runner.run(given(CAST).when(COACH).then_raises(AlreadyExists, 18))


@pytest.mark.parametrize(("error", "code"), [(NoPermission, 18), (AlreadyExists, 5), (InvalidState, 2)])
def test_a_refusal_of_another_class_or_code_fails(
        runner: Runner, error: type[InvalidState], code: int) -> None:
    with pytest.raises(ScenarioFailed, match="expected"):
        runner.run(given(CAST, COACH).when(COACH).then_raises(error, code))


def test_an_unexpected_refusal_fails(runner: Runner) -> None:
    with pytest.raises(ScenarioFailed, match="refused"):
        runner.run(given(CAST, COACH).when(COACH).then(started()))


def test_a_refused_given_step_is_a_mistake_in_the_scenario(runner: Runner) -> None:
    with pytest.raises(ScenarioSetupError, match="Given step 3"):
        runner.run(given(CAST, Coach(actor="s1", agent_id="nobody")).when(COACH).then(started()))


def test_events_can_be_given_as_facts(runner: Runner) -> None:
    runner.run(given(CAST, started()).when(COACH).then_raises(AlreadyExists, 18))


def test_a_scenario_has_then_or_then_raises() -> None:
    with pytest.raises(ValueError, match="either"):
        Scenario(given=(), when=COACH)
    with pytest.raises(ValueError, match="either"):
        Scenario(given=(), when=COACH, then=(), raises=NotFound, status_code=6)
    with pytest.raises(ValueError, match="status_code"):
        Scenario(given=(), when=COACH, raises=NotFound)


def test_make_runner_knows_its_kinds(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown runner"):
        make_runner("postgres", tmp_path)
    with pytest.raises(ValueError, match="directory"):
        make_runner("sqlite")


def test_run_everywhere(tmp_path: Path) -> None:
    run_everywhere(given(CAST).when(COACH).then(started()), tmp_path)
    with pytest.raises(ScenarioFailed):
        run_everywhere(given(CAST).when(COACH).then(started(nickname="x")), tmp_path)


# --- the runner catches a system that writes when it refuses, or records other than it decides ---


class LeakyPureWorld(PureWorld):
    """Records a Coach's events, then refuses it anyway."""

    def handle(self, command: Command) -> list[DomainEvent]:
        events = super().handle(command)
        if isinstance(command, Coach):
            raise InvalidState("refused after writing")
        return events


class LeakyAppWorld(AppWorld):
    """The same, on the application."""

    def handle(self, command: Command) -> list[DomainEvent]:
        events = super().handle(command)
        if isinstance(command, Coach):
            raise InvalidState("refused after writing")
        return events


class ForgetfulPureWorld(PureWorld):
    """Returns a Coach's decided events without recording them."""

    def handle(self, command: Command) -> list[DomainEvent]:
        if isinstance(command, Coach):
            return decide(command, self, AT)
        return super().handle(command)


def test_a_refusal_that_wrote_something_fails_on_the_pure_core() -> None:
    with Runner("leaky", LeakyPureWorld) as runner, pytest.raises(ScenarioFailed, match="wrote"):
        runner.run(given(CAST).when(COACH).then_raises(InvalidState, 2))


def test_a_refusal_that_wrote_something_fails_on_the_application() -> None:
    with Runner("leaky", lambda: LeakyAppWorld(Coaching.in_memory(), "leaky")) as runner, \
            pytest.raises(ScenarioFailed, match="wrote"):
        runner.run(given(CAST).when(COACH).then_raises(InvalidState, 2))


def test_events_decided_but_not_recorded_fail() -> None:
    with Runner("forgetful", ForgetfulPureWorld) as runner, \
            pytest.raises(ScenarioFailed, match="decided and recorded"):
        runner.run(given(CAST).when(COACH).then(started()))
