"""GET /api/v1/usage through the real API: records and their sums, filters, pages, who sees which
usage (an organization its own; a center operator the usage on its organization's centers; the
platform admin all), and clear refusals of bad input."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.agent_api.conftest import Network
from tests.integration.api.conftest import API, problem


def jobs_in(answer: dict[str, Any]) -> set[int]:
    return {item["job_id"] for item in answer["items"]}


def test_each_reads_the_usage_that_is_theirs(net: Network) -> None:
    acme, rival, placed = net.jobs["acme"], net.jobs["rival"], net.jobs["placed"]
    assert jobs_in(net.usage("admin")) == {acme, rival, placed}
    for who in ("acme-owner", "acme-user", "acme-viewer", "acme-auditor"):
        assert jobs_in(net.usage(who)) == {acme}, who
    # the operator: what ran on acme's center, acme's own job and rival's placed there
    assert jobs_in(net.usage("acme-center-operator")) == {acme, placed}
    assert jobs_in(net.usage("rival-user")) == {rival, placed}
    # another organization's job, asked for by id: nothing, as if it had no usage
    assert net.usage("acme-user", job=rival)["items"] == []
    assert net.usage("acme-center-operator", job=rival, group_by="job")["items"] == []


def test_a_record_says_what_ran_where_for_whom(net: Network) -> None:
    (record,) = net.usage("acme-user")["items"]
    assert record["job_id"] == net.jobs["acme"] and record["attempt"] == 1
    assert (record["organization"], record["project"], record["center"], record["center_organization"]) == (
        "acme",
        "default",
        "acme-ai",
        "acme",
    )
    assert (record["accelerator"], record["accelerators"], record["seconds"], record["accelerator_hours"]) == (
        "A100-80G",
        8,
        3600.0,
        8.0,
    )
    assert record["reason"] == "SUCCEEDED" and record["id"] >= 1


def test_sums_per_center_accelerator_project_day_and_job(net: Network) -> None:
    by_center = net.usage("admin", group_by="center")
    assert by_center["group_by"] == "center" and by_center["next_cursor"] is None
    sums = {g["key"]: (g["records"], g["accelerator_hours"], g["seconds"]) for g in by_center["items"]}
    assert sums == {"acme-ai": (2, 8.0 + 0.5, 4500.0), "rival-ai": (1, 2.0, 1800.0)}
    (model,) = net.usage("admin", group_by="accelerator")["items"]
    assert (model["key"], model["accelerator_hours"], model["cpu_hours"]) == ("A100-80G", 10.5, 1.75)
    projects = {g["key"]: g["accelerator_hours"] for g in net.usage("admin", group_by="project")["items"]}
    assert projects == {"acme/default": 8.0, "rival/default": 2.5}
    (day,) = net.usage("acme-user", group_by="day")["items"]
    assert day["key"] == "2026-11-28" and day["accelerator_hours"] == 8.0  # the manual clock's day, UTC
    per_job = {g["key"]: g["accelerator_hours"] for g in net.usage("rival-user", group_by="job")["items"]}
    assert per_job == {str(net.jobs["rival"]): 2.0, str(net.jobs["placed"]): 0.5}


def test_filters_and_pages(net: Network) -> None:
    assert jobs_in(net.usage("admin", center="acme-ai")) == {net.jobs["acme"], net.jobs["placed"]}
    assert jobs_in(net.usage("admin", project="default", job=net.jobs["rival"])) == {net.jobs["rival"]}
    assert net.usage("admin", project="research")["items"] == []
    assert net.usage("admin", since="2999-01-01T00:00:00Z")["items"] == []
    assert net.usage("admin", since="2026-12-02T00:00:00Z", until="2026-12-01T00:00:00Z")["items"] == []  # empty
    assert len(net.usage("admin", until="2999-01-01T00:00:00+08:00")["items"]) == 3
    seen: list[int] = []
    cursor = None
    while True:
        page = net.usage("admin", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(seen) and len(seen) == 3  # in the order written, each once


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"group_by": "week"}, "group_by", "day"),
        ({"since": "yesterday"}, "since", "not a date and time with a zone"),
        ({"until": "2026-02-30T00:00:00Z"}, "until", ""),
        ({"cursor": "x"}, "cursor", ""),
        ({"job": "0"}, "job", ""),
        ({"limit": "0"}, "limit", ""),
    ],
)
def test_bad_input_is_refused_naming_the_parameter(
    api: TestClient, params: dict[str, str], field: str, says: str
) -> None:
    body = problem(api.get(f"{API}/usage", params=params), 422)
    assert any(field in f["field"] for f in body["errors"]), body
    assert says in body["detail"] + " ".join(f["message"] for f in body["errors"])
