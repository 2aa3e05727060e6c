"""Compute centers (算力中心) and their pools of homogeneous nodes."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.limits import (
    MAX_ACCELERATORS_PER_NODE,
    MAX_CARBON_INTENSITY,
    MAX_CPUS_PER_NODE,
    MAX_MEMORY_GB_PER_NODE,
    MAX_MODEL_CHARS,
    MAX_NAME_CHARS,
    MAX_NODES_PER_POOL,
    MAX_POOLS_PER_CENTER,
    MAX_PRICE_PER_ACCELERATOR_HOUR,
    MAX_REGION_CHARS,
    MAX_SHARED_GPUS_PER_POOL,
    Flag,
    Float,
    Int,
    NoNul,
)

NAME_PATTERN = r"^[a-z0-9]([a-z0-9\-]*[a-z0-9])?$"
Name = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
Owner = Annotated[str, Field(min_length=1, max_length=MAX_NAME_CHARS), NoNul()]
Region = Annotated[str, Field(min_length=1, max_length=MAX_REGION_CHARS), NoNul()]
Model = Annotated[
    str,
    Field(min_length=1, max_length=MAX_MODEL_CHARS, json_schema_extra={"pattern": AcceleratorCatalog().name_pattern()}),
    NoNul(),
]


class CenterKind(StrEnum):
    AI = "ai"
    HPC = "hpc"
    GENERAL = "general"
    EDGE = "edge"


class Backend(StrEnum):
    LOCAL = "local"
    SLURM = "slurm"
    RAY = "ray"
    KUBERNETES = "kubernetes"
    SIMULATED = "simulated"  # a demonstration center: its agent runs nothing (`suanli up --demo`)


class CenterState(StrEnum):
    ONLINE = "ONLINE"
    DRAINING = "DRAINING"  # runs what it has, takes nothing new
    OFFLINE = "OFFLINE"


class AgentPresence(StrEnum):
    """Whether the center's agent is talking to the server."""

    CONNECTED = "connected"  # heard from within the offline window
    SILENT = "silent"  # heard from once, not lately: the center goes OFFLINE when the window passes
    NEVER = "never"  # registered, but no agent has ever connected: its jobs wait for one


class Pool(BaseModel):
    """A homogeneous set of nodes inside a center.

    The accelerator is the resource the scheduler tracks per node. A CPU-only pool has
    ``accelerator: CPU`` and counts CPU cores as its accelerators, so CPU batch jobs are placed
    by cores with the same machinery.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Name
    accelerator: Model = Field(description="accelerator model from the catalog, or CPU")
    accelerators_per_node: Int = Field(ge=1, le=MAX_ACCELERATORS_PER_NODE)
    cpus_per_node: Int = Field(ge=1, le=MAX_CPUS_PER_NODE)
    memory_gb_per_node: Float = Field(gt=0, le=MAX_MEMORY_GB_PER_NODE)
    nodes: Int = Field(ge=0, le=MAX_NODES_PER_POOL)
    price_per_accelerator_hour: Float = Field(
        ge=0, le=MAX_PRICE_PER_ACCELERATOR_HOUR, description="CNY per accelerator-hour"
    )
    carbon_intensity: Float = Field(
        default=500.0, ge=0, le=MAX_CARBON_INTENSITY, description="gCO2 per kWh of the site's power"
    )
    share_gpus: Flag = Field(
        default=False,
        description=(
            "jobs may share a GPU (a one-GPU job may ask for part of one) and CPU-only jobs may use the "
            "nodes' CPUs; the scheduler then tracks each GPU's share and each node's CPUs and memory"
        ),
    )

    @property
    def accelerators(self) -> int:
        return self.accelerators_per_node * self.nodes

    @model_validator(mode="after")
    def _cpu_pool_counts_cores(self) -> Pool:
        if self.accelerator == CPU and self.accelerators_per_node > self.cpus_per_node:
            raise ValueError("a CPU pool's accelerators_per_node is its cores and cannot exceed cpus_per_node")
        if self.accelerator == CPU and self.share_gpus:
            raise ValueError("share_gpus is for GPU pools; a CPU pool has no GPUs to share")
        if self.share_gpus and self.accelerators > MAX_SHARED_GPUS_PER_POOL:
            # The scheduler tracks each shared GPU by itself (scheduler/sharing.py).
            raise ValueError(
                f"a pool that shares GPUs holds at most {MAX_SHARED_GPUS_PER_POOL} of them (nodes x "
                "accelerators_per_node); split it into several pools"
            )
        return self


class CenterSpec(BaseModel):
    """What an operator registers."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    name: Name
    owner: Owner = Field(description="the organization that runs the center")
    kind: CenterKind
    region: Region
    backend: Backend = Backend.LOCAL
    pools: tuple[Pool, ...] = Field(default=(), max_length=MAX_POOLS_PER_CENTER)

    @field_validator("pools")
    @classmethod
    def _unique_pool_names(cls, pools: tuple[Pool, ...]) -> tuple[Pool, ...]:
        names = [p.name for p in pools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"pool names must be unique within a center; repeated: {', '.join(duplicates)}")
        return pools


class Center(BaseModel):
    """A registered center with its state."""

    model_config = ConfigDict(frozen=True)

    spec: CenterSpec
    state: CenterState = CenterState.ONLINE
    version: int = 1
    problem: str = ""  # what its agent reports wrong with the backend; no new work meanwhile
    last_seen: datetime | None = None  # when its agent last spoke to the server
    organization: str = "default"  # the organization that registered it: only it may change it

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def pools(self) -> tuple[Pool, ...]:
        return self.spec.pools

    def accepts_new_work(self) -> bool:
        return self.state is CenterState.ONLINE and not self.problem

    @property
    def condition(self) -> str:
        """The state the scheduler sees: UNHEALTHY while the agent reports a backend problem."""
        return "UNHEALTHY" if self.problem and self.state is CenterState.ONLINE else self.state.value

    def agent_presence(self, now: datetime, offline_after_s: float) -> AgentPresence:
        if self.last_seen is None:
            return AgentPresence.NEVER
        silent_s = (now - self.last_seen).total_seconds()
        return AgentPresence.CONNECTED if silent_s <= offline_after_s else AgentPresence.SILENT

    def shown_state(self, presence: AgentPresence) -> str:
        """The state people see: a center no agent ever connected to is not called ONLINE, as the
        scheduler may place work there that nothing runs until its agent connects."""
        condition = self.condition
        return "NO_AGENT" if condition == "ONLINE" and presence is AgentPresence.NEVER else condition
