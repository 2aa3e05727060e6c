"""What `suanli up --demo` adds: simulated remote centers and sample jobs.

The centers are registered with backend ``simulated`` and names starting ``sim-``, so they are
marked as simulated wherever they appear (center lists, placements, logs). Each is served by a
real agent over the real protocol, with the SimulatedExecutor in place of a real backend.
"""

from __future__ import annotations

from suanli.domain.centers import Backend, CenterKind, CenterSpec, Pool
from suanli.domain.jobs import JobSpec


def _pool(
    name: str, model: str, per_node: int, nodes: int, cpus: int, memory_gb: float, price: float, carbon: float
) -> Pool:
    return Pool(
        name=name,
        accelerator=model,
        accelerators_per_node=per_node,
        cpus_per_node=cpus,
        memory_gb_per_node=memory_gb,
        nodes=nodes,
        price_per_accelerator_hour=price,
        carbon_intensity=carbon,
    )


DEMO_CENTERS = (
    CenterSpec(
        name="sim-shenzhen-ascend",
        owner="Shenzhen AI computing center (simulated)",
        kind=CenterKind.AI,
        region="shenzhen",
        backend=Backend.SIMULATED,
        pools=(_pool("910b", "Ascend910B", 8, 4, 192, 1536, 9.0, 420),),
    ),
    CenterSpec(
        name="sim-qingdao-a100",
        owner="Qingdao AI computing center (simulated)",
        kind=CenterKind.AI,
        region="qingdao",
        backend=Backend.SIMULATED,
        pools=(_pool("a100", "A100-80G", 8, 2, 128, 1024, 14.0, 580),),
    ),
    CenterSpec(
        name="sim-tianjin-hpc",
        owner="Tianjin supercomputing center, CPU partition (simulated)",
        kind=CenterKind.HPC,
        region="tianjin",
        backend=Backend.SIMULATED,
        pools=(_pool("cpu", "CPU", 64, 16, 64, 256, 0.04, 600),),
    ),
    CenterSpec(
        name="sim-guiyang-edge",
        owner="Guiyang edge site, hydro power (simulated)",
        kind=CenterKind.EDGE,
        region="guiyang",
        backend=Backend.SIMULATED,
        pools=(_pool("t4", "T4", 2, 4, 16, 64, 2.5, 120),),
    ),
)


def demo_jobs() -> list[tuple[str, JobSpec]]:
    """Sample jobs with their idempotency keys, so that a second `up --demo` submits nothing new.

    Eight 8-accelerator fine-tunes take A100 or 910B: the cheaper 910B center fills first and the
    rest spill over to A100 or wait; a 2-node gang, CPU work that may only go to a supercomputer,
    inference that must stay at the edge, and one real job that runs on this machine."""
    specs: list[dict[str, object]] = [
        {
            "name": f"llm-finetune-{i}",
            "entrypoint": ["python", "-m", "finetune", "--model", "qwen-7b", "--shard", str(i)],
            "resources": {"accelerators": ["Ascend910B:8", "A100-80G:8"], "cpus": 64, "memory_gb": 512},
            "time_limit": "2h",
            "labels": {"demo": "true", "team": "nlp"},
        }
        for i in range(1, 9)
    ]
    specs += [
        {
            "name": "pretrain-gang-2-nodes",
            "entrypoint": ["torchrun", "--nnodes", "2", "pretrain.py"],
            "resources": {"accelerators": ["A100-80G:8", "Ascend910B:8"], "cpus": 96},
            "nodes": 2,
            "time_limit": "4h",
            "priority": 10,
            "labels": {"demo": "true", "team": "foundation"},
        },
        {
            "name": "weather-ensemble",
            "command": ["mpirun", "-n", "48", "wrf.exe"],
            "resources": {"cpus": 48, "memory_gb": 128},
            "time_limit": "3h",
            "constraints": {"center_kinds": ["hpc"]},
            "labels": {"demo": "true", "team": "climate"},
        },
        {
            "name": "traffic-camera-inference",
            "command": ["python", "serve.py", "--model", "yolo"],
            "resources": {"accelerators": ["T4:1"], "cpus": 4},
            "time_limit": "30m",
            "constraints": {"center_kinds": ["edge"]},
            "labels": {"demo": "true", "team": "city"},
        },
    ]
    return [(f"suanli-demo-{spec['name']}", JobSpec.model_validate(spec)) for spec in specs]


def local_demo_job(center: str) -> tuple[str, JobSpec]:
    """A job that really runs here, so the demo also shows real output with `suanli logs`."""
    script = (
        "import platform, time\n"
        "for i in range(5):\n"
        "    print(f'step {i + 1}/5 on', platform.node(), flush=True)\n"
        "    time.sleep(1)\n"
    )
    spec = JobSpec.model_validate(
        {
            "name": "hello-from-this-machine",
            "command": ["python3", "-c", script],
            "resources": {"cpus": 1},
            "time_limit": "5m",
            "constraints": {"centers": [center]},
            "labels": {"demo": "true"},
        }
    )
    return (f"suanli-demo-local-{center}", spec)
