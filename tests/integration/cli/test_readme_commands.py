"""The README's commands run as written: the five-minute tour, command by command, against a real
server from the repository root, and its SDK snippet. Commands that serve (`suanli up`, `server`,
`agent`) or follow (`logs -f`) are parsed instead, with the files they name checked."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from tests.servers import Server

REPO = Path(__file__).resolve().parents[3]
README = (REPO / "README.md").read_text(encoding="utf-8")
LONG_RUNNING = {"up", "server", "agent"}


def blocks(language: str, after: str = "") -> list[str]:
    text = README[README.index(after) :] if after else README
    return re.findall(rf"```{language}\n(.*?)```", text, re.S)


def suanli_lines(block: str) -> list[list[str]]:
    """Each `suanli ...` command of a shell block, without its comment, as arguments."""
    commands = []
    for line in block.splitlines():
        for part in line.split("&&"):
            words = shlex.split(part.strip(), comments=True)
            if words[:1] == ["suanli"]:
                commands.append(words[1:])
    return commands


TOUR = blocks("bash", "## A five-minute tour")[0]


def test_the_tour_runs_command_by_command(server: Server, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SUANLI_HOME", str(tmp_path))
    monkeypatch.setenv("SUANLI_SERVER", server.url)
    monkeypatch.setenv("SUANLI_TOKEN", server.token)  # as `suanli up` leaves it in the home
    runner = CliRunner()
    commands = suanli_lines(TOUR)
    assert len(commands) >= 15
    for args in commands:
        result = runner.invoke(app, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, f"suanli {shlex.join(args)}: {result.output}"


def test_every_other_readme_command_parses_and_names_files_that_exist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    group = typer.main.get_command(app)
    others = [args for block in blocks("bash") if block != TOUR for args in suanli_lines(block)]
    assert any(args[:1] == ["up"] for args in others)
    for args in others:
        command = group.commands[args[0]]  # type: ignore[attr-defined]
        command.make_context(args[0], args[1:])  # a wrong option or value raises here
        for word in args[1:]:
            if word.endswith((".yaml", ".csv", ".json")):
                assert (REPO / word).exists(), f"suanli {shlex.join(args)}: {word} does not exist"


def test_the_sdk_snippet_runs(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("SUANLI_TOKEN", server.token)  # as `suanli up` leaves it in the home
    [snippet] = [block for block in blocks("python") if "SuanliClient" in block]
    printed: list[object] = []
    code = snippet.replace('"http://127.0.0.1:8642"', repr(server.url))
    exec(compile(code, "README.md", "exec"), {"print": printed.append})  # noqa: S102 - our own README
    assert printed and isinstance(printed[0], list) and printed[0]  # the job's reasons
