"""``coaching serve``: a real process on a free port answers the seed's sample, stops cleanly on a signal,
and says clearly why it cannot start (extra missing, port busy, no such directory)."""

from __future__ import annotations

import io
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from coaching.cli import build_parser, main
from coaching.cli.serve import EXIT_CANNOT_LISTEN, EXIT_DATABASE, EXIT_MISSING_EXTRA
from tests.gws.world import AGENT, SEED


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(argv, out=out, err=err), out.getvalue(), err.getvalue()


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
def test_serve_answers_the_seeds_sample_and_stops_on_a_signal(tmp_path: Path, stop: signal.Signals) -> None:
    db = tmp_path / "served.sqlite"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coaching",
            "serve",
            "--db",
            str(db),
            "--port",
            "0",
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)", first)
        assert match, first + (process.stderr.read() if process.stderr else "")
        url = match[0]
        admin = {"X-Coaching-User": "admin"}
        assert httpx.post(
            f"{url}/coaching/v1/agents",
            headers=admin,
            json={"agentId": AGENT, "username": "alice", "team": "billing"},
        ).json() == {"statusCode": 0}
        assert httpx.post(
            f"{url}/coaching/v1/supervisors",
            headers=admin,
            json={"supervisorId": "s1", "username": "sam", "teams": ["billing"]},
        ).json() == {"statusCode": 0}
        answer = httpx.post(f"{url}/{SEED.path}", headers={"X-Coaching-User": "s1"}, json=SEED.body)
        assert (answer.status_code, answer.json()) == (200, {"statusCode": 0})
        process.send_signal(stop)
        out, err = process.communicate(timeout=15)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "coaching serve: stopped" in out
    assert "Traceback" not in err


def test_the_help_teaches_with_examples_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--help"])
    text = capsys.readouterr().out
    for needle in (
        "X-Coaching-User",
        "examples:",
        "exit codes:",
        "--port 0",
        "/coaching/v1/agents",
        "channels/smsession",
        "pip install 'coaching[server]'",
    ):
        assert needle in text
    overview = build_parser().format_help()
    assert "  serve    run the GWS SMS Session API" in overview
    assert "coaching serve --db coaching.sqlite --port 8080" in overview


def test_without_the_server_extra_it_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # makes `import uvicorn` raise ImportError
    code, _, err = _run(["serve", "--db", str(tmp_path / "x.sqlite"), "--port", "0"])
    assert code == EXIT_MISSING_EXTRA
    assert "pip install 'coaching[server]'" in err


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _, err = _run(["serve", "--db", str(tmp_path / "x.sqlite"), "--port", str(port)])
    assert code == EXIT_CANNOT_LISTEN
    assert f"cannot listen on 127.0.0.1:{port}" in err
    assert not (tmp_path / "x.sqlite").exists()


def test_a_database_in_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    code, _, err = _run(["serve", "--db", str(tmp_path / "no" / "such" / "x.sqlite"), "--port", "0"])
    assert code == EXIT_DATABASE
    assert "no directory" in err
