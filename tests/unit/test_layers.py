"""The package layout is the architecture: imports point down only, and no package circle.

Layers (STYLE.md): ``cli`` → ``gws``/``audit`` → ``projections``/``application`` → ``store`` →
``domain``; the domain imports nothing of ours. Every import counts, ``TYPE_CHECKING`` and
function-local ones included: a type-only arrow upward is still a seam crossed the wrong way.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "coaching"

#: The rank of each top-level part of ``coaching``: a module may import its own part, or a part
#: of lower rank. Parts of equal rank may import each other only without forming a circle.
RANK: dict[str, int] = {
    "domain": 0,
    "invariants": 1,  # rules over a recorded log: domain only
    "store": 1,
    "application": 2,
    "replay": 2,
    "projections": 3,
    "gws": 4,
    "audit": 4,
    "simulation": 4,
    "testing": 4,
    "cli": 5,
    "__main__": 6,
    "__init__": 6,  # the package's public face re-exports from below
}


def part_of(module: str) -> str:
    """``coaching.store.chain`` → ``store``; ``coaching`` → ``__init__``."""
    pieces = module.split(".")
    return pieces[1] if len(pieces) > 1 else "__init__"


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT.parent).with_suffix("")
        pieces = list(relative.parts)
        if pieces[-1] == "__init__" and len(pieces) > 1:
            pieces = pieces[:-1]
        yield ".".join(pieces), path


def imports(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every ``coaching…`` module that ``module`` imports, with the line."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "coaching":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "coaching":
                continue
            if target == "coaching":  # ``from coaching import cli``: the names may be modules
                for alias in node.names:
                    yield f"coaching.{alias.name}", node.lineno
            else:
                yield target, node.lineno


def arrows() -> list[tuple[str, str, str]]:
    """``(importer, imported, where)`` for every import between two parts of ``coaching``."""
    found = []
    for module, path in modules():
        for target, line in imports(module, path):
            if part_of(target) != part_of(module):
                found.append((module, target, f"{path.relative_to(ROOT.parent)}:{line}"))
    return found


def test_every_part_has_a_rank() -> None:
    parts = {part_of(module) for module, _ in modules()}
    assert parts <= set(RANK), f"give these a layer in RANK: {sorted(parts - set(RANK))}"


def test_imports_point_down() -> None:
    upward = [f"{where}: {a} → {b}" for a, b, where in arrows()
              if RANK[part_of(b)] > RANK[part_of(a)]]
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


def test_the_domain_imports_nothing_of_ours() -> None:
    outside = [f"{where}: {a} → {b}" for a, b, where in arrows() if part_of(a) == "domain"]
    assert not outside, "\n".join(outside)


@pytest.mark.parametrize("lower", ["store", "domain"])
def test_the_lower_layers_import_no_adapter(lower: str) -> None:
    banned = {"application", "gws", "audit", "cli", "projections", "simulation", "testing"}
    found = [f"{where}: {a} → {b}" for a, b, where in arrows()
             if part_of(a) == lower and part_of(b) in banned]
    assert not found, "\n".join(found)


def test_no_circle_between_parts() -> None:
    graph: dict[str, set[str]] = {}
    for a, b, _ in arrows():
        graph.setdefault(part_of(a), set()).add(part_of(b))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    circles = sorted(part for part in graph if reaches(part, part, {part}))
    assert not circles, f"parts in an import circle: {circles}"


def test_no_circle_inside_the_store() -> None:
    """chain.py → audit/source.py → application.py → chain.py was one; none inside store/ either."""
    graph: dict[str, set[str]] = {}
    for module, path in modules():
        if part_of(module) == "store":
            graph[module] = {t for t, _ in imports(module, path) if part_of(t) == "store" and t != module}

    def visit(node: str, stack: tuple[str, ...]) -> None:
        assert node not in stack, "circle: " + " → ".join((*stack, node))
        for nxt in graph.get(node, ()):
            visit(nxt, (*stack, node))

    for module in graph:
        visit(module, ())
