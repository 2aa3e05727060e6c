"""The supervisors of local attempts, and the launcher that starts them.

The local executor runs each attempt under a supervisor of its own, in a session of its own, so
that the attempt outlives the agent: a killed agent leaves supervisor and ranks running, and the
next agent adopts the attempt from its state folder (state.py). The supervisor is the
ranks' parent, so it alone can signal their process groups without any risk of pid reuse: it
signals a group only while the group's leader is its own unreaped child (alive or a zombie),
which pins the number. The agent never signals a pid; it asks the supervisor (``stop`` file and
a poke on the control FIFO).

A supervisor decides nothing: the agent enforces time limits and gang failures and says when to
stop; the supervisor carries out stops (SIGTERM and SIGCONT, SIGKILL after the grace) and kills
what a rank leaves in its group when the rank exits (as Slurm does at the end of a step).

Supervisors are forked by a launcher (``serve``): one small Python process per executor, run as
``python -I -S`` with an empty environment and only standard modules, to which the agent writes
the folder of each attempt to start. Starting Python costs far more than the rest of a short
job's overhead (about 20 ms of CPU on a small machine, against about 1 ms for a fork), and the
benchmarks run many short jobs; the supervisors it forks do not depend on it or on the agent.

The state folder (all names below) is the protocol:
- ``attempt.json`` (from the agent): per rank argv, cwd, env and log file; the user to run as;
  and what the next agent needs to adopt the attempt.
- the ``control`` FIFO: held open for reading by the agent until the launcher has forked the
  supervisor, then by the supervisor, so it has a reader exactly while the attempt is looked
  after. ``fifo_has_reader`` is how an agent tells a live supervisor from a dead one without
  trusting a pid.
- ``stop`` (from the agent): the grace in seconds on its first line.
- ``pids`` (from here): the supervisor's pid, then each rank's pid (= its process group).
- ``exits`` (from here, rewritten at each rank's end): ``RANK exit CODE`` (a Popen-style code:
  negative for a signal) or ``RANK error MESSAGE`` (it could not start).
"""

from __future__ import annotations

import json
import posix
import select
import sys
import time

TYPE_CHECKING = False  # typing is not loaded at start: mypy alone takes this branch
if TYPE_CHECKING:  # _signal, which the interpreter has loaded already, has no stub
    import signal as _signal
    from typing import Any, NoReturn
else:
    import _signal

RECORD, CONTROL, STOP, PIDS, EXITS, LOG = "attempt.json", "control", "stop", "pids", "exits", "supervisor.log"
NO_PIDFD_POLL_S = 0.1  # how often to look for ended ranks where the kernel has no pidfd_open
_DEFAULT_PATH = "/bin:/usr/bin"


class _Rank:
    __slots__ = ("number", "pid", "pidfd", "end")

    def __init__(self, number: int) -> None:
        self.number = number
        self.pid = 0  # and its process group: each rank starts a session of its own
        self.pidfd = -1
        self.end = ""  # "exit CODE" or "error MESSAGE" once over


def write_atomically(path: str, data: bytes) -> None:
    """Readers see the old content or the new one, never a part: write aside, then rename."""
    temporary = f"{path}.tmp"
    fd = posix.open(temporary, posix.O_WRONLY | posix.O_CREAT | posix.O_TRUNC | posix.O_CLOEXEC, 0o600)
    try:
        posix.write(fd, data)
    finally:
        posix.close(fd)
    posix.replace(temporary, path)


def fifo_has_reader(path: str, poke: bool = False) -> bool:
    """Whether someone holds the FIFO open for reading (an open for writing fails with ENXIO
    when nobody does; a FIFO, unlike a pid, is never reused by another process); ``poke``
    also wakes the reader."""
    try:
        fd = posix.open(path, posix.O_WRONLY | posix.O_NONBLOCK | posix.O_CLOEXEC)
    except OSError:
        return False
    try:
        if poke:
            posix.write(fd, b".")
    except OSError:  # full of pokes not yet read: the reader will wake all the same
        pass
    finally:
        posix.close(fd)
    return True


def _signal_group(rank: _Rank, sig: int) -> None:
    # Only for a rank not yet reaped: its zombie or live leader pins the group's number.
    try:  # noqa: SIM105 - contextlib is not loaded here, and would cost more than this whole module
        posix.killpg(rank.pid, sig)
    except OSError:  # gone already, or a member that changed user: nothing more to do
        pass


