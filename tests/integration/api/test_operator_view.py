"""The center operator's view, through the real API on SQLite and PostgreSQL: an operator sees the
jobs of any organization placed, now or in an earlier attempt, on the centers its organization
owns, with secret values redacted, and may neither cancel them nor read their output; nothing
else of other organizations. Pages and filters count exactly that set (the database selects it).

Organizations: acme submits work; bhub owns the center b-site; cnet owns c-site, where nothing
runs; the platform's own p-site takes the rest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.composition import Container
from suanli.domain.identity import OrganizationKind, PrincipalKind, Role, Scope
from tests.integration.agent_api.conftest import Agent
from tests.integration.api.conftest import API, center, job, pool, problem
from tests.integration.api.test_auth import client_with

SECRET = "operator-must-not-see-this-0b7e"


def person(container: Container, name: str, organization: str, *roles: Role) -> TestClient:
    """A user of ``organization`` holding ``roles`` there, signed in with a full token."""
    if organization not in {o.name for o in container.identity.list_organizations()}:
        container.identity.create_organization(organization, OrganizationKind.ENTERPRISE)
    container.identity.create_principal(name, PrincipalKind.USER, organization, roles)
    token, _ = container.identity.mint_token(name, "test", list(Scope), None)
    return client_with(container, token)


def submit(client: TestClient, name: str, *centers: str, **extra: Any) -> int:
    body = job(name, "A100:1", constraints={"centers": list(centers)} if centers else {}, **extra)
    response = client.post(f"{API}/jobs", json=body)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


@dataclass
class Network:
    container: Container
    admin: TestClient
    alice: TestClient  # member of acme
    otto: TestClient  # center operator of bhub, which owns b-site
    carol: TestClient  # center operator of cnet, which owns c-site
    bea: TestClient  # member of bhub
    mixed: TestClient  # member and center operator of bhub
    on_b: list[int]  # acme's jobs on b-site, newest first
    moved: int  # acme's job that was on b-site, refused there, and runs on p-site now
    elsewhere: list[int]  # acme's jobs never on b-site: on p-site, and one that fits nowhere
    bhubs_own: int  # bhub's own job, on p-site


def ids(client: TestClient, **params: Any) -> list[int]:
    response = client.get(f"{API}/jobs", params=params)
    assert response.status_code == 200, response.text
    return [j["id"] for j in response.json()["jobs"]]


def pages(client: TestClient, limit: int, **params: Any) -> list[int]:
    """Every job a listing shows, a page of ``limit`` at a time, following the cursors."""
    seen: list[int] = []
    cursor: str | None = None
    while True:
        body = client.get(f"{API}/jobs", params={**params, "limit": limit, **({"cursor": cursor} if cursor else {})})
        assert body.status_code == 200, body.text
        page = body.json()
        assert len(page["jobs"]) <= limit
        seen += [j["id"] for j in page["jobs"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


@pytest.fixture
def network(api: TestClient, container: Container) -> Iterator[Network]:
    alice = person(container, "alice", "acme", Role.MEMBER)
    otto = person(container, "otto", "bhub", Role.CENTER_OPERATOR)
    carol = person(container, "carol", "cnet", Role.CENTER_OPERATOR)
    bea = person(container, "bea", "bhub", Role.MEMBER)
    mixed = person(container, "max", "bhub", Role.MEMBER, Role.CENTER_OPERATOR)
    assert otto.post(f"{API}/centers", json=center("b-site", pool(price=1))).status_code == 201  # owned by bhub
    assert carol.post(f"{API}/centers", json=center("c-site", pool(price=1))).status_code == 201  # owned by cnet
    assert api.post(f"{API}/centers", json=center("p-site", pool(price=50))).status_code == 201  # the platform's
    secret = {"env": {"HF_TOKEN": SECRET, "MODE": "fast"}, "secret_env": ["HF_TOKEN"]}

    on_b, elsewhere = [], []
    for i in range(3):  # interleaved, so that pages of the operator's view skip other jobs
        on_b.append(submit(alice, f"on-b-{i}", "b-site", **secret))
        elsewhere.append(submit(alice, f"on-p-{i}", "p-site", **secret))
    elsewhere.append(submit(alice, "fits-nowhere", "no-such-site"))
    bhubs_own = submit(bea, "bhubs-own", "p-site")
    moved = submit(alice, "moved", "b-site", "p-site", max_retries=1, **secret)  # b-site is cheaper
    container.loop.run_once()
    assert api.get(f"{API}/jobs/{moved}").json()["placement"]["center"] == "b-site"
    token = otto.post(f"{API}/centers/b-site/tokens").json()["token"]
    assert Agent(api, token).report(moved, 1, "REFUSED", message="no room after all").status_code == 200
    assert otto.post(f"{API}/centers/b-site/drain").status_code == 200
    container.loop.run_once()
    assert api.get(f"{API}/jobs/{moved}").json()["placement"]["center"] == "p-site"
    for job_id in on_b:
        assert api.get(f"{API}/jobs/{job_id}").json()["placement"]["center"] == "b-site"
    yield Network(container, api, alice, otto, carol, bea, mixed, on_b[::-1], moved, elsewhere, bhubs_own)


def test_an_operator_sees_the_jobs_on_its_centers_redacted(network: Network) -> None:
    otto = network.otto
    visible = [network.moved, *network.on_b]  # newest first
    assert ids(otto) == visible
    for shown in otto.get(f"{API}/jobs").json()["jobs"]:
        assert shown["tenant_id"] == "acme"
        assert shown["spec"]["env"] == {"HF_TOKEN": "***", "MODE": "fast"}
    for job_id in visible:
        one = otto.get(f"{API}/jobs/{job_id}")
        assert one.status_code == 200 and one.json()["spec"]["env"]["HF_TOKEN"] == "***"
        assert otto.get(f"{API}/jobs/{job_id}/explain").status_code == 200
        assert otto.get(f"{API}/jobs/{job_id}/attempts").status_code == 200
    answers = [otto.get(f"{API}/jobs").text] + [otto.get(f"{API}/jobs/{j}").text for j in visible]
    assert not [text for text in answers if SECRET in text]
    # Both attempts of the moved job are shown, the one on b-site and the one after it.
    centers = [a["center"] for a in otto.get(f"{API}/jobs/{network.moved}/attempts").json()["attempts"]]
    assert centers == ["b-site", "p-site"]


def test_an_operator_may_not_cancel_them_nor_read_their_output(network: Network) -> None:
    job_id = network.on_b[0]
    assert "job.cancel" in problem(network.otto.post(f"{API}/jobs/{job_id}/cancel"), 403)["detail"]
    assert "job.logs" in problem(network.otto.get(f"{API}/jobs/{job_id}/logs"), 403)["detail"]
    # A member who is also an operator may cancel and read its own organization's jobs, not these.
    assert problem(network.mixed.post(f"{API}/jobs/{job_id}/cancel"), 404)
    assert problem(network.mixed.get(f"{API}/jobs/{job_id}/logs"), 404)
    assert network.admin.get(f"{API}/jobs/{job_id}").json()["status"] == "SCHEDULED"  # untouched


def test_other_organizations_jobs_stay_hidden(network: Network) -> None:
    for job_id in [*network.elsewhere, network.bhubs_own]:
        for path in ("", "/explain", "/attempts"):
            assert network.otto.get(f"{API}/jobs/{job_id}{path}").status_code == 404, (job_id, path)
    # cnet's operator: its center ran nothing, so it sees nothing, not even what b-site ran.
    assert ids(network.carol) == []
    for job_id in [*network.on_b, network.moved]:
        assert problem(network.carol.get(f"{API}/jobs/{job_id}"), 404)
    # bhub's member sees bhub's own work, not acme's jobs on bhub's center.
    assert ids(network.bea) == [network.bhubs_own]
    for job_id in network.on_b:
        assert problem(network.bea.get(f"{API}/jobs/{job_id}"), 404)


def test_a_member_who_is_also_an_operator_sees_both_sets(network: Network) -> None:
    assert ids(network.mixed) == sorted([network.bhubs_own, network.moved, *network.on_b], reverse=True)
    assert network.mixed.get(f"{API}/jobs/{network.bhubs_own}").status_code == 200
    assert network.mixed.get(f"{API}/jobs/{network.elsewhere[0]}").status_code == 404


def test_pages_and_filters_count_only_the_jobs_in_view(network: Network) -> None:
    otto, full = network.otto, ids(network.otto)
    assert pages(otto, 1) == pages(otto, 2) == full
    assert pages(otto, 1, status="SCHEDULED,PENDING") == full  # several statuses: one query per status
    cancelled, *scheduled = network.on_b
    assert network.alice.post(f"{API}/jobs/{cancelled}/cancel").status_code == 200  # by its submitter
    assert ids(otto, status="CANCELLED") == [cancelled]
    assert pages(otto, 1, status="SCHEDULED") == [network.moved, *scheduled]
    assert ids(otto, center="p-site") == [network.moved]  # on p-site now, on b-site before
    assert ids(otto, center="b-site") == network.on_b
    assert ids(otto, name="on-b-1") == [network.on_b[1]]
    assert ids(otto, name="on-p") == []
    mixed = ids(network.mixed)
    assert pages(network.mixed, 1) == mixed


def test_the_submitters_and_the_platform_admins_views_are_unchanged(network: Network) -> None:
    acme = sorted([*network.on_b, network.moved, *network.elsewhere], reverse=True)
    assert ids(network.alice) == acme
    assert ids(network.admin) == sorted([*acme, network.bhubs_own], reverse=True)
    shown = network.alice.get(f"{API}/jobs/{network.on_b[0]}").json()
    assert shown["spec"]["env"]["HF_TOKEN"] == "***"  # not even its submitter reads a secret back
