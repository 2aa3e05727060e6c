"""Gang attempts on the local backend: one process per node slot, ranks that find each other
through MASTER_ADDR/MASTER_PORT, all-or-nothing success."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from suanli.agent.executor import AttemptKey, AttemptSpec, AttemptState
from tests.integration.agent.conftest import MakeExecutor, wait_dead, wait_final, wait_for_file

# Rank 0 listens on MASTER_PORT; rank 1 connects (retrying until rank 0 is up) and says hello.
TALK = """
import json, os, socket, sys, time
rank, world = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
names = ["RANK", "LOCAL_RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "CUDA_VISIBLE_DEVICES"]
with open(f"{sys.argv[1]}.{rank}", "w") as out:
    json.dump({n: os.environ.get(n) for n in names}, out)
addr = (os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]))
if rank == 0:
    server = socket.create_server(addr)
    connection, _ = server.accept()
    print("rank 0 got:", connection.recv(100).decode())
else:
    deadline = time.monotonic() + 5
    while True:
        try:
            client = socket.create_connection(addr)
            break
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    client.sendall(f"hello from rank {rank} of {world}".encode())
    print("rank 1 sent")
"""


def test_ranks_see_their_place_in_the_gang_and_talk_over_tcp(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor(declared="A100-80G:4")
    key = AttemptKey(30, 1)
    seen = tmp_path / "seen"
    executor.start(
        AttemptSpec(
            key=key,
            name="gang",
            command=(sys.executable, "-c", TALK, str(seen)),
            accelerator="A100-80G",
            accelerators_per_node=2,
            nodes=2,
        )
    )
    assert executor.free_devices() == {"declared-a100-80g": []}

    status = wait_final(executor, key)

    assert (status.state, status.exit_code) == (AttemptState.SUCCEEDED, 0), executor.read_logs(key, 0)
    ranks = [json.loads(Path(f"{seen}.{rank}").read_text()) for rank in (0, 1)]
    assert [r["RANK"] for r in ranks] == ["0", "1"]
    assert {r["WORLD_SIZE"] for r in ranks} == {"2"}
    assert {r["LOCAL_RANK"] for r in ranks} == {"0"}
    assert {r["MASTER_ADDR"] for r in ranks} == {"127.0.0.1"}
    assert len({r["MASTER_PORT"] for r in ranks}) == 1
    devices = [set(r["CUDA_VISIBLE_DEVICES"].split(",")) for r in ranks]
    assert all(len(d) == 2 for d in devices) and not devices[0] & devices[1]
    logs = executor.read_logs(key, 0).decode()
    assert "[rank 0] rank 0 got: hello from rank 1 of 2\n" in logs
    assert "[rank 1] rank 1 sent\n" in logs
    assert executor.free_devices() == {"declared-a100-80g": [0, 1, 2, 3]}


def test_one_failing_rank_fails_the_gang_and_stops_the_others(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    pid_file = tmp_path / "rank0.pid"
    script = f"""
import os, sys, time
if os.environ["RANK"] == "0":
    print("rank 0 sleeping", flush=True)
    with open({str(pid_file)!r}, "w") as f:
        f.write(f"{{os.getpid()}}\\n")
    time.sleep(60)
while not os.path.exists({str(pid_file)!r}):
    time.sleep(0.01)
print("rank 1 giving up", end="")
sys.exit(3)
"""
    key = AttemptKey(31, 1)
    executor.start(AttemptSpec(key=key, name="gang", command=(sys.executable, "-c", script), nodes=2))
    rank0 = int(wait_for_file(pid_file))

    status = wait_final(executor, key)

    assert (status.state, status.exit_code) == (AttemptState.FAILED, 3)
    assert status.message == "rank 1 exited with code 3"
    assert wait_dead(rank0)
    logs = executor.read_logs(key, 0).decode()
    assert "[rank 0] rank 0 sleeping\n" in logs
    assert "[rank 1] rank 1 giving up\n" in logs  # an unfinished last line is flushed at the end


def test_cancelling_a_gang_stops_every_rank(make_executor: MakeExecutor, tmp_path: Path) -> None:
    executor = make_executor()
    pids = tmp_path / "pid"
    script = (
        f"import os, time\nopen(f'{pids}.{{os.environ[\"RANK\"]}}', 'w').write(f'{{os.getpid()}}\\n')\ntime.sleep(60)"
    )
    key = AttemptKey(32, 1)
    executor.start(AttemptSpec(key=key, name="gang", command=(sys.executable, "-c", script), nodes=3))
    ranks = [int(wait_for_file(Path(f"{pids}.{rank}"))) for rank in range(3)]
    executor.cancel(key, grace_s=1)
    assert wait_final(executor, key).state is AttemptState.CANCELLED
    assert all(wait_dead(pid) for pid in ranks)
