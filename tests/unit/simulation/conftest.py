"""The public traces the tests read: the ones that ship with the package (``suanli.simulation.packaged``)."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from suanli.simulation.packaged import DATA


@pytest.fixture(scope="session")
def traces() -> Path:
    return DATA


def need(path: Path) -> Path:
    """``path``, which must exist: the traces ship with the package, so a missing one is a failure."""
    assert path.exists(), f"trace file {path} is missing from the package's data folder"
    return path


def raw_rows(path: Path) -> list[dict[str, str]]:
    """The file's rows read independently of the loaders, for cross-checks."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))
