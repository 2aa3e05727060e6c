"""The policy table, enumerated: every role against every permission, every scope, and the
organization a principal may act in."""

from __future__ import annotations

import itertools

import pytest

from suanli.domain.identity import FULL_SCOPES, Principal, PrincipalKind, Role, Scope
from suanli.domain.permissions import POLICY, SCOPE_ALLOWS, Permission, acts_in, allows, permissions_of

P = Permission

# What each role may do with a full token: the table of domain/permissions.py, written out again.
EXPECTED: dict[Role, set[Permission]] = {
    Role.PLATFORM_ADMIN: set(Permission),
    Role.ORG_ADMIN: set(Permission),
    Role.MEMBER: {
        P.JOB_SUBMIT,
        P.JOB_READ,
        P.JOB_CANCEL,
        P.JOB_LOGS,
        P.CENTER_READ,
        P.STATUS_READ,
        P.ORG_READ,
        P.TOKEN_MANAGE_OWN,
        P.USAGE_READ,
    },
    Role.VIEWER: {P.JOB_READ, P.JOB_LOGS, P.CENTER_READ, P.STATUS_READ, P.ORG_READ, P.TOKEN_MANAGE_OWN, P.USAGE_READ},
    Role.CENTER_OPERATOR: {
        P.CENTER_READ,
        P.CENTER_REGISTER,
        P.CENTER_MANAGE,
        P.CENTER_TOKEN,
        P.JOB_READ,
        P.STATUS_READ,
        P.TOKEN_MANAGE_OWN,
        P.USAGE_READ,
    },
    Role.AUDITOR: {P.AUDIT_READ, P.ORG_READ, P.STATUS_READ, P.TOKEN_MANAGE_OWN, P.USAGE_READ},
}

READING = {P.JOB_READ, P.JOB_LOGS, P.CENTER_READ, P.ORG_READ, P.AUDIT_READ, P.STATUS_READ, P.USAGE_READ}
SCOPES: dict[Scope, set[Permission]] = {
    Scope.READ: READING,
    Scope.SUBMIT: READING | {P.JOB_SUBMIT, P.JOB_CANCEL},
    Scope.ADMIN: set(Permission),
}


def principal(*roles: Role, scopes: frozenset[Scope] = FULL_SCOPES, organization: str = "acme") -> Principal:
    return Principal(
        name="alice",
        kind=PrincipalKind.USER,
        organization=organization,
        roles=frozenset(roles),
        scopes=scopes,
        token_prefix="AbCd1234",
    )


def test_the_tables_cover_every_role_and_scope() -> None:
    assert set(POLICY) == set(Role)
    assert set(SCOPE_ALLOWS) == set(Scope)


def test_the_permission_names() -> None:
    assert {p.value for p in Permission} == {
        "job.submit",
        "job.read",
        "job.cancel",
        "job.logs",
        "center.read",
        "center.register",
        "center.manage",
        "center.token",
        "org.read",
        "org.manage",
        "token.manage_own",
        "audit.read",
        "status.read",
        "usage.read",
    }


@pytest.mark.parametrize(("role", "permission"), list(itertools.product(Role, Permission)))
def test_each_role_with_a_full_token(role: Role, permission: Permission) -> None:
    assert allows(principal(role), permission) is (permission in EXPECTED[role])


@pytest.mark.parametrize(("scope", "permission"), list(itertools.product(Scope, Permission)))
def test_each_scope_for_a_platform_admin(scope: Scope, permission: Permission) -> None:
    # The platform admin's roles grant everything, so the scope alone decides.
    admin = principal(Role.PLATFORM_ADMIN, scopes=frozenset({scope}))
    assert allows(admin, permission) is (permission in SCOPES[scope])


@pytest.mark.parametrize(
    ("roles", "scopes"),
    [
        (roles, scopes)
        for n in (0, 1, 2)
        for roles in itertools.combinations(Role, n)
        for k in (0, 1, 2)
        for scopes in itertools.combinations(Scope, k)
    ],
)
def test_a_role_grants_and_a_scope_allows(roles: tuple[Role, ...], scopes: tuple[Scope, ...]) -> None:
    """Every combination of up to two roles and up to two scopes: both must say yes."""
    who = principal(*roles, scopes=frozenset(scopes))
    granted = set().union(*(EXPECTED[r] for r in roles))
    allowed = set().union(*(SCOPES[s] for s in scopes))
    assert permissions_of(who) == granted & allowed


def test_no_role_and_no_scope_allow_nothing() -> None:
    assert permissions_of(principal()) == frozenset()
    assert permissions_of(principal(Role.PLATFORM_ADMIN, scopes=frozenset())) == frozenset()


def test_a_leaked_read_or_submit_token_cannot_manage_tokens_or_the_organization() -> None:
    for scope in (Scope.READ, Scope.SUBMIT):
        who = principal(Role.ORG_ADMIN, scopes=frozenset({scope}))
        assert not allows(who, P.TOKEN_MANAGE_OWN)
        assert not allows(who, P.ORG_MANAGE)
        assert not allows(who, P.CENTER_MANAGE)


def test_a_platform_admin_acts_in_every_organization_others_in_their_own() -> None:
    assert acts_in(principal(Role.PLATFORM_ADMIN, organization="default"), "acme")
    assert acts_in(principal(Role.ORG_ADMIN, organization="acme"), "acme")
    assert not acts_in(principal(Role.ORG_ADMIN, organization="acme"), "beta")
    assert not acts_in(principal(Role.CENTER_OPERATOR, organization="acme"), "beta")
