"""Who may do what: one table of roles to permissions, one of token scopes to permissions.

A request may do something when one of its principal's roles grants the permission AND one of
its token's scopes allows it (``allows``). Which organization's things it may touch is the
second question (``acts_in``): a platform admin's reach is every organization; everyone else's
is the organization its token acts for, and for a center operator the centers that organization
owns and the jobs placed there.

| permission       | platform-admin | org-admin | member | viewer | center-operator | auditor | scopes         |
|------------------|:--:|:--:|:--:|:--:|:--:|:--:|----------------|
| job.submit       | x | x | x |   |   |   | submit, admin  |
| job.read         | x | x | x | x | x (jobs placed on its centers) | | read, submit, admin |
| job.cancel       | x | x | x |   |   |   | submit, admin  |
| job.logs         | x | x | x | x |   |   | read, submit, admin |
| center.read      | x | x | x | x | x |   | read, submit, admin |
| center.register  | x | x |   |   | x |   | admin          |
| center.manage    | x | x |   |   | x |   | admin          |
| center.token     | x | x |   |   | x |   | admin          |
| org.read         | x | x | x | x |   | x | read, submit, admin |
| org.manage       | x | x |   |   |   |   | admin          |
| token.manage_own | x | x | x | x | x | x | admin          |
| audit.read       | x | x |   |   |   | x | read, submit, admin |
| status.read      | x | x | x | x | x | x | read, submit, admin |
| usage.read       | x | x | x | x | x (usage on its centers) | x | read, submit, admin |

center.manage covers pools, prices, drain, resume and delete; org.manage covers organizations,
projects and members. token.manage_own needs an admin-scoped token, so that a read or submit
token that leaks cannot mint itself a stronger one.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from suanli.domain.identity import Principal, Role, Scope


class Permission(StrEnum):
    JOB_SUBMIT = "job.submit"
    JOB_READ = "job.read"
    JOB_CANCEL = "job.cancel"
    JOB_LOGS = "job.logs"
    CENTER_READ = "center.read"
    CENTER_REGISTER = "center.register"
    CENTER_MANAGE = "center.manage"  # pools, prices, drain, resume, delete
    CENTER_TOKEN = "center.token"  # mint and revoke the tokens of a center's agent
    ORG_READ = "org.read"
    ORG_MANAGE = "org.manage"  # organizations, projects, members
    TOKEN_MANAGE_OWN = "token.manage_own"
    AUDIT_READ = "audit.read"
    STATUS_READ = "status.read"
    USAGE_READ = "usage.read"  # usage records (domain/usage.py): whose, see usage.readable_usage


P = Permission
_EVERYTHING = frozenset(Permission)
_JOBS = frozenset({P.JOB_SUBMIT, P.JOB_READ, P.JOB_CANCEL, P.JOB_LOGS})
_CENTERS = frozenset({P.CENTER_READ, P.CENTER_REGISTER, P.CENTER_MANAGE, P.CENTER_TOKEN})

POLICY: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.PLATFORM_ADMIN: _EVERYTHING,
        Role.ORG_ADMIN: _EVERYTHING,  # within its organization (acts_in)
        Role.MEMBER: _JOBS | {P.CENTER_READ, P.STATUS_READ, P.ORG_READ, P.TOKEN_MANAGE_OWN, P.USAGE_READ},
        Role.VIEWER: frozenset(
            {P.JOB_READ, P.JOB_LOGS, P.CENTER_READ, P.STATUS_READ, P.ORG_READ, P.TOKEN_MANAGE_OWN, P.USAGE_READ}
        ),
        Role.CENTER_OPERATOR: _CENTERS | {P.JOB_READ, P.STATUS_READ, P.TOKEN_MANAGE_OWN, P.USAGE_READ},
        Role.AUDITOR: frozenset({P.AUDIT_READ, P.ORG_READ, P.STATUS_READ, P.TOKEN_MANAGE_OWN, P.USAGE_READ}),
    }
)

_READING = frozenset({P.JOB_READ, P.JOB_LOGS, P.CENTER_READ, P.ORG_READ, P.AUDIT_READ, P.STATUS_READ, P.USAGE_READ})

SCOPE_ALLOWS: Mapping[Scope, frozenset[Permission]] = MappingProxyType(
    {
        Scope.READ: _READING,
        Scope.SUBMIT: _READING | {P.JOB_SUBMIT, P.JOB_CANCEL},
        Scope.ADMIN: _EVERYTHING,
    }
)


def allows(principal: Principal, permission: Permission) -> bool:
    """Some role of the principal grants ``permission`` and some scope of its token allows it."""
    return any(permission in POLICY[role] for role in principal.roles) and any(
        permission in SCOPE_ALLOWS[scope] for scope in principal.scopes
    )


def permissions_of(principal: Principal) -> frozenset[Permission]:
    """Everything ``allows`` lets the principal do, with the token it used."""
    return frozenset(p for p in Permission if allows(principal, p))


def acts_in(principal: Principal, organization: str) -> bool:
    """Whether the principal may touch what belongs to ``organization``: a platform admin's
    reach is every organization, anyone else's the one its token acts for."""
    return Role.PLATFORM_ADMIN in principal.roles or principal.organization == organization
