"""`suanli sweep --ray-address`: the same cells as Ray tasks on the local Ray lab give the same
rows as the process pool. Skipped, saying why, when no Ray head answers (start the lab:
bash scripts/lab/ray-up.sh)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from suanli.simulation import sweep as sw

REPO = Path(__file__).resolve().parents[3]
# The lab's head: its GCS port (scripts/lab/ray-up.sh, RAY_LAB_GCS_PORT), not the Jobs API's 8265.
GCS_ADDRESS = os.environ.get("SUANLI_RAY_GCS_ADDRESS", f"127.0.0.1:{os.environ.get('RAY_LAB_GCS_PORT', '6380')}")

# Run in a child process: the lab's head listens on loopback only, and a driver must be told so
# before Ray is imported (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0, as ray-up.sh tells the head).
DRIVER = """
import json, sys
from suanli.simulation import sweep as sw
spec = sw.spec_from_dict(json.loads(sys.argv[1]))
rows = sw.run_on_ray(sw.expand(spec), sys.argv[2])
print(json.dumps(sw.jsonable(rows)))
"""


def head_unavailable(address: str = GCS_ADDRESS) -> str | None:
    try:
        import ray  # noqa: F401
    except ImportError:
        return "ray is not installed (pip install 'suanli[ray]')"
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return None
    except (OSError, ValueError):
        return f"no Ray head answers at {address} (start the lab: bash scripts/lab/ray-up.sh)"


def spec_data() -> dict[str, Any]:
    return {
        "name": "ray",
        "trace": {"name": "gavel"},  # Gavel's throughput matrix, shipped with the package
        "profiles": ["fifo", "default"],
        "loads": [30.0, 60.0],
        "seeds": [0, 1],
        "max_jobs": 200,
    }


def test_a_sweep_on_ray_gives_the_process_pools_rows() -> None:
    reason = head_unavailable()
    if reason:
        pytest.skip(reason)
    data = spec_data()
    env = os.environ | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(data), GCS_ADDRESS],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    on_ray = json.loads(done.stdout.strip().splitlines()[-1])
    pooled = sw.run_sweep(sw.expand(sw.spec_from_dict(data)), max_workers=2)
    assert len(on_ray) == 8
    assert sw.comparable(on_ray) == sw.comparable(sw.jsonable(pooled))


def test_an_address_where_no_head_answers_is_a_clean_error() -> None:
    pytest.importorskip("ray")
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cells = sw.expand(sw.spec_from_dict({"trace": {"kind": "gavel", "path": "m.json"}}))
    with pytest.raises(sw.SweepError, match="no Ray head answers") as raised:
        sw.run_on_ray(cells, f"127.0.0.1:{port}")
    assert raised.value.field == "--ray-address"
