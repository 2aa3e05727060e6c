"""The wire format of the REST API: what requests carry and what responses return.

These are API schemas, not domain models: the edge converts between the two (``from_job``,
``from_center``). The server's routes (``suanli.adapters.api``) answer with these classes and the
SDK (``suanli.client``) parses responses with the same ones.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from suanli.domain.audit import AuditEntry, ProblemKind
from suanli.domain.centers import AgentPresence, Backend, Center, CenterKind, CenterState, Pool
from suanli.domain.identity import (
    FULL_SCOPES,
    MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
    DisplayName,
    Name,
    Organization,
    OrganizationKind,
    PrincipalKind,
    Project,
    Role,
    Scope,
    TokenInfo,
    TokenKind,
)
from suanli.domain.job import Job, Placement
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import SECRET_SHOWN_AS, JobSpec
from suanli.domain.limits import NoNul

IDEMPOTENCY_KEY_MAX = 200


class FieldError(BaseModel):
    field: str = Field(description="where in the input, e.g. resources.accelerators[0]; 'body' for the whole body")
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="a URI naming the kind of problem")
    title: str
    status: int
    detail: str = ""
    errors: list[FieldError] = Field(default_factory=list)


# -- jobs -----------------------------------------------------------------------------------------


class PlacementOut(BaseModel):
    center: str
    pool: str
    accelerator: str
    accelerators_per_node: int
    node_indices: tuple[int, ...]
    price_per_hour: float = Field(description="CNY per hour for the whole job")
    reason: str = ""

    @classmethod
    def from_placement(cls, placement: Placement) -> PlacementOut:
        return cls.model_construct(
            center=placement.center,
            pool=placement.pool,
            accelerator=placement.accelerator,
            accelerators_per_node=placement.accelerators_per_node,
            node_indices=placement.node_indices,
            price_per_hour=placement.price_per_hour,
            reason=placement.reason,
        )


class JobOut(BaseModel):
    id: int
    tenant_id: str
    name: str
    status: JobStatus
    priority: int
    attempts: int
    message: str = ""
    waiting_reason: str = Field(
        default="",
        description="why a waiting job waits, in one line (in lists and on show; `explain` gives every reason)",
    )
    warning: str = Field(
        default="", description="on submission: why no registered pool could ever run the job (it is queued anyway)"
    )
    placement: PlacementOut | None = None
    submitted_at: datetime
    updated_at: datetime
    spec: JobSpec = Field(
        description=f"as submitted, but the value of each variable that secret_env names reads {SECRET_SHOWN_AS!r}"
    )

    @classmethod
    def from_job(cls, job: Job, *, waiting_reason: str = "", warning: str = "") -> JobOut:
        # The domain object is already valid: construct without validating it a second time.
        return cls.model_construct(
            id=job.id,
            tenant_id=job.tenant_id,
            name=job.spec.name,
            status=job.status,
            priority=job.spec.priority,
            attempts=job.attempts,
            message=job.message,
            waiting_reason=waiting_reason,
            warning=warning,
            placement=PlacementOut.from_placement(job.placement) if job.placement is not None else None,
            submitted_at=job.submitted_at,
            updated_at=job.updated_at,
            spec=job.spec.redacted(),  # secret environment values never leave in an answer
        )


class JobPageOut(BaseModel):
    jobs: list[JobOut]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= to get the next page; null on the last page"
    )


class JobListOut(BaseModel):
    jobs: list[JobOut]


class BatchJobIn(JobSpec):
    """A job spec plus, optionally, its own idempotency key."""

    idempotency_key: Annotated[str, Field(min_length=1, max_length=IDEMPOTENCY_KEY_MAX), NoNul()] | None = None

    def to_spec(self) -> JobSpec:
        names = JobSpec.model_fields
        return JobSpec.model_construct(
            _fields_set=self.model_fields_set - {"idempotency_key"},
            **{name: getattr(self, name) for name in names},
        )


class JobBatchIn(BaseModel):
    """Several jobs stored together: all of them, or none when any one is invalid."""

    model_config = ConfigDict(extra="forbid")

    jobs: list[BatchJobIn] = Field(min_length=1)


class ExplainOut(BaseModel):
    job_id: int
    status: JobStatus
    reasons: list[str]


# -- centers --------------------------------------------------------------------------------------


class PoolOut(BaseModel):
    name: str
    accelerator: str
    accelerators_per_node: int
    cpus_per_node: int
    memory_gb_per_node: float
    nodes: int
    price_per_accelerator_hour: float
    carbon_intensity: float
    share_gpus: bool = False
    total_accelerators: int = Field(description="accelerators_per_node x nodes")
    free_accelerators: int = Field(description="not held by a SCHEDULED or RUNNING job")

    def to_pool(self) -> Pool:
        return Pool.model_validate(self.model_dump(exclude={"total_accelerators", "free_accelerators"}))


class CenterOut(BaseModel):
    name: str
    owner: str
    kind: CenterKind
    region: str
    backend: Backend
    state: CenterState = Field(description="ONLINE or DRAINING as its operator set it; OFFLINE: its agent fell silent")
    organization: str = Field(default="default", description="the organization that registered it and may change it")
    condition: str = Field(
        default="",
        description=(
            "the state as people see it: ONLINE; NO_AGENT (no agent has ever connected: jobs placed there "
            "wait for one); UNHEALTHY (its agent reports a backend problem); DRAINING; OFFLINE"
        ),
    )
    agent: AgentPresence = Field(
        default=AgentPresence.NEVER,
        description="connected; silent (heard from, but not lately: it goes OFFLINE soon); never (no agent yet)",
    )
    agent_last_seen: datetime | None = Field(default=None, description="when its agent last spoke to the server")
    problem: str = Field(default="", description="what the center's agent reports wrong with its backend")
    version: int
    pools: list[PoolOut]
    total_accelerators: int
    free_accelerators: int

    @classmethod
    def from_center(cls, center: Center, free: dict[tuple[str, str], int], agent: AgentPresence) -> CenterOut:
        """``free`` maps (center, pool) to free accelerators, from the scheduler's snapshot."""
        pools = [
            PoolOut.model_construct(
                name=pool.name,
                accelerator=pool.accelerator,
                accelerators_per_node=pool.accelerators_per_node,
                cpus_per_node=pool.cpus_per_node,
                memory_gb_per_node=pool.memory_gb_per_node,
                nodes=pool.nodes,
                price_per_accelerator_hour=pool.price_per_accelerator_hour,
                carbon_intensity=pool.carbon_intensity,
                share_gpus=pool.share_gpus,
                total_accelerators=pool.accelerators,
                free_accelerators=free.get((center.name, pool.name), pool.accelerators),
            )
            for pool in center.pools
        ]
        spec = center.spec
        return cls.model_construct(
            name=spec.name,
            owner=spec.owner,
            kind=spec.kind,
            region=spec.region,
            backend=spec.backend,
            state=center.state,
            organization=center.organization,
            condition=center.shown_state(agent),
            agent=agent,
            agent_last_seen=center.last_seen,
            problem=center.problem,
            version=center.version,
            pools=pools,
            total_accelerators=sum(p.total_accelerators for p in pools),
            free_accelerators=sum(p.free_accelerators for p in pools),
        )


