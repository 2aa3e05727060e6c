"""No wall clock in the pure core: this is what lets the simulator run the real scheduler.

The direction of imports is checked by import-linter's contracts (pyproject.toml, run by
scripts/test); a clock read is a call, not an import, so it is checked here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "suanli"
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time"), ("date", "today")}


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


@pytest.mark.parametrize("layer", ["domain", "scheduler"])
def test_pure_core_never_reads_the_wall_clock(layer: str) -> None:
    assert modules(layer)
    for path in modules(layer):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in WALL_CLOCK, f"{path.name} reads the clock"
