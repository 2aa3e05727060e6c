"""Single sign-on with OpenID Connect, against a real OpenID provider: the `oidc-provider` npm
package that scripts/lab/oidc-up.sh starts (scripts/lab/oidc/provider.mjs). Its pages are driven
with plain HTTP, as a browser would: redirects followed, the sign-in form filled in.

Tests that need the provider skip, saying so, when it does not answer at SUANLI_TEST_OIDC_ISSUER
(default http://127.0.0.1:9400); the ones about a missing, unreachable or misconfigured provider
run without it.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from suanli.adapters.api import create_app
from suanli.adapters.oidc import DevicePending, LoginRefused, OidcClient, OidcConfig, ProviderUnavailable
from suanli.composition import Container, build_container
from suanli.domain.errors import InvalidSpec, Unauthenticated
from suanli.domain.identity import OrganizationKind, PrincipalKind, Role
from suanli.domain.single_sign_on import (
    ClaimRefused,
    ExternalIdentity,
    Membership,
    memberships_from_claim,
    user_name_from_claim,
)
from suanli.services.single_sign_on import SingleSignOn
from suanli.settings import Settings
from tests.integration.api.conftest import API, problem
from tests.servers import free_port, start_server
from tests.signed_in import admin_token

ISSUER = os.environ.get("SUANLI_TEST_OIDC_ISSUER", "http://127.0.0.1:9400").rstrip("/")
SECRET = os.environ.get("SUANLI_TEST_OIDC_SECRET", "suanli-lab-secret")
PASSWORD = os.environ.get("SUANLI_TEST_OIDC_PASSWORD", "lab-password")
SCOPES = "openid email profile suanli"
# Where the provider sends browsers back: it takes Suanli's callback on any loopback port. The
# tests never open this address; they hand what the provider sent there to the app.
CALLBACK = "http://127.0.0.1:8642/api/v1/auth/oidc/callback"


def unavailable() -> str | None:
    try:
        answer = httpx.get(f"{ISSUER}/.well-known/openid-configuration", timeout=3)
        if answer.status_code == 200 and answer.json().get("issuer") == ISSUER:
            return None
    except (httpx.HTTPError, ValueError):
        pass
    return f"no OpenID provider lab answers at {ISSUER} (start it: bash scripts/lab/oidc-up.sh)"


@pytest.fixture
def lab() -> None:
    reason = unavailable()
    if reason:
        pytest.skip(reason)


def config(**changes: Any) -> OidcConfig:
    values: dict[str, Any] = {
        "issuer": ISSUER,
        "client_id": "suanli",
        "client_secret": SECRET,
        "scopes": tuple(SCOPES.split()),
    }
    return OidcConfig(**{**values, **changes})


def oidc_settings(home: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "home": home,
        "oidc_issuer": ISSUER,
        "oidc_client_id": "suanli",
        "oidc_client_secret": SECRET,
        "oidc_scopes": SCOPES,
        "oidc_redirect_uri": CALLBACK,
    }
    return Settings(**{**values, **changes})


@pytest.fixture
def container(tmp_path: Path) -> Iterator[Container]:
    """A real container on SQLite with single sign-on set up, and the organization acme."""
    made = build_container(oidc_settings(tmp_path))
    admin_token(made)
    made.identity.create_organization("acme", OrganizationKind.ENTERPRISE)
    yield made
    made.close()


@pytest.fixture
def anonymous(container: Container) -> TestClient:
    return TestClient(create_app(container))


@pytest.fixture
def admin(container: Container) -> TestClient:
    return TestClient(create_app(container), headers={"Authorization": f"Bearer {admin_token(container)}"})


# -- a person at the provider, with plain HTTP ----------------------------------------------------


@dataclass
class Form:
    action: str
    id: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """The forms of a page, with their inputs (those inside, and those naming it with form=)."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[Form] = []
        self._open: Form | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {key: value or "" for key, value in attrs}
        if tag == "form":
            self._open = Form(values.get("action", ""), values.get("id", ""))
            self.forms.append(self._open)
        elif tag == "input" and values.get("name"):
            owner = next((f for f in self.forms if values.get("form") and f.id == values["form"]), self._open)
            if owner is not None:
                owner.fields[values["name"]] = values.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = None


