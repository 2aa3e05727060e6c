"""Every command explains itself with an example; the console entry point runs."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from suanli.adapters.cli.main import app

COMMANDS = [
    [],
    ["server"],
    ["submit"],
    ["jobs"],
    ["center"],
    ["center", "add"],
    ["center", "list"],
    ["center", "show"],
    ["center", "pools"],
    ["center", "drain"],
    ["center", "resume"],
    ["center", "delete"],
    ["job"],
    ["job", "show"],
    ["job", "explain"],
    ["job", "cancel"],
    ["login"],
    ["whoami"],
    ["token"],
    ["token", "create"],
    ["token", "list"],
    ["token", "revoke"],
    ["org"],
    ["org", "list"],
    ["org", "add"],
    ["project"],
    ["project", "list"],
    ["project", "add"],
    ["member"],
    ["member", "add"],
    ["member", "disable"],
    ["member", "enable"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "suanli")
def test_help_has_a_description_and_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.stdout
    assert "Example" in result.stdout


def test_the_module_runs_as_a_program() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "suanli.adapters.cli.main", "--help"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and "submit" in done.stdout


def test_bad_usage_exits_2_without_a_traceback() -> None:
    result = CliRunner().invoke(app, ["job", "show", "not-a-number"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
