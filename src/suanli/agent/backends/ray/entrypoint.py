"""Ray job entrypoints. Ray runs an entrypoint with a shell, so every word in it is quoted
(``shlex.quote``): the shell only splits it back into the same words and interprets nothing.

A gang (nodes > 1) runs gang_launcher.py, whose text travels inside the entrypoint
(compressed, as ``python -c``), so the cluster needs nothing of Suanli; its one argument is a JSON
spec, quoted like every other word.
"""

from __future__ import annotations

import base64
import json
import shlex
import zlib
from functools import cache
from pathlib import Path

from suanli.agent.executor import ExecutorRefused

GANG_WAIT_S = 600.0  # how long the launcher waits for Ray to place all ranks


@cache
def _bootstrap() -> str:
    source = (Path(__file__).with_name("gang_launcher.py")).read_bytes()
    packed = base64.b64encode(zlib.compress(source, 9)).decode("ascii")
    return f"import base64,zlib;exec(zlib.decompress(base64.b64decode('{packed}')))"


def gang_entrypoint(
    python: str,
    command: str | tuple[str, ...],
    nodes: int,
    resource: str,
    amount: float,
    strategy: str,
    env: dict[str, str] | None = None,
) -> str:
    """The entrypoint of a gang; ``env`` is what the ranks get on top of the job's runtime_env
    (the values Ray would expand if they went through runtime_env env_vars)."""
    spec = {
        "command": command if isinstance(command, str) else list(command),
        "nodes": nodes,
        "resource": resource,
        "amount": amount,
        "strategy": strategy,
        "wait_s": GANG_WAIT_S,
        "env": env or {},
    }
    words = [python, "-c", _bootstrap(), json.dumps(spec, ensure_ascii=False)]
    return " ".join(shlex.quote(word) for word in words)


def command_line(command: str | tuple[str, ...], env: dict[str, str] | None = None) -> str:
    """Ray runs the entrypoint with a shell: every word is quoted so the shell only splits it
    back into the same words. A tuple is exec'd as is; a string is the user's own shell command
    (as ``/bin/sh -c``). ``env`` is set through ``env NAME=VALUE ...`` in front."""
    if not (command.strip() if isinstance(command, str) else command):
        raise ExecutorRefused("the command is empty")
    if not env:
        return command if isinstance(command, str) else " ".join(shlex.quote(part) for part in command)
    words = ["/bin/sh", "-c", command] if isinstance(command, str) else list(command)
    if "=" in words[0]:
        raise ExecutorRefused(f"the program's name may not hold '=' here: {words[0]!r}")
    return " ".join(shlex.quote(part) for part in ["env", *(f"{k}={v}" for k, v in env.items()), *words])
