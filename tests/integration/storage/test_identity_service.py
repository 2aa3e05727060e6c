"""IdentityService over the real store (SQLite and PostgreSQL) with a clock the test moves:
authentication and its cache, bootstrap, minting and revoking, organizations and members."""

from __future__ import annotations

import stat
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from suanli.adapters.storage.identity_store import SqlIdentityStore
from suanli.adapters.storage.store import SqlStore
from suanli.domain.errors import Conflict, Forbidden, InvalidSpec, NotFound, Unauthenticated
from suanli.domain.identity import FULL_SCOPES, OrganizationKind, Principal, PrincipalKind, Role, Scope
from suanli.domain.permissions import Permission
from suanli.services.identity import IdentityService
from tests.clocks import ManualClock
from tests.integration.storage.helpers import T0


class CountingStore(SqlIdentityStore):
    """Counts token lookups and touches, to see what the cache saves."""

    def __init__(self, store: SqlStore) -> None:
        super().__init__(store)
        self.lookups = 0
        self.touches = 0

    def token_for_hash(self, token_hash: str) -> Any:
        self.lookups += 1
        return super().token_for_hash(token_hash)

    def touch_token(self, prefix: str, now: datetime) -> None:
        self.touches += 1
        super().touch_token(prefix, now)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def counting(store: SqlStore) -> CountingStore:
    return CountingStore(store)


@pytest.fixture
def identity(counting: CountingStore, clock: ManualClock) -> IdentityService:
    return IdentityService(counting, clock, cache_s=5, touch_s=60)


@pytest.fixture
def admin_token(identity: IdentityService, tmp_path: Path) -> str:
    token = identity.bootstrap(tmp_path / "home" / "token")
    assert token is not None
    return token


def alice(identity: IdentityService, *roles: Role) -> None:
    identity.create_organization("acme", OrganizationKind.ENTERPRISE)
    identity.create_principal("alice", PrincipalKind.USER, "acme", roles or (Role.MEMBER,))


# -- bootstrap ------------------------------------------------------------------------------------


def test_bootstrap_makes_the_first_admin_once_and_writes_its_token_privately(
    identity: IdentityService, tmp_path: Path
) -> None:
    path = tmp_path / "token-home" / "token"
    token = identity.bootstrap(path)
    assert token is not None and token.startswith("sk_")
    assert path.read_text().strip() == token
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["token"]  # nothing staged is left behind
    admin = identity.authenticate(token)
    assert (admin.name, admin.organization, admin.roles, admin.scopes) == (
        "admin",
        "default",
        {Role.PLATFORM_ADMIN},
        FULL_SCOPES,
    )
    assert identity.bootstrap(tmp_path / "again" / "token") is None
    assert not (tmp_path / "again" / "token").exists()
    assert path.read_text().strip() == token


# -- authenticate ---------------------------------------------------------------------------------


def test_a_good_token_authenticates(identity: IdentityService, admin_token: str) -> None:
    alice(identity, Role.MEMBER, Role.VIEWER)
    token, info = identity.mint_token("alice", "laptop", [Scope.READ], timedelta(days=1))
    assert info.principal == "alice" and info.organization == "acme" and info.scopes == {Scope.READ}
    who = identity.authenticate(token)
    assert who == Principal(
        name="alice",
        kind=PrincipalKind.USER,
        organization="acme",
        roles=frozenset({Role.MEMBER, Role.VIEWER}),
        scopes=frozenset({Scope.READ}),
        token_prefix=info.prefix,
    )
    assert identity.authenticate(f"  {token}\n") == who  # as read from a file


@pytest.mark.parametrize(
    ("token", "words"),
    [
        ("", "empty"),
        ("Bearer", "not a Suanli API token"),
        ("sk_short", "malformed"),
        ("sl_" + "a" * 43, "center agent's token"),
        ("sk_" + "a" * 42 + "!", "malformed"),
    ],
)
def test_a_malformed_token_says_what_is_wrong(identity: IdentityService, token: str, words: str) -> None:
    with pytest.raises(Unauthenticated) as refused:
        identity.authenticate(token)
    assert words in refused.value.message
    assert "Authorization: Bearer sk_" in refused.value.message or "sk_..." in refused.value.message


