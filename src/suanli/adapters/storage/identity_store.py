"""``SqlIdentityStore``: the IdentityStore port (organizations, projects, principals, memberships,
API tokens) on SQLAlchemy Core.

It shares the ``SqlStore``'s engine and its in-process write lock, so SQLite writers still queue
in one line. Every public method is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from suanli.adapters.storage import rows
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import api_tokens, memberships, organizations, principals, projects
from suanli.domain.errors import Conflict, NotFound, StaleVersion
from suanli.domain.identity import (
    Member,
    Organization,
    OrganizationKind,
    PrincipalKind,
    Project,
    Role,
    Scope,
    TokenInfo,
    TokenKind,
)
from suanli.services.identity import NewToken, TokenRecord

_TOKEN_COLUMNS = [c for c in api_tokens.c if c.name not in ("id", "token_hash", "csrf_hash")]


def token_from_row(row: Any) -> TokenInfo:
    return TokenInfo(
        prefix=row.prefix,
        name=row.name,
        principal=row.principal,
        organization=row.organization,
        scopes=frozenset(Scope(s) for s in row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
        kind=TokenKind(row.kind),
    )


def _organization_missing(name: str) -> NotFound:
    return NotFound(f"organization {name!r} not found; `suanli org list` shows them", field="organization")


class SqlIdentityStore:
    def __init__(self, store: SqlStore) -> None:
        self._store = store

    # organizations and projects -------------------------------------------------------------------

    def create_organization(self, organization: Organization, now: datetime) -> Organization:
        values = {**organization.model_dump(mode="json"), "created_at": rows.utc(now)}
        try:
            with self._store._write() as connection:
                connection.execute(insert(organizations), values)
        except IntegrityError:
            raise Conflict(f"organization {organization.name!r} exists already", field="name") from None
        return organization

    def get_organization(self, name: str) -> Organization:
        with self._store._read() as connection:
            row = connection.execute(select(organizations).where(organizations.c.name == name)).first()
        if row is None:
            raise _organization_missing(name)
        return _organization(row)

    def list_organizations(self, names: Iterable[str] | None = None) -> list[Organization]:
        statement = select(organizations).order_by(organizations.c.name)
        if names is not None:
            statement = statement.where(organizations.c.name.in_(list(names)))
        with self._store._read() as connection:
            return [_organization(row) for row in connection.execute(statement)]

    def create_project(self, project: Project, now: datetime) -> Project:
        with self._store._write() as connection:
            _require_organization(connection, project.organization)
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(projects),
                        {"organization": project.organization, "name": project.name, "created_at": rows.utc(now)},
                    )
            except IntegrityError:
                raise Conflict(
                    f"project {project.name!r} exists already in {project.organization!r}", field="name"
                ) from None
        return project

    def list_projects(self, organization: str) -> list[Project]:
        statement = select(projects.c.organization, projects.c.name).where(projects.c.organization == organization)
        with self._store._read() as connection:
            _require_organization(connection, organization)
            found = connection.execute(statement.order_by(projects.c.name)).all()
        return [Project(organization=row.organization, name=row.name) for row in found]

    # principals and memberships -------------------------------------------------------------------

    def count_principals(self) -> int:
        with self._store._read() as connection:
            return int(connection.execute(select(func.count()).select_from(principals)).scalar_one())

    def create_principal(
        self, name: str, kind: PrincipalKind, organization: str, roles: Iterable[Role], now: datetime
    ) -> Member:
        with self._store._write() as connection:
            _require_organization(connection, organization)
            try:
                with connection.begin_nested():
                    _insert_principal(connection, name, kind, organization, roles, now)
            except IntegrityError:
                raise Conflict(
                    f"{name!r} exists already; give it a role with `suanli member add {name} --org ORG --role ROLE`",
                    field="name",
                ) from None
            member = _member(connection, name, organization)
        assert member is not None
        return member

    def get_member(self, name: str, organization: str | None = None) -> Member | None:
        with self._store._read() as connection:
            return _member(connection, name, organization)

    def add_membership(self, principal: str, organization: str, role: Role) -> Member:
        with self._store._write() as connection:
            _require_organization(connection, organization)
            if _member(connection, principal, organization) is None:
                raise NotFound(f"no user or service account named {principal!r}", field="name")
            try:
                with connection.begin_nested():
                    connection.execute(
                        insert(memberships), {"principal": principal, "organization": organization, "role": role.value}
                    )
            except IntegrityError:
                pass  # held already: adding it again changes nothing
            member = _member(connection, principal, organization)
        assert member is not None
        return member

    def held_roles(self, principal: str, organization: str) -> frozenset[Role]:
        """The roles the principal holds in ``organization`` itself (not platform-admin held elsewhere)."""
        statement = select(memberships.c.role).where(
            memberships.c.principal == principal, memberships.c.organization == organization
        )
        with self._store._read() as connection:
            return frozenset(Role(role) for role in connection.execute(statement).scalars())

    def remove_membership(self, principal: str, organization: str, roles: Iterable[Role]) -> Member:
        """Takes these roles in ``organization`` from the principal (those it does not hold are no
        change) and returns it as that organization now sees it."""
        values = [role.value for role in roles]
        with self._store._write() as connection:
            connection.execute(
                delete(memberships).where(
                    memberships.c.principal == principal,
                    memberships.c.organization == organization,
                    memberships.c.role.in_(values),
                )
            )
            member = _member(connection, principal, organization)
        if member is None:
            raise NotFound(f"no user or service account named {principal!r}", field="name")
        return member

    def list_members(self, organization: str) -> list[Member]:
        """Everyone holding a role in ``organization`` or at home there, by name."""
        held = select(memberships.c.principal).where(memberships.c.organization == organization)
        statement = select(principals.c.name).where(
            or_(principals.c.organization == organization, principals.c.name.in_(held))
        )
        with self._store._read() as connection:
            _require_organization(connection, organization)
            names = connection.execute(statement.order_by(principals.c.name)).scalars().all()
            found = [_member(connection, name, organization) for name in names]
        return [member for member in found if member is not None]

    def password_hash(self, name: str) -> tuple[Member, str | None] | None:
        """The principal (its roles at home) and its password hash; None if no principal has the name."""
        with self._store._read() as connection:
            member = _member(connection, name, None)
            if member is None:
                return None
            stored = connection.execute(select(principals.c.password_hash).where(principals.c.name == name))
            return member, stored.scalar_one()

    def set_password_hash(self, name: str, password_hash: str, now: datetime, *, end_sessions: bool) -> None:
        """Stores the hash; with ``end_sessions``, every open browser session of the principal ends
        in the same transaction (a changed password signs out whoever knew the old one)."""
        with self._store._write() as connection:
            changed = connection.execute(
                update(principals).where(principals.c.name == name).values(password_hash=password_hash)
            )
            if changed.rowcount == 0:
                raise NotFound(f"no user named {name!r}", field="name")
            if end_sessions:
                connection.execute(
                    update(api_tokens)
                    .where(
                        api_tokens.c.principal == name,
                        api_tokens.c.kind == TokenKind.SESSION.value,
                        api_tokens.c.revoked_at.is_(None),
                    )
                    .values(revoked_at=rows.utc(now))
                )

    def set_disabled(self, name: str, disabled: bool) -> None:
        with self._store._write() as connection:
            changed = connection.execute(update(principals).where(principals.c.name == name).values(disabled=disabled))
        if changed.rowcount == 0:
            raise NotFound(f"no user or service account named {name!r}", field="name")

    # tokens ---------------------------------------------------------------------------------------

    def add_token(self, token: NewToken, now: datetime) -> TokenInfo:
        try:
            with self._store._write() as connection:
                connection.execute(insert(api_tokens), _token_values(token, now))
        except IntegrityError:  # a prefix in use (or, never in practice, a hash): the caller draws again
            raise StaleVersion("token prefix in use; mint another") from None
        return _new_token_info(token, now)

    def bootstrap(self, principal: str, organization: str, role: Role, token: NewToken, now: datetime) -> bool:
        """Creates the first principal, its role and its token, if no principal exists yet."""
        try:
            with self._store._write() as connection:
                lookup = select(principals.c.name).limit(1)
                if connection.execute(lookup).first() is not None:
                    return False
                _require_organization(connection, organization)
                _insert_principal(connection, principal, PrincipalKind.USER, organization, [role], now)
                connection.execute(insert(api_tokens), _token_values(token, now))
        except IntegrityError:
            return False  # another process bootstrapped at the same moment (PostgreSQL)
        return True

    def token_for_hash(self, token_hash: str) -> TokenRecord | None:
        statement = (
            select(
                *_TOKEN_COLUMNS,
                api_tokens.c.csrf_hash,
                principals.c.kind.label("principal_kind"),
                principals.c.disabled,
            )
            .join(principals, principals.c.name == api_tokens.c.principal)
            .where(api_tokens.c.token_hash == token_hash)
        )
        with self._store._read() as connection:
            row = connection.execute(statement).first()
            if row is None:
                return None
            roles = _roles(connection, row.principal, row.organization)
        return TokenRecord(
            token_from_row(row), PrincipalKind(row.principal_kind), bool(row.disabled), roles, row.csrf_hash
        )

    def get_token(self, prefix: str) -> TokenInfo | None:
        with self._store._read() as connection:
            row = connection.execute(select(*_TOKEN_COLUMNS).where(api_tokens.c.prefix == prefix)).first()
        return token_from_row(row) if row is not None else None

    def list_tokens(self, principal: str) -> list[TokenInfo]:
        statement = select(*_TOKEN_COLUMNS).where(api_tokens.c.principal == principal).order_by(api_tokens.c.id)
        with self._store._read() as connection:
            return [token_from_row(row) for row in connection.execute(statement)]

    def revoke_token(self, prefix: str, now: datetime) -> TokenInfo:
        """Revokes the token; revoking it again keeps the first moment."""
        statement = (
            update(api_tokens)
            .where(api_tokens.c.prefix == prefix, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=rows.utc(now))
        )
        with self._store._write() as connection:
            connection.execute(statement)
            row = connection.execute(select(*_TOKEN_COLUMNS).where(api_tokens.c.prefix == prefix)).first()
        if row is None:
            raise NotFound(f"no token with the prefix {prefix!r}; `suanli token list` shows yours", field="prefix")
        return token_from_row(row)

    def touch_token(self, prefix: str, now: datetime) -> None:
        moment = rows.utc(now)
        statement = (
            update(api_tokens)
            .where(
                api_tokens.c.prefix == prefix,
                or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at < moment),
            )
            .values(last_used_at=moment)
        )
        with self._store._write() as connection:
            connection.execute(statement)


def _organization(row: Any) -> Organization:
    return Organization(name=row.name, kind=OrganizationKind(row.kind), display_name=row.display_name)


def _require_organization(connection: Connection, name: str) -> None:
    if connection.execute(select(organizations.c.name).where(organizations.c.name == name)).first() is None:
        raise _organization_missing(name)


def _insert_principal(
    connection: Connection, name: str, kind: PrincipalKind, organization: str, roles: Iterable[Role], now: datetime
) -> None:
    connection.execute(
        insert(principals),
        {
            "name": name,
            "kind": kind.value,
            "organization": organization,
            "created_at": rows.utc(now),
            "disabled": False,
        },
    )
    wanted = sorted({role.value for role in roles})
    if wanted:
        connection.execute(
            insert(memberships), [{"principal": name, "organization": organization, "role": r} for r in wanted]
        )


def _roles(connection: Connection, principal: str, organization: str) -> frozenset[Role]:
    """The principal's roles in ``organization``, and platform-admin wherever it holds it."""
    statement = select(memberships.c.role).where(
        memberships.c.principal == principal,
        or_(memberships.c.organization == organization, memberships.c.role == Role.PLATFORM_ADMIN.value),
    )
    return frozenset(Role(role) for role in connection.execute(statement).scalars())


