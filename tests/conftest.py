"""Fixtures shared by every test folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from coaching.testing import RUNNER_KINDS, Runner, make_runner


@pytest.fixture(params=RUNNER_KINDS)
def runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runner]:
    """Runs a Given/When/Then scenario on the pure core, the in-memory app and an SQLite file."""
    with make_runner(request.param, tmp_path) as scenario_runner:
        yield scenario_runner