def forms(page: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


class Person:
    """Someone with a browser: follows redirects, fills in the provider's sign-in form, submits
    the forms a page would submit by itself, and confirms a device code."""

    def __init__(self, login: str, password: str = PASSWORD) -> None:
        self.login = login
        self.password = password
        self.http = httpx.Client(timeout=10)

    def visit(self, url: str, *, stop_at: str = "\0") -> httpx.Response | str:
        """The last page reached from ``url``, or the URL of a redirect to ``stop_at`` (not followed)."""
        response = self.http.get(url)
        for _ in range(20):
            if response.is_redirect:
                target = urljoin(str(response.url), response.headers["location"])
                if target.startswith(stop_at):
                    return target
                response = self.http.get(target)
                continue
            found = forms(response.text)
            if not found or "wrong name or password" in response.text:
                return response
            data = dict(found[0].fields)
            if "login" in data:
                data.update(login=self.login, password=self.password)
            response = self.http.post(urljoin(str(response.url), found[0].action), data=data)
        raise AssertionError(f"still going after 20 pages: {response.url}")

    def sign_in(self, url: str, stop_at: str = CALLBACK) -> str:
        """Signs in from ``url``; the redirect back to Suanli that the provider answers."""
        back = self.visit(url, stop_at=stop_at)
        assert isinstance(back, str), f"no way back to {stop_at}: {back.status_code} {back.url}\n{back.text[:500]}"
        return back

    def cancel(self, url: str, stop_at: str = CALLBACK) -> str:
        """Opens ``url`` and clicks Cancel on the sign-in page."""
        page = self.http.get(url, follow_redirects=True)
        link = re.search(r'href="([^"]*/abort)"', page.text)
        assert link, page.text[:500]
        back = self.http.get(urljoin(str(page.url), link.group(1)))
        while back.is_redirect:
            target = urljoin(str(back.url), back.headers["location"])
            if target.startswith(stop_at):
                return target
            back = self.http.get(target)
        raise AssertionError(f"no way back to {stop_at}: {back.status_code} {back.url}")


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}


def tokens_for(client: OidcClient, person: Person) -> tuple[dict[str, Any], str]:
    """A code flow to its token response (and the nonce it was asked with)."""
    start = client.begin_login(CALLBACK)
    answer = query(person.sign_in(start.url))
    assert answer["state"] == start.state
    tokens = client.exchange_code(code=answer["code"], code_verifier=start.code_verifier, redirect_uri=CALLBACK)
    return tokens, start.nonce


def jwt_part(token: str, index: int) -> dict[str, Any]:
    part = token.split(".")[index]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


# -- the relying party, against the provider --------------------------------------------------------


def test_the_code_flow_with_pkce_signs_a_person_in_and_maps_their_claim(lab: None) -> None:
    client = OidcClient(config())
    start = client.begin_login(CALLBACK)
    asked = query(start.url)
    assert asked["code_challenge_method"] == "S256" and asked["code_challenge"] != start.code_verifier
    assert asked["nonce"] == start.nonce and asked["state"] == start.state and asked["redirect_uri"] == CALLBACK
    assert asked["scope"] == SCOPES
    answer = query(Person("alice").sign_in(start.url))
    assert answer["state"] == start.state and answer["iss"] == ISSUER
    person = client.finish_login(
        code=answer["code"],
        nonce=start.nonce,
        code_verifier=start.code_verifier,
        redirect_uri=CALLBACK,
        issuer=answer["iss"],
    )
    assert person == ExternalIdentity(
        issuer=ISSUER,
        subject="alice",
        name="alice",
        display_name="Alice Admin",
        email="alice@acme.example",
        memberships=(Membership("acme", Role.ORG_ADMIN), Membership("acme", Role.MEMBER)),
    )
    # A code is good once; a second exchange is refused, saying so.
    with pytest.raises(LoginRefused, match="used already"):
        client.exchange_code(code=answer["code"], code_verifier=start.code_verifier, redirect_uri=CALLBACK)


