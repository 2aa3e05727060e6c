"""Jobs (作业): what a tenant asks to run (the spec) and where it stands (the status).

The spec is validated here so that every way in — YAML, REST, SDK — gives the same errors,
each naming its field.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import CenterKind
from suanli.domain.durations import parse_duration
from suanli.domain.errors import InvalidSpec

_ACCELERATOR_REQUEST = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(?::\s*(-?\d+)\s*)?$")


class AcceleratorRequest(BaseModel):
    """``model`` × ``count`` accelerators on each node of the job."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model: str = Field(min_length=1, max_length=64)
    count: int = Field(default=1, ge=1, le=1024)

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = _ACCELERATOR_REQUEST.match(value)
            if not match:
                raise ValueError(f"{value!r} is not MODEL:COUNT, for example 'A100-80G:8'")
            model, count = match.groups()
            return {"model": model, "count": int(count) if count is not None else 1}
        return value

    def __str__(self) -> str:
        return f"{self.model}:{self.count}"


Seconds = Annotated[float, BeforeValidator(parse_duration), PlainSerializer(lambda s: s, return_type=float)]


class Resources(BaseModel):
    """Per-node resources. ``accelerators`` lists alternatives, any one of which will do."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    accelerators: tuple[AcceleratorRequest, ...] = Field(default=(), max_length=16)
    cpus: int = Field(default=1, ge=1, le=100_000)
    memory_gb: float = Field(default=1.0, gt=0, le=1_000_000)

    @field_validator("accelerators", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str | dict) else value

    @field_validator("accelerators")
    @classmethod
    def _no_repeats(cls, value: tuple[AcceleratorRequest, ...]) -> tuple[AcceleratorRequest, ...]:
        models = [a.model.lower() for a in value]
        if len(set(models)) != len(models):
            raise ValueError("each accelerator model may appear once among the alternatives")
        return value


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    regions: tuple[str, ...] = Field(default=(), max_length=100)
    center_kinds: tuple[CenterKind, ...] = Field(default=(), max_length=4)
    centers: tuple[str, ...] = Field(default=(), max_length=1000)
    max_price_per_hour: float | None = Field(default=None, ge=0, description="CNY per hour for the whole job")
    deadline: datetime | None = Field(default=None, description="the job must be able to finish by then")

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("give the deadline with a time zone, e.g. 2026-12-01T18:00:00+08:00")
        return value


class JobSpec(BaseModel):
    """Everything a tenant says about a job. See docs/job-spec.md for each field."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    name: str = Field(min_length=1, max_length=200)
    command: str | tuple[str, ...] = Field(
        validation_alias=AliasChoices("command", "entrypoint"),
        description="a list of arguments run as is, or a string run by the shell",
    )
    workdir: str | None = Field(default=None, max_length=4096)
    env: dict[str, str] = Field(default_factory=dict, max_length=1000)
    resources: Resources = Field(default_factory=Resources)
    nodes: int = Field(default=1, ge=1, le=4096, description="gang size: all nodes start together or none")
    priority: int = Field(default=0, ge=-1000, le=1000)
    time_limit: Seconds | None = Field(default=None, description="run-time limit; also the backfill estimate")
    constraints: Constraints = Field(default_factory=Constraints)
    labels: dict[str, str] = Field(default_factory=dict, max_length=100)
    max_retries: int = Field(default=0, ge=0, le=100)

    @field_validator("command")
    @classmethod
    def _non_empty_command(cls, value: str | tuple[str, ...]) -> str | tuple[str, ...]:
        if not value or (isinstance(value, str) and not value.strip()):
            raise ValueError("the command must not be empty")
        return value

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
                raise ValueError(f"{key!r} is not a valid environment variable name")
        return env

    def canonical(self, catalog: AcceleratorCatalog) -> JobSpec:
        """The spec with accelerator names resolved to catalog models. Raises InvalidSpec."""
        requests = self.resources.accelerators
        models = []
        for i, request in enumerate(requests):
            try:
                models.append(catalog.canonical(request.model))
            except InvalidSpec as error:
                raise InvalidSpec(error.message, field=f"resources.accelerators[{i}]") from None
        if all(model == request.model for model, request in zip(models, requests, strict=True)):
            return self  # already canonical, the usual case: no copies
        if len(set(models)) != len(models):
            raise InvalidSpec("two alternatives name the same accelerator model", field="resources.accelerators")
        resolved = tuple(r.model_copy(update={"model": m}) for r, m in zip(requests, models, strict=True))
        return self.model_copy(update={"resources": self.resources.model_copy(update={"accelerators": resolved})})

    def alternatives(self) -> tuple[AcceleratorRequest, ...]:
        """Per-node requests to try; a CPU-only job asks for CPU cores in CPU pools."""
        if self.resources.accelerators:
            return self.resources.accelerators
        return (AcceleratorRequest(model=CPU, count=self.resources.cpus),)
