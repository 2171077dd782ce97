"""Testing kit for the coaching library: Given / When / Then scenarios over every backend.

See :mod:`coaching.testing.scenario` for how a scenario is written and run.
"""

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
    "Runner",
    "Scenario",
    "ScenarioFailed",
    "ScenarioSetupError",
    "World",
    "assert_same_events",
    "event",
    "fixed_clock",
    "given",
    "make_runner",
    "run_everywhere",
]