def test_a_code_without_its_pkce_verifier_or_from_another_issuer_is_refused(lab: None) -> None:
    client = OidcClient(config())
    start = client.begin_login(CALLBACK)
    answer = query(Person("bob").sign_in(start.url))
    with pytest.raises(LoginRefused, match="from issuer 'http://evil.example'"):
        client.finish_login(
            code=answer["code"],
            nonce=start.nonce,
            code_verifier=start.code_verifier,
            redirect_uri=CALLBACK,
            issuer="http://evil.example",
        )
    with pytest.raises(LoginRefused, match="refused the sign-in code"):
        client.exchange_code(code=answer["code"], code_verifier="x" * 50, redirect_uri=CALLBACK)


def test_an_id_token_is_refused_for_a_wrong_nonce_a_change_another_client_or_once_expired(lab: None) -> None:
    client = OidcClient(config())
    tokens, nonce = tokens_for(client, Person("alice"))
    id_token = tokens["id_token"]
    claims = client.validate_id_token(id_token, nonce=nonce, access_token=tokens["access_token"])
    assert claims["sub"] == "alice" and claims["aud"] == "suanli" and claims["iss"] == ISSUER

    with pytest.raises(LoginRefused, match="'nonce' is wrong"):
        client.identity(tokens, nonce="another sign-in's nonce")
    header, payload, signature = id_token.split(".")
    changed = b64({**jwt_part(id_token, 1), "sub": "mallory"})
    with pytest.raises(LoginRefused, match="does not verify"):
        client.validate_id_token(f"{header}.{changed}.{signature}", nonce=nonce)
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    with pytest.raises(LoginRefused, match="does not verify"):
        client.validate_id_token(unsigned, nonce=nonce)
    with pytest.raises(LoginRefused, match="does not verify"):
        client.validate_id_token("not a token", nonce=nonce)
    with pytest.raises(LoginRefused, match="'aud' is wrong"):
        OidcClient(config(client_id="another-client")).validate_id_token(id_token, nonce=nonce)
    expiry = int(jwt_part(id_token, 1)["exp"])
    later = OidcClient(config(), now=lambda: expiry + 3600)
    with pytest.raises(LoginRefused, match="expired"):
        later.validate_id_token(id_token, nonce=nonce)
    # An access token that is not the one the ID token was issued with (at_hash) is refused too.
    with pytest.raises(LoginRefused, match="'at_hash' is wrong"):
        client.identity({**tokens, "access_token": "someone-else's"}, nonce=nonce)


@pytest.mark.parametrize(
    ("login", "memberships", "refusal"),
    [
        ("bob", (Membership("acme", Role.VIEWER),), None),
        ("carol", (), None),  # no role at all: the service refuses (test below)
        ("ghost", (Membership("no-such-org", Role.MEMBER),), None),  # unknown here: the service refuses
        ("mallory", None, "Suanli has no role 'overlord'"),
    ],
)
def test_the_roles_claim_maps_to_memberships_or_refuses_saying_which_value(
    lab: None, login: str, memberships: tuple[Membership, ...] | None, refusal: str | None
) -> None:
    client = OidcClient(config())
    tokens, nonce = tokens_for(client, Person(login))
    if refusal is None:
        assert client.identity(tokens, nonce=nonce).memberships == memberships
    else:
        with pytest.raises(ClaimRefused, match=refusal) as caught:
            client.identity(tokens, nonce=nonce)
        assert "acme:overlord" in caught.value.message and "suanli_roles" in caught.value.message


def test_the_device_flow_waits_for_the_person_then_signs_them_in(lab: None) -> None:
    client = OidcClient(config())
    start = client.start_device()
    assert start.user_code and start.verification_uri.startswith(ISSUER) and start.expires_in > 0
    assert client.poll_device(start.device_code) == DevicePending("authorization_pending", start.interval)
    assert start.verification_uri_complete is not None
    done = Person("bob").visit(start.verification_uri_complete)
    assert isinstance(done, httpx.Response) and "signed in" in done.text.lower()
    person = client.poll_device(start.device_code)
    assert isinstance(person, ExternalIdentity)
    assert person.name == "bob" and person.memberships == (Membership("acme", Role.VIEWER),)
    with pytest.raises(LoginRefused, match="does not know this device code"):
        client.poll_device(start.device_code)  # used once


