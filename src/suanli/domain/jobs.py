"""Jobs (作业): what a tenant asks to run (the spec) and where it stands (the status).

The spec is validated here so that every way in — YAML, REST, SDK — gives the same errors,
each naming its field. Every limit comes from ``domain/limits.py``, which the scheduler and the
executors read too; the JSON schema of each field states the same limits (``json_schema_extra``),
so the API's OpenAPI document accepts what validation accepts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from suanli.domain.accelerators import CPU, AcceleratorCatalog
from suanli.domain.centers import CenterKind, Model, Name, Region
from suanli.domain.errors import InvalidSpec
from suanli.domain.job_fields import (
    ENV_NAME_PATTERN,
    ENV_SCHEMA,
    LABELS_SCHEMA,
    Command,
    EnvName,
    EnvValue,
    JobName,
    LabelKey,
    LabelValue,
    Seconds,
    Workdir,
    mapping_schema,
)
from suanli.domain.limits import (
    DEADLINE_PATTERN,
    EARLIEST_DEADLINE_YEAR,
    LATEST_DEADLINE_YEAR,
    MAX_ACCELERATORS_PER_NODE,
    MAX_ALTERNATIVES,
    MAX_CONSTRAINT_CENTERS,
    MAX_CONSTRAINT_REGIONS,
    MAX_CPUS_PER_NODE,
    MAX_ENV_BYTES,
    MAX_ENV_NAME_CHARS,
    MAX_ENV_VARIABLES,
    MAX_JOB_PRICE_PER_HOUR,
    MAX_LABELS,
    MAX_MEMORY_GB_PER_NODE,
    MAX_NODES_PER_JOB,
    MAX_PRIORITY,
    MAX_RETRIES,
    MIN_PRIORITY,
    NUMBER_ONLY,
    Float,
    Int,
    utf8_size,
)

_ACCELERATOR_REQUEST = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.\-]*)\s*(?::\s*(-?[0-9]+)\s*)?$")
_BUILTIN = AcceleratorCatalog()
_ENV_NAME = re.compile(ENV_NAME_PATTERN)
SECRET_SHOWN_AS = "***"  # what the API, the CLI and logs show for a secret environment value


class AcceleratorRequest(BaseModel):
    """``model`` × ``count`` accelerators on each node of the job."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    model: Model
    count: Int = Field(default=1, ge=1, le=MAX_ACCELERATORS_PER_NODE)

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


_TEXT_REQUEST = {"type": "string", "pattern": _BUILTIN.request_pattern(), "description": "MODEL or MODEL:COUNT"}


def _resources_schema(schema: dict[str, Any]) -> None:
    """Alternatives may be written as text or one alone; a CPU-only job's cores are capped."""
    request = {"anyOf": [_TEXT_REQUEST, schema["properties"]["accelerators"]["items"]]}
    schema["properties"]["accelerators"] = {
        "anyOf": [request, {"type": "array", "items": request, "maxItems": MAX_ALTERNATIVES}],
        "default": [],
        "description": "accelerators per node, as alternatives: the job runs on any one of them",
    }
    cpu_only_cap = {"properties": {"cpus": {"maximum": MAX_ACCELERATORS_PER_NODE}}}
    schema["anyOf"] = [{"properties": {"accelerators": {"minItems": 1}}, "required": ["accelerators"]}, cpu_only_cap]


