"""The launcher of a gang attempt (nodes > 1) on Ray. NOT imported by Suanli: the Ray executor
sends this file's text as the Ray job's entrypoint (``python -c``), so the cluster needs Ray only.

It reserves one placement-group bundle per rank (all or nothing), runs one rank per bundle as a
Ray task that starts the user's command with RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT, prints
each rank's output with a ``[rank N]`` prefix, and stops the others when a rank fails. Its exit
code is the failed rank's (1 when it was killed by a signal or the task failed).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
from types import FrameType
from typing import Any


def _rank(index: int, command: str | list[str], env: dict[str, str]) -> int:  # in a Ray worker on the rank's node
    import ctypes
    import subprocess

    def die_with_worker() -> None:  # the command dies when its Ray worker does (PR_SET_PDEATHSIG)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGKILL)

    proc = subprocess.Popen(
        command,
        shell=isinstance(command, str),
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=die_with_worker,
    )
    assert proc.stdout is not None
    try:
        for line in proc.stdout:
            sys.stdout.write(f"[rank {index}] " + line.decode("utf-8", "replace"))
            sys.stdout.flush()
        return proc.wait()
    except KeyboardInterrupt:  # ray.cancel: stop the rank's whole process group
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(proc.pid, sig)
                proc.wait(timeout=3)
                break
            except (OSError, subprocess.TimeoutExpired):
                continue
        raise


def _address() -> tuple[str, int]:  # runs on rank 0's node: its address and a port free there now
    import socket

    import ray  # type: ignore[import-not-found, import-untyped, unused-ignore]

    with socket.socket() as sock:
        sock.bind(("", 0))
        port = sock.getsockname()[1]
    return str(ray.util.get_node_ip_address()), int(port)  # type: ignore[no-untyped-call, unused-ignore]


def main(spec: dict[str, Any]) -> int:
    os.environ["RAY_DEDUP_LOGS"] = "0"  # ranks print lines that differ only in numbers
    os.environ["RAY_COLOR_PREFIX"] = "0"  # plain "(_rank pid=N)" prefixes in the log
    import ray  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from ray.util.placement_group import placement_group  # type: ignore[import-not-found, import-untyped, unused-ignore]
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy  # type: ignore[import-not-found, import-untyped, unused-ignore]

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    nodes, resource, amount = spec["nodes"], spec["resource"], spec["amount"]
    ray.init(log_to_driver=True)
    bundle = {resource: amount} if amount > 0 else {"CPU": 0.01}
    group = placement_group([dict(bundle) for _ in range(nodes)], strategy=spec["strategy"])
    if not group.wait(timeout_seconds=spec["wait_s"]):
        print(
            f"suanli: Ray could not place {nodes} x {bundle} ({spec['strategy']}) in {spec['wait_s']} s",
            file=sys.stderr,
        )
        return 1
    options: dict[str, Any] = {"num_cpus": bundle.get("CPU", 0), "num_gpus": bundle.get("GPU", 0), "max_retries": 0}
    extra = {k: v for k, v in bundle.items() if k not in ("CPU", "GPU")}
    if extra:
        options["resources"] = extra

    def on(index: int) -> Any:
        return PlacementGroupSchedulingStrategy(placement_group=group, placement_group_bundle_index=index)

    host, port = ray.get(ray.remote(_address).options(scheduling_strategy=on(0), **options).remote())
    remote_rank = ray.remote(_rank)
    refs = {}
    for index in range(nodes):
        env = {
            **spec["env"],
            "RANK": str(index),
            "NODE_RANK": str(index),
            "WORLD_SIZE": str(nodes),
            "LOCAL_RANK": "0",
            "LOCAL_WORLD_SIZE": "1",
            "MASTER_ADDR": host,
            "MASTER_PORT": str(port),
        }
        refs[remote_rank.options(scheduling_strategy=on(index), **options).remote(index, spec["command"], env)] = index
    pending: list[Any] = list(refs)
    failed: tuple[int, int, str] | None = None
    try:
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            for ref in done:
                try:
                    code = ray.get(ref)
                except Exception as error:  # the task died (node lost, worker killed)
                    code, why = 1, f"failed: {type(error).__name__}"
                else:
                    why = f"exited with code {code}"
                if code != 0 and failed is None:
                    failed = (refs[ref], code, why)
                    for other in pending:
                        ray.cancel(other)
    except KeyboardInterrupt:
        for ref in pending:
            ray.cancel(ref)
        ray.wait(pending, num_returns=len(pending), timeout=3)
        raise
    finally:
        import time

        time.sleep(1.0)  # let the ranks' last lines reach this driver's log
    if failed is not None:
        index, code, why = failed
        print(f"suanli: rank {index} {why}", file=sys.stderr, flush=True)
        return code if 0 < code < 256 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