def test_a_declined_device_sign_in_is_refused(lab: None) -> None:
    client = OidcClient(config())
    start = client.start_device()
    assert start.verification_uri_complete is not None
    person = Person("bob")
    page = person.http.get(start.verification_uri_complete, follow_redirects=True)
    while (found := forms(page.text)) and "abort" not in page.text:  # the page that submits itself
        page = person.http.post(urljoin(str(page.url), found[0].action), data=found[0].fields, follow_redirects=True)
    confirm = forms(page.text)[0]
    person.http.post(
        urljoin(str(page.url), confirm.action), data={**confirm.fields, "abort": "yes"}, follow_redirects=True
    )
    with pytest.raises(LoginRefused, match="declined"):
        client.poll_device(start.device_code)


def test_a_misconfigured_or_unreachable_provider_is_named_in_one_line(lab: None) -> None:
    with pytest.raises(ProviderUnavailable, match="answered HTTP 404 .* must be the issuer's URL exactly"):
        OidcClient(config(issuer=f"{ISSUER}/realms/wrong")).metadata()
    localhost = ISSUER.replace("127.0.0.1", "localhost")
    with pytest.raises(ProviderUnavailable, match=f"names itself '{ISSUER}', not '{localhost}'"):
        OidcClient(config(issuer=localhost)).metadata()
    with pytest.raises(ProviderUnavailable, match="refused Suanli's client .*invalid_client.*oidc_client_secret"):
        OidcClient(config(client_secret="not-the-secret")).start_device()


def test_an_unreachable_provider_is_named_in_one_line() -> None:
    issuer = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(ProviderUnavailable, match=f"cannot reach the OpenID provider at {issuer} .*SUANLI_OIDC_ISSUER"):
        OidcClient(config(issuer=issuer)).begin_login(CALLBACK)


def test_half_set_or_insecure_settings_are_refused_at_start(tmp_path: Path) -> None:
    assert OidcConfig.from_settings(Settings(home=tmp_path)) is None  # single sign-on off
    with pytest.raises(InvalidSpec, match="missing while oidc_issuer is set: set SUANLI_OIDC_CLIENT_ID"):
        OidcConfig.from_settings(Settings(home=tmp_path, oidc_issuer=ISSUER))
    with pytest.raises(InvalidSpec, match="missing while oidc_issuer is set: set SUANLI_OIDC_CLIENT_SECRET"):
        OidcConfig.from_settings(Settings(home=tmp_path, oidc_issuer=ISSUER, oidc_client_id="suanli"))
    with pytest.raises(InvalidSpec, match="must use https") as insecure:
        OidcConfig.from_settings(oidc_settings(tmp_path, oidc_issuer="http://sso.example.com"))
    assert insecure.value.field == "oidc_issuer"
    made = OidcConfig.from_settings(oidc_settings(tmp_path, oidc_scopes="email suanli"))
    assert made is not None and made.scopes == ("openid", "email", "suanli")
    assert SECRET not in repr(made)


# -- the claim, and who it makes someone here -------------------------------------------------------


def test_claim_values_read_organization_colon_role() -> None:
    claim = "suanli_roles"
    assert memberships_from_claim(["acme:org-admin", "acme:member", "acme:member"], claim) == (
        Membership("acme", Role.ORG_ADMIN),
        Membership("acme", Role.MEMBER),
    )
    assert memberships_from_claim("acme:viewer lab-1:auditor", claim) == (
        Membership("acme", Role.VIEWER),
        Membership("lab-1", Role.AUDITOR),
    )
    assert memberships_from_claim(None, claim) == ()
    for bad, says in [
        (["acme"], '"organization:role"'),
        (["Acme Corp:member"], "cannot be an organization name"),
        (["acme:boss"], "no role 'boss'; the roles are auditor, center-operator"),
        ([42], "not an"),
        ({"acme": "member"}, "must be a list"),
    ]:
        with pytest.raises(ClaimRefused, match=re.escape(says)):
            memberships_from_claim(bad, claim)
    assert user_name_from_claim("alice", "preferred_username") == "alice"
    with pytest.raises(ClaimRefused, match="sent no 'preferred_username'"):
        user_name_from_claim(None, "preferred_username")
    with pytest.raises(ClaimRefused, match="cannot be a Suanli user name"):
        user_name_from_claim("Alice Smith", "preferred_username")


