"""The limits of domain/limits.py: what validation accepts is what the scheduler can build a
request for, and what it refuses names its field; the schema patterns agree with the parsers."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from suanli.domain import limits
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.centers import CenterSpec, Pool
from suanli.domain.durations import DURATION_PATTERN, parse_duration
from suanli.domain.job_fields import ENV_NAME_PATTERN
from suanli.domain.jobs import AcceleratorRequest, JobSpec
from suanli.scheduler.request import SchedulingRequest

CATALOG = AcceleratorCatalog()


def spec(**fields: Any) -> JobSpec:
    return JobSpec.model_validate({"name": "t", "command": "echo hi", **fields})


def refused_at(fields: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        spec(**fields)
    return [e["loc"] for e in caught.value.errors()]


AT_THE_LIMITS: list[dict[str, Any]] = [
    {"resources": {"cpus": limits.MAX_ACCELERATORS_PER_NODE}},  # CPU-only: cores in a CPU pool
    {"resources": {"cpus": limits.MAX_CPUS_PER_NODE, "accelerators": f"A100:{limits.MAX_ACCELERATORS_PER_NODE}"}},
    {"resources": {"memory_gb": limits.MAX_MEMORY_GB_PER_NODE}, "nodes": limits.MAX_NODES_PER_JOB},
    {"time_limit": limits.MAX_TIME_LIMIT_S, "priority": limits.MAX_PRIORITY, "max_retries": limits.MAX_RETRIES},
    {"priority": limits.MIN_PRIORITY, "constraints": {"max_price_per_hour": limits.MAX_JOB_PRICE_PER_HOUR}},
    {"constraints": {"deadline": "8999-12-31T23:59:59-14:00"}, "time_limit": "365d"},  # 9000 in UTC
    {"constraints": {"deadline": "1970-01-01T00:00:00+14:00"}},  # 1969 in UTC
]


@pytest.mark.parametrize("fields", AT_THE_LIMITS)
def test_a_spec_at_the_limits_builds_a_scheduling_request(fields: dict[str, Any]) -> None:
    canonical = spec(**fields).canonical(CATALOG)
    request = SchedulingRequest.from_spec(1, canonical)
    assert request.shape.alternatives and request.shape.nodes >= 1
    if request.shape.deadline is not None:  # what the scheduler's reasons print
        end = request.shape.deadline + (request.shape.time_limit or 0)
        assert datetime.fromtimestamp(end, UTC).year <= 9999


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"resources": {"cpus": limits.MAX_ACCELERATORS_PER_NODE + 1}}, ("resources", "cpus")),
        ({"resources": {"cpus": 2000, "accelerators": []}}, ("resources", "cpus")),
        ({"resources": {"cpus": limits.MAX_CPUS_PER_NODE + 1, "accelerators": "A100"}}, ("resources", "cpus")),
        ({"resources": {"accelerators": "A100:1025"}}, ("resources", "accelerators", 0, "count")),
        ({"resources": {"memory_gb": 1e308}}, ("resources", "memory_gb")),
        ({"nodes": limits.MAX_NODES_PER_JOB + 1}, ("nodes",)),
        ({"time_limit": limits.MAX_TIME_LIMIT_S + 1}, ("time_limit",)),
        ({"time_limit": "366d"}, ("time_limit",)),
        ({"time_limit": 1e308}, ("time_limit",)),
        ({"time_limit": "9" * 400 + "s"}, ("time_limit",)),
        ({"priority": limits.MAX_PRIORITY + 1}, ("priority",)),
        ({"max_retries": limits.MAX_RETRIES + 1}, ("max_retries",)),
        ({"constraints": {"max_price_per_hour": 1e308}}, ("constraints", "max_price_per_hour")),
        ({"constraints": {"deadline": "0001-01-01T00:00:00+14:00"}}, ("constraints", "deadline")),
        ({"constraints": {"deadline": "9999-12-31T23:59:59-14:00"}}, ("constraints", "deadline")),
        ({"constraints": {"deadline": "1969-12-31T23:59:59Z"}}, ("constraints", "deadline")),
        ({"constraints": {"deadline": "9000-01-01T00:00:00+14:00"}}, ("constraints", "deadline")),
        ({"constraints": {"deadline": 0}}, ("constraints", "deadline")),
        ({"constraints": {"centers": ["Not A Center"]}}, ("constraints", "centers", 0)),
        ({"constraints": {"regions": ["r" * 101]}}, ("constraints", "regions", 0)),
    ],
)
def test_a_value_past_a_limit_is_refused_naming_its_field(fields: dict[str, Any], where: tuple[Any, ...]) -> None:
    assert [loc[: len(where)] for loc in refused_at(fields)] == [where]


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"command": "x" * (limits.MAX_ARGUMENT_CHARS + 1)}, ("command",)),
        ({"command": ["x" * (limits.MAX_ARGUMENT_CHARS + 1)]}, ("command",)),
        ({"command": ["true"] + ["a"] * limits.MAX_ARGUMENTS}, ("command",)),
        ({"command": ["x" * 10_000] * 7}, ("command",)),  # each fits, together 70,007 bytes
        ({"command": [""]}, ("command",)),
        ({"command": [" ", "x"]}, ("command",)),
        ({"command": "   "}, ("command",)),
        ({"command": 5}, ("command",)),
        ({"env": {"V": "x" * (limits.MAX_ENV_VALUE_CHARS + 1)}}, ("env", "V")),
        ({"env": {f"V{i}": "x" * 1000 for i in range(70)}}, ("env",)),
        ({"env": {"V" * (limits.MAX_ENV_NAME_CHARS + 1): "x"}}, ("env",)),
        ({"labels": {"k" * (limits.MAX_LABEL_KEY_CHARS + 1): "v"}}, ("labels",)),
        ({"labels": {"": "v"}}, ("labels",)),
        ({"labels": {"k": "v" * (limits.MAX_LABEL_VALUE_CHARS + 1)}}, ("labels", "k")),
        ({"labels": {f"k{i}": "v" for i in range(limits.MAX_LABELS + 1)}}, ("labels",)),
        ({"workdir": "/" + "d" * limits.MAX_WORKDIR_CHARS}, ("workdir",)),
        ({"name": "n" * (limits.MAX_NAME_CHARS + 1)}, ("name",)),
    ],
)
def test_text_past_its_limit_is_refused(fields: dict[str, Any], where: tuple[Any, ...]) -> None:
    assert [loc[: len(where)] for loc in refused_at(fields)] == [where]


def test_text_at_its_limits_is_accepted_and_stays_below_what_execve_takes() -> None:
    argument = "é" * limits.MAX_ARGUMENT_CHARS  # two bytes each
    job = spec(
        command=["x" * (limits.MAX_ARGUMENT_CHARS - 1)] * 4,  # with their NULs: exactly the total
        env={f"V{i}": "x" * (limits.MAX_ENV_VALUE_CHARS - 4) for i in range(4)},  # "Vi=" + value + NUL
        labels={"k" * limits.MAX_LABEL_KEY_CHARS: "v" * limits.MAX_LABEL_VALUE_CHARS},
        workdir="/" + "d" * (limits.MAX_WORKDIR_CHARS - 1),
    )
    assert limits.utf8_size(list(job.command)) == limits.MAX_COMMAND_BYTES
    assert limits.utf8_size([f"{k}={v}" for k, v in job.env.items()]) == limits.MAX_ENV_BYTES
    assert spec(command=argument).command == argument
    max_arg_strlen = 131_072  # Linux: one argument or NAME=value, with its NUL
    assert 4 * max(limits.MAX_ARGUMENT_CHARS, limits.MAX_ENV_VALUE_CHARS + limits.MAX_ENV_NAME_CHARS) < max_arg_strlen
    assert limits.MAX_COMMAND_BYTES + limits.MAX_ENV_BYTES <= 2 * 65_536 < 2**21  # ARG_MAX: 2 MiB


NUL = "a\x00b"


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"name": NUL}, ("name",)),
        ({"command": NUL}, ("command",)),
        ({"command": ["python", NUL]}, ("command",)),
        ({"env": {"V": NUL}}, ("env", "V")),
        ({"env": {NUL: "v"}}, ("env",)),
        ({"labels": {"k": NUL}}, ("labels", "k")),
        ({"labels": {NUL: "v"}}, ("labels", NUL)),
        ({"workdir": NUL}, ("workdir",)),
        ({"constraints": {"regions": [NUL]}}, ("constraints", "regions", 0)),
        ({"resources": {"accelerators": [{"model": NUL}]}}, ("resources", "accelerators", 0, "model")),
        ({"resources": {"accelerators": [NUL]}}, ("resources", "accelerators", 0)),
        ({"name": "\ud800"}, ("name",)),  # a lone surrogate: not text either
    ],
)
def test_nul_is_refused_in_every_string_of_a_spec(fields: dict[str, Any], where: tuple[Any, ...]) -> None:
    assert [loc[: len(where)] for loc in refused_at(fields)] == [where]


def pool(**fields: Any) -> dict[str, Any]:
    base = {
        "name": "p",
        "accelerator": "A100",
        "accelerators_per_node": 8,
        "cpus_per_node": 64,
        "memory_gb_per_node": 512,
        "nodes": 2,
        "price_per_accelerator_hour": 10,
    }
    return {**base, **fields}


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"accelerators_per_node": limits.MAX_ACCELERATORS_PER_NODE + 1}, "accelerators_per_node"),
        ({"price_per_accelerator_hour": 1e308}, "price_per_accelerator_hour"),
        ({"carbon_intensity": 1e308}, "carbon_intensity"),
        ({"nodes": limits.MAX_NODES_PER_POOL + 1}, "nodes"),
        ({"accelerator": NUL}, "accelerator"),
        ({"accelerator": "x" * 65}, "accelerator"),
        ({"share_gpus": True, "nodes": 200_000, "accelerators_per_node": 8}, None),
    ],
)
def test_pool_limits(fields: dict[str, Any], where: str | None) -> None:
    with pytest.raises(ValidationError) as caught:
        Pool.model_validate(pool(**fields))
    assert [e["loc"] for e in caught.value.errors()] == [(where,) if where else ()]


def test_center_text_refuses_nul() -> None:
    center = {"name": "c", "owner": "org", "kind": "ai", "region": "r"}
    for field in ("owner", "region"):
        with pytest.raises(ValidationError) as caught:
            CenterSpec.model_validate({**center, field: NUL})
        assert [e["loc"] for e in caught.value.errors()] == [(field,)]


@given(st.text(alphabet="0123456789.smhdSMHD xq\t-", max_size=12))
def test_the_duration_pattern_is_what_the_parser_reads(text: str) -> None:
    matches = re.match(DURATION_PATTERN, text) is not None
    try:
        parse_duration(text)
    except ValueError as error:
        assert not matches or "positive" in str(error)
    else:
        assert matches


NAMES = sorted({n for m in CATALOG for n in (m.name, *m.aliases)})


@given(st.sampled_from(NAMES), st.randoms(use_true_random=False))
def test_every_catalog_name_matches_the_patterns_in_any_case(name: str, rnd: Any) -> None:
    written = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in name)
    assert re.match(CATALOG.name_pattern(), written)
    assert re.match(CATALOG.request_pattern(), f"{written}:8")
    assert AcceleratorRequest.model_validate(f"{written}:8").count == 8


@given(st.text(alphabet="aAhH0189bBgG-_ :xcpuCPU", max_size=14))
def test_text_the_request_pattern_takes_is_a_request_the_server_takes(text: str) -> None:
    if re.match(CATALOG.request_pattern(), text):
        request = AcceleratorRequest.model_validate(text)
        assert CATALOG.canonical(request.model)
    if re.match(CATALOG.name_pattern(), text) and len(text) <= limits.MAX_MODEL_CHARS:
        assert CATALOG.canonical(text)


def test_env_name_pattern_and_nul_pattern() -> None:
    assert re.match(ENV_NAME_PATTERN, "_A1") and not re.match(ENV_NAME_PATTERN, "1A")
    assert re.match(limits.NO_NUL_PATTERN, "ok") and not re.match(limits.NO_NUL_PATTERN, NUL)
