"""The README's embedding example is code a user will paste: it must run as printed."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_an_embedding_example() -> None:
    assert python_blocks(), "README.md lost its embedding example"


@pytest.mark.parametrize("block", python_blocks())
def test_the_embedding_example_runs(block: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert "SupervisorAdded" in printed
    assert re.search(r"'statusCode': [1-9]", printed), "the example no longer shows a typed refusal"
    if "GwsAdapter" in block:  # the wire example: the seed's request answered, the audit clean
        assert printed.startswith("{'statusCode': 0}\n")
        assert "\nTrue " in printed


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    text = README.read_text(encoding="utf-8")
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install -e '.[dev]' && pytest" in text
    assert "pip install --quiet -e '.[dev]'" in ci and "\npytest\n" in ci
    assert "pip install -e . && coaching demo" in text
