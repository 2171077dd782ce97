"""Export and import: an identical log back (same records, order and hashes), schemas, refusals."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import jsonschema
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from coaching import Coaching
from coaching.audit.transfer import (
    ChainBroken,
    OutputExists,
    TargetNotEmpty,
    export_log,
    import_log,
    verify_export,
)
from coaching.cli import main
from coaching.cli.transfer import EXIT_DATABASE, EXIT_OK, EXIT_REFUSED
from coaching.simulation import Shift, ShiftPlan
from coaching.store.chain import CHAIN_TABLE, verify
from coaching.store.record import Record
from coaching.store.source import AppSource, ExportFormatError, JsonlSource, open_source
from tests.pg import new_schema

DOCS = Path(__file__).parents[2] / "docs"


def simulate(app_of: Any, seed: int = 5, sessions: int = 20) -> Coaching:
    shift = Shift(ShiftPlan(seed=seed, sessions=sessions, agents=6, supervisors=2))
    app: Coaching = app_of(shift.clock)
    shift.run(app, lambda _done, _total: None)
    return app


def read(path: Path) -> list[Record]:
    source = open_source(path)
    try:
        return list(source.records())
    finally:
        source.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("transfer") / "shift.sqlite"
    simulate(lambda clock: Coaching.sqlite(str(path), clock=clock)).close()
    return path


@pytest.fixture(scope="module")
def exported(store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("transfer") / "shift.jsonl"
    export_log(store, path)
    return path


def test_round_trip_gives_an_identical_log(store: Path, exported: Path, tmp_path: Path) -> None:
    target = tmp_path / "copy.sqlite"
    seen: list[tuple[str, int, int]] = []
    summary = import_log(exported, target, lambda phase, done, total: seen.append((phase, done, total)))
    original, copied = read(store), read(target)
    assert copied == original  # positions, ids, versions, topics, stored bytes and hashes
    assert summary.records == len(original) and summary.hashes_match
    assert summary.head == original[-1].chain_hash
    assert {phase for phase, _, _ in seen} == {"verify", "import"}
    again = tmp_path / "again.jsonl"
    export_log(target, again)
    assert exported.read_bytes().split(b"\n")[1:] == again.read_bytes().split(b"\n")[1:]


def test_the_file_carries_the_chain_and_the_readme_of_its_format(exported: Path, store: Path) -> None:
    lines = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    header, events, trailer = lines[0], lines[1:-1], lines[-1]
    assert header["format"] == "coaching-log" and header["format_version"] == 1
    assert [e["hash"] for e in events] == [r.chain_hash for r in read(store)]
    assert trailer == {"end": "coaching-log", "records": len(events), "head": events[-1]["hash"]}


def _schema(path: Path) -> dict[str, Any]:
    schema: dict[str, Any] = orjson.loads(path.read_bytes())
    return schema


def test_every_line_validates_against_the_published_schemas(exported: Path) -> None:
    header_schema = _schema(DOCS / "export" / "header.schema.json")
    line_schema = _schema(DOCS / "export" / "event-line.schema.json")
    trailer_schema = _schema(DOCS / "export" / "trailer.schema.json")
    for schema in (header_schema, line_schema, trailer_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    event_schemas = {}
    for file in (DOCS / "events").glob("*.schema.json"):
        schema = _schema(file)
        event_schemas[schema["$id"]] = jsonschema.Draft202012Validator(
            schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    lines = [orjson.loads(line) for line in exported.read_bytes().splitlines()]
    jsonschema.validate(lines[0], header_schema)
    jsonschema.validate(lines[-1], trailer_schema)
    line_validator = jsonschema.Draft202012Validator(line_schema)
    topics = set()
    for line in lines[1:-1]:
        line_validator.validate(line)
        event_schemas[line["topic"]].validate(line["event"])
        topics.add(line["topic"])
    assert len(topics) >= 12  # the shift used most kinds of event
    with pytest.raises(jsonschema.ValidationError):  # the schemas can fail: an extra member
        line_validator.validate({**lines[1], "extra": 1})
    with pytest.raises(jsonschema.ValidationError):
        event_schemas[lines[1]["topic"]].validate({**lines[1]["event"], "actor": 7})


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), sessions=st.integers(0, 12))
def test_round_trip_of_random_logs_from_memory(tmp_path_factory: pytest.TempPathFactory,
                                               seed: int, sessions: int) -> None:
    """Any seeded shift, exported from a running application, comes back hash for hash."""
    app = simulate(lambda clock: Coaching.in_memory(clock=clock), seed=seed, sessions=sessions)
    directory = tmp_path_factory.mktemp("random")
    summary = export_log(app, directory / "log.jsonl")
    original = list(AppSource(app).records())
    assert summary.records == len(original)
    import_log(directory / "log.jsonl", directory / "copy.sqlite")
    assert read(directory / "copy.sqlite") == original


# --- refusals -----------------------------------------------------------------------------------------


def _lines(path: Path) -> list[bytes]:
    return path.read_bytes().splitlines(keepends=True)


def _write(path: Path, lines: list[bytes]) -> Path:
    path.write_bytes(b"".join(lines))
    return path


def _assert_nothing_imported(target: Path) -> None:
    assert not target.exists()


def test_a_tampered_export_is_refused_naming_the_line(exported: Path, tmp_path: Path) -> None:
    lines = _lines(exported)
    lines[40] = lines[40].replace(b'"actor":"', b'"actor":"x', 1)
    bad = _write(tmp_path / "bad.jsonl", lines)
    target = tmp_path / "t.sqlite"
    with pytest.raises(ChainBroken) as refused:
        import_log(bad, target)
    assert refused.value.line == 41
    assert refused.value.result.first_break == orjson.loads(lines[40])["position"]
    _assert_nothing_imported(target)


@pytest.mark.parametrize("damage", ["swap", "delete", "duplicate"])
def test_reordered_removed_or_repeated_lines_are_refused(exported: Path, tmp_path: Path, damage: str) -> None:
    lines = _lines(exported)
    if damage == "swap":
        lines[40], lines[41] = lines[41], lines[40]
    elif damage == "delete":
        del lines[40]
    else:
        lines.insert(41, lines[40])  # line 41 again as line 42
    with pytest.raises((ChainBroken, ExportFormatError)) as refused:
        import_log(_write(tmp_path / "bad.jsonl", lines), tmp_path / "t.sqlite")
    assert f"line {42 if damage == 'duplicate' else 41}:" in str(refused.value)
    _assert_nothing_imported(tmp_path / "t.sqlite")


def test_a_cut_short_export_is_refused(exported: Path, tmp_path: Path) -> None:
    cut = _write(tmp_path / "cut.jsonl", _lines(exported)[:-30])
    with pytest.raises(ExportFormatError, match="without its trailer"):
        import_log(cut, tmp_path / "t.sqlite")
    _assert_nothing_imported(tmp_path / "t.sqlite")


def test_an_unknown_topic_rechained_by_a_forger_is_refused(exported: Path, tmp_path: Path) -> None:
    """Even with correct hashes, an event that does not decode is not imported."""
    lines = [orjson.loads(line) for line in _lines(exported)]
    lines[-2]["topic"] = "coaching:Nonsense@v1"
    with pytest.raises(ExportFormatError, match="does not decode"):
        import_log(_write(tmp_path / "bad.jsonl", [orjson.dumps(v) + b"\n" for v in lines]),
                   tmp_path / "t.sqlite")


def test_not_an_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportFormatError, match="line 1"):
        JsonlSource(_write(tmp_path / "x.jsonl", [b'{"hello": 1}\n']))


def test_a_non_empty_target_is_refused_unless_appending(exported: Path, store: Path, tmp_path: Path) -> None:
    target = tmp_path / "t.sqlite"
    shutil.copy(store, target)
    with pytest.raises(TargetNotEmpty):
        import_log(exported, target)
    assert read(target) == read(store)


def test_a_broken_store_is_not_exported(store: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.sqlite"
    shutil.copy(store, broken)
    with sqlite3.connect(broken) as conn:
        conn.execute("UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
                     "'\"actor\":\"', '\"actor\":\"x') AS BLOB) WHERE rowid = 10")
    out = tmp_path / "out.jsonl"
    with pytest.raises(ChainBroken, match="nothing was exported"):
        export_log(broken, out)
    assert not out.exists() and not (tmp_path / "out.jsonl.partial").exists()
    with pytest.raises(OutputExists):
        export_log(store, _write(tmp_path / "exists.jsonl", [b"x"]))


def test_a_copy_of_an_export_verifies(exported: Path) -> None:
    summary = verify_export(exported)
    source = JsonlSource(exported)
    assert summary.records == source.count()
    assert verify(source.records()).head == summary.head


# --- the CLI ------------------------------------------------------------------------------------------


def test_cli_export_import_and_their_exit_codes(store: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "day.jsonl"
    assert main(["export", str(store), str(out), "--no-progress"]) == EXIT_OK
    printed = capsys.readouterr().out
    head = read(store)[-1].chain_hash
    assert f"head {head}" in printed and "exported" in printed
    assert main(["export", str(store), str(out), "--no-progress"]) == EXIT_DATABASE
    target = tmp_path / "copy.sqlite"
    assert main(["import", str(out), str(target), "--no-progress", "--batch-size", "97"]) == EXIT_OK
    assert "identical" in capsys.readouterr().out
    assert main(["import", str(out), str(target), "--no-progress"]) == EXIT_DATABASE
    lines = _lines(out)
    lines[5] = lines[5].replace(b'"actor":"', b'"actor":"z', 1)
    bad = _write(tmp_path / "bad.jsonl", lines)
    assert main(["import", str(bad), str(tmp_path / "n.sqlite"), "--no-progress"]) == EXIT_REFUSED
    assert "line 6" in capsys.readouterr().err
    with sqlite3.connect(target) as conn:
        conn.execute(f"DELETE FROM {CHAIN_TABLE} WHERE position = 3")
    assert main(["export", str(target), str(tmp_path / "x.jsonl"), "--no-progress"]) == EXIT_REFUSED
    assert "position 3" in capsys.readouterr().err


def test_cli_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("export", "import"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert "examples:" in text and "exit codes:" in text


# --- PostgreSQL ---------------------------------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.usefixtures("postgres_available")
def test_postgres_chain_round_trip_and_tampering(exported: Path, store: Path, tmp_path: Path) -> None:
    """The chain is written in PostgreSQL's insert transaction too; an export imports hash for hash."""
    env, drop = new_schema()
    try:
        app = Coaching(env)
        try:
            summary = import_log(exported, app, batch_size=250)
            assert summary.hashes_match and summary.head == read(store)[-1].chain_hash
            app.register_agent("pg-late", "late")  # chained by the PostgreSQL recorder itself
            source = AppSource(app)
            result = verify(source.records(), source=source)
            assert result.ok, result.reason
            assert result.records == len(read(store)) + 1
            export_log(app, tmp_path / "pg.jsonl")
            assert _lines(tmp_path / "pg.jsonl")[1:-2] == _lines(exported)[1:-1]
            schema, table = env["POSTGRES_SCHEMA"], "coaching_events"
            with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                conn.execute(f'UPDATE "{schema}".{table} SET topic = topic || \'x\' '
                             "WHERE notification_id = 9")
            broken = verify(source.records(), source=source)
            assert (broken.ok, broken.first_break) == (False, 9)
            with app.recorder.datastore.get_connection() as conn:  # type: ignore[attr-defined]
                conn.execute(f'DELETE FROM "{schema}".{table} WHERE notification_id = 5')
            assert verify(source.records(), source=source).first_break == 5
        finally:
            app.close()
    finally:
        drop()
