"""The Python SDK: a typed client for the Suanli REST API, and job files in YAML.

    from suanli.client import SuanliClient, load_job_specs

    with SuanliClient() as client:              # $SUANLI_SERVER, else http://127.0.0.1:8642
                                                # token: $SUANLI_TOKEN, else $SUANLI_HOME/token
        jobs = client.submit_many(load_job_specs("jobs.yaml"))
        print(client.explain_job(jobs[0].id).reasons)

Responses are the API's own wire types (``suanli.protocol``), parsed and typed. A
problem answer raises ``SuanliApiError``; a server that cannot be reached, ``SuanliConnectionError``.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import yaml
from pydantic import BaseModel, ValidationError

from suanli.agent.token_source import read_token_file
from suanli.domain.centers import CenterSpec, Pool
from suanli.domain.errors import field_path
from suanli.domain.identity import (
    OrganizationKind,
    PrincipalKind,
    Role,
    Scope,
    is_well_formed_token,
    token_prefix,
)
from suanli.domain.job_status import JobStatus
from suanli.domain.jobs import JobSpec
from suanli.domain.usage import UsageGrouping
from suanli.protocol.agent import AttemptListOut, AttemptOut, TokenOut, TokensRevokedOut
from suanli.protocol.invoices import InvoiceOut, StatementOut
from suanli.protocol.pricing import RateListOut, RateOut, RatePublishedOut
from suanli.protocol.rest import (
    ApiTokenCreatedOut,
    ApiTokenListOut,
    ApiTokenOut,
    AuditPageOut,
    AuditVerifyOut,
    CenterListOut,
    CenterOut,
    ExplainOut,
    FieldError,
    HealthOut,
    JobListOut,
    JobOut,
    JobPageOut,
    LoginOut,
    MemberListOut,
    MemberOut,
    OrganizationListOut,
    OrganizationOut,
    ProjectListOut,
    ProjectOut,
    StatusOut,
    WhoamiOut,
)
from suanli.protocol.sso import OidcDeviceOut, OidcDeviceTokenOut
from suanli.protocol.usage import AccountListOut, UsageGroupOut, UsagePageOut, UsageRecordOut, UsageSummaryOut

__all__ = [
    "DEFAULT_SERVER",
    "TOKEN_VARIABLE",
    "ApiTokenCreatedOut",
    "ApiTokenOut",
    "AttemptOut",
    "CenterOut",
    "ExplainOut",
    "FieldError",
    "HealthOut",
    "JobOut",
    "JobPageOut",
    "LogChunk",
    "LoginOut",
    "MemberOut",
    "OrganizationOut",
    "ProjectOut",
    "RateListOut",
    "RateOut",
    "RatePublishedOut",
    "SpecFileError",
    "SuanliApiError",
    "SuanliClient",
    "SuanliClientError",
    "SuanliConnectionError",
    "SuanliTokenError",
    "TokenOut",
    "TokensRevokedOut",
    "UsageGroupOut",
    "UsagePageOut",
    "UsageRecordOut",
    "UsageSummaryOut",
    "WhoamiOut",
    "find_token",
    "home_token_file",
    "load_job_specs",
    "read_yaml_items",
]

DEFAULT_SERVER = "http://127.0.0.1:8642"
TOKEN_VARIABLE = "SUANLI_TOKEN"

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class LogChunk:
    """Bytes of an attempt's output, as ``SuanliClient.read_logs`` returns them."""

    attempt: int  # the attempt they belong to; 0 while the job has none yet
    data: bytes
    next_offset: int  # pass it as ``offset`` to read on
    done: bool  # the attempt ended and nothing is left after ``next_offset``


class SuanliClientError(Exception):
    """Base of the errors the SDK raises."""


class SuanliApiError(SuanliClientError):
    """The server answered with a problem (RFC 9457)."""

    def __init__(self, status: int, title: str, detail: str = "", errors: Sequence[FieldError] = ()) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        text = f"{self.title} (HTTP {self.status})"
        if self.detail:
            text += f": {self.detail}"
        for error in self.errors:
            text += f"\n  {error.field}: {error.message}"
        return text

    @classmethod
    def from_response(cls, response: httpx.Response) -> SuanliApiError:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return cls(response.status_code, response.reason_phrase or "HTTP error", response.text[:300].strip())
        errors = [
            FieldError(field=str(e.get("field", "")), message=str(e.get("message", "")))
            for e in body.get("errors") or ()
            if isinstance(e, dict)
        ]
        title = str(body.get("title") or response.reason_phrase or "HTTP error")
        return cls(int(body.get("status") or response.status_code), title, str(body.get("detail") or ""), errors)