def person_with(name: str, *memberships: Membership) -> ExternalIdentity:
    return ExternalIdentity(ISSUER, name, name, name.title(), f"{name}@acme.example", memberships)


def test_provisioning_gives_the_listed_roles_and_refuses_what_would_be_no_one_or_too_much(
    container: Container,
) -> None:
    sso = SingleSignOn(container.identity)
    container.identity.create_organization("lab", OrganizationKind.LAB)
    made = sso.provision(person_with("dana", Membership("lab", Role.VIEWER), Membership("acme", Role.MEMBER)))
    assert made.organization == "lab" and made.member.roles == {Role.VIEWER}
    again = sso.provision(person_with("dana", Membership("acme", Role.ORG_ADMIN)))  # home lab not listed: acme
    assert again.organization == "acme" and again.member.roles == {Role.MEMBER, Role.ORG_ADMIN}

    with pytest.raises(ClaimRefused, match="lists no Suanli organization and role"):
        sso.provision(person_with("carol"))
    with pytest.raises(ClaimRefused, match="roles in 'no-such-org', which this installation does not have"):
        sso.provision(person_with("ghost", Membership("acme", Role.MEMBER), Membership("no-such-org", Role.MEMBER)))
    assert container.identity.store.get_member("ghost") is None  # nothing given before refusing
    with pytest.raises(ClaimRefused, match="oidc_allow_platform_admin"):
        sso.provision(person_with("erin", Membership("acme", Role.PLATFORM_ADMIN)))
    with pytest.raises(ClaimRefused, match="admin' is a platform admin here"):
        sso.provision(person_with("admin", Membership("acme", Role.MEMBER)))  # the installation's first admin
    container.identity.create_principal("ci", PrincipalKind.SERVICE, "acme", [Role.MEMBER])
    with pytest.raises(ClaimRefused, match="service account"):
        sso.provision(person_with("ci", Membership("acme", Role.MEMBER)))
    container.identity.set_disabled("dana", True)
    with pytest.raises(Unauthenticated, match="disabled"):
        sso.provision(person_with("dana", Membership("acme", Role.MEMBER)))

    trusting = SingleSignOn(container.identity, allow_platform_admin=True)
    assert (
        Role.PLATFORM_ADMIN
        in trusting.provision(person_with("erin", Membership("acme", Role.PLATFORM_ADMIN))).member.roles
    )


# -- the API ----------------------------------------------------------------------------------------


def audit_entries(admin: TestClient, action: str) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = admin.get(f"{API}/audit", params={"action": action}).json()["entries"]
    return entries


