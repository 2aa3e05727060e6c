"""Signing in with a password through the real API, on SQLite and PostgreSQL: a browser session in
an HttpOnly cookie whose changes need the CSRF token, a token for the CLI, signing out, setting
passwords, and failed sign-ins that are slowed down and recorded."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from suanli.adapters.api import create_app
from suanli.adapters.api.auth import CSRF_COOKIE, SESSION_COOKIE
from suanli.composition import Container, build_container
from suanli.domain.identity import OrganizationKind, PrincipalKind, Role
from suanli.services.login_throttle import PER_NAME
from suanli.services.ports import AuditFilter
from suanli.settings import Settings
from tests.clocks import ManualClock
from tests.integration.api.conftest import API, job, job_count, problem
from tests.signed_in import signed_in

PASSWORD = "correct horse battery staple"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def container(settings: Settings, clock: ManualClock) -> Iterator[Container]:
    made = build_container(settings, clock)
    yield made
    made.close()


@pytest.fixture
def admin(container: Container) -> TestClient:
    return signed_in(container)


def user(container: Container, name: str = "alice", role: Role = Role.MEMBER, org: str = "acme") -> None:
    if org not in {o.name for o in container.identity.list_organizations()}:
        container.identity.create_organization(org, OrganizationKind.ENTERPRISE)
    container.identity.create_principal(name, PrincipalKind.USER, org, [role])
    container.sign_in.set_password(name, PASSWORD)


def browser(container: Container) -> TestClient:
    return TestClient(create_app(container))


def sign_in(client: TestClient, name: str = "alice", password: str = PASSWORD, **extra: Any) -> Any:
    return client.post(f"{API}/auth/login", json={"name": name, "password": password, **extra})


def set_cookie_headers(response: Any) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in response.headers.get_list("set-cookie")}


def audit_rows(container: Container) -> list[tuple[str, str, str]]:
    found = reversed(container.audit.list(AuditFilter(), limit=1000).entries)
    return [(e.actor, e.action, e.result) for e in found]


def test_a_password_opens_a_browser_session_whose_changes_need_the_csrf_token(container: Container) -> None:
    user(container)
    client = browser(container)
    signed = sign_in(client)
    assert signed.status_code == 200, signed.text
    body = signed.json()
    assert (body["name"], body["organization"], body["roles"]) == ("alice", "acme", ["member"])
    assert body["token"] is None and body["csrf_token"]
    cookies = set_cookie_headers(signed)
    session, csrf = cookies[SESSION_COOKIE].lower(), cookies[CSRF_COOKIE].lower()
    assert "httponly" in session and "samesite=strict" in session and "path=/" in session
    assert "httponly" not in csrf and "samesite=strict" in csrf
    assert client.cookies[CSRF_COOKIE] == body["csrf_token"]

    assert client.get(f"{API}/whoami").json()["name"] == "alice"  # a read needs the cookie only
    refused = problem(client.post(f"{API}/jobs", json=job()), 403)
    assert "X-CSRF-Token" in refused["detail"]
    wrong = client.post(f"{API}/jobs", json=job(), headers={"X-CSRF-Token": "x" * 43})
    assert wrong.status_code == 403
    assert job_count(container) == 0  # a refused change changes nothing
    made = client.post(f"{API}/jobs", json=job(), headers={"X-CSRF-Token": body["csrf_token"]})
    assert made.status_code == 201, made.text
    kinds = {t["prefix"]: t["kind"] for t in client.get(f"{API}/tokens").json()["tokens"]}
    assert kinds == {body["token_prefix"]: "session"}


def test_signing_out_ends_the_session_and_clears_its_cookies(container: Container) -> None:
    user(container)
    client = browser(container)
    csrf = sign_in(client).json()["csrf_token"]
    assert problem(client.post(f"{API}/auth/logout"), 403)  # signing out is a change: CSRF too
    out = client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": csrf})
    assert out.status_code == 204
    cleared = set_cookie_headers(out)
    assert {SESSION_COOKIE, CSRF_COOKIE} <= set(cleared) and "max-age=0" in cleared[SESSION_COOKIE].lower()
    assert SESSION_COOKIE not in client.cookies
    assert problem(client.get(f"{API}/whoami"), 401)


def test_a_revoked_session_cookie_is_refused(container: Container) -> None:
    user(container)
    client = browser(container)
    signed = sign_in(client).json()
    cookie = client.cookies[SESSION_COOKIE]
    client.post(f"{API}/auth/logout", headers={"X-CSRF-Token": signed["csrf_token"]})
    replay = browser(container)
    replay.cookies.set(SESSION_COOKIE, cookie)
    assert "revoked" in problem(replay.get(f"{API}/whoami"), 401)["detail"]


def test_an_api_token_in_the_session_cookie_is_refused(container: Container, admin: TestClient) -> None:
    token = admin.headers["Authorization"].removeprefix("Bearer ")
    client = browser(container)
    client.cookies.set(SESSION_COOKIE, token)
    assert "no session" in problem(client.get(f"{API}/whoami"), 401)["detail"]


def test_the_cli_grant_returns_a_token_that_works_as_a_bearer(container: Container, clock: ManualClock) -> None:
    user(container)
    client = browser(container)
    body = sign_in(client, grant="token", expires_in_s=3600).json()
    assert body["token"].startswith("sk_") and body["csrf_token"] is None
    assert SESSION_COOKIE not in client.cookies
    bearer = TestClient(create_app(container), headers={"Authorization": f"Bearer {body['token']}"})
    assert bearer.get(f"{API}/whoami").json()["name"] == "alice"
    clock.advance(3601)
    assert "expired" in problem(bearer.get(f"{API}/whoami"), 401)["detail"]


def test_a_wrong_password_and_an_unknown_name_read_the_same_and_are_recorded(container: Container) -> None:
    user(container)
    client = browser(container)
    wrong = problem(sign_in(client, password="not the password"), 401)
    unknown = problem(sign_in(client, name="mallory"), 401)
    assert wrong["detail"] == unknown["detail"] and "wrong name or password" in wrong["detail"]
    assert sign_in(client).status_code == 200
    assert audit_rows(container) == [
        ("sign-in:alice", "POST /api/v1/auth/login", "401"),
        ("sign-in:mallory", "POST /api/v1/auth/login", "401"),
        ("user:alice", "POST /api/v1/auth/login", "200"),
    ]


def test_failed_sign_ins_are_slowed_down_for_the_name(container: Container, clock: ManualClock) -> None:
    user(container)
    client = browser(container)
    for _ in range(PER_NAME.free):
        assert sign_in(client, password="guess guess guess").status_code == 401
    slowed = sign_in(client)  # even the right password waits now: a guesser learns nothing
    body = problem(slowed, 429)
    wait = int(slowed.headers["Retry-After"])
    assert wait >= 1 and f"{wait} s" in body["detail"]
    assert audit_rows(container)[-1] == ("sign-in:alice", "POST /api/v1/auth/login", "429")
    clock.advance(wait)
    assert sign_in(client, password="guess guess guess").status_code == 401  # heard again, and wrong
    doubled = sign_in(client)
    assert doubled.status_code == 429 and int(doubled.headers["Retry-After"]) >= 2 * wait  # each failure doubles
    clock.advance(int(doubled.headers["Retry-After"]))
    assert sign_in(client).status_code == 200
    for _ in range(PER_NAME.free):  # a success starts the name's count again
        assert sign_in(client, password="guess guess guess").status_code == 401


def test_setting_passwords(container: Container, admin: TestClient) -> None:
    user(container, "alice")
    user(container, "bob", Role.MEMBER)
    user(container, "olga", Role.ORG_ADMIN)
    container.identity.add_member("robot", "acme", Role.MEMBER, kind=PrincipalKind.SERVICE)
    alice = browser(container)
    csrf = {"X-CSRF-Token": sign_in(alice).json()["csrf_token"]}
    new = "a brand new passphrase"

    # one's own: the current password is needed
    assert problem(alice.put(f"{API}/principals/alice/password", json={"password": new}, headers=csrf), 403)
    too_short = alice.put(
        f"{API}/principals/alice/password", json={"password": "short", "current_password": PASSWORD}, headers=csrf
    )
    assert problem(too_short, 422)["errors"][0]["field"] == "password"
    assert problem(
        alice.put(f"{API}/principals/bob/password", json={"password": new}, headers=csrf), 403
    )  # a member sets no one else's
    changed = alice.put(
        f"{API}/principals/alice/password", json={"password": new, "current_password": PASSWORD}, headers=csrf
    )
    assert changed.status_code == 200, changed.text
    assert alice.get(f"{API}/whoami").status_code == 401  # a new password ends the sessions
    assert sign_in(browser(container)).status_code == 401
    assert sign_in(browser(container), password=new).status_code == 200

    olga = TestClient(create_app(container), headers={"Authorization": f"Bearer {org_admin_token(container)}"})
    assert olga.put(f"{API}/principals/bob/password", json={"password": new}).status_code == 200
    assert problem(olga.put(f"{API}/principals/admin/password", json={"password": new}), 404)  # not acme's
    container.identity.create_principal("pat", PrincipalKind.USER, "acme", [Role.PLATFORM_ADMIN])
    assert (
        "platform admin" in problem(olga.put(f"{API}/principals/pat/password", json={"password": new}), 403)["detail"]
    )
    assert problem(admin.put(f"{API}/principals/robot/password", json={"password": new}), 409)
    assert problem(admin.put(f"{API}/principals/nobody/password", json={"password": new}), 404)
    assert problem(admin.put(f"{API}/principals/bob/password", json={"password": "bob"}), 422)


def org_admin_token(container: Container) -> str:
    token, _ = container.identity.mint_token("olga", "test", [], None)
    return token


def test_members_are_listed_with_their_roles(container: Container, admin: TestClient) -> None:
    user(container, "alice")
    user(container, "vera", Role.VIEWER)
    listed = admin.get(f"{API}/organizations/acme/members").json()["members"]
    assert [(m["name"], m["roles"]) for m in listed] == [("alice", ["member"]), ("vera", ["viewer"])]
    assert problem(admin.get(f"{API}/organizations/nowhere/members"), 404)


def test_a_member_of_several_organizations_signs_in_for_one_of_them(container: Container) -> None:
    user(container, "alice", Role.MEMBER, "acme")
    container.identity.create_organization("rival", OrganizationKind.LAB)
    container.identity.add_member("alice", "rival", Role.VIEWER)
    client = browser(container)
    there = sign_in(client, organization="rival", grant="token").json()
    assert (there["organization"], there["roles"]) == ("rival", ["viewer"])
    as_viewer = TestClient(create_app(container), headers={"Authorization": f"Bearer {there['token']}"})
    assert as_viewer.get(f"{API}/whoami").json()["organization"] == "rival"
    # that token acts for rival alone: it mints no token acting for acme
    crossed = as_viewer.post(f"{API}/tokens", json={"name": "x", "organization": "acme"})
    assert "acts for 'rival'" in problem(crossed, 403)["detail"]
    nowhere = problem(sign_in(client, organization="nowhere"), 401)
    assert "holds no role in 'nowhere'" in nowhere["detail"]
