"""Small builders for the storage tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from suanli.domain.centers import CenterSpec
from suanli.domain.job import Placement
from suanli.domain.jobs import JobSpec
from tests.builders import make_pool

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

# the ``submit`` fixture: submit(count, tenant=..., name=..., **spec fields) -> ids
Submit = Callable[..., list[int]]


def spec(name: str = "train", **fields: Any) -> JobSpec:
    data: dict[str, Any] = {"name": name, "command": ["python", "train.py"], **fields}
    return JobSpec.model_validate(data)


def center_spec(name: str = "qd-ai-1", *pools: Any) -> CenterSpec:
    return CenterSpec(name=name, owner=f"{name} org", kind="ai", region="qingdao", pools=pools or (make_pool(),))  # type: ignore[arg-type]


def later(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def placement(center: str = "qd-ai-1", pool: str = "gpu", nodes: tuple[int, ...] = (0,), slots: int = 8) -> Placement:
    return Placement(
        center=center,
        pool=pool,
        accelerator="A100-80G",
        accelerators_per_node=slots,
        node_indices=nodes,
        price_per_hour=10.0 * slots * len(nodes),
        reason=f"{center}/{pool}: cheapest fit",
    )
