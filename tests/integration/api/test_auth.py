"""Who may do what, through the real API on SQLite and PostgreSQL: every route is in the permission
table, requests without a good token are refused saying what to do, a token's scopes and roles
bound what it may do, and organizations see and change only their own work."""

from __future__ import annotations

from fastapi.testclient import TestClient

from suanli.adapters.api import create_app
from suanli.adapters.api.auth import AGENT_PREFIX, API_PREFIX, PUBLIC, ROUTES
from suanli.composition import Container
from suanli.domain.identity import OrganizationKind, PrincipalKind, Role, Scope
from tests.integration.api.conftest import API, center, job, problem


def client_with(container: Container, token: str | None) -> TestClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return TestClient(create_app(container), headers=headers)


def person(container: Container, name: str, organization: str, role: Role, scopes: list[Scope] | None = None) -> str:
    """A user of ``organization`` with ``role``, and a token of theirs."""
    if organization not in {o.name for o in container.identity.list_organizations()}:
        container.identity.create_organization(organization, OrganizationKind.ENTERPRISE)
    container.identity.create_principal(name, PrincipalKind.USER, organization, [role])
    token, _ = container.identity.mint_token(name, "test", scopes or list(Scope), None)
    return token


def test_every_route_has_an_entry_in_the_permission_table(api: TestClient) -> None:
    routes = {
        (method.upper(), path.removeprefix(API_PREFIX))
        for path, operations in api.app.openapi()["paths"].items()  # type: ignore[attr-defined]
        for method in operations
    }
    ours = {route for route in routes if not route[1].startswith(AGENT_PREFIX)}
    assert ours, routes
    assert ours - set(ROUTES) == set(), "routes nobody may call until the table names their permission"
    public = {route for route, permission in ROUTES.items() if permission is PUBLIC}
    # Open to anyone: the health check, and the ways in (signing in), which make their own checks.
    assert {route for route in public if not route[1].startswith("/auth/")} == {("GET", "/health")}
    assert ("POST", "/auth/login") in public and ("POST", "/auth/logout") not in public


def test_requests_without_a_good_token_are_refused_saying_what_to_do(api: TestClient, container: Container) -> None:
    anonymous = client_with(container, None)
    assert anonymous.get(f"{API}/health").status_code == 200  # the only public route
    body = problem(anonymous.post(f"{API}/jobs", json=job()), 401)
    assert "Authorization: Bearer" in body["detail"] and "suanli login" in body["detail"]
    assert problem(anonymous.get(f"{API}/centers"), 401)
    assert problem(client_with(container, "not-a-token").get(f"{API}/jobs"), 401)
    unknown = problem(client_with(container, "sk_" + "A" * 43).get(f"{API}/jobs"), 401)
    assert unknown["detail"]
    basic = anonymous.get(f"{API}/jobs", headers={"Authorization": "Basic YWRtaW46YWRtaW4="})
    assert "Bearer" in problem(basic, 401)["detail"]
    assert api.get(f"{API}/jobs").json()["jobs"] == []  # nothing was stored by a refused request


def test_a_token_does_no_more_than_its_scopes_and_roles_allow(api: TestClient, container: Container) -> None:
    reader = client_with(container, person(container, "rita", "acme", Role.MEMBER, [Scope.READ]))
    refused = problem(reader.post(f"{API}/jobs", json=job()), 403)
    assert "job.submit" in refused["detail"]
    assert reader.get(f"{API}/jobs").status_code == 200

    viewer = client_with(container, person(container, "vic", "acme", Role.VIEWER))
    assert "job.submit" in problem(viewer.post(f"{API}/jobs", json=job()), 403)["detail"]
    assert "center.register" in problem(viewer.post(f"{API}/centers", json=center("v-site")), 403)["detail"]
    assert viewer.get(f"{API}/centers").status_code == 200


def test_an_organization_sees_and_changes_only_its_own_jobs(api: TestClient, container: Container) -> None:
    theirs = api.post(f"{API}/jobs", json=job("admins-job")).json()["id"]  # organization "default"
    alice = client_with(container, person(container, "alice", "acme", Role.MEMBER))
    mine = alice.post(f"{API}/jobs", json=job("alices-job"))
    assert mine.status_code == 201, mine.text
    assert mine.json()["tenant_id"] == "acme"

    assert [j["name"] for j in alice.get(f"{API}/jobs").json()["jobs"]] == ["alices-job"]
    for path in ("", "/explain", "/attempts", "/logs"):
        assert alice.get(f"{API}/jobs/{theirs}{path}").status_code == 404, path  # not 403: it does not exist for her
    assert alice.post(f"{API}/jobs/{theirs}/cancel").status_code == 404
    assert api.get(f"{API}/jobs/{theirs}").json()["status"] == "PENDING"  # untouched

    # A platform admin sees every organization's work.
    assert {j["name"] for j in api.get(f"{API}/jobs").json()["jobs"]} == {"admins-job", "alices-job"}


def test_only_the_owning_organization_changes_a_center(api: TestClient, container: Container) -> None:
    assert api.post(f"{API}/centers", json=center("platform-site")).status_code == 201
    bob = client_with(container, person(container, "bob", "acme", Role.ORG_ADMIN))
    assert bob.post(f"{API}/centers", json=center("acme-site")).status_code == 201
    listed = {c["name"]: c for c in bob.get(f"{API}/centers").json()["centers"]}
    assert listed["acme-site"]["organization"] == "acme" and "platform-site" in listed  # the network is shared

    refused = problem(bob.post(f"{API}/centers/platform-site/drain"), 403)
    assert "belongs to the organization default" in refused["detail"]
    assert problem(bob.post(f"{API}/centers/platform-site/tokens"), 403)
    assert api.get(f"{API}/centers/platform-site").json()["state"] == "ONLINE"
    assert bob.post(f"{API}/centers/acme-site/drain").json()["state"] == "DRAINING"
    assert bob.post(f"{API}/centers/acme-site/tokens").status_code == 201


def test_a_disabled_principal_is_refused_until_enabled(api: TestClient, container: Container) -> None:
    carol = client_with(container, person(container, "carol", "acme", Role.MEMBER))
    assert carol.get(f"{API}/jobs").status_code == 200
    dave = client_with(container, person(container, "dave", "acme", Role.ORG_ADMIN))

    assert "org.manage" in problem(carol.post(f"{API}/principals/dave/disable"), 403)["detail"]
    assert dave.post(f"{API}/principals/carol/disable").json()["disabled"] is True
    refused = problem(carol.get(f"{API}/jobs"), 401)  # at once: the same process forgot her tokens
    assert "disabled" in refused["detail"]
    assert problem(dave.post(f"{API}/principals/dave/disable"), 409)  # nobody disables themselves
    other = client_with(container, person(container, "erin", "globex", Role.ORG_ADMIN))
    assert problem(other.post(f"{API}/principals/carol/enable"), 404)  # not erin's organization: not there
    assert dave.post(f"{API}/principals/carol/enable").json()["disabled"] is False
    assert carol.get(f"{API}/jobs").status_code == 200