def test_a_browser_signs_in_and_gets_a_session(lab: None, anonymous: TestClient, admin: TestClient) -> None:
    start = anonymous.get(f"{API}/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 303 and start.headers["location"].startswith(f"{ISSUER}/auth?")
    assert "suanli_oidc" in start.cookies and "httponly" in start.headers["set-cookie"].lower()
    back = Person("alice").sign_in(start.headers["location"])
    answer = anonymous.get(f"{API}/auth/oidc/callback?{urlsplit(back).query}")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["name"] == "alice" and body["organization"] == "acme"
    assert body["roles"] == ["member", "org-admin"] and body["email"] == "alice@acme.example"
    assert body["csrf_token"] and body["token"] is None and body["expires_at"]
    assert {"suanli_session", "suanli_csrf"} <= set(anonymous.cookies)
    who = anonymous.get(f"{API}/whoami")  # the session cookie, from now on
    assert who.status_code == 200, who.text
    assert who.json()["name"] == "alice" and who.json()["organization"] == "acme"

    (entry,) = audit_entries(admin, "GET /api/v1/auth/oidc/callback")
    assert entry["actor"] == "user:alice" and entry["organization"] == "acme" and str(entry["result"]) == "200"
    # The same answer again: this browser's sign-in is over.
    again = problem(anonymous.get(f"{API}/auth/oidc/callback?{urlsplit(back).query}"), 401)
    assert "start again at /api/v1/auth/oidc/login" in again["detail"]


def test_a_callback_that_is_not_this_browsers_or_was_declined_is_refused(
    lab: None, container: Container, admin: TestClient
) -> None:
    browser = TestClient(create_app(container))
    stranger = TestClient(create_app(container))
    start = browser.get(f"{API}/auth/oidc/login", follow_redirects=False)
    back = Person("alice").sign_in(start.headers["location"])

    no_state = problem(stranger.get(f"{API}/auth/oidc/callback?{urlsplit(back).query}"), 401)
    assert "no sign-in under way" in no_state["detail"]
    forged = problem(browser.get(f"{API}/auth/oidc/callback", params={**query(back), "state": "forged"}), 401)
    assert "its state differs" in forged["detail"]
    browser.cookies.set("suanli_oidc", "made-up", path="/api/v1/auth/oidc")
    tampered = problem(browser.get(f"{API}/auth/oidc/callback?{urlsplit(back).query}"), 401)
    assert "not made here, or was changed" in tampered["detail"]

    browser.cookies.clear()
    start = browser.get(f"{API}/auth/oidc/login", follow_redirects=False)
    declined = Person("alice").cancel(start.headers["location"])
    refused = problem(browser.get(f"{API}/auth/oidc/callback?{urlsplit(declined).query}"), 401)
    assert "did not sign you in (access_denied" in refused["detail"]
    assert [str(e["result"]) for e in audit_entries(admin, "GET /api/v1/auth/oidc/callback")] == ["401"] * 4


@pytest.mark.parametrize(
    ("login", "says"),
    [
        ("mallory", "Suanli has no role 'overlord'"),
        ("carol", "lists no Suanli organization and role for 'carol'"),
        ("ghost", "roles in 'no-such-org', which this installation does not have"),
    ],
)
def test_a_browser_whose_claims_make_no_one_here_is_refused(
    lab: None, anonymous: TestClient, admin: TestClient, login: str, says: str
) -> None:
    start = anonymous.get(f"{API}/auth/oidc/login", follow_redirects=False)
    back = Person(login).sign_in(start.headers["location"])
    body = problem(anonymous.get(f"{API}/auth/oidc/callback?{urlsplit(back).query}"), 403)
    assert says in body["detail"] and body["title"] == "Sign-in refused"
    assert "suanli_session" not in anonymous.cookies
    (entry,) = audit_entries(admin, "GET /api/v1/auth/oidc/callback")
    assert str(entry["result"]) == "403" and entry["actor"].endswith(login)


def test_the_cli_device_flow_gives_an_api_token(lab: None, anonymous: TestClient, admin: TestClient) -> None:
    started = anonymous.post(f"{API}/auth/oidc/device")
    assert started.status_code == 200, started.text
    device = started.json()
    assert device["user_code"] and device["verification_uri"].startswith(ISSUER) and device["interval"] >= 1
    poll = {"device_code": device["device_code"]}
    pending = anonymous.post(f"{API}/auth/oidc/device/token", json=poll)
    assert pending.status_code == 202 and pending.json()["status"] == "pending", pending.text

    Person("bob").visit(device["verification_uri_complete"])
    done = anonymous.post(f"{API}/auth/oidc/device/token", json=poll)
    assert done.status_code == 200, done.text
    signed_in = done.json()["signed_in"]
    assert done.json()["status"] == "done" and signed_in["name"] == "bob" and signed_in["roles"] == ["viewer"]
    token = signed_in["token"]
    who = anonymous.get(f"{API}/whoami", headers={"Authorization": f"Bearer {token}"}).json()
    assert who["name"] == "bob" and who["organization"] == "acme" and who["token_name"] == "oidc-login"
    assert who["token_expires_at"] is not None

    problem(anonymous.post(f"{API}/auth/oidc/device/token", json=poll), 401)  # that code is spent
    ends = audit_entries(admin, "POST /api/v1/auth/oidc/device/token")
    # The poll that signed bob in, and the refused one; not the pending one.
    assert sorted((e["actor"], str(e["result"])) for e in ends) == [("anonymous", "401"), ("user:bob", "200")]
    assert len(audit_entries(admin, "POST /api/v1/auth/oidc/device")) == 1 + len(ends)  # the prefix matches both


def test_without_single_sign_on_its_routes_say_how_to_set_it_up(tmp_path: Path) -> None:
    container = build_container(Settings(home=tmp_path))
    try:
        anonymous = TestClient(create_app(container))
        for response in (
            anonymous.get(f"{API}/auth/oidc/login", follow_redirects=False),
            anonymous.post(f"{API}/auth/oidc/device"),
            anonymous.post(f"{API}/auth/oidc/device/token", json={"device_code": "x"}),
        ):
            assert "oidc_issuer" in problem(response, 404)["detail"]
    finally:
        container.close()


def test_an_unreachable_provider_is_a_502_naming_the_setting(tmp_path: Path) -> None:
    container = build_container(oidc_settings(tmp_path, oidc_issuer=f"http://127.0.0.1:{free_port()}"))
    try:
        anonymous = TestClient(create_app(container))
        body = problem(anonymous.post(f"{API}/auth/oidc/device"), 502)
        assert "cannot reach the OpenID provider" in body["detail"] and "SUANLI_OIDC_ISSUER" in body["detail"]
        assert "Traceback" not in body["detail"]
        problem(anonymous.get(f"{API}/auth/oidc/login", follow_redirects=False), 502)
    finally:
        container.close()


# -- `suanli login --oidc`, a real server and the real CLI ------------------------------------------


def test_suanli_login_oidc_shows_the_code_waits_and_keeps_the_token(lab: None, tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "server",
        oidc_issuer=ISSUER,
        oidc_client_id="suanli",
        oidc_client_secret=SECRET,
        oidc_scopes=SCOPES,
    )
    try:
        made = httpx.post(
            f"{server.url}{API}/organizations", json={"name": "acme", "kind": "enterprise"}, headers=server.headers
        )
        assert made.status_code == 201, made.text
        env = {k: v for k, v in os.environ.items() if not k.startswith("SUANLI_")}
        env.update(SUANLI_SERVER=server.url, SUANLI_HOME=str(tmp_path / "cli"), COLUMNS="300")
        cli = subprocess.Popen(
            [sys.executable, "-m", "suanli.adapters.cli.main", "login", "--oidc"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert cli.stderr is not None
        shown: list[str] = []
        for line in cli.stderr:
            shown.append(line)
            if line.startswith("Waiting for the sign-in"):
                break
        text = "".join(shown)
        where = re.search(r"open (\S+) in a browser", text)
        code = re.search(r"shows the code (\S+)", text)
        assert where and code, text
        rest: list[str] = []
        reader = threading.Thread(target=lambda: rest.extend(cli.stderr or ()), daemon=True)
        reader.start()
        page = Person("alice").visit(where.group(1))
        assert isinstance(page, httpx.Response) and "signed in" in page.text.lower()
        stdout, _ = cli.communicate(timeout=120)
        assert cli.returncode == 0, text + "".join(rest) + stdout
        assert "as alice (user) of acme" in stdout
        kept = (tmp_path / "cli" / "token").read_text().strip()
        assert kept.startswith("sk_") and (tmp_path / "cli" / "token").stat().st_mode & 0o077 == 0
        who = httpx.get(f"{server.url}{API}/whoami", headers={"Authorization": f"Bearer {kept}"}).json()
        assert who["name"] == "alice" and sorted(who["roles"]) == ["member", "org-admin"]
    finally:
        server.stop()
