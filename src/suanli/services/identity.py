"""Use cases of identity: authenticate a token, bootstrap the first admin, mint, list and revoke
API tokens, and manage organizations, projects and members.

Authentication is on every request's path, so a token's lookup is cached in this process for
``cache_s`` seconds (default 5): most requests cost no query. A token revoked (or a member's
roles changed) through this service is dropped from this process's cache at once; other server
processes (``--workers``, other hosts) see the change within ``cache_s``. Expiry is checked on
every request, cached or not. ``last_used_at`` is written at most once per ``touch_s`` (a minute)
per token, so that reading a token costs no write on most requests either.

Methods that take ``by`` (the principal asking) check there that it may act in the organization
concerned, beyond the route's permission (``permissions.acts_in``); without ``by`` the caller is
trusted (the server's own bootstrap, tests).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from suanli.domain.errors import Conflict, Forbidden, InvalidSpec, NotFound, StaleVersion, Unauthenticated
from suanli.domain.identity import (
    BOOTSTRAP_ADMIN,
    DEFAULT_ORGANIZATION,
    FULL_SCOPES,
    TOKEN_PREFIX,
    Member,
    Organization,
    OrganizationKind,
    Principal,
    PrincipalKind,
    Project,
    Role,
    Scope,
    TokenInfo,
    TokenKind,
    is_well_formed_token,
    normalize_prefix,
    token_prefix,
)
from suanli.domain.permissions import Permission, acts_in, allows, permissions_of
from suanli.services.clock import Clock

__all__ = ["IdentityService", "IdentityStore", "NewToken", "SessionGrant", "TokenRecord", "Unauthenticated", "Whoami"]

CENTER_TOKEN_PREFIX = "sl_"  # services.agents.TOKEN_PREFIX: a center agent's token, not a person's
_MINT_ATTEMPTS = 5
_CACHE_MAX = 10_000
_HOW = "pass one as `Authorization: Bearer sk_...` (the CLI: `suanli login --token sk_...`, or SUANLI_TOKEN)"


@dataclass(frozen=True, slots=True)
class NewToken:
    prefix: str
    token_hash: str
    principal: str
    organization: str
    name: str
    scopes: frozenset[Scope]
    expires_at: datetime | None
    kind: TokenKind = TokenKind.API
    csrf_hash: str | None = None  # a browser session's CSRF token, hashed


@dataclass(frozen=True, slots=True)
class SessionGrant:
    """A new browser session: its token (for the HttpOnly cookie) and its CSRF token (for the
    page's script to send back as a header), each shown this once."""

    token: str
    csrf_token: str
    info: TokenInfo


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """A stored token with what authenticating it needs of its principal."""

    info: TokenInfo
    kind: PrincipalKind
    disabled: bool
    roles: frozenset[Role]  # held in the token's organization, and platform-admin held anywhere
    csrf_hash: str | None = None


@dataclass(frozen=True, slots=True)
class Whoami:
    principal: Principal
    permissions: frozenset[Permission]
    token: TokenInfo | None  # the token in use (None if it was revoked meanwhile)


class IdentityStore(Protocol):
    """The storage port of identity; every method is one transaction."""

    def create_organization(self, organization: Organization, now: datetime) -> Organization: ...
    def get_organization(self, name: str) -> Organization: ...
    def list_organizations(self, names: Iterable[str] | None = None) -> list[Organization]: ...
    def create_project(self, project: Project, now: datetime) -> Project: ...
    def list_projects(self, organization: str) -> list[Project]: ...
    def count_principals(self) -> int: ...
    def create_principal(
        self, name: str, kind: PrincipalKind, organization: str, roles: Iterable[Role], now: datetime
    ) -> Member: ...
    def get_member(self, name: str, organization: str | None = None) -> Member | None:
        """The principal with its roles in ``organization`` (default: its home one), platform-admin
        held anywhere included; None when no principal has the name."""

    def add_membership(self, principal: str, organization: str, role: Role) -> Member: ...
    def held_roles(self, principal: str, organization: str) -> frozenset[Role]: ...
    def remove_membership(self, principal: str, organization: str, roles: Iterable[Role]) -> Member: ...
    def list_members(self, organization: str) -> list[Member]: ...
    def password_hash(self, name: str) -> tuple[Member, str | None] | None: ...
    def set_password_hash(self, name: str, password_hash: str, now: datetime, *, end_sessions: bool) -> None: ...
    def set_disabled(self, name: str, disabled: bool) -> None: ...
    def add_token(self, token: NewToken, now: datetime) -> TokenInfo: ...
    def bootstrap(self, principal: str, organization: str, role: Role, token: NewToken, now: datetime) -> bool: ...
    def token_for_hash(self, token_hash: str) -> TokenRecord | None: ...
    def get_token(self, prefix: str) -> TokenInfo | None: ...
    def list_tokens(self, principal: str) -> list[TokenInfo]: ...
    def revoke_token(self, prefix: str, now: datetime) -> TokenInfo: ...
    def touch_token(self, prefix: str, now: datetime) -> None: ...


@dataclass(slots=True)
class _Cached:
    principal: Principal
    expires_at: datetime | None
    checked_at: datetime
    touched_at: datetime | None  # when last_used_at was last written (or read so)
    kind: TokenKind
    csrf_hash: str | None


def hash_token(token: str) -> str:
    """SHA-256 of the whole token: tokens carry 256 random bits, so a fast hash is the right one
    (a slow password hash guards low-entropy secrets; it would only cost every request)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def write_private(path: Path, text: str) -> None:
    """Writes ``text`` to ``path`` readable by its owner only (0600), replacing it whole: a reader
    never sees half a file, and the secret is never in a file others could read."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


class IdentityService:
    def __init__(self, store: IdentityStore, clock: Clock, *, cache_s: float = 5.0, touch_s: float = 60.0) -> None:
        self.store = store
        self.clock = clock
        self.cache_s = cache_s
        self.touch_s = touch_s
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    # authentication -------------------------------------------------------------------------------

    def authenticate(self, token: str, *, session_csrf: str | None = None, from_cookie: bool = False) -> Principal:
        """The principal a token acts as; Unauthenticated saying what is wrong and what to do.

        A token ``from_cookie`` must be a browser session's; given ``session_csrf`` (a write, which
        a cookie alone must never authorize), it must be that session's CSRF token too."""
        token = token.strip()
        if not is_well_formed_token(token):
            raise Unauthenticated(_malformed(token))
        token_hash = hash_token(token)
        now = self.clock.now()
        with self._lock:
            cached = self._cache.get(token_hash)
        if cached is None or (now - cached.checked_at).total_seconds() >= self.cache_s:
            cached = self._look_up(token, token_hash, now)
        if cached.expires_at is not None and cached.expires_at <= now:
            self._forget(token_hash)
            raise Unauthenticated(_expired(token, cached.expires_at))
        if cached.touched_at is None or (now - cached.touched_at).total_seconds() >= self.touch_s:
            cached.touched_at = now
            self.store.touch_token(cached.principal.token_prefix, now)
        if from_cookie:
            _check_session(cached, session_csrf)
        return cached.principal

    def _look_up(self, token: str, token_hash: str, now: datetime) -> _Cached:
        record = self.store.token_for_hash(token_hash)
        if record is None:
            self._forget(token_hash)
            raise Unauthenticated(
                f"the token {_shown(token)} is not known here (mistyped, from another installation, or its "
                f"installation was reset); ask an admin for a new one (`suanli token create NAME --for YOU`)"
            )
        info = record.info
        if info.revoked_at is not None:
            self._forget(token_hash)
            raise Unauthenticated(
                f"the token {_shown(token)} ({info.name!r}) was revoked on {info.revoked_at:%Y-%m-%d %H:%M} UTC; "
                "create a new one with another token (`suanli token create NAME`), or ask an admin for one"
            )
        if record.disabled:
            self._forget(token_hash)
            raise Unauthenticated(f"{info.principal!r} is disabled; ask an admin of {info.organization!r}")
        principal = Principal(
            name=info.principal,
            kind=record.kind,
            organization=info.organization,
            roles=record.roles,
            scopes=info.scopes,
            token_prefix=info.prefix,
        )
        entry = _Cached(principal, info.expires_at, now, info.last_used_at, info.kind, record.csrf_hash)
        with self._lock:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.pop(next(iter(self._cache)))  # the oldest entry
            self._cache.pop(token_hash, None)
            self._cache[token_hash] = entry
        return entry

    def _forget(self, token_hash: str) -> None:
        with self._lock:
            self._cache.pop(token_hash, None)

    def _forget_where(self, *, prefix: str | None = None, principal: str | None = None) -> None:
        with self._lock:
            for key, entry in list(self._cache.items()):
                if entry.principal.token_prefix == prefix or entry.principal.name == principal:
                    del self._cache[key]

    # bootstrap ------------------------------------------------------------------------------------

    def bootstrap(self, home_token_file: Path) -> str | None:
        """On an installation with no principal yet: creates the user "admin" in the organization
        "default" with the role platform-admin, mints it a full token, writes the token to
        ``home_token_file`` (0600) and returns it. None when a principal exists already (this
        installation was bootstrapped before, by this process or another).

        The file is written before the database is, and put in place only once the admin exists:
        a failure leaves either nothing or a working token."""
        if self.store.count_principals() > 0:
            return None
        token = new_token()
        staged = home_token_file.with_name(f".{home_token_file.name}.{secrets.token_hex(4)}.new")  # ours alone
        write_private(staged, token + "\n")
        try:
            made = self.store.bootstrap(
                BOOTSTRAP_ADMIN,
                DEFAULT_ORGANIZATION,
                Role.PLATFORM_ADMIN,
                self._new(token, BOOTSTRAP_ADMIN, DEFAULT_ORGANIZATION, "bootstrap", FULL_SCOPES, None),
                self.clock.now(),
            )
            if made:
                os.replace(staged, home_token_file)
        finally:
            staged.unlink(missing_ok=True)
        return token if made else None

    # tokens ---------------------------------------------------------------------------------------

    def mint_token(
        self,
        principal_name: str,
        name: str,
        scopes: Iterable[Scope],
        expires_in: timedelta | None,
        *,
        organization: str | None = None,
        by: Principal | None = None,
    ) -> tuple[str, TokenInfo]:
        """A new token for ``principal_name``, acting for ``organization`` (default: its home one).
        The token is returned once: only its hash is kept. A principal minting through ``by`` gets
        no scope its own token lacks and no organization but the one its token acts for (a leaked
        token reaches no further); minting for someone else takes org.manage, for its own
        organization's users and service accounts (an org admin mints its service accounts' tokens).
        A platform admin mints for anyone, acting anywhere."""
        wanted = frozenset(scopes) or FULL_SCOPES
        if expires_in is not None and expires_in <= timedelta(0):
            raise InvalidSpec("a token's lifetime must be positive, e.g. 30d or 12h", field="expires_in")
        member = self.store.get_member(principal_name, organization)
        acting_for = organization or (member.organization if member is not None else "")
        if by is not None:
            self._may_mint(by, principal_name, member, acting_for, wanted)
        if member is None:
            raise NotFound(f"no user or service account named {principal_name!r}", field="principal")
        if member.disabled:
            raise Conflict(f"{principal_name!r} is disabled: it gets no new tokens")
        if not member.roles:
            raise Conflict(
                f"{principal_name!r} holds no role in {acting_for!r}; give it one first "
                f"(`suanli member add {principal_name} --org {acting_for} --role member`)"
            )
        expires_at = self.clock.now() + expires_in if expires_in is not None else None
        return self._store_new(principal_name, acting_for, name, wanted, expires_at)

    def open_session(
        self, member: Member, lifetime: timedelta, *, organization: str | None = None, name: str = "browser-session"
    ) -> SessionGrant:
        """A browser session for ``member`` (who has just proved who they are), acting for
        ``organization`` (default: its home one) with every scope its roles allow, ending after
        ``lifetime``."""
        csrf_token = secrets.token_urlsafe(32)
        token, info = self._store_new(
            member.name,
            organization or member.organization,
            name,
            FULL_SCOPES,
            self.clock.now() + lifetime,
            kind=TokenKind.SESSION,
            csrf_hash=hash_token(csrf_token),
        )
        return SessionGrant(token, csrf_token, info)

    def _store_new(
        self,
        principal: str,
        organization: str,
        name: str,
        scopes: frozenset[Scope],
        expires_at: datetime | None,
        *,
        kind: TokenKind = TokenKind.API,
        csrf_hash: str | None = None,
    ) -> tuple[str, TokenInfo]:
        for _ in range(_MINT_ATTEMPTS):
            token = new_token()
            new = self._new(token, principal, organization, name, scopes, expires_at, kind=kind, csrf_hash=csrf_hash)
            try:
                return token, self.store.add_token(new, self.clock.now())
            except StaleVersion:
                continue  # a prefix already taken (48 random bits: rare); draw again
        raise Conflict("could not find a free token prefix; try again")

    def list_tokens(self, principal_name: str) -> list[TokenInfo]:
        return self.store.list_tokens(principal_name)

    def revoke_token(self, prefix: str, *, by: Principal | None = None) -> TokenInfo:
        """Revokes the token with this prefix: refused from now on in this process, within
        ``cache_s`` in others. One's own tokens, or with org.manage those of one's organization."""
        normalized = normalize_prefix(prefix)
        missing = NotFound(f"no token with the prefix {prefix!r}; `suanli token list` shows yours", field="prefix")
        if normalized is None:
            raise missing
        info = self.store.get_token(normalized)
        if info is None:
            raise missing
        if by is not None and info.principal != by.name and not _manages(by, info.organization):
            raise missing  # another's token: its existence is not theirs to learn
        revoked = self.store.revoke_token(normalized, self.clock.now())
        self._forget_where(prefix=normalized)
        return revoked

    # organizations, projects, members -------------------------------------------------------------

    def create_organization(
        self, name: str, kind: OrganizationKind, display_name: str = "", *, by: Principal | None = None
    ) -> Organization:
        if by is not None:
            self.require(by, Permission.ORG_MANAGE, name)
        organization = Organization(name=name, kind=kind, display_name=display_name)
        return self.store.create_organization(organization, self.clock.now())

    def list_organizations(self, *, by: Principal | None = None) -> list[Organization]:
        if by is None or Role.PLATFORM_ADMIN in by.roles:
            return self.store.list_organizations()
        return self.store.list_organizations([by.organization])

    def create_project(self, organization: str, name: str, *, by: Principal | None = None) -> Project:
        if by is not None:
            self.require(by, Permission.ORG_MANAGE, organization)
        return self.store.create_project(Project(organization=organization, name=name), self.clock.now())

    def list_projects(self, organization: str, *, by: Principal | None = None) -> list[Project]:
        if by is not None:
            self.require(by, Permission.ORG_READ, organization)
        return self.store.list_projects(organization)

    def create_principal(
        self, name: str, kind: PrincipalKind, organization: str, roles: Iterable[Role], *, by: Principal | None = None
    ) -> Member:
        wanted = frozenset(roles)
        if by is not None:
            self.require(by, Permission.ORG_MANAGE, organization)
            self._may_grant(by, wanted)
        return self.store.create_principal(name, kind, organization, wanted, self.clock.now())

    def add_member(
        self,
        principal: str,
        organization: str,
        role: Role,
        *,
        kind: PrincipalKind | None = None,
        by: Principal | None = None,
    ) -> Member:
        """Gives ``principal`` the role in ``organization``. A name not known yet becomes a new
        principal of ``kind`` (default a user) whose home is ``organization``."""
        if by is not None:
            self.require(by, Permission.ORG_MANAGE, organization)
            self._may_grant(by, {role})
        self.store.get_organization(organization)
        existing = self.store.get_member(principal, organization)
        if existing is None:
            return self.store.create_principal(
                principal, kind or PrincipalKind.USER, organization, {role}, self.clock.now()
            )
        if kind is not None and existing.kind is not kind:
            raise Conflict(f"{principal!r} exists already as a {existing.kind.value}, not a {kind.value}", field="kind")
        member = self.store.add_membership(principal, organization, role)
        self._forget_where(principal=principal)
        return member

    def remove_member(
        self, principal: str, organization: str, role: Role | None = None, *, by: Principal | None = None
    ) -> Member:
        """Takes ``role`` (default: every role) in ``organization`` from ``principal``; its tokens
        lose what those roles allowed from the next request (other server processes: within the
        token cache's time). Nobody takes their own platform-admin (an installation would lose its
        admin), and only a platform admin takes another's."""
        if by is not None:
            self.require(by, Permission.ORG_MANAGE, organization)
        held = self.store.held_roles(principal, organization)
        if not held or (role is not None and role not in held):
            what = f"the role {role.value}" if role is not None else "a role"
            raise NotFound(f"{principal!r} holds {what} in {organization!r}: nothing to remove", field="name")
        taking = frozenset({role}) if role is not None else held
        if by is not None and Role.PLATFORM_ADMIN in taking:
            if by.name == principal:
                raise Conflict("you cannot take your own platform-admin role; ask another platform admin")
            self._may_grant(by, taking)
        updated = self.store.remove_membership(principal, organization, taking)
        self._forget_where(principal=principal)
        return updated

    def list_members(self, organization: str, *, by: Principal | None = None) -> list[Member]:
        if by is not None:
            self.require(by, Permission.ORG_READ, organization)
        return self.store.list_members(organization)

    def forget_principal(self, name: str) -> None:
        """Drops this process's cached lookups of ``name``'s tokens (its sessions just ended)."""
        self._forget_where(principal=name)

    def set_disabled(self, name: str, disabled: bool, *, by: Principal | None = None) -> Member:
        """Disables a user or service account (every token of it is refused from now on, in other
        server processes within the token cache's time) or enables it again. Needs org.manage in
        its home organization; nobody disables themselves (an installation would lose its admin)."""
        if by is not None:
            self.require(by, Permission.ORG_MANAGE)
        self.visible_member(name, by)
        if by is not None and disabled and by.name == name:
            raise Conflict("you cannot disable yourself; ask another admin", field="name")
        self.store.set_disabled(name, disabled)
        self._forget_where(principal=name)
        updated = self.store.get_member(name)
        assert updated is not None
        return updated

    def visible_member(self, name: str, by: Principal | None) -> Member:
        """The principal named ``name`` if ``by`` may act in its home organization; NotFound,
        with the same words, when it does not exist or lives in another organization (whose
        names are not ``by``'s to learn)."""
        member = self.store.get_member(name)
        if member is None or (by is not None and not acts_in(by, member.organization)):
            raise NotFound(f"no user or service account named {name!r}", field="name")
        return member

    def whoami(self, principal: Principal) -> Whoami:
        return Whoami(principal, permissions_of(principal), self.store.get_token(principal.token_prefix))

    # checks ---------------------------------------------------------------------------------------

    def require(self, principal: Principal, permission: Permission, organization: str | None = None) -> None:
        """Forbidden unless the principal may ``permission`` (roles and token scopes) and, given an
        organization, may act in it."""
        if not allows(principal, permission):
            raise Forbidden(
                f"{principal.name!r} may not do this: it needs {permission.value}, which its roles "
                f"({_roles(principal.roles)}) with this token's scopes ({_scopes(principal.scopes)}) do not give"
            )
        if organization is not None and not acts_in(principal, organization):
            raise Forbidden(
                f"{principal.name!r} acts for {principal.organization!r} and may not act in {organization!r}; "
                "ask an admin of that organization or a platform admin"
            )

    def _may_mint(
        self, by: Principal, principal_name: str, member: Member | None, acting_for: str, wanted: frozenset[Scope]
    ) -> None:
        platform = Role.PLATFORM_ADMIN in by.roles
        if by.name != principal_name:
            self.require(by, Permission.ORG_MANAGE)  # first: one who may not learns no names
            if not platform and (member is None or member.organization != by.organization):
                raise NotFound(  # the same words for a name of another organization and an unknown one
                    f"no user or service account named {principal_name!r} in {by.organization!r}; an admin "
                    "mints tokens for its own organization's users and service accounts",
                    field="principal",
                )
        if not platform and acting_for != by.organization:
            raise Forbidden(
                f"this token acts for {by.organization!r} and mints tokens acting for it only; for "
                f"{acting_for!r}, sign in there (`suanli login --password --org {acting_for}`) or use a token "
                "acting for it",
                field="organization",
            )
        if missing := wanted - by.scopes:
            raise Forbidden(
                f"a token with the scopes {_scopes(by.scopes)} cannot mint one with {_scopes(missing)}; "
                "use a token with the admin scope",
                field="scopes",
            )

    def _may_grant(self, by: Principal, roles: Iterable[Role]) -> None:
        if Role.PLATFORM_ADMIN in roles and Role.PLATFORM_ADMIN not in by.roles:
            raise Forbidden("only a platform admin gives or takes the platform-admin role", field="role")

    def _new(
        self,
        token: str,
        principal: str,
        organization: str,
        name: str,
        scopes: frozenset[Scope],
        expires_at: datetime | None,
        *,
        kind: TokenKind = TokenKind.API,
        csrf_hash: str | None = None,
    ) -> NewToken:
        return NewToken(
            token_prefix(token), hash_token(token), principal, organization, name, scopes, expires_at, kind, csrf_hash
        )


def _check_session(entry: _Cached, csrf_token: str | None) -> None:
    if entry.kind is not TokenKind.SESSION:
        raise Unauthenticated("the session cookie holds no session; sign in again (POST /api/v1/auth/login)")
    if csrf_token is not None and (
        entry.csrf_hash is None or not hmac.compare_digest(hash_token(csrf_token), entry.csrf_hash)
    ):
        raise Forbidden(
            "a change made with a session cookie needs the session's CSRF token in the X-CSRF-Token header "
            "(the suanli_csrf cookie holds it); it was missing or wrong"
        )


def _manages(principal: Principal, organization: str) -> bool:
    return allows(principal, Permission.ORG_MANAGE) and acts_in(principal, organization)


def _shown(token: str) -> str:
    return token[: len(TOKEN_PREFIX) + 8] + "..."


def _scopes(scopes: Iterable[Scope]) -> str:
    return ", ".join(sorted(s.value for s in scopes)) or "none"


def _roles(roles: Iterable[Role]) -> str:
    return ", ".join(sorted(r.value for r in roles)) or "none"


def _malformed(token: str) -> str:
    if token.startswith(CENTER_TOKEN_PREFIX):
        return (
            "this is a center agent's token (sl_...), which only the agent protocol takes; people and "
            f"scripts use an API token (sk_...); {_HOW}"
        )
    if not token:
        return f"the token is empty; {_HOW}"
    if not token.startswith(TOKEN_PREFIX):
        return f"this is not a Suanli API token (they start with sk_); {_HOW}"
    return f"the token is malformed (an API token is sk_ and 43 more letters, digits, - or _; cut short?); {_HOW}"


def _expired(token: str, expires_at: datetime) -> str:
    return (
        f"the token {_shown(token)} expired on {expires_at:%Y-%m-%d %H:%M} UTC; create a new one "
        "(`suanli token create NAME --expires 30d`) with another token, or ask an admin"
    )
