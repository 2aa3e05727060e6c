"""Capacity of the local machine: nvidia-smi output parsing (pure; the real query runs on GPU
machines only), declared slots, and the CPU pool."""

from __future__ import annotations

import os

import pytest

from suanli.agent.capacity import (
    CapacitySource,
    GpuInfo,
    configured_capacity,
    cpu_capacity,
    declared_capacity,
    gpu_capacity,
    machine_memory_gb,
    match_model,
    parse_nvidia_smi,
    slug,
)
from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import Pool
from suanli.domain.errors import InvalidSpec
from tests.builders import make_pool

# Captured from real machines (format: index, name, memory.total).
H200_NODE = """\
0, NVIDIA H200, 143771 MiB
1, NVIDIA H200, 143771 MiB
"""
MIXED_NODE = """\
0, NVIDIA A100-SXM4-80GB, 81920 MiB
1, NVIDIA A100-SXM4-40GB, 40960 MiB

2, Tesla V100-SXM2-16GB, 16384 MiB
3, Tesla T4, 15360 MiB
this line is garbage
4, NVIDIA H100 80GB HBM3, 81559 MiB
5, NVIDIA L40S, [N/A]
"""


def test_parse_reads_index_name_and_memory_and_skips_garbage() -> None:
    gpus = parse_nvidia_smi(MIXED_NODE)
    assert [g.index for g in gpus] == [0, 1, 2, 3, 4, 5]
    assert gpus[0] == GpuInfo(0, "NVIDIA A100-SXM4-80GB", 81920.0)
    assert gpus[5] == GpuInfo(5, "NVIDIA L40S", None)
    assert parse_nvidia_smi("") == []


def test_parse_accepts_nounits_output_and_commas_in_names() -> None:
    assert parse_nvidia_smi("0, Odd, Name, 1024\n") == [GpuInfo(0, "Odd, Name", 1024.0)]


@pytest.mark.parametrize(
    ("line", "model"),
    [
        ("0, NVIDIA A100-SXM4-80GB, 81920 MiB", "A100-80G"),
        ("0, NVIDIA A100 80GB PCIe, 81920 MiB", "A100-80G"),
        ("0, NVIDIA H100 80GB HBM3, 81559 MiB", "H100"),
        ("0, Tesla V100-SXM2-16GB, 16384 MiB", "V100"),
        ("0, Tesla T4, 15360 MiB", "T4"),
        ("0, NVIDIA L40S, [N/A]", "L40S"),
        ("0, NVIDIA A100-SXM4-40GB, 40960 MiB", None),  # not the catalog's 80GB model
        ("0, NVIDIA H200, 143771 MiB", None),
    ],
)
def test_detected_names_map_to_catalog_models_only_when_they_really_match(line: str, model: str | None) -> None:
    (gpu,) = parse_nvidia_smi(line)
    found = match_model(gpu, AcceleratorCatalog())
    assert (found.name if found else None) == model


def test_unknown_gpu_keeps_its_raw_name_and_joins_the_executors_catalog() -> None:
    catalog = AcceleratorCatalog()
    capacity = gpu_capacity(parse_nvidia_smi(H200_NODE), catalog)
    assert capacity.source is CapacitySource.NVIDIA_SMI
    (pool,) = capacity.pools
    assert (pool.name, pool.accelerator, pool.accelerators_per_node, pool.nodes) == (
        "local-nvidia-h200",
        "NVIDIA H200",
        2,
        1,
    )
    assert capacity.devices == {"local-nvidia-h200": [0, 1]}
    model = catalog.resolve("H200")  # the name without the vendor works too
    assert model.name == "NVIDIA H200"
    assert model.memory_gb == 140
    assert model.visible_devices_env == "CUDA_VISIBLE_DEVICES"
    assert "NVIDIA H200" not in AcceleratorCatalog()  # only the given instance changed


def test_mixed_gpus_give_one_pool_per_model_with_real_indices() -> None:
    capacity = gpu_capacity(parse_nvidia_smi(MIXED_NODE), AcceleratorCatalog())
    assert capacity.devices == {
        "local-a100-80g": [0],
        "local-nvidia-a100-sxm4-40gb": [1],
        "local-v100": [2],
        "local-t4": [3],
        "local-h100": [4],
        "local-l40s": [5],
    }


def test_declared_slots_are_marked_declared() -> None:
    capacity = declared_capacity("A100:4", AcceleratorCatalog())
    assert capacity.source is CapacitySource.DECLARED
    (pool,) = capacity.pools
    assert (pool.name, pool.accelerator, pool.accelerators_per_node) == ("declared-a100-80g", "A100-80G", 4)
    assert capacity.devices == {"declared-a100-80g": [0, 1, 2, 3]}
    assert declared_capacity("910B:8", AcceleratorCatalog()).pools[0].name == "declared-ascend910b"


def test_node_slots_can_be_declared_so_that_a_gang_runs_on_one_machine() -> None:
    capacity = declared_capacity("A100:2x4", AcceleratorCatalog())
    (pool,) = capacity.pools
    assert (pool.nodes, pool.accelerators_per_node) == (2, 4)
    assert capacity.devices == {pool.name: list(range(8))}
    (cpu,) = declared_capacity("CPU:2X1", AcceleratorCatalog()).pools
    assert (cpu.nodes, cpu.accelerators_per_node) == (2, 1)


@pytest.mark.parametrize(
    "text",
    [
        "A100-80G",
        "A100-80G:0",
        "A100-80G:x",
        ":4",
        "A100-80G:-1",
        "Nope:2",
        f"CPU:{10**6}",
        "A100:0x2",
        "A100:2x",
        "A100:x2",
    ],
)
def test_bad_declarations_are_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(InvalidSpec):
        declared_capacity(text, AcceleratorCatalog())


def test_cpu_capacity_counts_cores_and_memory() -> None:
    capacity = cpu_capacity()
    (pool,) = capacity.pools
    assert pool.accelerator == CPU
    assert pool.accelerators_per_node == pool.cpus_per_node == os.cpu_count()
    assert pool.memory_gb_per_node == machine_memory_gb() > 0
    assert capacity.devices["local-cpu"] == list(range(os.cpu_count() or 1))


def test_configured_pools_number_devices_per_visible_devices_variable() -> None:
    def pool(name: str, accelerator: str, count: int) -> Pool:
        return make_pool(name, accelerator, count, nodes=1, price=0, cpus=8, memory_gb=64)

    capacity = configured_capacity(
        [pool("big", "H100", 2), pool("npu", "Ascend910B", 2), pool("small", "T4", 1)], AcceleratorCatalog()
    )
    assert capacity.devices == {"big": [0, 1], "npu": [0, 1], "small": [2]}


def test_slug_makes_pool_safe_names() -> None:
    assert slug("NVIDIA H200") == "nvidia-h200"
    assert slug("???") == "gpu"
    assert len(slug("x" * 200)) == 50