def _is_json(response: httpx.Response) -> bool:
    kind: str = response.headers.get("content-type", "").split(";")[0].strip()
    return kind == "application/json" or kind.endswith("+json")


class SuanliConnectionError(SuanliClientError):
    """The server could not be reached, or stopped answering."""


class SuanliTokenError(SuanliClientError, ValueError):
    """The token to send cannot be used as it is: a token file others may read, an empty one."""


def home_token_file() -> Path:
    """Where this machine's token is kept: ``$SUANLI_HOME/token``, else ``~/.suanli/token``.
    ``suanli server`` and ``suanli up`` write the first admin's token there; ``suanli login`` too."""
    home = os.environ.get("SUANLI_HOME")
    return (Path(home).expanduser() if home else Path.home() / ".suanli") / "token"


def find_token(token: str | None = None) -> str | None:
    """The token to send: ``token``, else $SUANLI_TOKEN, else the home token file when it exists
    (it must be readable by its owner only: SuanliTokenError naming chmod 600 otherwise)."""
    token = token or os.environ.get(TOKEN_VARIABLE)
    if not token:
        path = home_token_file()
        if not path.exists():
            return None
        try:
            token = read_token_file(path)
        except ValueError as error:
            raise SuanliTokenError(str(error)) from None
    token = token.strip()
    if not token.isascii() or not token.isprintable() or " " in token:
        raise SuanliTokenError("the token holds characters no token has (spaces, line breaks, non-ASCII); check it")
    return token


class SpecFileError(SuanliClientError, ValueError):
    """A YAML file that is malformed or holds an invalid spec. ``errors`` lists (where, message)."""

    def __init__(self, path: str | Path, errors: Sequence[tuple[str, str]]) -> None:
        self.path = str(path)
        self.errors = list(errors)
        super().__init__(str(self))

    def __str__(self) -> str:
        if len(self.errors) == 1:
            where, message = self.errors[0]
            return f"{self.path}: {where}: {message}" if where else f"{self.path}: {message}"
        lines = [f"{self.path}: {len(self.errors)} problems"]
        lines += [f"  {where}: {message}" if where else f"  {message}" for where, message in self.errors]
        return "\n".join(lines)


# -- the client -----------------------------------------------------------------------------------


def _payload(value: BaseModel | Mapping[str, Any]) -> Any:
    return value.model_dump(mode="json") if isinstance(value, BaseModel) else dict(value)


def _statuses(status: str | JobStatus | Iterable[str | JobStatus] | None) -> list[str]:
    if status is None:
        return []
    if isinstance(status, str):
        return [status]
    return [str(s) for s in status]


def _label(label: str | tuple[str, str] | None) -> str | None:
    if label is None or isinstance(label, str):
        return label
    return f"{label[0]}={label[1]}"