def test_an_unknown_token_is_refused(identity: IdentityService, admin_token: str) -> None:
    with pytest.raises(Unauthenticated, match="not known here"):
        identity.authenticate("sk_" + "A" * 43)


def test_an_expired_token_is_refused_even_from_the_cache(
    identity: IdentityService, clock: ManualClock, counting: CountingStore, admin_token: str
) -> None:
    token, _ = identity.mint_token("admin", "short", FULL_SCOPES, timedelta(seconds=3))
    identity.authenticate(token)
    clock.advance(3)  # still within the cache time, but past expiry
    lookups = counting.lookups
    with pytest.raises(Unauthenticated, match="expired on"):
        identity.authenticate(token)
    with pytest.raises(Unauthenticated, match="expired on"):
        identity.authenticate(token)
    assert counting.lookups == lookups + 1  # the first refusal was from the cache; then it was dropped


def test_a_revoked_token_is_refused_at_once_in_this_process(
    identity: IdentityService, admin_token: str, counting: CountingStore
) -> None:
    token, info = identity.mint_token("admin", "laptop", FULL_SCOPES, None)
    identity.authenticate(token)
    identity.authenticate(token)
    assert counting.lookups == 1  # the second was answered by the cache
    revoked = identity.revoke_token("sk_" + info.prefix)
    assert revoked.revoked_at is not None
    with pytest.raises(Unauthenticated, match="was revoked on"):
        identity.authenticate(token)
    identity.authenticate(admin_token)  # another token of the same principal is unaffected


def test_other_processes_see_a_revocation_within_the_cache_time(
    identity: IdentityService, store: SqlStore, clock: ManualClock, admin_token: str
) -> None:
    other = IdentityService(SqlIdentityStore(store), clock, cache_s=5)  # another server process
    token, info = identity.mint_token("admin", "laptop", FULL_SCOPES, None)
    other.authenticate(token)
    identity.revoke_token(info.prefix)
    other.authenticate(token)  # still cached there
    clock.advance(5)
    with pytest.raises(Unauthenticated, match="revoked"):
        other.authenticate(token)


def test_the_cache_saves_lookups_and_last_use_is_written_once_a_minute(
    identity: IdentityService, clock: ManualClock, counting: CountingStore, admin_token: str
) -> None:
    token, info = identity.mint_token("admin", "laptop", FULL_SCOPES, None)
    for _ in range(10):
        identity.authenticate(token)
        clock.advance(1)
    assert counting.lookups == 2  # at 0 s and again at 5 s
    assert counting.touches == 1
    clock.advance(60)
    identity.authenticate(token)
    assert counting.touches == 2
    assert identity.store.get_token(info.prefix).last_used_at == clock.now()  # type: ignore[union-attr]


def test_a_disabled_principal_is_refused(identity: IdentityService, store: SqlStore, admin_token: str) -> None:
    from sqlalchemy import update

    from suanli.adapters.storage.tables import principals

    with store.engine.begin() as connection:
        connection.execute(update(principals).where(principals.c.name == "admin").values(disabled=True))
    with pytest.raises(Unauthenticated, match="disabled"):
        identity.authenticate(admin_token)


def test_a_role_given_through_the_service_counts_at_once(identity: IdentityService, admin_token: str) -> None:
    alice(identity, Role.VIEWER)
    token, _ = identity.mint_token("alice", "laptop", FULL_SCOPES, None)
    assert identity.authenticate(token).roles == {Role.VIEWER}
    identity.add_member("alice", "acme", Role.MEMBER)
    assert identity.authenticate(token).roles == {Role.VIEWER, Role.MEMBER}


# -- minting and revoking -------------------------------------------------------------------------


