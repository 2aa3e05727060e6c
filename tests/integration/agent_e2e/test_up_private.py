"""`suanli up` keeps its state private and its center to one token (issue 10): the home is
0700, the SQLite database and its -wal/-shm 0600, the agent's work dir 0700; each start mints
a new token and revokes the older ones."""

from __future__ import annotations

import sqlite3
import stat
import time
from pathlib import Path

import pytest

from tests.integration.agent_e2e.test_up import suanli_up


def mode(path: Path) -> str:
    return f"{stat.S_IMODE(path.stat().st_mode):04o}"


def tokens_of(database: Path, center: str) -> int:
    with sqlite3.connect(database) as connection:
        (count,) = connection.execute("SELECT count(*) FROM center_tokens WHERE center = ?", (center,)).fetchone()
    return int(count)


def test_up_keeps_its_files_private_and_one_token_per_center(tmp_path: Path) -> None:
    home = tmp_path / "first" / "home"
    database = home / "suanli.db"
    (tmp_path / "first").mkdir()
    with suanli_up(tmp_path / "first", "--accelerators", "A100-80G:1"):
        deadline = time.monotonic() + 10
        while not Path(f"{database}-wal").exists():  # WAL files exist while connections are open
            if time.monotonic() > deadline:  # a guard against hanging, not a measurement
                pytest.fail("no -wal file appeared while `suanli up` ran")
            time.sleep(0.05)
        files = [database, Path(f"{database}-wal"), Path(f"{database}-shm")]
        assert {path.name: mode(path) for path in files} == {path.name: "0600" for path in files}
        assert (mode(home), mode(home / "agent")) == ("0700", "0700")
        assert tokens_of(database, "local") == 1

    (tmp_path / "second").mkdir()
    with suanli_up(tmp_path / "second", "--home", str(home), "--accelerators", "A100-80G:1"):
        assert tokens_of(database, "local") == 1  # the first start's token was revoked
