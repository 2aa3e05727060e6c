"""The Ray executor's pure parts, without a Ray lab: entrypoint quoting (through a real shell, as
Ray runs it), and pools and resources from a State API node list."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from suanli.agent.backends.ray.cluster import ResourceMap, cluster_pools, parse_nodes
from suanli.agent.backends.ray.entrypoint import command_line, gang_entrypoint
from suanli.agent.executor import ExecutorRefused
from suanli.domain.accelerators import AcceleratorCatalog

HOSTILE = ["'; touch {m}; '", '"; touch {m}; "', "$(touch {m})", "`touch {m}`", "a;touch {m}", "x\n;touch {m}", "算力"]
SHOW = "import json, os, sys; print(json.dumps([sys.argv[1:], os.environ.get('V')]))"


def _run_like_ray(entrypoint: str) -> list[object]:
    """Ray's job supervisor runs the entrypoint with a shell (Popen(shell=True))."""
    done = subprocess.run(entrypoint, shell=True, capture_output=True, text=True, check=True)
    return list(json.loads(done.stdout.splitlines()[-1]))


def test_argv_and_dollar_env_reach_the_program_unchanged_through_the_shell(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    values = [text.format(m=marker) for text in HOSTILE]
    env_value = f"$HOME ${{PATH}} $(touch {marker}) '\""
    line = command_line((sys.executable, "-c", SHOW, *values), {"V": env_value})
    assert _run_like_ray(line) == [values, env_value]
    assert not marker.exists()


def test_a_string_command_is_the_users_shell_line() -> None:
    assert command_line("echo hi && echo there") == "echo hi && echo there"
    assert _run_like_ray(command_line(f"{sys.executable} -c \"{SHOW}\" a 'b c'", {"V": "$x"})) == [["a", "b c"], "$x"]


def test_empty_commands_are_refused() -> None:
    for command in ("", "  ", ()):
        with pytest.raises(ExecutorRefused):
            command_line(command)


def test_the_gang_spec_reaches_the_launcher_unchanged(tmp_path: Path) -> None:
    marker = tmp_path / "injected"
    command = (sys.executable, "-c", "print(1)", *[text.format(m=marker) for text in HOSTILE])
    # The "python" here prints the words it was given, as the shell passed them.
    dump = tmp_path / "dump-argv"
    dump.write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    dump.chmod(0o755)
    entrypoint = gang_entrypoint(str(dump), command, 2, "GPU", 2.0, "SPREAD", {"V": "$(touch x)"})
    done = subprocess.run(entrypoint, shell=True, capture_output=True, text=True, check=True)
    flag, _bootstrap, spec_text = json.loads(done.stdout)
    assert flag == "-c"
    spec = json.loads(spec_text)
    assert spec["command"] == list(command) and spec["env"] == {"V": "$(touch x)"}
    assert (spec["nodes"], spec["resource"], spec["amount"], spec["strategy"]) == (2, "GPU", 2.0, "SPREAD")
    assert not marker.exists()


def _nodes(*resources: dict[str, float], dead: int = 0) -> object:
    rows = [{"node_id": f"n{i}", "state": "ALIVE", "resources_total": r} for i, r in enumerate(resources)]
    rows += [{"node_id": f"d{i}", "state": "DEAD", "resources_total": {"GPU": 8.0, "CPU": 8.0}} for i in range(dead)]
    return {"data": {"result": {"result": rows}}}


def test_pools_group_nodes_by_shape_and_name_models() -> None:
    gib = 1024.0**3
    payload = _nodes(
        {"CPU": 64.0, "GPU": 8.0, "memory": 512 * gib, "accelerator_type:A100": 1.0},
        {"CPU": 64.0, "GPU": 8.0, "memory": 512 * gib, "accelerator_type:A100": 1.0},
        {"CPU": 32.0, "NPU": 8.0, "memory": 256 * gib},
        {"CPU": 16.0, "memory": 64 * gib},
        dead=3,
    )
    pools = cluster_pools(parse_nodes(payload), ResourceMap(AcceleratorCatalog(), {"NPU": "910B"}))
    shapes = {(p.name, p.accelerator, p.accelerators_per_node, p.nodes, p.cpus_per_node) for p in pools}
    assert shapes == {
        ("ray-a100-80g", "A100-80G", 8, 2, 64),
        ("ray-ascend910b", "Ascend910B", 8, 1, 32),
        ("ray-cpu", "CPU", 16, 1, 16),
    }


def test_models_map_to_ray_resources() -> None:
    resources = ResourceMap(AcceleratorCatalog(), {"GPU": "H100"}, {"MLU370": "mlu_card"})
    assert [resources.resource_for(m) for m in ("A100", "H100", "910B", "DCU", "MLU370", "CPU")] == [
        "GPU",
        "GPU",
        "NPU",
        "GPU",
        "mlu_card",
        "CPU",
    ]
    assert ResourceMap(AcceleratorCatalog()).resource_for("MLU370") == "MLU"
