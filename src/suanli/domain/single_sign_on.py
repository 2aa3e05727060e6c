"""Single sign-on: who an OpenID provider says someone is, and what their claims make them here.

The provider names the person (a claim, by default ``preferred_username``, gives the Suanli user
name) and lists their organizations and roles in one claim (by default ``suanli_roles``), each
value ``"organization:role"``: ``["acme:org-admin", "acme:member"]``. A value that is not of that
form, or names a role Suanli does not have, refuses the sign-in with a message saying which value
and what to fix at the provider; nothing is guessed. Whether the organizations exist is the
service's question (services/single_sign_on.py).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from suanli.domain.centers import NAME_PATTERN
from suanli.domain.errors import Forbidden
from suanli.domain.identity import Role

_NAME = re.compile(NAME_PATTERN)
_ROLES = ", ".join(sorted(r.value for r in Role))
_SEPARATORS = re.compile(r"[\s,]+")
MAX_NAME_CHARS = 63


class ClaimRefused(Forbidden):
    """The provider signed the person in, but its claims do not make them anyone here (no role,
    an unknown role or organization, a name Suanli cannot use). The message names the claim and
    the value, and what to fix."""

    title = "Sign-in refused"

    def __init__(self, message: str, *, who: str = "") -> None:
        super().__init__(message)
        self.who = who  # the user name the claims gave, when known: for the audit log


@dataclass(frozen=True, slots=True)
class Membership:
    organization: str
    role: Role

    def __str__(self) -> str:
        return f"{self.organization}:{self.role.value}"


@dataclass(frozen=True, slots=True)
class ExternalIdentity:
    """A person as an OpenID provider vouched for them, in Suanli's terms."""

    issuer: str
    subject: str  # the provider's stable id for them (``sub``)
    name: str  # the Suanli user name, from the configured claim
    display_name: str
    email: str
    memberships: tuple[Membership, ...]

    @property
    def organizations(self) -> tuple[str, ...]:
        """The organizations of the memberships, in the claim's order, each once."""
        return tuple(dict.fromkeys(m.organization for m in self.memberships))


def memberships_from_claim(value: object, claim: str, who: str = "") -> tuple[Membership, ...]:
    """The memberships a claim's value lists: a JSON array of ``"organization:role"`` strings (a
    single string of them, separated by spaces or commas, is taken too). Duplicates count once;
    the claim's order is kept. ClaimRefused naming the first bad value (and ``who``, the user
    the claim is about, when given)."""
    try:
        return _memberships(value, claim)
    except ClaimRefused as refused:
        if not who:
            raise
        raise ClaimRefused(f"{who!r}: {refused.message}", who=who) from None


def _memberships(value: object, claim: str) -> tuple[Membership, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        items: Iterable[object] = [v for v in _SEPARATORS.split(value) if v]
    elif isinstance(value, list | tuple):
        items = value
    else:
        raise ClaimRefused(
            f'the claim {claim!r} must be a list of "organization:role" strings, not {type(value).__name__}; '
            "fix the claim's mapping at the provider"
        )
    found: dict[Membership, None] = {}
    for item in items:
        found[_membership(item, claim)] = None
    return tuple(found)


def _membership(item: object, claim: str) -> Membership:
    if not isinstance(item, str):
        raise ClaimRefused(
            f'the claim {claim!r} holds {item!r}, which is not an "organization:role" string; fix it at the provider'
        )
    organization, colon, role = item.strip().partition(":")
    if not colon or not organization or not role:
        raise ClaimRefused(
            f'the claim {claim!r} holds {item!r}; each value must read "organization:role", e.g. "acme:member"'
        )
    if len(organization) > MAX_NAME_CHARS or not _NAME.match(organization):
        raise ClaimRefused(
            f"the claim {claim!r} holds {item!r}: {organization!r} cannot be an organization name here "
            "(lower-case letters, digits and inner hyphens, up to 63)"
        )
    try:
        known = Role(role)
    except ValueError:
        raise ClaimRefused(
            f"the claim {claim!r} holds {item!r}: Suanli has no role {role!r}; the roles are {_ROLES}"
        ) from None
    return Membership(organization, known)


def user_name_from_claim(value: object, claim: str) -> str:
    """The Suanli user name a claim's value gives: used as it is (a provider's name that Suanli
    cannot use is refused rather than rewritten, so that two people never map to one name)."""
    if not isinstance(value, str) or not value:
        raise ClaimRefused(
            f"the provider sent no {claim!r} claim to name the user; ask for the scope that brings it, or set "
            "oidc_username_claim to a claim the provider sends"
        )
    if len(value) > MAX_NAME_CHARS or not _NAME.match(value):
        raise ClaimRefused(
            f"the claim {claim!r} is {value!r}, which cannot be a Suanli user name (lower-case letters, digits "
            "and inner hyphens, up to 63); map a claim that is, with oidc_username_claim"
        )
    return value
