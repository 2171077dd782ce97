"""An export read by the audit tools must prove its own end: a cut tail is refused, not passed.

The hash chain cannot see the last events cut off (ADR 0018); the export's trailer (record count
and head hash) can, so every reader of an export checks it, not only ``import``.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from coaching.application import Coaching
from coaching.audit.transfer import export_log
from coaching.cli import main
from coaching.simulation import Shift, ShiftPlan
from coaching.store.source import ExportFormatError, JsonlSource, open_source

EXIT_UNREADABLE = 3


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("tail")
    store = folder / "day.sqlite"
    shift = Shift(ShiftPlan(seed=3, sessions=12, agents=4, supervisors=2))
    app = Coaching.sqlite(str(store), clock=shift.clock)
    try:
        shift.run(app)
    finally:
        app.close()
    source = open_source(store)
    try:
        export_log(source, folder / "day.jsonl")
    finally:
        source.close()
    return folder / "day.jsonl"


def _audit(path: Path) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(["audit", str(path), "--verify", "--no-progress"], out=out, err=err)
    return code, out.getvalue() + err.getvalue()


def test_the_complete_export_passes(export: Path) -> None:
    code, text = _audit(export)
    assert code == 0, text
    assert sum(1 for _ in JsonlSource(export).records()) == JsonlSource(export).count()


#: how each bad file is made from the export's lines (header, events…, trailer), and what it is told
TAMPERED: dict[str, tuple[Callable[[list[bytes]], list[bytes]], str]] = {
    "cut": (lambda lines: lines[:-4], "cut short"),
    "lines-removed": (lambda lines: lines[:-4] + lines[-1:], "lines were removed"),
    "after-the-end": (lambda lines: [*lines, b'{"position": 999}\n'], "after the trailer"),
}


@pytest.mark.parametrize("name", sorted(TAMPERED))
def test_a_cut_or_padded_export_is_refused_by_the_audit(export: Path, tmp_path: Path, name: str) -> None:
    tamper, says = TAMPERED[name]
    bad = tmp_path / f"{name}.jsonl"
    bad.write_bytes(b"".join(tamper(export.read_bytes().splitlines(keepends=True))))
    with pytest.raises(ExportFormatError, match=says):
        list(JsonlSource(bad).records())
    code, text = _audit(bad)
    assert code == EXIT_UNREADABLE, text
    assert says in text


@pytest.mark.parametrize("command", ["export", "audit", "transcript"])
def test_another_applications_database_is_not_read_as_an_empty_log(tmp_path: Path, command: str) -> None:
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE invoices (id INTEGER)")
    argv = {"export": ["export", str(other), str(tmp_path / "out.jsonl")],
            "audit": ["audit", str(other), "--no-progress"],
            "transcript": ["transcript", str(other), "x1", "--as", "c1"]}[command]
    out, err = io.StringIO(), io.StringIO()
    assert main(argv, out=out, err=err) == EXIT_UNREADABLE
    assert "is not a coaching store" in err.getvalue()
    assert not (tmp_path / "out.jsonl").exists()
