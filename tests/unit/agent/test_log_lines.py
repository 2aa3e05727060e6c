"""The agent's log lines: text from outside cannot start a line of its own or drive a terminal."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest

from suanli.agent.log_lines import OneLineFormatter, escape_controls
from suanli.agent.token_source import without_token


@pytest.fixture
def logged() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("suanli.test.log_lines")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, stream
    logger.removeHandler(handler)


def test_controls_in_a_records_arguments_are_escaped(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    name = "job\nINFO forged line\r\x1b[31mred\x00\x7f\x85\u2028end\ttab"

    logger.info("started %s (%s)", "job-1-attempt-1", name)

    written = stream.getvalue()
    assert written.count("\n") == 1 and written.endswith("\n")
    assert written == (
        "INFO started job-1-attempt-1 (job\\nINFO forged line\\r\\x1b[31mred\\x00\\x7f\\x85\\u2028end\\ttab)\n"
    )


def test_a_traceback_keeps_its_lines(logged: tuple[logging.Logger, io.StringIO]) -> None:
    logger, stream = logged
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("failed: %s", "a\nb")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "ERROR failed: a\\nb"
    assert lines[1] == "Traceback (most recent call last):" and lines[-1] == "RuntimeError: boom"


def test_plain_text_is_unchanged() -> None:
    assert escape_controls("算力 job-7 (ok) ✓") == "算力 job-7 (ok) ✓"


def test_the_token_leaves_the_command_line_in_every_spelling() -> None:
    argv = ["-m", "suanli", "agent", "--server", "u", "--token", "sl_x", "--token=sl_x", "--token-file", "f", "sl_x"]
    assert without_token(argv, "sl_x") == ["-m", "suanli", "agent", "--server", "u", "--token-file", "f"]
