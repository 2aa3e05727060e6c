"""Every example in `--help` runs as written, from the repository root, against a real server:
the files and centers it names exist. Commands that serve or run for long (server, up, agent,
simulate, sweep, logs -f) or destroy (reset) are parsed, with every file they name checked, instead
of run."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from tests.servers import Server

REPO = Path(__file__).resolve().parents[3]
LONG_RUNNING = {"server", "up", "agent", "simulate", "sweep", "reset"}
# Examples that name what exists only at run time (a token, its prefix): parsed, not run.
# `member password` asks for the new password at a prompt.
PARSED_ONLY = {"login", "token revoke", "member password"}
# The order a newcomer would follow: what an example names is made by an example before it.
ORDER = [
    "",
    "center add",
    "center",
    "center list",
    "center show",
    "center pools",
    "center drain",
    "center resume",
    "price set",  # prices of qd-ai-1, which `center add` registered
    "price",
    "price list",
    "price withdraw",  # the price `price set` published for 2099
    "center token",
    "submit",
    "jobs",
    "job",
    "job show",
    "job explain",
    "logs",
    "job cancel",
    "center delete",
    "status",
    "org",
    "org add",
    "org list",
    "project add",
    "project",
    "project list",
    "member",
    "member add",
    "member list",
    "member disable",
    "member enable",
    "token create",
    "token",
    "token list",
    "whoami",
    "member remove",  # last of the members: the role it takes, examples above use
    "audit",
    "audit verify",
    "usage",
    "balance",
    "invoice",
    "statement",
]


def commands(command: Any = None, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    command = command or typer.main.get_command(app)
    yield " ".join(path), command
    for name, sub in getattr(command, "commands", {}).items():
        yield from commands(sub, (*path, name))


def examples(help_text: str) -> list[list[str]]:
    """The command lines of a help text's examples: an "Example(s):" paragraph and the paragraphs
    right after it that start with `suanli`, split at `&&`, a trailing "(comment)" dropped."""
    found: list[list[str]] = []
    paragraphs = [p.strip() for p in help_text.split("\n\n")]
    inside = False
    for paragraph in paragraphs:
        match = re.match(r"Examples?:\s*(.*)", paragraph, re.S)
        if match:
            inside, paragraph = True, match.group(1)
        elif not (inside and paragraph.startswith("suanli ")):
            inside = False
            continue
        line = re.sub(r"\s+\(.*\)$", "", " ".join(paragraph.split()))
        found += [shlex.split(part)[1:] for part in line.split("&&")]
    return found


HELP = {path: command.help or "" for path, command in commands()}


def test_every_command_has_a_runnable_example_in_order() -> None:
    """Every command with an example is in ORDER or LONG_RUNNING, so none is skipped silently."""
    with_examples = {path for path, text in HELP.items() if examples(text)}
    assert with_examples <= set(ORDER) | LONG_RUNNING | PARSED_ONLY
    assert "submit" in with_examples and "center add" in with_examples


def test_every_help_example_runs(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("SUANLI_SERVER", server.url)
    monkeypatch.setenv("SUANLI_TOKEN", (server.home / "token").read_text().strip())  # the server's first admin
    runner = CliRunner()
    ran = 0
    for path in ORDER:
        for args in examples(HELP[path]):
            if "-f" in args:  # follows a job that never starts here: parsed below instead
                continue
            result = runner.invoke(app, args, env={"COLUMNS": "200"})
            assert result.exit_code == 0, f"suanli {shlex.join(args)}: {result.output}"
            ran += 1
    assert ran >= len(ORDER)


@pytest.mark.parametrize("path", [*sorted(LONG_RUNNING | PARSED_ONLY), "logs"])
def test_long_running_examples_parse_and_name_files_that_exist(path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    command = dict(commands())[path]
    words = len(path.split())
    for args in examples(HELP[path]):
        assert args[:words] == path.split()
        command.make_context(path, args[words:])  # a wrong option or value raises here
        for word in args[words:]:
            if word.endswith((".yaml", ".csv", ".json")):
                assert (REPO / word).exists(), f"suanli {shlex.join(args)}: {word} does not exist"
