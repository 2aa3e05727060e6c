"""The identity store on SQLite and PostgreSQL, and the migration that brings identity to a
database that already holds jobs and centers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import Engine, insert, select

from suanli.adapters.storage import rows
from suanli.adapters.storage.engine import WRITE, make_engine
from suanli.adapters.storage.identity_store import SqlIdentityStore
from suanli.adapters.storage.migrations_runner import alembic_config, upgrade_database
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.tables import centers, jobs, organizations, projects
from suanli.domain.errors import Conflict, NotFound, StaleVersion
from suanli.domain.identity import (
    FULL_SCOPES,
    Member,
    Organization,
    OrganizationKind,
    PrincipalKind,
    Project,
    Role,
    Scope,
)
from suanli.services.identity import IdentityStore, NewToken, hash_token
from suanli.services.ports import NewJob
from tests.integration.storage.helpers import T0, center_spec, later, spec


@pytest.fixture
def identity(store: SqlStore) -> SqlIdentityStore:
    return SqlIdentityStore(store)


def _implements_the_port(store: SqlIdentityStore) -> IdentityStore:
    return store  # for mypy: SqlIdentityStore satisfies the IdentityStore protocol


def new_token(
    principal: str = "alice", organization: str = "acme", prefix: str = "AbCd1234", **extra: object
) -> NewToken:
    fields: dict[str, object] = {
        "prefix": prefix,
        "token_hash": hash_token(prefix),
        "principal": principal,
        "organization": organization,
        "name": "laptop",
        "scopes": frozenset({Scope.READ, Scope.SUBMIT}),
        "expires_at": None,
        **extra,
    }
    return NewToken(**fields)  # type: ignore[arg-type]


@pytest.fixture
def acme(identity: SqlIdentityStore) -> SqlIdentityStore:
    """An organization acme with alice, a member."""
    identity.create_organization(Organization(name="acme", kind=OrganizationKind.ENTERPRISE), T0)
    identity.create_principal("alice", PrincipalKind.USER, "acme", [Role.MEMBER], T0)
    return identity


def test_a_new_database_has_the_default_organization_and_project(identity: SqlIdentityStore) -> None:
    assert identity.list_organizations() == [
        Organization(name="default", kind=OrganizationKind.PLATFORM, display_name="the platform")
    ]
    assert identity.list_projects("default") == [Project(organization="default", name="default")]
    assert identity.count_principals() == 0


def test_organizations_and_projects(identity: SqlIdentityStore) -> None:
    made = identity.create_organization(Organization(name="qd-university", kind=OrganizationKind.UNIVERSITY), T0)
    assert identity.get_organization("qd-university") == made
    with pytest.raises(Conflict):
        identity.create_organization(made, T0)
    assert [o.name for o in identity.list_organizations()] == ["default", "qd-university"]
    assert [o.name for o in identity.list_organizations(["qd-university", "nope"])] == ["qd-university"]
    identity.create_project(Project(organization="qd-university", name="vision"), T0)
    with pytest.raises(Conflict):
        identity.create_project(Project(organization="qd-university", name="vision"), T0)
    with pytest.raises(NotFound):
        identity.create_project(Project(organization="nope", name="vision"), T0)
    with pytest.raises(NotFound):
        identity.list_projects("nope")
    with pytest.raises(NotFound):
        identity.get_organization("nope")
    assert identity.list_projects("qd-university") == [Project(organization="qd-university", name="vision")]


def test_principals_and_memberships(acme: SqlIdentityStore) -> None:
    assert acme.get_member("alice") == Member(
        name="alice", kind=PrincipalKind.USER, organization="acme", roles=frozenset({Role.MEMBER})
    )
    with pytest.raises(Conflict):
        acme.create_principal("alice", PrincipalKind.USER, "acme", [Role.VIEWER], T0)
    with pytest.raises(NotFound):
        acme.create_principal("bob", PrincipalKind.USER, "nope", [Role.VIEWER], T0)
    assert acme.get_member("bob") is None
    acme.add_membership("alice", "acme", Role.VIEWER)
    acme.add_membership("alice", "acme", Role.VIEWER)  # again: no change, no error
    assert acme.get_member("alice", "acme").roles == {Role.MEMBER, Role.VIEWER}  # type: ignore[union-attr]
    assert acme.get_member("alice", "default").roles == frozenset()  # type: ignore[union-attr]
    acme.add_membership("alice", "default", Role.PLATFORM_ADMIN)
    # platform-admin counts in every organization
    assert acme.get_member("alice", "acme").roles == {Role.MEMBER, Role.VIEWER, Role.PLATFORM_ADMIN}  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        acme.add_membership("bob", "acme", Role.VIEWER)
    with pytest.raises(NotFound):
        acme.add_membership("alice", "nope", Role.VIEWER)
    assert acme.count_principals() == 1


def test_tokens_are_found_by_hash_listed_revoked_and_touched(acme: SqlIdentityStore) -> None:
    made = acme.add_token(new_token(expires_at=later(3600)), T0)
    assert made.prefix == "AbCd1234" and made.expires_at == later(3600) and made.scopes == {Scope.READ, Scope.SUBMIT}
    record = acme.token_for_hash(hash_token("AbCd1234"))
    assert record is not None
    assert record.info == made and record.roles == {Role.MEMBER} and not record.disabled
    assert record.kind is PrincipalKind.USER
    assert acme.token_for_hash(hash_token("other")) is None

    with pytest.raises(StaleVersion):  # the prefix is taken: the service draws another token
        acme.add_token(new_token(), T0)
    acme.add_token(new_token(prefix="EfGh5678", scopes=FULL_SCOPES), later(1))
    assert [t.prefix for t in acme.list_tokens("alice")] == ["AbCd1234", "EfGh5678"]
    assert acme.list_tokens("bob") == []

    acme.touch_token("AbCd1234", later(60))
    acme.touch_token("AbCd1234", later(30))  # an older moment never moves it back
    assert acme.get_token("AbCd1234").last_used_at == later(60)  # type: ignore[union-attr]

    revoked = acme.revoke_token("AbCd1234", later(100))
    assert revoked.revoked_at == later(100)
    assert acme.revoke_token("AbCd1234", later(200)).revoked_at == later(100)  # the first moment stays
    assert acme.token_for_hash(hash_token("AbCd1234")).info.revoked_at == later(100)  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        acme.revoke_token("nope1234", T0)
    assert acme.get_token("nope1234") is None


def test_bootstrap_happens_once(identity: SqlIdentityStore) -> None:
    first = new_token("admin", "default")
    assert identity.bootstrap("admin", "default", Role.PLATFORM_ADMIN, first, T0)
    assert not identity.bootstrap(
        "admin", "default", Role.PLATFORM_ADMIN, new_token("admin", "default", "Other123"), T0
    )
    record = identity.token_for_hash(first.token_hash)
    assert record is not None and record.roles == {Role.PLATFORM_ADMIN}
    assert identity.get_token("Other123") is None
    assert identity.count_principals() == 1


def test_expiry_and_times_come_back_as_utc(acme: SqlIdentityStore) -> None:
    made = acme.add_token(new_token(expires_at=T0 + timedelta(days=30)), T0)
    read = acme.get_token(made.prefix)
    assert read is not None and read.created_at == T0 and read.expires_at == T0 + timedelta(days=30)
    assert read.created_at.tzinfo is not None


# -- the migration --------------------------------------------------------------------------------


def _upgrade_to(url: str, revision: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect().execution_options(**WRITE) as connection, connection.begin():
            config = alembic_config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def test_an_existing_database_keeps_its_jobs_and_centers_under_default(database_url: str) -> None:
    _upgrade_to(database_url, "0006")
    engine: Engine = make_engine(database_url)
    try:
        old = SqlStore(engine)
        # A center as that release stored it: only the columns of its time.
        values = rows.center_values(center_spec("qd-ai-1"), T0, "default")
        with engine.begin() as connection:
            connection.execute(insert(centers), {k: v for k, v in values.items() if k != "organization"})
        ids = [j.id for j in old.add_jobs([NewJob("default", spec(f"job-{i}")) for i in range(3)], T0)]
        upgrade_database(database_url)
        with engine.connect() as connection:
            assert connection.execute(
                select(jobs.c.id, jobs.c.tenant_id, jobs.c.project).order_by(jobs.c.id)
            ).all() == [(i, "default", "default") for i in ids]
            assert connection.execute(select(centers.c.name, centers.c.organization)).all() == [("qd-ai-1", "default")]
            assert connection.execute(select(organizations.c.name, organizations.c.kind)).all() == [
                ("default", "platform")
            ]
            assert connection.execute(select(projects.c.organization, projects.c.name)).all() == [
                ("default", "default")
            ]
        store = SqlStore(engine)
        assert [store.get_job(i).spec.name for i in ids] == ["job-0", "job-1", "job-2"]
        assert store.get_center("qd-ai-1").name == "qd-ai-1"
        # New jobs and centers take the defaults too.
        [new] = store.add_jobs([NewJob("default", spec("after"))], T0)
        store.create_center(center_spec("qd-ai-2"), T0)
        with engine.connect() as connection:
            assert connection.execute(select(jobs.c.project).where(jobs.c.id == new.id)).scalar() == "default"
            row = select(centers.c.organization).where(centers.c.name == "qd-ai-2")
            assert connection.execute(row).scalar() == "default"
    finally:
        engine.dispose()
