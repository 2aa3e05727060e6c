"""Signing in with an OpenID provider: the person the provider vouched for becomes (or stays) a
Suanli user holding the roles its claim lists, then gets a browser session or an API token.

The provider is trusted for who someone is and which ``organization:role`` pairs they hold:
each pair is given with ``IdentityService.add_member`` (a user not known yet is created, its
home the first organization listed). Refused, each with a line saying what to fix:

- no pair at all (the claim is empty or missing): the person is no one here;
- an organization this installation does not have (an admin creates it first: nothing is made
  up from a claim);
- platform-admin, unless the setting ``oidc_allow_platform_admin`` is on, whether the claim grants
  it or the user holds it here already (a provider that lets people pick their own name must not
  open the platform's admin account to whoever picks ``admin``);
- a name that is a service account here, or a user an admin disabled.

Roles are only added: one the claim no longer lists stays until an admin removes it (the
identity store has no way to remove a membership yet).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from suanli.domain.errors import Unauthenticated
from suanli.domain.identity import FULL_SCOPES, Member, PrincipalKind, Role, TokenInfo
from suanli.domain.single_sign_on import ClaimRefused, ExternalIdentity
from suanli.services.identity import IdentityService, SessionGrant

CLI_TOKEN_NAME = "oidc-login"
SESSION_NAME = "oidc-session"


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A person signed in through the provider: the user, with its roles in ``organization``,
    the organization its session or token acts for (its home one if the claim lists it, else the
    first the claim lists)."""

    member: Member
    organization: str


class SingleSignOn:
    def __init__(
        self,
        identity: IdentityService,
        *,
        allow_platform_admin: bool = False,
        token_lifetime: timedelta = timedelta(hours=12),
        session_lifetime: timedelta = timedelta(hours=12),
    ) -> None:
        self.identity = identity
        self.allow_platform_admin = allow_platform_admin
        self.token_lifetime = token_lifetime
        self.session_lifetime = session_lifetime

    def provision(self, person: ExternalIdentity) -> SignedIn:
        """Gives ``person`` the roles the provider lists (creating the user if new)."""
        name = person.name
        if not person.memberships:
            raise ClaimRefused(
                f"the provider lists no Suanli organization and role for {name!r} (the roles claim is empty or "
                'missing); its admin gives them as "organization:role" values, e.g. "acme:member"'
            )
        if not self.allow_platform_admin and any(m.role is Role.PLATFORM_ADMIN for m in person.memberships):
            raise ClaimRefused(
                f"the provider makes {name!r} a platform admin, which single sign-on does not grant unless the "
                "setting oidc_allow_platform_admin is on; remove that value from the claim, or turn the setting on"
            )
        known = {organization.name for organization in self.identity.list_organizations()}
        if missing := [o for o in person.organizations if o not in known]:
            raise ClaimRefused(
                f"the provider gives {name!r} roles in {', '.join(repr(o) for o in missing)}, which this installation "
                "does not have; an admin creates it first (`suanli org add NAME --kind ...`), or the claim is fixed "
                "at the provider"
            )
        existing = self.identity.store.get_member(name)
        if existing is not None:
            if existing.kind is not PrincipalKind.USER:
                raise ClaimRefused(
                    f"{name!r} is a service account here, not a person; map the provider's users to other names "
                    "(oidc_username_claim)"
                )
            if Role.PLATFORM_ADMIN in existing.roles and not self.allow_platform_admin:
                raise ClaimRefused(
                    f"{name!r} is a platform admin here, and platform admins do not sign in through the provider "
                    "unless oidc_allow_platform_admin is on; sign in with a token or a password"
                )
            if existing.disabled:
                raise Unauthenticated(f"{name!r} is disabled; ask an admin of {existing.organization!r}")
        home = existing.organization if existing is not None else person.organizations[0]
        acting = home if home in person.organizations else person.organizations[0]
        for membership in person.memberships:
            self.identity.add_member(name, membership.organization, membership.role, kind=PrincipalKind.USER)
        member = self.identity.store.get_member(name, acting)
        assert member is not None  # add_member made it
        return SignedIn(member, acting)

    def cli_token(self, signed_in: SignedIn) -> tuple[str, TokenInfo]:
        """An API token for the CLI (``suanli login --oidc``), acting for the sign-in's organization."""
        return self.identity.mint_token(
            signed_in.member.name,
            CLI_TOKEN_NAME,
            FULL_SCOPES,
            self.token_lifetime,
            organization=signed_in.organization,
        )

    def open_session(self, signed_in: SignedIn) -> SessionGrant:
        """A browser session acting for the sign-in's organization."""
        return self.identity.open_session(
            signed_in.member, self.session_lifetime, organization=signed_in.organization, name=SESSION_NAME
        )