class SuanliClient:
    def __init__(
        self,
        server: str | None = None,
        token: str | None = None,
        *,
        timeout: float = 30,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """``token``: an API token (sk_...); none given, $SUANLI_TOKEN, else the home token file
        (``home_token_file``), else no token (only /health answers then)."""
        self.server = (server or os.environ.get("SUANLI_SERVER") or DEFAULT_SERVER).rstrip("/")
        self.token = find_token(token)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else None
        self._http = httpx.Client(
            base_url=f"{self.server}/api/v1", timeout=timeout, transport=transport, headers=headers
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SuanliClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing ---------------------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        content = json.dumps(body).encode() if body is not None else None
        all_headers = {"content-type": "application/json", **(headers or {})} if content is not None else headers
        try:
            response = self._http.request(method, path, content=content, params=params, headers=all_headers)
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            raise SuanliConnectionError(
                f"cannot reach the Suanli server at {self.server}: {error}; "
                "start it with `suanli server` or set SUANLI_SERVER"
            ) from None
        except httpx.TransportError as error:
            raise SuanliConnectionError(
                f"the Suanli server at {self.server} did not answer: {type(error).__name__}: {error}"
            ) from None
        if response.status_code >= 400:
            if not _is_json(response):
                raise self._not_suanli(response)
            raise SuanliApiError.from_response(response)
        return response

    def _not_suanli(self, response: httpx.Response) -> SuanliConnectionError:
        """Something answers at the URL, but not Suanli's API (a web page, a proxy's error page)."""
        kind = response.headers.get("content-type", "no content type").split(";")[0]
        return SuanliConnectionError(
            f"the server at {self.server} is not a Suanli server (it answered HTTP {response.status_code} with "
            f"{kind}, not Suanli's JSON); check --server or SUANLI_SERVER"
        )

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        if not _is_json(response):
            raise self._not_suanli(response)
        return model.model_validate_json(response.content)

    def _get(self, model: type[M], path: str, **kwargs: Any) -> M:
        return self._parse(model, self._request("GET", path, **kwargs))

    def _post(self, model: type[M], path: str, **kwargs: Any) -> M:
        return self._parse(model, self._request("POST", path, **kwargs))

    # -- health -----------------------------------------------------------------------------------
    def health(self) -> HealthOut:
        return self._get(HealthOut, "/health")

    def status(self) -> StatusOut:
        """The network at a glance: the scheduler, centers and their agents, the queue."""
        return self._get(StatusOut, "/status")

    # -- centers ----------------------------------------------------------------------------------
    def add_center(self, spec: CenterSpec | Mapping[str, Any]) -> CenterOut:
        return self._post(CenterOut, "/centers", body=_payload(spec))

    def list_centers(self) -> list[CenterOut]:
        return self._get(CenterListOut, "/centers").centers

    def get_center(self, name: str) -> CenterOut:
        return self._get(CenterOut, f"/centers/{name}")

    def set_pools(self, name: str, pools: Iterable[Pool | Mapping[str, Any]]) -> CenterOut:
        body = {"pools": [_payload(p) for p in pools]}
        return self._parse(CenterOut, self._request("PUT", f"/centers/{name}/pools", body=body))

    def drain_center(self, name: str) -> CenterOut:
        return self._post(CenterOut, f"/centers/{name}/drain")

    def resume_center(self, name: str) -> CenterOut:
        return self._post(CenterOut, f"/centers/{name}/resume")

    def delete_center(self, name: str) -> None:
        self._request("DELETE", f"/centers/{name}")

    def mint_center_token(self, name: str, *, rotate: bool = False) -> TokenOut:
        """A new token for the center's agent. The server keeps only its hash: this is the one copy.
        With ``rotate``, every older token of the center is revoked (``revoked`` says how many)."""
        return self._post(TokenOut, f"/centers/{name}/tokens", params={"rotate": "true"} if rotate else None)

    def revoke_center_tokens(self, name: str) -> TokensRevokedOut:
        """Revokes every token of the center; its agent is refused from its next request."""
        return self._parse(TokensRevokedOut, self._request("DELETE", f"/centers/{name}/tokens"))

    # -- prices -----------------------------------------------------------------------------------
    def publish_rate(
        self,
        center: str,
        pool: str,
        *,
        per_accelerator_hour: Decimal | str | int | None = None,
        per_cpu_hour: Decimal | str | int | None = None,
        per_gb_hour: Decimal | str | int | None = None,
        currency: str | None = None,
        effective_from: datetime | str | None = None,
    ) -> RatePublishedOut:
        """Publishes a pool's prices from ``effective_from`` (None: now). Prices left out carry
        over from the rate in force then. Amounts go as text, so they arrive exactly as written."""
        body: dict[str, Any] = {"pool": pool}
        for key, value in (
            ("per_accelerator_hour", per_accelerator_hour),
            ("per_cpu_hour", per_cpu_hour),
            ("per_gb_hour", per_gb_hour),
        ):
            if value is not None:  # as text, never a float (json.dumps would write its binary value)
                body[key] = value if isinstance(value, str) else format(Decimal(value).normalize(), "f")
        if currency is not None:
            body["currency"] = currency
        if effective_from is not None:
            body["effective_from"] = _moment(effective_from)
        return self._post(RatePublishedOut, f"/centers/{center}/rates", body=body)

    def list_rates(self, center: str, *, at: datetime | str | None = None) -> RateListOut:
        """Every rate of the center's pools, each in force, scheduled or superseded at ``at`` (now)."""
        params = {"at": _moment(at)} if at is not None else None
        return self._get(RateListOut, f"/centers/{center}/rates", params=params)

    def withdraw_rate(self, center: str, pool: str, effective_from: datetime | str) -> RateOut:
        """Withdraws a rate of ``pool`` that has not taken effect yet."""
        params = {"pool": pool, "effective_from": _moment(effective_from)}
        return self._parse(RateOut, self._request("DELETE", f"/centers/{center}/rates", params=params))

    # -- identity ---------------------------------------------------------------------------------
    def whoami(self) -> WhoamiOut:
        """Who the token acts as: name, organization, roles, the token's scopes, what they allow."""
        return self._get(WhoamiOut, "/whoami")

    def oidc_device_start(self) -> OidcDeviceOut:
        """Starts a single sign-on for this client at the server's OpenID provider (device flow):
        where the person goes, and the code they enter there."""
        return self._post(OidcDeviceOut, "/auth/oidc/device")

    def oidc_device_token(self, device_code: str) -> OidcDeviceTokenOut:
        """Whether the person has signed in at the provider: ``pending``, or ``done`` with a new
        API token in ``signed_in``."""
        return self._post(OidcDeviceTokenOut, "/auth/oidc/device/token", body={"device_code": device_code})

    def create_token(
        self,
        name: str,
        scopes: Iterable[Scope | str] = (),
        *,
        expires_in_s: float | None = None,
        principal: str | None = None,
        organization: str | None = None,
    ) -> ApiTokenCreatedOut:
        """A new API token (all scopes unless named); ``token`` in the answer is its one copy.
        ``principal``: for a service account or another member (needs org.manage there)."""
        body: dict[str, Any] = {"name": name}
        if wanted := [str(s) for s in scopes]:
            body["scopes"] = wanted
        lifetime = math.ceil(expires_in_s) if expires_in_s is not None else None  # whole seconds on the wire
        for key, value in (("expires_in_s", lifetime), ("principal", principal), ("organization", organization)):
            if value is not None:
                body[key] = value
        return self._post(ApiTokenCreatedOut, "/tokens", body=body)

    def list_tokens(self) -> list[ApiTokenOut]:
        """Your tokens (never their secrets), oldest first, revoked and expired ones too."""
        return self._get(ApiTokenListOut, "/tokens").tokens

    def revoke_token(self, prefix: str) -> ApiTokenOut:
        """Revokes the token with this prefix (as ``list_tokens`` shows it); given a whole token,
        only its prefix is sent."""
        if is_well_formed_token(prefix.strip()):
            prefix = token_prefix(prefix.strip())
        return self._parse(ApiTokenOut, self._request("DELETE", f"/tokens/{prefix}"))

    def list_organizations(self) -> list[OrganizationOut]:
        return self._get(OrganizationListOut, "/organizations").organizations

    def add_organization(self, name: str, kind: OrganizationKind | str, display_name: str = "") -> OrganizationOut:
        body = {"name": name, "kind": str(kind), "display_name": display_name}
        return self._post(OrganizationOut, "/organizations", body=body)

    def list_projects(self, organization: str) -> list[ProjectOut]:
        return self._get(ProjectListOut, f"/organizations/{organization}/projects").projects

    def add_project(self, organization: str, name: str) -> ProjectOut:
        return self._post(ProjectOut, f"/organizations/{organization}/projects", body={"name": name})

    def add_member(
        self, organization: str, name: str, role: Role | str, *, kind: PrincipalKind | str | None = None
    ) -> MemberOut:
        """Gives ``name`` the role in the organization; a new name becomes a user (or, with
        ``kind="service"``, a service account) of that organization."""
        body: dict[str, Any] = {"name": name, "role": str(role)}
        if kind is not None:
            body["kind"] = str(kind)
        return self._post(MemberOut, f"/organizations/{organization}/members", body=body)

    def remove_member(self, organization: str, name: str, role: Role | str | None = None) -> MemberOut:
        """Takes ``role`` (default: every role) in the organization from ``name``."""
        params = {"role": str(role)} if role is not None else None
        answer = self._request("DELETE", f"/organizations/{organization}/members/{name}", params=params)
        return self._parse(MemberOut, answer)

    def list_members(self, organization: str) -> list[MemberOut]:
        return self._get(MemberListOut, f"/organizations/{organization}/members").members

    def set_password(self, name: str, password: str, *, current_password: str | None = None) -> MemberOut:
        """Sets a user's password: one's own with ``current_password``, another's as its admin."""
        body: dict[str, Any] = {"password": password}
        if current_password is not None:
            body["current_password"] = current_password
        return self._parse(MemberOut, self._request("PUT", f"/principals/{name}/password", body=body))

    def login_with_password(
        self, name: str, password: str, *, organization: str | None = None, expires_in_s: int | None = None
    ) -> LoginOut:
        """Signs in with a password and returns a new API token for this client (``token`` in the
        answer; default lifetime 30 days), which this client uses from now on. ``organization``:
        act for this one (where you hold a role) rather than your own."""
        body: dict[str, Any] = {"name": name, "password": password, "grant": "token"}
        if organization is not None:
            body["organization"] = organization
        if expires_in_s is not None:
            body["expires_in_s"] = expires_in_s
        answer = self._post(LoginOut, "/auth/login", body=body)
        if answer.token:
            self.token = answer.token
            self._http.headers["Authorization"] = f"Bearer {answer.token}"
        return answer

    def set_disabled(self, name: str, disabled: bool = True) -> MemberOut:
        """Disables a user or service account (its tokens are refused from now on), or enables it."""
        return self._post(MemberOut, f"/principals/{name}/{'disable' if disabled else 'enable'}")

    # -- jobs -------------------------------------------------------------------------------------
    def submit(
        self, spec: JobSpec | Mapping[str, Any], idempotency_key: str | None = None, *, allow_unfit: bool = True
    ) -> JobOut:
        """Submits one job. One that no registered pool could ever run is queued with a ``warning``
        saying why, or, with ``allow_unfit=False``, refused (SuanliApiError, 422) with the reason."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        params = {"if_unfit": "queue" if allow_unfit else "refuse"}
        return self._post(JobOut, "/jobs", body=_payload(spec), headers=headers, params=params)

    def submit_many(
        self,
        specs: Iterable[JobSpec | Mapping[str, Any]],
        idempotency_keys: Sequence[str | None] | None = None,
        *,
        allow_unfit: bool = True,
    ) -> list[JobOut]:
        """All jobs are stored, or none (the server checks every one first); ``allow_unfit`` as
        for ``submit``."""
        items = [_payload(s) for s in specs]
        if idempotency_keys is not None:
            if len(idempotency_keys) != len(items):
                raise ValueError("give one idempotency key per job, or none")
            for item, key in zip(items, idempotency_keys, strict=True):
                if key is not None:
                    item["idempotency_key"] = key
        params = {"if_unfit": "queue" if allow_unfit else "refuse"}
        return self._post(JobListOut, "/jobs/batch", body={"jobs": items}, params=params).jobs

    def list_jobs(
        self,
        *,
        status: str | JobStatus | Iterable[str | JobStatus] | None = None,
        center: str | None = None,
        name: str | None = None,
        label: str | tuple[str, str] | None = None,
        limit: int = 100,
        cursor: str | int | None = None,
    ) -> JobPageOut:
        """One page, newest first; pass ``next_cursor`` back as ``cursor`` for the next."""
        params: dict[str, Any] = {"limit": limit}
        if statuses := _statuses(status):
            params["status"] = statuses
        for key, value in (("center", center), ("name", name), ("label", _label(label)), ("cursor", cursor)):
            if value is not None:
                params[key] = str(value)
        return self._get(JobPageOut, "/jobs", params=params)

    def iter_jobs(
        self,
        *,
        status: str | JobStatus | Iterable[str | JobStatus] | None = None,
        center: str | None = None,
        name: str | None = None,
        label: str | tuple[str, str] | None = None,
        page_size: int = 500,
    ) -> Iterator[JobOut]:
        """Every matching job, following cursors page by page."""
        statuses = _statuses(status)
        cursor: str | None = None
        while True:
            page = self.list_jobs(
                status=statuses, center=center, name=name, label=label, limit=page_size, cursor=cursor
            )
            yield from page.jobs
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def get_job(self, job_id: int) -> JobOut:
        return self._get(JobOut, f"/jobs/{int(job_id)}")

    def cancel_job(self, job_id: int) -> JobOut:
        return self._post(JobOut, f"/jobs/{int(job_id)}/cancel")

    def explain_job(self, job_id: int) -> ExplainOut:
        return self._get(ExplainOut, f"/jobs/{int(job_id)}/explain")

    def job_attempts(self, job_id: int) -> list[AttemptOut]:
        """The job's attempts, oldest first: where each ran, when, and how it ended."""
        return self._get(AttemptListOut, f"/jobs/{int(job_id)}/attempts").attempts

    def read_logs(self, job_id: int, attempt: int | None = None, offset: int = 0, limit: int | None = None) -> LogChunk:
        """Output of one attempt (default: the latest) from byte ``offset``; follow it by calling
        again with ``next_offset`` until ``done``."""
        params: dict[str, Any] = {"offset": int(offset)}
        if attempt is not None:
            params["attempt"] = int(attempt)
        if limit is not None:
            params["limit"] = int(limit)
        response = self._request(
            "GET", f"/jobs/{int(job_id)}/logs", params=params, headers={"Accept": "application/octet-stream"}
        )
        if "X-Suanli-Attempt" not in response.headers:
            raise self._not_suanli(response)
        return LogChunk(
            attempt=int(response.headers["X-Suanli-Attempt"]),
            data=response.content,
            next_offset=int(response.headers.get("X-Suanli-Next-Offset", str(offset + len(response.content)))),
            done=response.headers.get("X-Suanli-Attempt-Done", "false") == "true",
        )

    # -- audit ------------------------------------------------------------------------------------
    def list_audit(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        result: str | int | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        cursor: str | int | None = None,
    ) -> AuditPageOut:
        """One page of the audit log, newest first; ``action`` is a prefix (``POST /api/v1/centers``);
        times are datetimes or RFC 3339 text. Pass ``next_cursor`` back as ``cursor``."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("actor", actor), ("action", action), ("result", result), ("cursor", cursor)):
            if value is not None:
                params[key] = str(value)
        for key, moment in (("since", since), ("until", until)):
            if moment is not None:
                if isinstance(moment, datetime):  # a naive one is this machine's local time
                    moment = (moment if moment.tzinfo else moment.astimezone()).isoformat()
                params[key] = moment
        return self._get(AuditPageOut, "/audit", params=params)

    def verify_audit(self) -> AuditVerifyOut:
        """Checks the audit log's hash chain on the server: ``ok``, or ``problems`` naming each
        edited or missing entry by its sequence number."""
        return self._get(AuditVerifyOut, "/audit/verify")

    # usage ------------------------------------------------------------------------------------------

    def accounts(self, *, until: datetime | str | None = None) -> AccountListOut:
        """The balances of the ledger's accounts the caller may read (debits positive: what an
        organization owes is positive, what a center owner is owed negative); ``balance`` is text."""
        params = {"until": until.isoformat() if isinstance(until, datetime) else until} if until else None
        return self._get(AccountListOut, "/accounts", params=params)

    def invoice(self, organization: str, *, period: str | None = None) -> InvoiceOut:
        """An organization's invoice for a month (YYYY-MM; default: this month on the server's
        clock): lines per center, pool and accelerator; amounts as text."""
        return self._get(InvoiceOut, f"/invoices/{organization}", params=_period(period))

    def invoice_csv(self, organization: str, *, period: str | None = None) -> str:
        return self._request("GET", f"/invoices/{organization}", params=_period(period, "csv")).text

    def statement(self, owner: str, *, period: str | None = None) -> StatementOut:
        """A center owner's statement for a month: gross, platform fee and net earned per pool."""
        return self._get(StatementOut, f"/statements/{owner}", params=_period(period))

    def statement_csv(self, owner: str, *, period: str | None = None) -> str:
        return self._request("GET", f"/statements/{owner}", params=_period(period, "csv")).text

    def usage(
        self,
        *,
        group_by: UsageGrouping | str | None = None,
        project: str | None = None,
        center: str | None = None,
        job: int | None = None,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        cursor: str | int | None = None,
    ) -> UsagePageOut | UsageSummaryOut:
        """Usage records the caller may read, in the order they were written (a page; pass
        ``next_cursor`` back as ``cursor``), or with ``group_by`` (day, center, accelerator,
        project, job) their sums per group. Times are datetimes or RFC 3339 text; a record counts
        at the moment its interval ends."""
        params: dict[str, Any] = {"limit": limit}
        for key, value in (("group_by", group_by), ("project", project), ("center", center), ("job", job)):
            if value is not None:
                params[key] = str(value)
        if cursor is not None:
            params["cursor"] = str(cursor)
        for key, moment in (("since", since), ("until", until)):
            if moment is not None:
                if isinstance(moment, datetime):  # a naive one is this machine's local time
                    moment = (moment if moment.tzinfo else moment.astimezone()).isoformat()
                params[key] = moment
        model: type[UsagePageOut] | type[UsageSummaryOut] = UsageSummaryOut if group_by else UsagePageOut
        return self._get(model, "/usage", params=params)


