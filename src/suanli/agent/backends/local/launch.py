"""What the local executor checks and prepares before it hands an attempt to its supervisor."""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Mapping
from pathlib import Path


class CouldNotStart(Exception):
    """The attempt cannot start; the message says why, for the user."""


def private_folder(path: Path, mode: int) -> None:
    """Creates ``path`` with ``mode``, or sets ``mode`` on it if it is ours (an older install
    made it with the umask's mode)."""
    path.mkdir(mode=mode, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.geteuid() and info.st_mode & 0o7777 != mode:
        path.chmod(mode)


def check_startable(program: str, env: Mapping[str, str], workdir: Path) -> None:
    """Raises CouldNotStart when the attempt would surely fail to start (its workdir or program
    is missing), so that it fails at once, as a direct exec would. What only the exec can tell
    (permissions of another user, a PATH entry relative to the workdir) the supervisor reports."""
    if not workdir.is_dir():
        raise CouldNotStart(f"could not start: {_missing(str(workdir))}")
    if "/" in program:
        if not (workdir / program).exists():
            raise CouldNotStart(f"could not start: {_missing(program)}")
        return
    search = env.get("PATH", os.defpath).split(os.pathsep)
    if all(os.path.isabs(folder) for folder in search) and shutil.which(program, path=os.pathsep.join(search)) is None:
        raise CouldNotStart(f"could not start: {_missing(program)}")


def _missing(name: str) -> str:
    return str(FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), name))
