"""/api/v1: who am I, API tokens, organizations with their projects and members.

Each route acts as the principal asking (``current_principal``); what it may touch beyond the
route's permission (its own tokens, its own organization) the service decides (``by=``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path
from starlette.responses import Response

from suanli.adapters.api.auth import current_principal
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.domain.centers import NAME_PATTERN
from suanli.domain.identity import PREFIX_PATTERN, Member, Principal, Role
from suanli.protocol.rest import (
    ApiTokenCreatedOut,
    ApiTokenIn,
    ApiTokenListOut,
    ApiTokenOut,
    MemberIn,
    MemberListOut,
    MemberOut,
    OrganizationIn,
    OrganizationListOut,
    OrganizationOut,
    ProjectIn,
    ProjectListOut,
    ProjectOut,
    WhoamiOut,
)
from suanli.services.identity import IdentityService

PrincipalName = Annotated[
    str, Path(min_length=1, max_length=63, pattern=NAME_PATTERN, description="a user or service account")
]
OrgName = Annotated[str, Path(min_length=1, max_length=63, pattern=NAME_PATTERN, description="the organization")]
TokenPrefix = Annotated[
    str,
    Path(
        min_length=1,
        max_length=100,
        pattern=PREFIX_PATTERN,
        description="the token's prefix (as `suanli token list` shows it)",
    ),
]
Asking = Annotated[Principal, Depends(current_principal)]


def identity_router(identity: IdentityService) -> APIRouter:
    router = APIRouter(tags=["identity"])
    add_token_routes(router, identity)
    add_organization_routes(router, identity)
    add_principal_routes(router, identity)
    return router


def add_token_routes(router: APIRouter, identity: IdentityService) -> None:
    """Who am I; mint, list and revoke one's tokens."""

    @router.get("/whoami", response_model=WhoamiOut, responses=problem_docs(401), summary="Who this token acts as")
    def whoami(principal: Asking) -> Response:
        found = identity.whoami(principal)
        return json_response(
            WhoamiOut(
                name=principal.name,
                kind=principal.kind,
                organization=principal.organization,
                roles=sorted(principal.roles),
                scopes=sorted(principal.scopes),
                permissions=sorted(p.value for p in found.permissions),
                token_prefix=principal.token_prefix,
                token_name=found.token.name if found.token else "",
                token_expires_at=found.token.expires_at if found.token else None,
            )
        )

    @router.post(
        "/tokens",
        status_code=201,
        response_model=ApiTokenCreatedOut,
        responses=problem_docs(400, 401, 403, 404, 409, 415, 422),
        summary="Mint an API token (its secret is shown this once)",
    )
    def create_token(body: ApiTokenIn, principal: Asking) -> Response:
        for_self = body.principal is None or body.principal == principal.name
        token, info = identity.mint_token(
            body.principal or principal.name,
            body.name,
            body.scopes,
            timedelta(seconds=body.expires_in_s) if body.expires_in_s is not None else None,
            organization=body.organization or (principal.organization if for_self else None),
            by=principal,
        )
        shown = ApiTokenOut.from_info(info, identity.clock.now())
        return json_response(ApiTokenCreatedOut(**shown.model_dump(), token=token), 201)

    @router.get("/tokens", response_model=ApiTokenListOut, responses=problem_docs(401), summary="List your tokens")
    def list_tokens(principal: Asking) -> Response:
        now = identity.clock.now()
        tokens = [ApiTokenOut.from_info(info, now) for info in identity.list_tokens(principal.name)]
        return json_response(ApiTokenListOut(tokens=tokens))

    @router.delete(
        "/tokens/{prefix}",
        response_model=ApiTokenOut,
        responses=problem_docs(401, 404, 422),
        summary="Revoke a token: refused from the next request on",
    )
    def revoke_token(prefix: TokenPrefix, principal: Asking) -> Response:
        info = identity.revoke_token(prefix, by=principal)
        return json_response(ApiTokenOut.from_info(info, identity.clock.now()))