def _exec(argv: list[str], env: dict[str, str]) -> None:
    """execve with a PATH search in the job's own PATH, like execvpe (os is not loaded here)."""
    if "/" in argv[0]:
        posix.execve(argv[0], argv, env)
    denied: OSError | None = None
    for folder in env.get("PATH", _DEFAULT_PATH).split(":"):
        try:
            posix.execve(f"{folder or '.'}/{argv[0]}", argv, env)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except PermissionError as error:
            denied = error
    if denied is not None:
        raise PermissionError(denied.errno, denied.strerror, argv[0])
    raise FileNotFoundError(2, posix.strerror(2), argv[0])


def _child(spec: dict[str, Any], user: tuple[int, int, list[int]] | None, report: int) -> None:
    """In the forked child: becomes the rank and execs it; never returns."""
    step = "cannot open its log: "
    try:
        posix.setsid()  # its own session and process group: the group holds all it starts
        flags = posix.O_WRONLY | posix.O_APPEND | posix.O_CREAT | posix.O_CLOEXEC
        posix.dup2(posix.open(spec["log"], flags, 0o600), 1)  # opened as the agent's user
        posix.dup2(1, 2)
        posix.dup2(posix.open("/dev/null", posix.O_RDONLY | posix.O_CLOEXEC), 0)
        if user is not None:  # groups, then gid, then uid: once uid changes, the rest is not allowed
            step = "cannot change user: "
            uid, gid, groups = user
            posix.setgroups(groups)
            posix.setgid(gid)
            posix.setuid(uid)
        step = ""
        posix.chdir(spec["cwd"])  # after the user change: the job's user must be able to
        for sig in (_signal.SIGPIPE, _signal.SIGXFSZ):  # Python ignores these; a job starts with the defaults
            _signal.signal(sig, _signal.SIG_DFL)
        _exec(list(spec["argv"]), spec["env"])
    except OSError as error:
        message = step + str(OSError(error.errno, error.strerror, error.filename))
        posix.write(report, message.encode(errors="replace")[:4000])
    except BaseException as error:  # noqa: BLE001 - the child must exit here, whatever happened
        posix.write(report, f"{step}{error!r}".encode(errors="replace")[:4000])
    finally:
        posix._exit(127)


def _spawn(rank: _Rank, spec: dict[str, Any], user: tuple[int, int, list[int]] | None) -> None:
    """Forks and execs one rank; on failure ``rank.end`` says why. A pipe that closes on exec
    tells a started rank (EOF) from one that could not start (the child's message)."""
    read_end, write_end = posix.pipe()  # close-on-exec, as every descriptor Python opens
    pid = posix.fork()
    if pid == 0:
        posix.close(read_end)
        _child(spec, user, write_end)
    posix.close(write_end)
    chunks = []
    while chunk := posix.read(read_end, 4096):
        chunks.append(chunk)
    posix.close(read_end)
    if chunks:
        posix.waitpid(pid, 0)
        rank.end = "error " + b"".join(chunks).decode(errors="replace").replace("\n", " ")
        return
    rank.pid = pid
    try:
        rank.pidfd = posix.pidfd_open(pid)
    except (AttributeError, OSError):  # before Linux 5.3: look every NO_PIDFD_POLL_S instead
        rank.pidfd = -1


