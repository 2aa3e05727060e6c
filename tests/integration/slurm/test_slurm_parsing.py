"""What sinfo and squeue print, read into pools and states (no lab needed)."""

from __future__ import annotations

import pytest

from suanli.agent.backends.slurm.commands import (
    exit_code_of,
    is_transient,
    map_state,
    parse_gres,
    parse_sinfo,
    parse_squeue,
)
from suanli.agent.backends.slurm.pools import pools_from_sinfo
from suanli.agent.executor import AttemptState
from suanli.domain.accelerators import AcceleratorCatalog

SINFO = """\
gpu|4|64|512000|gpu:a100:8(S:0-1)|up
gpu|2|64|512000|gpu:h100:8(S:0-1),nic:1|up
ascend|3|192|1024000|gpu:910b:8|up
cpu|10|128+|256000|(null)|up
old|1|8|16000|gpu:4|down
"""


def test_gres_strings() -> None:
    assert parse_gres("gpu:a100:4(S:0-1),gpu:2,nic:1") == {"a100": 4, None: 2}
    assert parse_gres("(null)") == {}
    assert parse_gres("gpu:4(IDX:0-3)") == {None: 4}


def test_pools_per_partition_and_gpu_type() -> None:
    catalog = AcceleratorCatalog()
    pools, targets = pools_from_sinfo(parse_sinfo(SINFO), catalog, "V100", 1.5)
    shapes = {name: (p.accelerator, p.accelerators_per_node, p.nodes) for name, p in pools.items()}
    assert shapes == {
        "gpu-a100": ("A100-80G", 8, 4),
        "gpu-h100": ("H100", 8, 2),
        "ascend-910b": ("Ascend910B", 8, 3),
        "cpu": ("CPU", 128, 10),
        "old": ("V100", 4, 1),
    }
    assert (targets["gpu-a100"].partition, targets["gpu-a100"].gres_type) == ("gpu", "a100")
    assert targets["cpu"].cpu and pools["gpu-a100"].price_per_accelerator_hour == 1.5


def test_an_unknown_gpu_type_keeps_its_name_and_untyped_gpus_need_a_model() -> None:
    catalog = AcceleratorCatalog()
    pools, _ = pools_from_sinfo(parse_sinfo("p|1|8|16000|gpu:mi300x:8|up\n"), catalog, None, 0)
    assert pools["p-mi300x"].accelerator == "mi300x" and "mi300x" in catalog
    with pytest.raises(ValueError, match="gpu-model"):
        pools_from_sinfo(parse_sinfo("p|1|8|16000|gpu:8|up\n"), catalog, None, 0)


def test_squeue_lines_states_and_exit_codes() -> None:
    jobs = parse_squeue("12|FAILED|NonZeroExitCode|768|suanli:job-1-attempt-1\n13|RUNNING|None|0|a|b\n")
    assert exit_code_of(jobs["12"].raw_exit) == 3 and jobs["13"].comment == "a|b"
    assert exit_code_of(9) == -9 and exit_code_of(None) is None
    assert map_state("PENDING")[0] is AttemptState.STARTING
    assert map_state("COMPLETING")[0] is AttemptState.RUNNING
    assert map_state("COMPLETED")[0] is AttemptState.SUCCEEDED
    assert map_state("OUT_OF_MEMORY") == (AttemptState.FAILED, "out of memory (Slurm OUT_OF_MEMORY)")
    assert map_state("CANCELLED")[0] is AttemptState.CANCELLED


def test_which_refusals_mean_not_now() -> None:
    assert is_transient("sbatch: error: Batch job submission failed: Unable to contact slurm controller")
    assert not is_transient("sbatch: error: Batch job submission failed: Invalid partition name specified")
    assert not is_transient("Batch job submission failed: Requested node configuration is not available")