class CenterListOut(BaseModel):
    centers: list[CenterOut]


class PoolsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pools: tuple[Pool, ...] = Field(max_length=256)


# -- health ---------------------------------------------------------------------------------------


class SchedulerHealth(BaseModel):
    leader: bool = Field(description="this server process runs the scheduling cycles")
    cycles: int = Field(description="cycles this process has run since it started")
    last_error: str = ""


class HealthOut(BaseModel):
    status: str
    version: str
    database: str = Field(description="sqlite or postgresql")
    scheduler: SchedulerHealth


class CenterGlanceOut(BaseModel):
    name: str
    condition: str = Field(description="ONLINE, NO_AGENT, UNHEALTHY, DRAINING or OFFLINE (see CenterOut)")
    agent: AgentPresence
    agent_last_seen: datetime | None = None
    total_accelerators: int
    free_accelerators: int


class QueueOut(BaseModel):
    jobs: dict[JobStatus, int] = Field(description="how many jobs are in each status")
    oldest_pending_since: datetime | None = Field(
        default=None, description="when the longest-waiting PENDING job was submitted"
    )


class StatusOut(BaseModel):
    """The network at a glance: what `suanli status` shows."""

    health: HealthOut
    leader: str = Field(description="the server process that last placed work (host:pid:id); empty before any")
    last_placement_at: datetime | None = None
    centers: list[CenterGlanceOut]
    queue: QueueOut


# -- identity -------------------------------------------------------------------------------------

MAX_TOKEN_LIFETIME_S = 10 * 366 * 86400


class WhoamiOut(BaseModel):
    """Who a token acts as, and what it may do."""

    name: str
    kind: PrincipalKind
    organization: str = Field(description="the organization the token acts for")
    roles: list[Role]
    scopes: list[Scope] = Field(description="the scopes of the token in use")
    permissions: list[str] = Field(description="what the roles with these scopes allow (domain/permissions.py)")
    token_prefix: str
    token_name: str = ""
    token_expires_at: datetime | None = None


class ApiTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="what the token is for, e.g. laptop or ci")
    scopes: list[Scope] = Field(default_factory=lambda: sorted(FULL_SCOPES), min_length=1, max_length=3)
    # Whole seconds: a fraction of a second as small as JSON allows would be a lifetime of zero.
    expires_in_s: int | None = Field(
        default=None, ge=1, le=MAX_TOKEN_LIFETIME_S, description="lifetime in seconds; none: until revoked"
    )
    principal: Name | None = Field(
        default=None, description="mint for this user or service account instead (needs org.manage there)"
    )
    organization: Name | None = Field(default=None, description="the organization it acts for [default: the home one]")


