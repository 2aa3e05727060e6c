"""Signing in with a password: checking it (slowed down after failures), opening a browser
session or minting a token for the CLI, changing a password, and signing out.

Passwords are hashed with argon2id by pwdlib (its recommended parameters; a stored hash made with
older parameters is replaced at the next sign-in). A name that does not exist costs the same
hash as one that does, and both failures read the same, so a sign-in never tells whether a name
exists.
"""

from __future__ import annotations

from datetime import timedelta
from functools import cached_property

from pwdlib import PasswordHash

from suanli.domain.errors import Conflict, Forbidden, InvalidSpec, NotFound, Unauthenticated
from suanli.domain.identity import (
    FULL_SCOPES,
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    Member,
    Principal,
    PrincipalKind,
    Role,
    TokenInfo,
    TokenKind,
)
from suanli.domain.permissions import Permission
from suanli.services.clock import Clock
from suanli.services.identity import IdentityService, SessionGrant
from suanli.services.login_throttle import LoginThrottle

_WRONG = "wrong name or password"


class SignInService:
    def __init__(
        self,
        identity: IdentityService,
        clock: Clock,
        *,
        session_lifetime: timedelta = timedelta(hours=12),
        hasher: PasswordHash | None = None,
    ) -> None:
        self.identity = identity
        self.store = identity.store
        self.clock = clock
        self.session_lifetime = session_lifetime
        self.throttle = LoginThrottle(clock)
        self.hasher = hasher or PasswordHash.recommended()

    @cached_property
    def _dummy_hash(self) -> str:
        """What an unknown name's password is checked against (made at the first sign-in, not at
        start: a hash costs a tenth of a second)."""
        return self.hasher.hash("a password nobody has")

    def sign_in(self, name: str, password: str, client: str, organization: str | None = None) -> Member:
        """The member whose name and password these are, with its roles in ``organization`` (default:
        its home one); Unauthenticated (the same words whatever was wrong), or TooManyAttempts
        while this name or client must wait."""
        self.throttle.check(name, client)
        found = self.store.password_hash(name)
        stored = found[1] if found is not None else None
        valid, updated = self.hasher.verify_and_update(password, stored or self._dummy_hash)
        if found is None or stored is None or not valid:
            self.throttle.failed(name, client)
            raise Unauthenticated(
                f"{_WRONG}; a user with no password yet gets one from an admin (`suanli member password NAME`)"
            )
        member = found[0]
        self.throttle.succeeded(name)
        if updated is not None:  # hashed with older parameters: keep the stronger hash
            self.store.set_password_hash(name, updated, self.clock.now(), end_sessions=False)
        if member.disabled:
            raise Unauthenticated(f"{name!r} is disabled; ask an admin of {member.organization!r}")
        if organization is not None and organization != member.organization:
            member = self.store.get_member(name, organization) or member
        acting_for = organization or member.organization
        if not member.roles:
            raise Unauthenticated(f"{name!r} holds no role in {acting_for!r}; ask an admin there to give it one")
        return member

    def open_session(self, member: Member, organization: str | None = None) -> SessionGrant:
        return self.identity.open_session(member, self.session_lifetime, organization=organization)

    def cli_token(
        self, member: Member, expires_in: timedelta, organization: str | None = None
    ) -> tuple[str, TokenInfo]:
        """An API token for the CLI of someone who signed in with a password."""
        return self.identity.mint_token(member.name, "cli-login", FULL_SCOPES, expires_in, organization=organization)

    def sign_out(self, principal: Principal) -> TokenInfo:
        """Ends the browser session the request came with."""
        info = self.store.get_token(principal.token_prefix)
        if info is None or info.kind is not TokenKind.SESSION:
            raise Conflict(
                "this request came with an API token, not a browser session; revoke a token with "
                "`suanli token revoke PREFIX` (DELETE /api/v1/tokens/{prefix})"
            )
        return self.identity.revoke_token(info.prefix, by=principal)

    def set_password(
        self,
        name: str,
        password: str,
        *,
        current_password: str | None = None,
        by: Principal | None = None,
        client: str = "",
    ) -> Member:
        """Sets a user's password and ends its browser sessions. One's own needs the current password
        (if there is one); another's needs org.manage in its home organization, and a platform
        admin's needs a platform admin."""
        if by is not None and by.name != name:
            self.identity.require(by, Permission.ORG_MANAGE)  # first: one who may not learns no names
            self.identity.visible_member(name, by)
        found = self.store.password_hash(name)
        if found is None:
            raise NotFound(f"no user or service account named {name!r}", field="name")
        member, stored = found
        if member.kind is not PrincipalKind.USER:
            raise Conflict(f"{name!r} is a service account: it signs in with tokens, never a password", field="name")
        if by is not None:
            if by.name == name:
                if stored is not None and not self._matches(current_password, stored, name, client):
                    raise Forbidden("the current password is wrong or missing", field="current_password")
            else:
                if Role.PLATFORM_ADMIN in member.roles and Role.PLATFORM_ADMIN not in by.roles:
                    raise Forbidden("only a platform admin may set a platform admin's password", field="name")
        if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
            raise InvalidSpec(
                f"a password has {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters; a few words make a good one",
                field="password",
            )
        if password.strip().lower() == name.lower():
            raise InvalidSpec("a password must not be the name", field="password")
        self.store.set_password_hash(name, self.hasher.hash(password), self.clock.now(), end_sessions=True)
        self.identity.forget_principal(name)
        return member

    def _matches(self, password: str | None, stored: str, name: str, client: str) -> bool:
        """Checks one's current password, throttled as a sign-in is (it is one, in effect)."""
        self.throttle.check(name, client)
        if password is not None and self.hasher.verify(password, stored):
            return True
        self.throttle.failed(name, client)
        return False
