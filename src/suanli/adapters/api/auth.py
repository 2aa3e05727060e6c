"""Who is asking, and may they: every request to the API names a principal with a Bearer token
(or a browser session's cookie), and one table says which permission each route needs.

The table is the only place that decides; handlers ask ``current_principal`` who is asking only
to scope what they read and change to that principal's organization (``organization_of``). Two
kinds of route are outside it: the health check, which anyone may read, and the agents' protocol
under /agent/, which carries its center's own token (routes/agent.py). A route missing from the
table is refused (403), never let through: tests/integration/api/test_auth.py checks that every
route of the OpenAPI document has its entry.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from suanli.domain.errors import Forbidden, Unauthenticated
from suanli.domain.identity import Principal, Role
from suanli.domain.permissions import Permission, allows
from suanli.services.identity import IdentityService

P = Permission
PUBLIC = None  # anyone, without a token
AGENT_PREFIX = "/agent/"
API_PREFIX = "/api/v1"
SESSION_COOKIE = "suanli_session"  # a browser session's token: HttpOnly, SameSite=Strict
CSRF_COOKIE = "suanli_csrf"  # its CSRF token, for the page's script to send back as CSRF_HEADER
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

ROUTES: dict[tuple[str, str], Permission | None] = {
    ("GET", "/health"): PUBLIC,
    ("POST", "/auth/login"): PUBLIC,  # the way in; slowed down after failures (services/login_throttle.py)
    ("POST", "/auth/logout"): P.STATUS_READ,
    # Single sign-on (routes/oidc.py): ways in too, each checking what the provider answers.
    ("GET", "/auth/oidc/login"): PUBLIC,
    ("GET", "/auth/oidc/callback"): PUBLIC,
    ("POST", "/auth/oidc/device"): PUBLIC,
    ("POST", "/auth/oidc/device/token"): PUBLIC,
    ("GET", "/status"): P.STATUS_READ,
    ("GET", "/centers"): P.CENTER_READ,
    ("POST", "/centers"): P.CENTER_REGISTER,
    ("GET", "/centers/{name}"): P.CENTER_READ,
    ("DELETE", "/centers/{name}"): P.CENTER_MANAGE,
    ("PUT", "/centers/{name}/pools"): P.CENTER_MANAGE,
    ("POST", "/centers/{name}/drain"): P.CENTER_MANAGE,
    ("POST", "/centers/{name}/resume"): P.CENTER_MANAGE,
    ("POST", "/centers/{name}/tokens"): P.CENTER_TOKEN,
    ("DELETE", "/centers/{name}/tokens"): P.CENTER_TOKEN,
    # Prices (routes/pricing.py): public to the network's members, as its centers are.
    ("GET", "/centers/{name}/rates"): P.CENTER_READ,
    ("POST", "/centers/{name}/rates"): P.CENTER_MANAGE,
    ("DELETE", "/centers/{name}/rates"): P.CENTER_MANAGE,
    ("POST", "/jobs"): P.JOB_SUBMIT,
    ("GET", "/jobs"): P.JOB_READ,
    ("POST", "/jobs/batch"): P.JOB_SUBMIT,
    ("GET", "/jobs/{job_id}"): P.JOB_READ,
    ("POST", "/jobs/{job_id}/cancel"): P.JOB_CANCEL,
    ("GET", "/jobs/{job_id}/explain"): P.JOB_READ,
    ("GET", "/jobs/{job_id}/attempts"): P.JOB_READ,
    ("GET", "/jobs/{job_id}/logs"): P.JOB_LOGS,
    ("GET", "/whoami"): P.STATUS_READ,
    ("GET", "/tokens"): P.TOKEN_MANAGE_OWN,
    ("POST", "/tokens"): P.TOKEN_MANAGE_OWN,
    ("DELETE", "/tokens/{prefix}"): P.TOKEN_MANAGE_OWN,
    ("GET", "/organizations"): P.ORG_READ,
    ("POST", "/organizations"): P.ORG_MANAGE,
    ("GET", "/organizations/{org}/projects"): P.ORG_READ,
    ("POST", "/organizations/{org}/projects"): P.ORG_MANAGE,
    ("GET", "/organizations/{org}/members"): P.ORG_READ,
    ("POST", "/organizations/{org}/members"): P.ORG_MANAGE,
    ("DELETE", "/organizations/{org}/members/{name}"): P.ORG_MANAGE,
    ("PUT", "/principals/{name}/password"): P.TOKEN_MANAGE_OWN,  # another's: org.manage too (sign_in.py)
    ("POST", "/principals/{name}/disable"): P.ORG_MANAGE,
    ("POST", "/principals/{name}/enable"): P.ORG_MANAGE,
    ("GET", "/audit"): P.AUDIT_READ,
    ("GET", "/audit/verify"): P.AUDIT_READ,
    ("GET", "/usage"): P.USAGE_READ,  # whose: domain.usage.readable_usage
    ("GET", "/accounts"): P.USAGE_READ,  # which accounts: ledger.readable_accounts
    ("GET", "/invoices/{organization}"): P.USAGE_READ,  # whose: receivable in ledger.readable_accounts
    ("GET", "/statements/{owner}"): P.USAGE_READ,  # whose: payable in ledger.readable_accounts
}


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        raise Unauthenticated(
            "this request needs a token: send `Authorization: Bearer sk_...` (the CLI: `suanli login`, or "
            "SUANLI_TOKEN), or sign in (POST /api/v1/auth/login)"
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must read `Bearer sk_...`")
    return token.strip()


def authenticate(identity: IdentityService, request: Request) -> Principal:
    """The principal of the Authorization header or, without one, of the session cookie; a change
    made with the cookie needs the session's CSRF token too (a page of another site can make the
    browser send the cookie, never read it)."""
    session = request.cookies.get(SESSION_COOKIE)
    if session is None or "authorization" in request.headers:
        return identity.authenticate(bearer_token(request))
    csrf = None if request.method in SAFE_METHODS else request.headers.get(CSRF_HEADER, "")
    return identity.authenticate(session, session_csrf=csrf, from_cookie=True)


def route_template(request: Request) -> str:
    """The matched route's path template below /api/v1, e.g. ``/jobs/{job_id}`` (FastAPI gives it
    with or without the prefix the router was included under, by version)."""
    route = request.scope.get("route")
    template = str(getattr(route, "path_format", None) or getattr(route, "path", "") or request.url.path)
    return template.removeprefix(API_PREFIX)


def authorizer(identity: IdentityService):  # type: ignore[no-untyped-def]
    """The dependency every route runs first (set on the app): finds who asks and checks the
    table; the principal is left on ``request.state`` for handlers and the audit log."""

    async def authorize(request: Request) -> None:  # async: no worker-thread hop per request
        template = route_template(request)
        if template.startswith(AGENT_PREFIX):
            return  # the agents' protocol: its routes check their center's token themselves
        key = (request.method if request.method != "HEAD" else "GET", template)
        if key not in ROUTES:
            raise Forbidden(f"{key[0]} {template} has no entry in the permission table; nobody may call it")
        permission = ROUTES[key]
        if permission is PUBLIC:
            return
        principal = authenticate(identity, request)
        request.state.principal = principal
        if not allows(principal, permission):
            raise Forbidden(
                f"{principal.name} may not do this here: it needs the permission {permission.value}, which the "
                f"roles {', '.join(sorted(r.value for r in principal.roles)) or 'none'} with token scopes "
                f"{', '.join(sorted(s.value for s in principal.scopes)) or 'none'} do not give"
            )

    return authorize


async def current_principal(request: Request) -> Principal:
    """Who asks (set by the authorizer, which every route but the public ones runs first)."""
    principal: Principal | None = getattr(request.state, "principal", None)
    if principal is None:
        raise Unauthenticated("this request needs a token: send `Authorization: Bearer sk_...`")
    return principal


def organization_of(principal: Principal) -> str | None:
    """The organization whose work a principal sees and changes; None: every organization's."""
    return None if Role.PLATFORM_ADMIN in principal.roles else principal.organization


# A handler's parameter for who asks: ``asker: Asker``.
Asker = Annotated[Principal, Depends(current_principal)]