def _member(connection: Connection, name: str, organization: str | None) -> Member | None:
    row = connection.execute(
        select(principals.c.kind, principals.c.organization, principals.c.disabled).where(principals.c.name == name)
    ).first()
    if row is None:
        return None
    return Member(
        name=name,
        kind=PrincipalKind(row.kind),
        organization=row.organization,
        roles=_roles(connection, name, organization or row.organization),
        disabled=bool(row.disabled),
    )


def _token_values(token: NewToken, now: datetime) -> dict[str, Any]:
    return {
        "prefix": token.prefix,
        "token_hash": token.token_hash,
        "principal": token.principal,
        "organization": token.organization,
        "name": token.name,
        "scopes": sorted(s.value for s in token.scopes),
        "created_at": rows.utc(now),
        "expires_at": rows.utc(token.expires_at) if token.expires_at is not None else None,
        "kind": token.kind.value,
        "csrf_hash": token.csrf_hash,
    }


def _new_token_info(token: NewToken, now: datetime) -> TokenInfo:
    return TokenInfo(
        prefix=token.prefix,
        name=token.name,
        principal=token.principal,
        organization=token.organization,
        scopes=token.scopes,
        created_at=rows.utc(now),
        expires_at=rows.utc(token.expires_at) if token.expires_at is not None else None,
        kind=token.kind,
    )
