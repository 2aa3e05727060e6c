import pytest
from pydantic import ValidationError

from suanli.domain.accelerators import AcceleratorCatalog
from suanli.domain.errors import InvalidSpec
from suanli.domain.jobs import JobSpec


def spec(**fields: object) -> JobSpec:
    return JobSpec.model_validate({"name": "t", "command": "echo hi", **fields})


def test_alternatives_parse_and_resolve_aliases() -> None:
    job = spec(resources={"accelerators": ["a100:8", "910B:8"]}).canonical(AcceleratorCatalog())
    assert [(a.model, a.count) for a in job.resources.accelerators] == [("A100-80G", 8), ("Ascend910B", 8)]


def test_single_accelerator_string_is_one_alternative() -> None:
    assert spec(resources={"accelerators": "T4"}).resources.accelerators[0].count == 1


def test_cpu_job_asks_for_cores_in_cpu_pools() -> None:
    alternatives = spec(resources={"cpus": 16}).alternatives()
    assert [(a.model, a.count) for a in alternatives] == [("CPU", 16)]


def test_unknown_accelerator_names_the_field() -> None:
    with pytest.raises(InvalidSpec) as caught:
        spec(resources={"accelerators": ["A100-80G:8", "Z9000:8"]}).canonical(AcceleratorCatalog())
    assert caught.value.field == "resources.accelerators[1]"
    assert "Z9000" in caught.value.message and "H100" in caught.value.message


def test_catalog_extends_from_config() -> None:
    catalog = AcceleratorCatalog.with_extra([{"name": "X1000", "memory_gb": 96, "throughput": 2.5}])
    assert catalog.canonical("x1000") == "X1000"
    assert catalog.throughput("X1000") == 2.5


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"nodes": 0}, ("nodes",)),
        ({"resources": {"accelerators": ["A100:-1"]}}, ("resources", "accelerators", 0)),
        ({"resources": {"accelerators": ["A100:8:2"]}}, ("resources", "accelerators", 0)),
        ({"resources": {"gpus": 8}}, ("resources", "gpus")),
        ({"time_limit": "soon"}, ("time_limit",)),
        ({"env": {"1BAD": "x"}}, ("env",)),
        ({"constraints": {"deadline": "2026-12-01T10:00:00"}}, ("constraints", "deadline")),
        ({"command": ""}, ("command",)),
        ({"colour": "red"}, ("colour",)),
        ({"time_limit": float("inf")}, ("time_limit",)),
        ({"constraints": {"max_price_per_hour": float("nan")}}, ("constraints", "max_price_per_hour")),
    ],
)
def test_validation_errors_name_the_field(fields: dict[str, object], where: tuple[object, ...]) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(**fields)
    assert [e["loc"][: len(where)] for e in caught.value.errors()] == [where]


def test_time_limit_accepts_human_durations() -> None:
    assert spec(time_limit="1h30m").time_limit == 5400
    assert spec(time_limit=60).time_limit == 60


def test_entrypoint_is_an_alias_of_command() -> None:
    job = JobSpec.model_validate({"name": "t", "entrypoint": ["python", "-m", "train"]})
    assert job.command == ("python", "-m", "train")
