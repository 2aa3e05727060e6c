"""Where the public traces are: ``$SUANLI_TRACES``, else ``../shared/data/traces`` next to the repo."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def traces_root() -> Path:
    env = os.environ.get("SUANLI_TRACES")
    return Path(env) if env else REPO.parent / "shared" / "data" / "traces"


@pytest.fixture(scope="session")
def traces() -> Path:
    root = traces_root()
    if not root.is_dir():
        pytest.skip(f"public traces not found at {root}; set SUANLI_TRACES to the traces folder")
    return root


def need(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"trace file {path} is absent")
    return path


def raw_rows(path: Path) -> list[dict[str, str]]:
    """The file's rows read independently of the loaders, for cross-checks."""
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))