def test_minting_checks_what_it_is_asked(identity: IdentityService, admin_token: str) -> None:
    admin = identity.authenticate(admin_token)
    alice(identity)
    with pytest.raises(InvalidSpec):
        identity.mint_token("alice", "x", FULL_SCOPES, timedelta(0))
    with pytest.raises(NotFound):
        identity.mint_token("nobody", "x", FULL_SCOPES, None)
    with pytest.raises(Conflict, match="holds no role"):
        identity.mint_token("alice", "x", FULL_SCOPES, None, organization="default")
    token, info = identity.mint_token("alice", "ci", [Scope.SUBMIT], None, by=admin)  # an admin, for alice
    assert info.principal == "alice" and info.organization == "acme"

    member = identity.authenticate(token)
    with pytest.raises(Forbidden, match="admin"):  # a submit token mints no admin token
        identity.mint_token("alice", "more", [Scope.ADMIN], None, by=member)
    full, _ = identity.mint_token("alice", "full", FULL_SCOPES, None)
    alice_full = identity.authenticate(full)
    with pytest.raises(Forbidden, match="org.manage"):  # a member mints for nobody else
        identity.mint_token("admin", "x", FULL_SCOPES, None, by=alice_full)
    identity.mint_token("alice", "own", [Scope.READ], None, by=alice_full)
    assert [t.name for t in identity.list_tokens("alice")] == ["ci", "full", "own"]


def test_revoking_anothers_token_looks_like_no_token(identity: IdentityService, admin_token: str) -> None:
    alice(identity)
    alice_token, _ = identity.mint_token("alice", "laptop", FULL_SCOPES, None)
    alice_principal = identity.authenticate(alice_token)
    admin = identity.authenticate(admin_token)
    with pytest.raises(NotFound, match="no token"):
        identity.revoke_token(admin.token_prefix, by=alice_principal)
    with pytest.raises(NotFound):
        identity.revoke_token("bad!", by=alice_principal)
    identity.revoke_token(alice_principal.token_prefix, by=admin)  # a platform admin may
    with pytest.raises(Unauthenticated):
        identity.authenticate(alice_token)


# -- organizations and members --------------------------------------------------------------------


def test_members_and_service_accounts(identity: IdentityService, admin_token: str) -> None:
    admin = identity.authenticate(admin_token)
    identity.create_organization("acme", OrganizationKind.ENTERPRISE, "Acme", by=admin)
    bot = identity.add_member("ci-bot", "acme", Role.MEMBER, kind=PrincipalKind.SERVICE, by=admin)
    assert (bot.kind, bot.organization, bot.roles) == (PrincipalKind.SERVICE, "acme", {Role.MEMBER})
    with pytest.raises(Conflict, match="service"):
        identity.add_member("ci-bot", "acme", Role.VIEWER, kind=PrincipalKind.USER)
    with pytest.raises(NotFound):
        identity.add_member("ci-bot", "nope", Role.VIEWER)
    identity.add_member("boss", "acme", Role.ORG_ADMIN, by=admin)
    boss_token, _ = identity.mint_token("boss", "laptop", FULL_SCOPES, None)
    boss = identity.authenticate(boss_token)
    bot_token, _ = identity.mint_token("ci-bot", "ci", [Scope.SUBMIT], None, by=boss)  # an org admin, for its bot
    assert identity.authenticate(bot_token).kind is PrincipalKind.SERVICE
    identity.create_project("acme", "vision", by=boss)
    assert [p.name for p in identity.list_projects("acme", by=boss)] == ["vision"]
    assert [o.name for o in identity.list_organizations(by=boss)] == ["acme"]
    assert [o.name for o in identity.list_organizations(by=admin)] == ["acme", "default"]
    with pytest.raises(Forbidden, match="may not act in"):
        identity.create_project("default", "x", by=boss)
    with pytest.raises(Forbidden, match="may not act in"):
        identity.create_organization("beta", OrganizationKind.LAB, by=boss)
    with pytest.raises(Forbidden, match="platform admin"):
        identity.add_member("boss", "acme", Role.PLATFORM_ADMIN, by=boss)
    who = identity.whoami(boss)
    assert Permission.ORG_MANAGE in who.permissions and who.token is not None and who.token.name == "laptop"
