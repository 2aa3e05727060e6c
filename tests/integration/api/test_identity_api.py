"""The identity routes: who am I, tokens, organizations, projects, members; and the 401 problem."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from suanli.adapters.api import create_app
from suanli.composition import Container
from tests.integration.api.conftest import API, problem


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(container: Container) -> TestClient:
    """Signed out: each request here carries the token it means to."""
    return TestClient(create_app(container))


def test_no_token_or_a_bad_one_is_a_401_that_says_what_to_do(api: TestClient) -> None:
    body = problem(api.get(f"{API}/whoami"), 401)
    assert "Authorization: Bearer sk_" in body["detail"] and "suanli login" in body["detail"]
    response = api.get(f"{API}/whoami", headers=bearer("sk_" + "a" * 43))
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "not known here" in problem(response, 401)["detail"]
    assert "malformed" in problem(api.get(f"{API}/whoami", headers=bearer("sk_nope")), 401)["detail"]


def test_tokens_organizations_and_members_over_http(api: TestClient, container: Container, tmp_path: Path) -> None:
    admin = container.identity.bootstrap(tmp_path / "token")
    assert admin is not None
    who = api.get(f"{API}/whoami", headers=bearer(admin)).json()
    assert who["name"] == "admin" and who["roles"] == ["platform-admin"] and who["token_name"] == "bootstrap"

    made = api.post(f"{API}/tokens", headers=bearer(admin), json={"name": "ci", "scopes": ["read"]})
    assert made.status_code == 201, made.text
    token = made.json()["token"]
    assert api.get(f"{API}/whoami", headers=bearer(token)).json()["scopes"] == ["read"]
    problem(api.post(f"{API}/tokens", headers=bearer(admin), json={"name": "Bad Name"}), 422)
    problem(api.post(f"{API}/tokens", headers=bearer(admin), json={"name": "x", "expires_in_s": 0}), 422)
    assert [t["name"] for t in api.get(f"{API}/tokens", headers=bearer(admin)).json()["tokens"]] == ["bootstrap", "ci"]

    prefix = made.json()["prefix"]
    assert api.delete(f"{API}/tokens/sk_{prefix}", headers=bearer(admin)).json()["state"] == "revoked"
    assert "revoked" in problem(api.get(f"{API}/whoami", headers=bearer(token)), 401)["detail"]
    problem(api.delete(f"{API}/tokens/nope1234", headers=bearer(admin)), 404)
    problem(api.delete(f"{API}/tokens/bad", headers=bearer(admin)), 422)

    org = {"name": "qd-university", "kind": "university", "display_name": "Qingdao University"}
    assert api.post(f"{API}/organizations", headers=bearer(admin), json=org).status_code == 201
    problem(api.post(f"{API}/organizations", headers=bearer(admin), json=org), 409)
    problem(api.post(f"{API}/organizations", headers=bearer(admin), json={**org, "kind": "startup"}), 422)
    projects = f"{API}/organizations/qd-university/projects"
    assert api.post(projects, headers=bearer(admin), json={"name": "vision"}).status_code == 201
    assert api.get(projects, headers=bearer(admin)).json() == {
        "projects": [{"organization": "qd-university", "name": "vision"}]
    }
    problem(api.get(f"{API}/organizations/nope/projects", headers=bearer(admin)), 404)
    member = {"name": "ci-bot", "role": "member", "kind": "service"}
    added = api.post(f"{API}/organizations/qd-university/members", headers=bearer(admin), json=member)
    assert added.status_code == 201 and added.json()["roles"] == ["member"]
    problem(api.post(f"{API}/organizations/qd-university/members", headers=bearer(admin), json={"name": "x"}), 422)


def test_a_role_taken_away_is_gone_from_the_next_request(api: TestClient, container: Container, tmp_path: Path) -> None:
    admin = container.identity.bootstrap(tmp_path / "token")
    assert admin is not None
    api.post(f"{API}/organizations", headers=bearer(admin), json={"name": "acme", "kind": "lab"})
    for role in ("member", "viewer"):
        added = api.post(f"{API}/organizations/acme/members", headers=bearer(admin), json={"name": "bo", "role": role})
        assert added.status_code == 201
    token = api.post(f"{API}/tokens", headers=bearer(admin), json={"name": "t", "principal": "bo"}).json()["token"]
    assert api.post(f"{API}/jobs", headers=bearer(token), json={"name": "j", "resources": {}}).status_code != 403

    taken = api.delete(f"{API}/organizations/acme/members/bo", headers=bearer(admin), params={"role": "member"})
    assert taken.status_code == 200 and taken.json()["roles"] == ["viewer"]
    refused = problem(api.post(f"{API}/jobs", headers=bearer(token), json={"name": "j", "resources": {}}), 403)
    assert "job.submit" in refused["detail"]  # the cached lookup was dropped at once
    again = api.delete(f"{API}/organizations/acme/members/bo", headers=bearer(admin), params={"role": "member"})
    assert "nothing to remove" in problem(again, 404)["detail"]
    everything = api.delete(f"{API}/organizations/acme/members/bo", headers=bearer(admin))
    assert everything.json()["roles"] == []
    assert [
        m["name"] for m in api.get(f"{API}/organizations/acme/members", headers=bearer(admin)).json()["members"]
    ] == ["bo"]  # at home in acme still, with no role
    own = api.delete(f"{API}/organizations/default/members/admin", headers=bearer(admin))
    assert "your own platform-admin" in problem(own, 409)["detail"]
