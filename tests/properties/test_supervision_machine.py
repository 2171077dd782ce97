"""The state machine of coaching.testing, run against memory + SQLite, and with PostgreSQL too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import HealthCheck, settings

from coaching.application import Coaching
from coaching.testing.machine import SupervisionMachine, Target
from tests.pg import new_schema

SupervisionMachine.TestCase.settings = settings(
    max_examples=int(__import__("os").environ.get("COACHING_MACHINE_EXAMPLES", "60")),
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestMemoryAndSQLite = SupervisionMachine.TestCase


class WithPostgres(SupervisionMachine):
    """The same machine, with a PostgreSQL store (a fresh schema per example) in the lockstep."""

    def make_targets(self, clock: Callable[[], Callable[[], datetime]]) -> list[tuple[str, Target]]:
        targets = super().make_targets(clock)
        env, drop = new_schema()
        app = Coaching(env, clock=clock())
        self.on_teardown(drop)
        self.on_teardown(app.close)
        return [*targets, ("postgres", app)]


WithPostgres.TestCase.settings = settings(
    max_examples=15, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_available")
class TestWithPostgres(WithPostgres.TestCase):  # type: ignore[name-defined,misc]
    pass
