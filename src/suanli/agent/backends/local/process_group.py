"""Small POSIX helpers for running a job: describe an exit status, pick a free TCP port. (The
process groups themselves are signalled by each attempt's supervisor, supervisor.py.)"""

from __future__ import annotations

import signal
import socket


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
