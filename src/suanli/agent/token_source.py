"""Where the agent's center token comes from, and how it stays out of what jobs can read.

A process's environment and arguments as it was started stay readable in /proc/PID/environ
and /proc/PID/cmdline, to every process of the same user: a local job could read them from
its ancestors. So a token given in SUANLI_AGENT_TOKEN or ``--token`` is handed to a fresh
start of the same command (``exec``: same process, same pid) through a pipe, with the variable
and the option removed; a token file (``--token-file``) is read as it is, and must be private.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import NoReturn

TOKEN_VARIABLE = "SUANLI_AGENT_TOKEN"
TOKEN_FD_OPTION = "--token-fd"  # hidden: how the command hands the token to its fresh start


def read_token_file(path: Path) -> str:
    """The token in ``path``; ValueError, saying what to do, unless only its owner may read it."""
    try:
        info = path.stat()
    except OSError as error:
        raise ValueError(f"cannot read the token file {path}: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ValueError(f"the token file {path} is not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & 0o077:
        raise ValueError(f"the token file {path} may be read by other users (mode {mode:04o}); run: chmod 600 {path}")
    token = path.read_text().strip()
    if not token:
        raise ValueError(f"the token file {path} is empty")
    return token


def read_token_fd(fd: int) -> str:
    """The token a previous start of this command wrote into the pipe ``fd`` (closed after)."""
    try:
        with os.fdopen(fd, "rb") as pipe:
            token = pipe.read().decode().strip()
    except OSError as error:
        raise ValueError(f"{TOKEN_FD_OPTION} {fd}: {error.strerror}") from None
    if not token:
        raise ValueError(f"{TOKEN_FD_OPTION} {fd}: no token in it")
    return token


def without_token(argv: list[str], token: str) -> list[str]:
    """``argv`` less ``--token VALUE`` and ``--token=VALUE`` (and any other copy of the token)."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--token":
            skip = True
        elif not arg.startswith("--token=") and arg != token:
            kept.append(arg)
    return kept


def restart_without_token(token: str) -> NoReturn:
    """Execs this command again without the token in its environment or arguments; the token
    goes through a pipe, whose read end the new start is told with ``--token-fd``."""
    read_end, write_end = os.pipe()
    os.write(write_end, token.encode())  # far smaller than a pipe's buffer: this cannot block
    os.close(write_end)
    os.set_inheritable(read_end, True)
    argv = [sys.executable, *without_token(sys.orig_argv[1:], token), TOKEN_FD_OPTION, str(read_end)]
    env = {name: value for name, value in os.environ.items() if name != TOKEN_VARIABLE}
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, argv, env)