def _moment(moment: datetime | str) -> str:
    """RFC 3339 text of a time; a naive datetime is this machine's local time."""
    if isinstance(moment, datetime):
        return (moment if moment.tzinfo else moment.astimezone()).isoformat()
    return moment


# -- YAML files -----------------------------------------------------------------------------------


def _node_at(node: yaml.Node, loc: Sequence[int | str]) -> yaml.Node:
    """The YAML node a validation error points at (as deep as the path can be followed)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            match = next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == part), None)
            if match is None:
                break
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def read_yaml_items(path: str | Path, wrapper_key: str) -> list[tuple[yaml.Node, Any]]:
    """The items of a YAML file as (node, value): one mapping, a list, a ``wrapper_key:`` mapping
    holding a list, or several documents of those. Raises SpecFileError naming the line."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as error:
        raise SpecFileError(file, [("", f"cannot read the file: {error.strerror or error}")]) from None
    except UnicodeDecodeError:
        raise SpecFileError(file, [("", "the file is not UTF-8 text")]) from None
    loader = yaml.SafeLoader(text)
    items: list[tuple[yaml.Node, Any]] = []
    try:
        while loader.check_node():
            document = loader.get_node()
            if document is None or document.tag == "tag:yaml.org,2002:null":
                continue  # an empty document, e.g. a stray `---`
            if isinstance(document, yaml.MappingNode):
                keys = [k.value for k, _ in document.value if isinstance(k, yaml.ScalarNode)]
                if wrapper_key in keys:
                    if keys != [wrapper_key]:
                        where = f"line {_line(document)}"
                        raise SpecFileError(file, [(where, f"a mapping with `{wrapper_key}:` may hold nothing else")])
                    document = _node_at(document, [wrapper_key])
            nodes = document.value if isinstance(document, yaml.SequenceNode) else [document]
            items += [(node, loader.construct_document(node)) for node in nodes]
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise SpecFileError(file, [(where, f"malformed YAML: {problem}")]) from None
    finally:
        loader.dispose()
    return items


