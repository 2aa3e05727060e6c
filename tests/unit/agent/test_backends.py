"""The agent's backends, registered by name: `suanli agent --backend NAME` looks the name up in
one table, refuses names and options it does not have, and imports no backend SDK to do so."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from suanli.adapters.cli.main import app
from suanli.agent.backends import BACKENDS, BadOption, UnknownBackend, backend_factory, ray


def test_every_backend_is_registered_by_name() -> None:
    assert list(BACKENDS) == ["local", "slurm", "kubernetes", "ray"]
    assert all(backend_factory(name) is BACKENDS[name] for name in BACKENDS)


def test_an_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(UnknownBackend, match=r"unknown backend 'lsf'; this release has: local, slurm, kubernetes, ray"):
        backend_factory("lsf")


def test_looking_backends_up_imports_no_backend_sdk() -> None:
    code = (
        "import sys, suanli.agent.backends, suanli.adapters.cli.agent; "
        "assert not {'ray', 'kubernetes'} & set(sys.modules), 'imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_ray_options_are_checked_before_anything_is_built() -> None:
    assert ray.resources(("MLU370=MLU", " 910B = NPU ")) == {"MLU370": "MLU", "910B": "NPU"}
    with pytest.raises(BadOption, match="MODEL=RESOURCE"):
        ray.resources(("MLU370",))
    assert ray.gang_strategy("PACK") == "PACK"
    with pytest.raises(BadOption, match="--ray-gang-strategy takes"):
        ray.gang_strategy("ANYWHERE")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--backend", "lsf"], "unknown backend 'lsf'; this release has: local, slurm, kubernetes, ray"),
        (["--backend", "slurm", "--accelerators", "A100-80G:1"], "--accelerators is for --backend local, not slurm"),
        (["--partition", "gpu"], "--partition is for --backend slurm, not local"),
        (["--backend", "kubernetes", "--ray-address", "http://h:8265"], "--ray-address is for --backend ray"),
        (["--gpu-model", "A100-80G"], "--gpu-model is for --backend slurm, kubernetes or ray"),
    ],
)
def test_the_agent_refuses_a_backend_or_option_it_cannot_use_in_one_line(options: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["agent", "--token-file", "/nonexistent", *options])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.output