class Resources(BaseModel):
    """Per-node resources. ``accelerators`` lists alternatives, any one of which will do."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False, json_schema_extra=_resources_schema)

    accelerators: tuple[AcceleratorRequest, ...] = Field(default=(), max_length=MAX_ALTERNATIVES)
    cpus: Int = Field(default=1, ge=1, le=MAX_CPUS_PER_NODE)
    memory_gb: Float = Field(default=1.0, gt=0, le=MAX_MEMORY_GB_PER_NODE)

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

    @field_validator("cpus")
    @classmethod
    def _cpu_job_fits_a_cpu_node(cls, cpus: int, info: ValidationInfo) -> int:
        # A CPU-only job is placed by cores in a CPU pool, whose nodes count at most this many.
        if "accelerators" in info.data and not info.data["accelerators"] and cpus > MAX_ACCELERATORS_PER_NODE:
            raise PydanticCustomError(
                "cpu_job_too_wide",
                "a job without accelerators takes at most {limit} cores per node (it is placed by cores "
                "in a CPU pool); use more nodes, or fewer cpus",
                {"limit": MAX_ACCELERATORS_PER_NODE},
            )
        return cpus


class Constraints(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    regions: tuple[Region, ...] = Field(default=(), max_length=MAX_CONSTRAINT_REGIONS)
    center_kinds: tuple[CenterKind, ...] = Field(default=(), max_length=4)
    centers: tuple[Name, ...] = Field(default=(), max_length=MAX_CONSTRAINT_CENTERS)
    max_price_per_hour: Annotated[float, Field(ge=0, le=MAX_JOB_PRICE_PER_HOUR), NUMBER_ONLY] | None = Field(
        default=None, description="CNY per hour for the whole job"
    )
    deadline: datetime | None = Field(
        default=None,
        description=(
            "the job must be able to finish by then: a time with a zone, after the job is submitted "
            "(and after its time limit from then), in the years 1970 to 8999"
        ),
        json_schema_extra={"pattern": DEADLINE_PATTERN},
    )

    @field_validator("deadline", mode="before")
    @classmethod
    def _text(cls, value: Any) -> Any:
        # Not a number: pydantic would read one as seconds since 1970, which no one means here.
        if value is not None and not isinstance(value, str | datetime):
            raise ValueError("give the deadline as a time with a zone, e.g. 2026-12-01T18:00:00+08:00")
        return value

    @field_validator("deadline")
    @classmethod
    def _aware_and_in_range(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return value
        if value.tzinfo is None:
            raise ValueError("give the deadline with a time zone, e.g. 2026-12-01T18:00:00+08:00")
        if not EARLIEST_DEADLINE_YEAR <= value.year <= LATEST_DEADLINE_YEAR:
            raise ValueError(
                f"the deadline must lie in the years {EARLIEST_DEADLINE_YEAR} to {LATEST_DEADLINE_YEAR}; "
                "leave it out for none"
            )
        return value


class JobSpec(BaseModel):
    """Everything a tenant says about a job. See docs/job-spec.md for each field."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    name: JobName
    command: Command = Field(validation_alias=AliasChoices("command", "entrypoint"))
    workdir: Workdir | None = None
    env: dict[str, EnvValue] = Field(
        default_factory=dict, max_length=MAX_ENV_VARIABLES, json_schema_extra=mapping_schema(ENV_SCHEMA)
    )
    secret_env: tuple[EnvName, ...] = Field(
        default=(),
        max_length=MAX_ENV_VARIABLES,
        description=(
            "names of env variables whose values are secret: the job gets them, but the API, the CLI and "
            f"the logs show each as {SECRET_SHOWN_AS!r}"
        ),
    )
    resources: Resources = Field(default_factory=Resources)
    nodes: Int = Field(default=1, ge=1, le=MAX_NODES_PER_JOB, description="gang size: all nodes start together or none")
    priority: Int = Field(default=0, ge=MIN_PRIORITY, le=MAX_PRIORITY)
    time_limit: Seconds | None = Field(default=None, description="run-time limit; also the backfill estimate")
    constraints: Constraints = Field(default_factory=Constraints)
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, max_length=MAX_LABELS, json_schema_extra=mapping_schema(LABELS_SCHEMA)
    )
    max_retries: Int = Field(default=0, ge=0, le=MAX_RETRIES)

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        for key in env:
            if len(key) > MAX_ENV_NAME_CHARS or not _ENV_NAME.match(key):
                shown = repr(key) if len(key) <= 40 else f"{key[:40]!r}..."
                raise ValueError(
                    f"{shown} is not a valid environment variable name ([A-Za-z_][A-Za-z0-9_]*, "
                    f"at most {MAX_ENV_NAME_CHARS} characters)"
                )
        if env:
            size = utf8_size([f"{k}={v}" for k, v in env.items()])
            if size > MAX_ENV_BYTES:
                raise ValueError(
                    f"the environment takes {size} bytes; it may take at most {MAX_ENV_BYTES} "
                    "(NAME=value, UTF-8, one NUL each)"
                )
        return env

    @field_validator("secret_env")
    @classmethod
    def _secrets_are_set(cls, names: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # Items are named by their index only: one that is not in env may be a value pasted here.
        env = info.data.get("env")  # absent when env itself was refused
        if env is not None:
            for index, name in enumerate(names):
                if name not in env:
                    raise PydanticCustomError(
                        "secret_env_unset",
                        "item {index} names a variable that env does not set: give its value in env, and its name here",
                        {"index": index},
                    )
        return tuple(dict.fromkeys(names))  # each once, in the order given

    def redacted(self) -> JobSpec:
        """The spec as the API and the CLI show it: each secret variable's value replaced by
        ``SECRET_SHOWN_AS``. The spec itself, with its values, goes only to the center's agent."""
        if not self.secret_env:
            return self
        secret = frozenset(self.secret_env)
        env = {name: SECRET_SHOWN_AS if name in secret else value for name, value in self.env.items()}
        return self.model_copy(update={"env": env})

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

    def check_submitted_at(self, now: datetime) -> None:
        """Refuses what can never run from ``now`` on: a deadline already past, or one that even
        a run started now could not meet. Raises InvalidSpec naming the deadline."""
        deadline = self.constraints.deadline
        if deadline is None:
            return
        if deadline <= now:
            raise InvalidSpec(
                f"the deadline {deadline.isoformat()} has already passed; give a later one, or none",
                field="constraints.deadline",
            )
        if self.time_limit is not None and now.timestamp() + self.time_limit > deadline.timestamp():
            raise InvalidSpec(
                f"a run of up to {self.time_limit:g}s started now would end after the deadline "
                f"{deadline.isoformat()}; give a later deadline or a shorter time_limit",
                field="constraints.deadline",
            )

    def alternatives(self) -> tuple[AcceleratorRequest, ...]:
        """Per-node requests to try; a CPU-only job asks for CPU cores in CPU pools."""
        if self.resources.accelerators:
            return self.resources.accelerators
        return (AcceleratorRequest(model=CPU, count=self.resources.cpus),)
