"""/api/v1/auth: signing in with a password (a browser session or a token for the CLI), signing
out, and setting a password.

A browser session travels in two cookies: ``suanli_session``, HttpOnly (no script can read it)
and SameSite=Strict (no other site's page sends it), and ``suanli_csrf``, which the console's
script reads to send back as the X-CSRF-Token header with every change; the server checks it
against the session's own (auth.py), so that a forged request from elsewhere, which cannot read
the cookie, changes nothing. Both are Secure when the request came over HTTPS.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from starlette.responses import Response

from suanli.adapters.api.auth import CSRF_COOKIE, SESSION_COOKIE, Asker
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.adapters.api.routes.identity import PrincipalName, member_out
from suanli.domain.identity import Member, Principal
from suanli.protocol.rest import LoginIn, LoginOut, MemberOut, PasswordIn
from suanli.services.identity import SessionGrant
from suanli.services.sign_in import SignInService

CLI_TOKEN_LIFETIME = timedelta(days=30)


def set_session_cookies(response: Response, grant: SessionGrant, *, secure: bool) -> None:
    max_age = None
    if grant.info.expires_at is not None:
        max_age = max(0, int((grant.info.expires_at - grant.info.created_at).total_seconds()))
    common = {"max_age": max_age, "path": "/", "secure": secure, "samesite": "strict"}
    response.set_cookie(SESSION_COOKIE, grant.token, httponly=True, **common)  # type: ignore[arg-type]
    response.set_cookie(CSRF_COOKIE, grant.csrf_token, httponly=False, **common)  # type: ignore[arg-type]


def clear_session_cookies(response: Response, *, secure: bool) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", secure=secure, samesite="strict")


def client_of(request: Request) -> str:
    return request.client.host if request.client else ""


def signed_in_as(request: Request, member: Member, organization: str, token_prefix: str) -> None:
    """Tells the audit log who signed in (the request carried no token to say so)."""
    request.state.principal = Principal(
        name=member.name,
        kind=member.kind,
        organization=organization,
        roles=member.roles,
        scopes=frozenset(),
        token_prefix=token_prefix,
    )


def sign_in_router(sign_in: SignInService) -> APIRouter:
    router = APIRouter(tags=["identity"])

    @router.post(
        "/auth/login",
        response_model=LoginOut,
        responses=problem_docs(400, 401, 415, 422, 429),
        summary="Sign in with a name and password: a browser session, or an API token for the CLI",
    )
    def login(body: LoginIn, request: Request) -> Response:
        request.state.login_name = body.name  # for the audit log, should the sign-in fail
        member = sign_in.sign_in(body.name, body.password, client_of(request), body.organization)
        acting_for = body.organization or member.organization
        answer = LoginOut(
            name=member.name,
            organization=acting_for,
            roles=sorted(member.roles),
            expires_at=None,
            token_prefix="",
        )
        if body.grant == "token":
            lifetime = timedelta(seconds=body.expires_in_s) if body.expires_in_s else CLI_TOKEN_LIFETIME
            token, info = sign_in.cli_token(member, lifetime, body.organization)
            signed_in_as(request, member, acting_for, info.prefix)
            answer = answer.model_copy(
                update={"token": token, "expires_at": info.expires_at, "token_prefix": info.prefix}
            )
            return json_response(answer)
        grant = sign_in.open_session(member, body.organization)
        signed_in_as(request, member, acting_for, grant.info.prefix)
        answer = answer.model_copy(
            update={
                "csrf_token": grant.csrf_token,
                "expires_at": grant.info.expires_at,
                "token_prefix": grant.info.prefix,
            }
        )
        response = json_response(answer)
        set_session_cookies(response, grant, secure=request.url.scheme == "https")
        return response

    @router.post(
        "/auth/logout",
        status_code=204,
        responses=problem_docs(401, 403, 409),
        summary="End this browser session (its cookies are cleared)",
    )
    def logout(request: Request, asker: Asker) -> Response:
        sign_in.sign_out(asker)
        response = Response(status_code=204)
        clear_session_cookies(response, secure=request.url.scheme == "https")
        return response

    @router.put(
        "/principals/{name}/password",
        response_model=MemberOut,
        responses=problem_docs(400, 401, 403, 404, 409, 415, 422, 429),
        summary="Set a user's password (yours needs your current one); ends that user's browser sessions",
    )
    def set_password(name: PrincipalName, body: PasswordIn, request: Request, asker: Asker) -> Response:
        member = sign_in.set_password(
            name, body.password, current_password=body.current_password, by=asker, client=client_of(request)
        )
        return json_response(member_out(member, member.organization))

    return router