class ApiTokenOut(BaseModel):
    prefix: str = Field(description="the token's public part (after sk_), shown in lists and named to revoke it")
    name: str
    principal: str
    organization: str
    scopes: list[Scope]
    state: str = Field(description="active, expired or revoked")
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = Field(default=None, description="to the minute")
    kind: TokenKind = Field(default=TokenKind.API, description="api, or session: a browser session's")

    @classmethod
    def from_info(cls, info: TokenInfo, now: datetime) -> ApiTokenOut:
        return cls(
            prefix=info.prefix,
            name=info.name,
            principal=info.principal,
            organization=info.organization,
            scopes=sorted(info.scopes),
            state=info.state(now),
            created_at=info.created_at,
            expires_at=info.expires_at,
            revoked_at=info.revoked_at,
            last_used_at=info.last_used_at,
            kind=info.kind,
        )


class ApiTokenCreatedOut(ApiTokenOut):
    token: str = Field(description="the secret, shown this once: the server keeps only its hash")


class ApiTokenListOut(BaseModel):
    tokens: list[ApiTokenOut]


class OrganizationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    kind: OrganizationKind
    display_name: DisplayName = ""


class OrganizationOut(BaseModel):
    name: str
    kind: OrganizationKind
    display_name: str = ""

    @classmethod
    def from_organization(cls, organization: Organization) -> OrganizationOut:
        return cls(name=organization.name, kind=organization.kind, display_name=organization.display_name)


class OrganizationListOut(BaseModel):
    organizations: list[OrganizationOut]


class ProjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name


class ProjectOut(BaseModel):
    organization: str
    name: str

    @classmethod
    def from_project(cls, project: Project) -> ProjectOut:
        return cls(organization=project.organization, name=project.name)


class ProjectListOut(BaseModel):
    projects: list[ProjectOut]


class MemberIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name = Field(description="a user or service account; a new name is created in this organization")
    role: Role
    kind: PrincipalKind | None = Field(default=None, description="for a new name: user (default) or service")


class MemberOut(BaseModel):
    name: str
    kind: PrincipalKind
    home_organization: str
    organization: str = Field(description="the organization whose roles are listed")
    roles: list[Role]
    disabled: bool = Field(default=False, description="its tokens are refused")


class MemberListOut(BaseModel):
    members: list[MemberOut]


Password = Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD_CHARS), NoNul()]


class LoginIn(BaseModel):
    """A sign-in with a name and password (docs/security.md#passwords-and-browser-sessions)."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    password: Password
    organization: Name | None = Field(
        default=None, description="the organization to act for, one where you hold a role (default: your own)"
    )
    grant: Literal["session", "token"] = Field(
        default="session",
        description="session: a browser session in an HttpOnly cookie, with a CSRF token for writes; "
        "token: an API token for the CLI or a script, returned in the answer",
    )
    expires_in_s: int | None = Field(
        default=None, ge=1, le=366 * 86400, description="the token's lifetime (grant token only; default 30 days)"
    )


class LoginOut(BaseModel):
    name: str
    organization: str
    roles: list[Role]
    expires_at: datetime | None
    csrf_token: str | None = Field(
        default=None, description="session: send it as X-CSRF-Token with every change (also in the suanli_csrf cookie)"
    )
    token: str | None = Field(default=None, description="token: the API token, shown this once")
    token_prefix: str


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: Password = Field(description=f"{MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters")
    current_password: Password | None = Field(
        default=None, description="your current password, when you change your own"
    )


# -- audit ----------------------------------------------------------------------------------------


class AuditEntryOut(BaseModel):
    """One entry of the audit log (docs/security.md#audit-log)."""

    sequence: int = Field(description="1, 2, ...: its place in the chain")
    at: datetime
    actor: str = Field(description="who acted, as the server knew them; 'anonymous' when no one was signed in")
    organization: str = Field(description="the organization they acted for; empty when none")
    action: str = Field(description="METHOD /path of the request, or a named action")
    target: str = Field(description="the resource acted on, e.g. centers/qd-ai-1 or jobs/42")
    result: str = Field(description="the HTTP status answered, or ok / denied")
    request_id: str = Field(description="the X-Request-ID of the request")
    client: str = Field(description="the client's address")
    previous_hash: str = Field(description="the hash of the entry before it (64 zeros for the first)")
    hash: str = Field(description="SHA-256 over this entry's fields and previous_hash")

    @classmethod
    def from_entry(cls, entry: AuditEntry) -> AuditEntryOut:
        return cls.model_construct(**{name: getattr(entry, name) for name in cls.model_fields})


class AuditPageOut(BaseModel):
    entries: list[AuditEntryOut]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= to get the next (older) page; null on the last page"
    )


class AuditProblemOut(BaseModel):
    sequence: int = Field(description="the entry it concerns; for missing entries the first one missing")
    kind: ProblemKind
    message: str


class AuditVerifyOut(BaseModel):
    ok: bool = Field(description="every entry matches its hash and chains to the one before it")
    entries: int = Field(description="entries checked")
    last_sequence: int = Field(description="the newest entry's sequence number (0 for an empty log)")
    last_hash: str = Field(
        description="the newest entry's hash: kept elsewhere, it shows later whether the log was cut or rewritten"
    )
    problems: list[AuditProblemOut]
