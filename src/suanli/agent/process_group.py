"""Small POSIX helpers for running a job as a process group: signal the group, see a leader
exit without reaping it, describe an exit status, pick a free TCP port."""

from __future__ import annotations

import logging
import os
import signal
import socket

log = logging.getLogger(__name__)


def signal_group(pgid: int, sig: signal.Signals) -> None:
    """Sends ``sig`` to every process in group ``pgid``; a group that is gone is no error.

    Call it only while the group leader is unreaped (alive or a zombie): that pins the number,
    so it cannot have been reused by an unrelated process group.
    """
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
    except PermissionError as error:  # a member changed user (setuid); nothing more we can do
        log.warning("could not send %s to process group %s: %s", sig.name, pgid, error)


def has_exited(pid: int) -> bool:
    """Whether our child ``pid`` has exited, leaving it unreaped (a zombie) so its process group
    number stays pinned until the caller has cleaned up the group and reaps it."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:  # pragma: no cover - every Linux has waitid
        return False
    try:
        return waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def describe_exit(code: int) -> str:
    """``exited with code 3`` or ``was killed by signal SIGKILL`` for a Popen returncode."""
    if code >= 0:
        return f"exited with code {code}"
    try:
        name = signal.Signals(-code).name
    except ValueError:
        name = f"number {-code}"
    return f"was killed by signal {name}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on right now (another process may take it before the job does;
    the window is short and a gang that loses the race fails and is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
