"""Testing kit for the coaching library (``pip install coaching[testing]``).

- :mod:`coaching.testing.scenario`: Given / When / Then scenarios, run over the pure core and
  over every store.
- :mod:`coaching.testing.machine`: the hypothesis state machine that drives random commands
  against an independent reference model (:mod:`coaching.testing.model`) and any number of
  embeddings in lockstep; subclass it to test your own store or adapter (``docs/testing.md``).
- :mod:`coaching.testing.strategies`: hypothesis strategies for commands over a small cast.
"""

from coaching.testing.machine import StepClock, SupervisionMachine, Target
from coaching.testing.model import Expected, ReferenceModel, Refused
from coaching.testing.scenario import (
    AT,
    RUNNER_KINDS,
    Runner,
    Scenario,
    ScenarioFailed,
    ScenarioSetupError,
    World,
    assert_same_events,
    event,
    fixed_clock,
    given,
    make_runner,
    run_everywhere,
)

__all__ = [
    "AT",
    "RUNNER_KINDS",
    "Expected",
    "ReferenceModel",
    "Refused",
    "Runner",
    "Scenario",
    "ScenarioFailed",
    "ScenarioSetupError",
    "StepClock",
    "SupervisionMachine",
    "Target",
    "World",
    "assert_same_events",
    "event",
    "fixed_clock",
    "given",
    "make_runner",
    "run_everywhere",
]
