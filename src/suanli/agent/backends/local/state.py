"""The state folder of a local attempt, ``work_root/attempts/JOB-ATTEMPT``: what the agent
writes for the attempt's supervisor (supervisor.py) and for the next agent, and what it
reads back from both. It is how an attempt outlives the agent that started it."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from suanli.agent.backends.local import supervisor as protocol
from suanli.agent.executor import AttemptKey

ATTEMPTS = "attempts"
MERGE = "merge"  # a gang's log merger's progress (rank_logs.py)
# The launcher imports its module by its bare name from this folder: no ``site`` (-S, whose .pth
# files cost more than the interpreter here), and nothing of the package (its __init__ files).
# It goes by ``local_supervisor`` on its command line, so that ps shows what the process is.
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "import supervisor as local_supervisor; sys.exit(local_supervisor.main())"
)
_HERE = str(Path(__file__).resolve().parent)


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """What a new agent needs to adopt the attempt: whose it is, what it holds, when it began."""

    job_id: int
    attempt: int
    owner: str
    name: str
    command: str | list[str]
    pool: str
    accelerator: str
    accelerators_per_node: int
    nodes: int
    devices: list[int]
    started_at: float  # wall clock (epoch seconds): the time limit must hold across agents
    time_limit_s: float | None

    @property
    def key(self) -> AttemptKey:
        return AttemptKey(self.job_id, self.attempt)

    @classmethod
    def parse(cls, text: str) -> AttemptRecord:
        data: dict[str, Any] = json.loads(text)
        return cls(**{name: data[name] for name in cls.__dataclass_fields__})

    def to_json(self, launch: dict[str, Any]) -> bytes:
        """The record, with what the supervisor needs to start the ranks (``launch``)."""
        return json.dumps({**asdict(self), **launch}).encode()


@dataclass(frozen=True, slots=True)
class RankEnd:
    code: int | None  # the exit code (negative: the signal), None when it could not start
    error: str = ""


class StateFolder:
    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def of(cls, work_root: Path, key: AttemptKey) -> StateFolder:
        return cls(work_root / ATTEMPTS / f"{key.job_id}-{key.attempt}")

    def _file(self, name: str) -> str:
        return str(self.path / name)

    # -- written by the agent ------------------------------------------------------------------

    def create(self, record: AttemptRecord, launch: dict[str, Any]) -> None:
        """The folder (private: the job's environment is in it) and its record, with the
        supervisor's ``launch`` instructions."""
        self.path.mkdir(mode=0o700, parents=True)
        protocol.write_atomically(self._file(protocol.RECORD), record.to_json(launch))

    def launch(self, launcher: Launcher) -> None:
        """Has ``launcher`` fork the supervisor. The control FIFO is made only now, so a folder
        without one was never launched (nothing ran); this process holds it open until the
        supervisor does, so it never lacks a reader while the attempt is looked after."""
        os.mkfifo(self._file(protocol.CONTROL), 0o600)
        control = os.open(self._file(protocol.CONTROL), os.O_RDWR | os.O_NONBLOCK)
        try:
            launcher.launch(self.path)
        finally:
            os.close(control)

    def request_stop(self, grace_s: float, reason: str, message: str, exit_code: int | None) -> None:
        """Asks the supervisor to stop the ranks; kept on disk, so a supervisor that was not yet
        listening, and the next agent, see it too (with the outcome the agent chose)."""
        code = "" if exit_code is None else str(exit_code)
        text = f"{max(grace_s, 0.0)!r}\n{reason}\n{' '.join(message.split())}\n{code}\n"
        protocol.write_atomically(self._file(protocol.STOP), text.encode())
        protocol.fifo_has_reader(self._file(protocol.CONTROL), poke=True)  # no reader: nothing to stop

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    # -- read back -----------------------------------------------------------------------------

    def record(self) -> AttemptRecord | None:
        try:
            return AttemptRecord.parse(Path(self._file(protocol.RECORD)).read_text())
        except (OSError, ValueError, KeyError, TypeError):
            return None  # not an attempt folder, or one torn before its record was written

    def stop(self) -> tuple[str, str, int | None] | None:
        """The reason, message and exit code of a stop the agent asked for, if any."""
        try:
            lines = Path(self._file(protocol.STOP)).read_text().split("\n")
        except OSError:
            return None
        if len(lines) < 4:
            return None
        return lines[1], lines[2], int(lines[3]) if lines[3] else None

    def exits(self) -> dict[int, RankEnd]:
        """How the ranks that are over ended, by rank."""
        try:
            text = Path(self._file(protocol.EXITS)).read_text()
        except FileNotFoundError:
            return {}
        ends = {}
        for line in text.splitlines():
            try:
                rank, kind, rest = line.split(" ", 2)
                ends[int(rank)] = RankEnd(int(rest)) if kind == "exit" else RankEnd(None, rest)
            except ValueError:
                continue  # not a line the supervisor writes
        return ends

    def alive(self) -> bool:
        """Whether the supervisor (or the agent launching it) still holds the control FIFO."""
        return protocol.fifo_has_reader(self._file(protocol.CONTROL))

    def launched(self) -> bool:
        """Whether an agent got as far as asking for the supervisor (it makes the FIFO then)."""
        return os.path.exists(self._file(protocol.CONTROL))

    def rank_pids(self) -> dict[int, int]:
        """The ranks' pids as the supervisor wrote them (for people and tests, never signalled)."""
        try:
            lines = Path(self._file(protocol.PIDS)).read_text().splitlines()[1:]
        except FileNotFoundError:
            return {}
        return {int(rank): int(pid) for rank, pid in (line.split() for line in lines)}


def state_folders(work_root: Path) -> list[StateFolder]:
    root = work_root / ATTEMPTS
    if not root.is_dir():
        return []
    return [StateFolder(path) for path in sorted(root.iterdir()) if path.is_dir()]


class Launcher:
    """The agent's end of the supervisors' launcher (supervisor.serve): started with the
    executor, in a session of its own, with an empty environment (no token, nothing of the
    agent's), and again at the next attempt if it died; it ends when the agent closes it or dies."""

    def __init__(self) -> None:
        self._process: subprocess.Popen[bytes] | None = None

    def launch(self, folder: Path) -> None:
        """Forks the supervisor of ``folder``; OSError, saying why, when that fails."""
        process = self._running()
        try:
            self._ask(process, folder)
        except BrokenPipeError:  # it had died unseen, before it got the folder: a new one may fork it
            self.close()
            process = self._running()
            self._ask(process, folder)
        assert process.stdout is not None
        answer = process.stdout.readline().decode(errors="replace").strip()
        if answer.isdigit():
            return
        if answer.startswith("error "):
            raise OSError(answer.removeprefix("error "))
        # Not asked again: it may have died after the fork, and one supervisor is all there may be.
        self.close()
        raise OSError("the launcher of supervisors ended without an answer")

    @staticmethod
    def _ask(process: subprocess.Popen[bytes], folder: Path) -> None:
        assert process.stdin is not None
        process.stdin.write(os.fsencode(folder) + b"\0")
        process.stdin.flush()

    def start(self) -> None:
        """Starts the launcher now, so that the first attempt does not wait for Python to start."""
        self._running()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _BOOT, _HERE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                env={},
                start_new_session=True,  # a Ctrl-C at the agent's terminal is not for it
            )
        return self._process

    def close(self) -> None:
        """Ends the launcher (the supervisors it started run on)."""
        process, self._process = self._process, None
        if process is None:
            return
        assert process.stdin is not None and process.stdout is not None
        with contextlib.suppress(OSError):
            process.stdin.close()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