class Supervisor:
    def __init__(self, folder: str, control: int) -> None:
        self.folder = folder
        self.control = control
        with open(f"{folder}/{RECORD}", "rb") as file:
            launch = json.load(file)
        self.specs: list[dict[str, Any]] = launch["ranks"]
        user = launch.get("user")
        self.user = (int(user[0]), int(user[1]), [int(g) for g in user[2]]) if user else None
        self.ranks = [_Rank(number) for number in range(len(self.specs))]
        self.terminated = False  # SIGTERM sent
        self.kill_at: float | None = None

    def live(self) -> list[_Rank]:
        return [rank for rank in self.ranks if not rank.end]

    def run(self) -> None:
        for rank, spec in zip(self.ranks, self.specs, strict=True):
            _spawn(rank, spec, self.user)
        pids = [str(posix.getpid())] + [f"{rank.number} {rank.pid}" for rank in self.ranks if rank.pid]
        write_atomically(f"{self.folder}/{PIDS}", ("\n".join(pids) + "\n").encode())
        if not all(rank.pid for rank in self.ranks):
            self.write_exits()  # why some could not start
        self.read_stop()  # a stop asked for before we listened
        while self.live():
            self.wait()
            self.reap()
            if self.kill_at is not None and time.monotonic() >= self.kill_at:
                self.kill_at = None
                for rank in self.live():
                    _signal_group(rank, _signal.SIGKILL)

    def wait(self) -> None:
        """Sleeps until a rank ends, the agent pokes the control FIFO, or a kill is due."""
        poller = select.poll()
        poller.register(self.control, select.POLLIN)
        pidfds = [rank.pidfd for rank in self.live() if rank.pidfd >= 0]
        for fd in pidfds:
            poller.register(fd, select.POLLIN)
        timeout: float | None = None if len(pidfds) == len(self.live()) else NO_PIDFD_POLL_S
        if self.kill_at is not None:
            until_kill = max(0.0, self.kill_at - time.monotonic())
            timeout = until_kill if timeout is None else min(timeout, until_kill)
        events = poller.poll(None if timeout is None else int(timeout * 1000) + 1)
        if any(fd == self.control for fd, _ in events):
            try:
                while posix.read(self.control, 4096):
                    pass
            except BlockingIOError:
                pass
            self.read_stop()

    def read_stop(self) -> None:
        try:
            with open(f"{self.folder}/{STOP}", "rb") as file:
                grace = float(file.readline())
        except (OSError, ValueError):
            return
        now = time.monotonic()
        if grace > 0 and not self.terminated:
            for rank in self.live():
                _signal_group(rank, _signal.SIGTERM)
                _signal_group(rank, _signal.SIGCONT)  # a stopped process must wake to see SIGTERM
        self.terminated = True
        due = now + max(grace, 0.0)
        self.kill_at = due if self.kill_at is None else min(self.kill_at, due)

    def reap(self) -> None:
        ended = False
        for rank in self.live():
            if posix.waitid(posix.P_PID, rank.pid, posix.WEXITED | posix.WNOHANG | posix.WNOWAIT) is None:
                continue
            # Exited, not reaped yet: the group's number is still pinned while we clean it up.
            _signal_group(rank, _signal.SIGKILL)
            _, status = posix.waitpid(rank.pid, 0)
            rank.end = f"exit {posix.waitstatus_to_exitcode(status)}"
            if rank.pidfd >= 0:
                posix.close(rank.pidfd)
            ended = True
        if ended:
            self.write_exits()

    def write_exits(self) -> None:
        lines = "".join(f"{rank.number} {rank.end}\n" for rank in self.ranks if rank.end)
        write_atomically(f"{self.folder}/{EXITS}", lines.encode())


def _reap_supervisors(signum: int, frame: object) -> None:
    # The launcher's children are supervisors only (each reaps its own ranks, by pid).
    try:
        while posix.waitpid(-1, posix.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def _become_supervisor(folder: str, control: int) -> NoReturn:
    code = 1
    try:
        _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)  # the launcher's reaper must not take our ranks
        posix.setsid()  # a session of its own: it outlives the launcher and the agent
        null = posix.open("/dev/null", posix.O_RDWR)
        for fd in (0, 1, 2):  # the launcher's pipes to the agent are not ours to hold
            posix.dup2(null, fd)
        posix.close(null)
        Supervisor(folder, control).run()
        code = 0
    except BaseException:  # noqa: BLE001 - whatever happened is written down, then we exit
        import traceback  # only when something went wrong

        with open(f"{folder}/{LOG}", "a") as log:
            traceback.print_exc(file=log)
    finally:
        posix._exit(code)


def start_supervisor(folder: str) -> int:
    """Forks the supervisor of the attempt in ``folder``; its pid. The child opens the control
    FIFO before the parent lets go of it, so the FIFO never lacks a reader in between."""
    control = posix.open(f"{folder}/{CONTROL}", posix.O_RDWR | posix.O_NONBLOCK | posix.O_CLOEXEC)
    try:
        pid = posix.fork()
        if pid == 0:
            _become_supervisor(folder, control)
        return pid
    finally:
        posix.close(control)


def serve(requests: int, replies: int) -> None:
    """The launcher: for each NUL-terminated folder read from ``requests``, forks its supervisor
    and answers one line, the pid or ``error WHY``. Ends when ``requests`` closes (the agent
    ended); the supervisors it started run on."""
    _signal.signal(_signal.SIGCHLD, _reap_supervisors)
    pending = b""
    while chunk := posix.read(requests, 65536):
        *folders, pending = (pending + chunk).split(b"\0")
        for folder in folders:
            try:
                answer = str(start_supervisor(folder.decode("utf-8", "surrogateescape")))
            except OSError as error:
                answer = f"error {error}"
            posix.write(replies, f"{answer}\n".encode(errors="replace"))


def main() -> int:
    serve(0, 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
