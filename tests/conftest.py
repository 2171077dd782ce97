"""Fixtures shared by every test folder."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from coaching.testing import RUNNER_KINDS, Runner, make_runner
from tests.pg import postgres_unreachable


@pytest.fixture(params=RUNNER_KINDS)
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runner]:
    """Runs a Given/When/Then scenario on the pure core, the in-memory app and an SQLite file."""
    with make_runner(request.param, tmp_path) as scenario_runner:
        yield scenario_runner


@pytest.fixture(scope="session")
def postgres_available() -> Iterator[None]:
    """Skip when PostgreSQL is unreachable, unless COACHING_REQUIRE_POSTGRES=1 (CI): then fail."""
    reason = postgres_unreachable()
    if reason is not None:
        if os.environ.get("COACHING_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"COACHING_REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)
    yield
