"""What a Slurm attempt runs: a fixed batch script that execs a fixed Python launcher.

Nothing the user wrote is ever put into a script or a command line that a shell reads. The
attempt's command, environment and working directory go into ``spec.json`` in the attempt's
folder; the batch script is the same text for every attempt and gets the folder and the Python
to use as its arguments (``sbatch ... batch.sh FOLDER PYTHON``: sbatch hands them to the script
as ``$1`` and ``$2``). The launcher reads the JSON and execs nothing through a shell (a string
command runs under ``/bin/sh -c`` as the user asked, as the local backend does).

The launcher also writes ``result.json`` with the command's exit code, so the outcome is known
even after Slurm has forgotten the job (MinJobAge) and without accounting (sacct).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from suanli.agent.executor import AttemptSpec

SPEC_FILE = "spec.json"
RESULT_FILE = "result.json"
OUTPUT_FILE = "output.log"
LAUNCHER_FILE = "launch.py"
BATCH_FILE = "batch.sh"

BATCH_SCRIPT = """#!/bin/sh
# Written by Suanli's Slurm executor. Fixed text: $1 is the attempt's folder, $2 the Python.
exec "$2" "$1/launch.py" batch "$1"
"""

# The launcher runs on the compute nodes with whatever python3 they have: standard library only,
# and no syntax newer than Python 3.6.
LAUNCHER = r'''"""Suanli's Slurm launcher (fixed text; the attempt's data is in spec.json)."""
import json
import os
import signal
import socket
import subprocess
import sys

DEVICE_VARS = ("CUDA_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES", "MLU_VISIBLE_DEVICES",
               "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES", "GPU_DEVICE_ORDINAL")
GANG_ADDR, GANG_PORT = "SUANLI_GANG_MASTER_ADDR", "SUANLI_GANG_MASTER_PORT"


def load(folder):
    with open(os.path.join(folder, "spec.json")) as handle:
        return json.load(handle)


def job_env(spec, rank):
    """The node's environment (Slurm's device mask wins), the job's env, then Suanli's own."""
    base = os.environ
    env = {k: v for k, v in base.items() if not k.startswith("SUANLI_") and k not in DEVICE_VARS}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(spec["env"])
    for name in DEVICE_VARS:
        env.pop(name, None)
        if name in base:
            env[name] = base[name]
    env["SUANLI_JOB_ID"] = str(spec["job_id"])
    env["SUANLI_ATTEMPT"] = str(spec["attempt"])
    if rank is not None:
        size = base.get("SLURM_NTASKS", str(spec["nodes"]))
        env.update(RANK=str(rank), NODE_RANK=str(rank), WORLD_SIZE=size, LOCAL_RANK="0",
                   LOCAL_WORLD_SIZE="1", MASTER_ADDR=base[GANG_ADDR], MASTER_PORT=base[GANG_PORT])
    return env


def run(argv, env, workdir):
    """Runs argv to its end; SIGTERM/SIGINT are passed on, so the result is still written."""
    try:
        child = subprocess.Popen(argv, cwd=workdir, env=env, stdin=subprocess.DEVNULL)
    except (OSError, ValueError) as error:
        print("suanli: could not start: %s" % error, file=sys.stderr, flush=True)
        return 127

    def forward(signum, frame):
        try:
            child.send_signal(signum)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        try:
            return child.wait()
        except InterruptedError:
            continue


def status(code):
    return code if code >= 0 else 128 - code


def free_port():
    with socket.socket() as probe:
        probe.bind(("", 0))
        return probe.getsockname()[1]


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    spec = load(folder)
    if mode == "rank":
        sys.exit(status(run(spec["argv"], job_env(spec, int(os.environ["SLURM_PROCID"])), spec["workdir"])))
    if spec["nodes"] > 1:
        # The batch step runs on the allocation's first node: rank 0's node is the master.
        os.environ[GANG_ADDR] = socket.gethostname()
        os.environ[GANG_PORT] = str(free_port())
        n = str(spec["nodes"])
        srun = [spec["srun"], "--export=ALL", "--nodes=" + n, "--ntasks=" + n, "--ntasks-per-node=1",
                "--kill-on-bad-exit=1", "--label", sys.executable, os.path.join(folder, "launch.py"),
                "rank", folder]
        code = run(srun, dict(os.environ), folder)
    else:
        code = run(spec["argv"], job_env(spec, None), spec["workdir"])
    partial = os.path.join(folder, "result.json.part")
    with open(partial, "w") as handle:
        json.dump({"exit_code": code}, handle)
    os.replace(partial, os.path.join(folder, "result.json"))
    sys.exit(status(code))


main()
'''


def write_attempt_files(folder: Path, spec: AttemptSpec, workdir: str, srun: str) -> None:
    """Writes spec.json, the launcher and the batch script into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in (RESULT_FILE, OUTPUT_FILE):
        (folder / stale).unlink(missing_ok=True)
    argv = list(spec.command) if isinstance(spec.command, tuple) else ["/bin/sh", "-c", spec.command]
    data = {
        "job_id": spec.key.job_id,
        "attempt": spec.key.attempt,
        "argv": argv,
        "env": dict(spec.env),
        "workdir": workdir,
        "nodes": spec.nodes,
        "srun": srun,
        "name": spec.name,
        "owner": spec.owner,  # a restarted agent takes over only its own center's jobs
    }
    (folder / SPEC_FILE).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    (folder / LAUNCHER_FILE).write_text(LAUNCHER, encoding="utf-8")
    batch = folder / BATCH_FILE
    batch.write_text(BATCH_SCRIPT, encoding="utf-8")
    os.chmod(batch, 0o755)


def read_spec(folder: Path) -> dict[str, Any] | None:
    """What ``write_attempt_files`` wrote, or None if it is missing or unreadable."""
    try:
        data = json.loads((folder / SPEC_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_result(folder: Path) -> int | None:
    """The exit code the launcher recorded (negative: killed by that signal), or None."""
    try:
        value = json.loads((folder / RESULT_FILE).read_text())["exit_code"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, int) else None
