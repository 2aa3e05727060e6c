"""The direction of imports (domain <- scheduler <- services <- adapters), and no wall clock or
I/O library in the pure core: this is what lets the simulator run the real scheduler."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "suanli"
IO_LIBRARIES = {"fastapi", "starlette", "sqlalchemy", "alembic", "httpx", "uvicorn", "typer", "rich", "psycopg"}
FORBIDDEN = {
    "domain": {"suanli.scheduler", "suanli.services", "suanli.adapters", "suanli.composition", *IO_LIBRARIES},
    "scheduler": {"suanli.services", "suanli.adapters", "suanli.composition", *IO_LIBRARIES},
    "services": {"suanli.adapters", "suanli.composition", *IO_LIBRARIES},
}
WALL_CLOCK = {("datetime", "now"), ("datetime", "utcnow"), ("time", "time"), ("date", "today")}


def modules(layer: str) -> list[Path]:
    return sorted((PACKAGE / layer).rglob("*.py"))


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_inward(layer: str) -> None:
    assert modules(layer)
    for path in modules(layer):
        for name in imported(path):
            for banned in FORBIDDEN[layer]:
                assert name != banned and not name.startswith(banned + "."), f"{path.name} imports {name}"


@pytest.mark.parametrize("layer", ["domain", "scheduler"])
def test_pure_core_never_reads_the_wall_clock(layer: str) -> None:
    for path in modules(layer):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                assert (node.value.id, node.attr) not in WALL_CLOCK, f"{path.name} reads the clock"