def add_organization_routes(router: APIRouter, identity: IdentityService) -> None:
    """Organizations, their projects, their members."""

    @router.get(
        "/organizations",
        response_model=OrganizationListOut,
        responses=problem_docs(401, 403),
        summary="List organizations (yours; every one for a platform admin)",
    )
    def list_organizations(principal: Asking) -> Response:
        found = identity.list_organizations(by=principal)
        return json_response(OrganizationListOut(organizations=[OrganizationOut.from_organization(o) for o in found]))

    @router.post(
        "/organizations",
        status_code=201,
        response_model=OrganizationOut,
        responses=problem_docs(400, 401, 403, 409, 415, 422),
        summary="Add an organization",
    )
    def add_organization(body: OrganizationIn, principal: Asking) -> Response:
        made = identity.create_organization(body.name, body.kind, body.display_name, by=principal)
        return json_response(OrganizationOut.from_organization(made), 201)

    @router.get(
        "/organizations/{org}/projects",
        response_model=ProjectListOut,
        responses=problem_docs(401, 403, 404, 422),
        summary="List an organization's projects",
    )
    def list_projects(org: OrgName, principal: Asking) -> Response:
        found = identity.list_projects(org, by=principal)
        return json_response(ProjectListOut(projects=[ProjectOut.from_project(p) for p in found]))

    @router.post(
        "/organizations/{org}/projects",
        status_code=201,
        response_model=ProjectOut,
        responses=problem_docs(400, 401, 403, 404, 409, 415, 422),
        summary="Add a project to an organization",
    )
    def add_project(org: OrgName, body: ProjectIn, principal: Asking) -> Response:
        return json_response(ProjectOut.from_project(identity.create_project(org, body.name, by=principal)), 201)

    @router.get(
        "/organizations/{org}/members",
        response_model=MemberListOut,
        responses=problem_docs(401, 403, 404, 422),
        summary="List an organization's members and their roles there",
    )
    def list_members(org: OrgName, principal: Asking) -> Response:
        found = identity.list_members(org, by=principal)
        return json_response(MemberListOut(members=[member_out(m, org) for m in found]))

    @router.delete(
        "/organizations/{org}/members/{name}",
        response_model=MemberOut,
        responses=problem_docs(401, 403, 404, 409, 422),
        summary="Take a role (default: every role) in an organization from a user or service account",
    )
    def remove_member(org: OrgName, name: PrincipalName, principal: Asking, role: Role | None = None) -> Response:
        member = identity.remove_member(name, org, role, by=principal)
        return json_response(member_out(member, org))

    @router.post(
        "/organizations/{org}/members",
        status_code=201,
        response_model=MemberOut,
        responses=problem_docs(400, 401, 403, 404, 409, 415, 422),
        summary="Give a user or service account a role in an organization (a new name is created)",
    )
    def add_member(org: OrgName, body: MemberIn, principal: Asking) -> Response:
        member = identity.add_member(body.name, org, body.role, kind=body.kind, by=principal)
        return json_response(member_out(member, org), 201)


def add_principal_routes(router: APIRouter, identity: IdentityService) -> None:
    """Disable a user or service account (its tokens are refused from now on), or enable it."""

    def set_disabled(disabled: bool):  # type: ignore[no-untyped-def]
        def handler(name: PrincipalName, principal: Asking) -> Response:
            member = identity.set_disabled(name, disabled, by=principal)
            return json_response(member_out(member, member.organization))

        return handler

    router.post(
        "/principals/{name}/disable",
        response_model=MemberOut,
        responses=problem_docs(401, 403, 404, 409, 422),
        summary="Disable a user or service account: every token of it is refused from now on",
        name="disable_principal",
    )(set_disabled(True))
    router.post(
        "/principals/{name}/enable",
        response_model=MemberOut,
        responses=problem_docs(401, 403, 404, 422),
        summary="Enable a disabled user or service account again",
        name="enable_principal",
    )(set_disabled(False))


def member_out(member: Member, organization: str) -> MemberOut:
    return MemberOut(
        name=member.name,
        kind=member.kind,
        home_organization=member.organization,
        organization=organization,
        roles=sorted(member.roles),
        disabled=member.disabled,
    )