def _validate_items(path: str | Path, kind: str, model: type[M], items: list[tuple[yaml.Node, Any]]) -> list[M]:
    valid: list[M] = []
    errors: list[tuple[str, str]] = []
    for index, (node, value) in enumerate(items, start=1):
        named = f" {value.get('name')!r}" if isinstance(value, dict) and value.get("name") else ""
        where = f"{kind} {index}{named}, line {_line(node)}"
        if not isinstance(value, dict):
            errors.append((where, f"expected a mapping of {kind} fields, found {type(value).__name__}"))
            continue
        try:
            valid.append(model.model_validate(value))
        except ValidationError as error:
            for e in error.errors():
                loc = e.get("loc", ())
                message = str(e.get("msg", "invalid")).removeprefix("Value error, ")
                field = field_path(loc)
                line = _line(_node_at(node, loc))
                errors.append((f"{kind} {index}{named}, line {line}", f"{field}: {message}" if field else message))
    if errors:
        raise SpecFileError(path, errors)
    if not valid:
        raise SpecFileError(path, [("", f"the file holds no {kind}")])
    return valid


def load_job_specs(path: str | Path) -> list[JobSpec]:
    """Job specs from a YAML file: one job, a list of jobs, a ``jobs:`` mapping, or several documents.

    Raises SpecFileError naming the file, the job (index and name), the line and the field.
    """
    return _validate_items(path, "job", JobSpec, read_yaml_items(path, "jobs"))


def load_center_spec(path: str | Path) -> CenterSpec:
    items = read_yaml_items(path, "center")
    if len(items) != 1:
        raise SpecFileError(path, [("", f"expected one center, found {len(items)}")])
    return _validate_items(path, "center", CenterSpec, items)[0]


def load_pools(path: str | Path) -> list[Pool]:
    """Pools from a YAML file: a list of pools, or a ``pools:`` mapping holding one."""
    return _validate_items(path, "pool", Pool, read_yaml_items(path, "pools"))


def _period(period: str | None, format: str = "json") -> dict[str, str]:
    return {"format": format} | ({"period": period} if period else {})
