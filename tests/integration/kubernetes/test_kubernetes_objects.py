"""The Kubernetes executor's pure parts: names, the Job status mapping, node quantities and
GPU products. Need neither the emulator nor the kubernetes client."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from suanli.agent.backends.kubernetes.objects import job_name, job_state, label_value, pod_exit_code, tenant_namespace
from suanli.agent.backends.kubernetes.pools import model_of_product, quantity
from suanli.agent.executor import AttemptKey, AttemptState
from suanli.domain.accelerators import AcceleratorCatalog


def _failed(reason: str, message: str) -> dict[str, Any]:
    return {"type": "Failed", "status": "True", "reason": reason, "message": message}


@pytest.mark.parametrize(
    ("job", "expected"),
    [
        ({}, (AttemptState.STARTING, "")),
        ({"status": {"active": 0}}, (AttemptState.STARTING, "")),
        ({"status": {"active": 1}}, (AttemptState.RUNNING, "")),
        ({"status": {"active": 1, "ready": 0}}, (AttemptState.STARTING, "")),  # pods pending
        ({"status": {"active": 2, "ready": 1}}, (AttemptState.RUNNING, "")),
        ({"status": {"succeeded": 1}}, (AttemptState.SUCCEEDED, "")),
        ({"spec": {"completions": 2}, "status": {"succeeded": 1, "active": 1}}, (AttemptState.RUNNING, "")),
        ({"status": {"conditions": [{"type": "Complete", "status": "True"}]}}, (AttemptState.SUCCEEDED, "")),
        ({"status": {"failed": 1}}, (AttemptState.FAILED, "1 pod(s) failed")),
        (
            {"status": {"active": 1, "conditions": [_failed("DeadlineExceeded", "too long")]}},
            (AttemptState.FAILED, "DeadlineExceeded: too long"),
        ),
        (
            {"status": {"conditions": [_failed("BackoffLimitExceeded", "")]}},
            (AttemptState.FAILED, "BackoffLimitExceeded"),
        ),
        (
            {"status": {"active": 1, "conditions": [{**_failed("X", "y"), "status": "False"}]}},
            (AttemptState.RUNNING, ""),
        ),
    ],
)
def test_job_state(job: dict[str, Any], expected: tuple[AttemptState, str]) -> None:
    assert job_state(job) == expected


def test_names_are_dns_safe() -> None:
    assert job_name(AttemptKey(123, 4)) == "suanli-123-4"
    assert tenant_namespace("Tsinghua University / NLP") == "suanli-tsinghua-university-nlp"
    assert tenant_namespace("x" * 100) == "suanli-" + "x" * 56
    assert label_value("Qingdao AI!") == "Qingdao-AI"


def test_pod_exit_code() -> None:
    def pod(index: int, code: int | None) -> dict[str, Any]:
        state = {"terminated": {"exitCode": code}} if code is not None else {"running": {}}
        annotations = {"batch.kubernetes.io/job-completion-index": str(index)}
        return {
            "metadata": {"annotations": annotations},
            "status": {"containerStatuses": [{"name": "main", "state": state}]},
        }

    assert pod_exit_code([]) is None
    assert pod_exit_code([pod(0, None)]) is None
    assert pod_exit_code([pod(1, 0), pod(0, 0)]) == 0
    assert pod_exit_code([pod(1, 137), pod(0, 0)]) == 137


@pytest.mark.parametrize(
    ("text", "value"),
    [("96", 96), ("3500m", 3.5), ("512Gi", 512 * 2**30), ("1Ti", 2**40), ("2G", 2e9), ("1e3", 1000), ("junk", 0)],
)
def test_quantity(text: str, value: float) -> None:
    assert quantity(text) == value


@pytest.mark.parametrize(
    ("product", "model"),
    [
        ("NVIDIA-A100-SXM4-80GB", "A100-80G"),
        ("NVIDIA-H100-80GB-HBM3", "H100"),
        ("Tesla-V100-SXM2-32GB", "V100"),
        ("NVIDIA-L40S", "L40S"),
        ("NVIDIA-GeForce-RTX-4090", "NVIDIA-GeForce-RTX-4090"),  # unknown: kept by name
    ],
)
def test_gpu_product_labels(product: str, model: str) -> None:
    catalog = AcceleratorCatalog()
    assert model_of_product(product, catalog) == model
    assert model in catalog


def test_importing_suanli_does_not_import_kubernetes() -> None:
    code = "import sys, suanli.agent.backends.kubernetes.executor; assert 'kubernetes' not in sys.modules, 'imported'"
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
