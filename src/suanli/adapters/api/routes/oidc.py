"""/api/v1/auth/oidc: single sign-on with the organization's OpenID provider (adapters/oidc.py).

Browsers: ``GET /auth/oidc/login`` sends the browser to the provider; the provider sends it back
to ``GET /auth/oidc/callback``, which checks the answer, gives the person the roles the provider
lists (services/single_sign_on.py) and opens a browser session (the cookies of a password
sign-in). What the callback needs from the start (state, nonce, PKCE verifier) waits in a cookie
signed with itsdangerous, keyed by the client secret, good for ten minutes, sent back only to
/api/v1/auth/oidc (SameSite=Lax: the provider's redirect is a top-level navigation). So any
server process can finish a sign-in another began.

The CLI (``suanli login --oidc``): ``POST /auth/oidc/device`` starts the provider's device flow
and answers the code the person enters at the provider; ``POST /auth/oidc/device/token`` polls:
202 while pending, then 200 with a new API token (``oidc_token_lifetime_s``, 12 h by default).

Every route is public (the way in). The audit log has every sign-in, done or refused: the
callback's whatever its answer, the device flow's start as any POST, and of its polls the one that
ends it (the ones still pending are not recorded, a poll every few seconds).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from starlette.responses import RedirectResponse, Response

from suanli.adapters.api.audit import principal_of, target_of
from suanli.adapters.api.problems import status_for
from suanli.adapters.api.responses import json_response, problem_docs
from suanli.adapters.api.routes.sign_in import set_session_cookies
from suanli.adapters.oidc import (
    CALLBACK_PATH,
    DevicePending,
    LoginRefused,
    OidcClient,
    OidcConfig,
    SingleSignOnOff,
)
from suanli.domain.errors import SuanliError
from suanli.domain.identity import Principal
from suanli.domain.single_sign_on import ClaimRefused
from suanli.protocol.sso import OidcDeviceOut, OidcDeviceTokenIn, OidcDeviceTokenOut, OidcSignedInOut
from suanli.services.audit import AuditService
from suanli.services.identity import IdentityService
from suanli.services.single_sign_on import SignedIn, SingleSignOn
from suanli.settings import Settings

LOGIN_COOKIE = "suanli_oidc"
LOGIN_COOKIE_PATH = "/api/v1/auth/oidc"
LOGIN_MAX_AGE_S = 600
_SALT = "suanli.oidc.login"
OAUTH_TEXT = r"^[\x20-\x7E]*$"  # what OAuth's parameters are made of (RFC 6749, appendix A): printable ASCII
_START_AGAIN = "start again at /api/v1/auth/oidc/login"
_REFUSALS = frozenset({401, 403})  # recorded by the audit trail itself (audit.py)


@dataclass(frozen=True, slots=True)
class SingleSignOnApi:
    """What the routes use: the provider's client (None: single sign-on is off), the use cases,
    the signer of the login cookie, and the audit log."""

    client: OidcClient | None
    sso: SingleSignOn
    signer: URLSafeTimedSerializer | None
    audit: AuditService

    @classmethod
    def from_settings(cls, settings: Settings, identity: IdentityService, audit: AuditService) -> SingleSignOnApi:
        config = OidcConfig.from_settings(settings)  # InvalidSpec at start for a half-set configuration
        sso = SingleSignOn(
            identity,
            allow_platform_admin=settings.oidc_allow_platform_admin,
            token_lifetime=timedelta(seconds=settings.oidc_token_lifetime_s),
            session_lifetime=timedelta(seconds=settings.session_lifetime_s),
        )
        if config is None:
            return cls(None, sso, None, audit)
        return cls(OidcClient(config), sso, URLSafeTimedSerializer(config.client_secret, salt=_SALT), audit)

    def need(self) -> tuple[OidcClient, URLSafeTimedSerializer]:
        if self.client is None or self.signer is None:
            raise SingleSignOnOff()
        return self.client, self.signer


def oidc_router(api: SingleSignOnApi) -> APIRouter:
    router = APIRouter(tags=["identity"])

    @router.get(
        "/auth/oidc/login",
        status_code=303,
        response_class=RedirectResponse,
        responses=problem_docs(404, 502),
        summary="Sign in with the organization's OpenID provider: sends the browser there",
    )
    def login(request: Request) -> Response:
        client, signer = api.need()
        redirect_uri = client.config.redirect_uri or str(request.base_url).rstrip("/") + CALLBACK_PATH
        start = client.begin_login(redirect_uri)
        kept = signer.dumps({"s": start.state, "n": start.nonce, "v": start.code_verifier, "r": redirect_uri})
        response = RedirectResponse(start.url, status_code=303)
        response.headers["Cache-Control"] = "no-store"
        response.set_cookie(
            LOGIN_COOKIE,
            kept,
            max_age=LOGIN_MAX_AGE_S,
            path=LOGIN_COOKIE_PATH,
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="lax",
        )
        return response

    @router.get(
        "/auth/oidc/callback",
        response_model=OidcSignedInOut,
        responses=problem_docs(401, 403, 404, 422, 502),
        summary="Where the OpenID provider sends the browser back: opens a browser session",
    )
    def callback(
        request: Request,
        code: Annotated[str | None, Query(max_length=4096, pattern=OAUTH_TEXT)] = None,
        state: Annotated[str | None, Query(max_length=1024, pattern=OAUTH_TEXT)] = None,
        iss: Annotated[str | None, Query(max_length=2048, pattern=OAUTH_TEXT)] = None,
        error: Annotated[str | None, Query(max_length=200, pattern=OAUTH_TEXT)] = None,
        error_description: Annotated[str | None, Query(max_length=1000, pattern=OAUTH_TEXT)] = None,
    ) -> Response:
        client, signer = api.need()
        kept = _kept_login(signer, request.cookies.get(LOGIN_COOKIE))
        if state is None or not hmac.compare_digest(state.encode(), str(kept.get("s", "")).encode()):
            raise LoginRefused(
                "the provider's answer does not belong to the sign-in this browser began (its state differs): "
                f"refused; {_START_AGAIN}"
            )
        if error is not None:
            detail = f"{error}: {error_description}" if error_description else error
            raise LoginRefused(f"the provider did not sign you in ({detail}); {_START_AGAIN}")
        if not code:
            raise LoginRefused(f"the provider's answer has no code; {_START_AGAIN}")
        with _naming_who_was_refused(request):
            person = client.finish_login(
                code=code,
                nonce=str(kept.get("n", "")),
                code_verifier=str(kept.get("v", "")),
                redirect_uri=str(kept.get("r", "")),
                issuer=iss,
            )
        request.state.login_name = person.name  # the audit log's actor, should what follows refuse
        signed_in = api.sso.provision(person)
        grant = api.sso.open_session(signed_in)
        _signed_in_as(request, signed_in, grant.info.prefix)
        answer = _answer(signed_in, person.email, person.display_name, grant.info.expires_at, grant.info.prefix)
        response = json_response(answer.model_copy(update={"csrf_token": grant.csrf_token}))
        response.headers["Cache-Control"] = "no-store"
        secure = request.url.scheme == "https"
        set_session_cookies(response, grant, secure=secure)
        response.delete_cookie(LOGIN_COOKIE, path=LOGIN_COOKIE_PATH, secure=secure, httponly=True, samesite="lax")
        return response

    @router.post(
        "/auth/oidc/device",
        response_model=OidcDeviceOut,
        responses=problem_docs(404, 502),
        summary="Start a sign-in for the CLI at the OpenID provider (device flow): the code to enter there",
    )
    def device(request: Request) -> Response:
        client, _ = api.need()
        start = client.start_device()
        return json_response(
            OidcDeviceOut(
                device_code=start.device_code,
                user_code=start.user_code,
                verification_uri=start.verification_uri,
                verification_uri_complete=start.verification_uri_complete,
                expires_in=start.expires_in,
                interval=start.interval,
            )
        )

    @router.post(
        "/auth/oidc/device/token",
        response_model=OidcDeviceTokenOut,
        responses={202: {"model": OidcDeviceTokenOut}, **problem_docs(400, 401, 403, 404, 415, 422, 502)},
        summary="Poll the device sign-in: 202 while pending, then 200 with a new API token",
    )
    def device_token(body: OidcDeviceTokenIn, request: Request) -> Response:
        def poll() -> Response:
            client, _ = api.need()
            with _naming_who_was_refused(request):
                found = client.poll_device(body.device_code)
            if isinstance(found, DevicePending):
                return json_response(OidcDeviceTokenOut(status="pending", interval=found.interval), status=202)
            request.state.login_name = found.name
            signed_in = api.sso.provision(found)
            token, info = api.sso.cli_token(signed_in)
            _signed_in_as(request, signed_in, info.prefix)
            answer = _answer(signed_in, found.email, found.display_name, info.expires_at, info.prefix)
            response = json_response(
                OidcDeviceTokenOut(status="done", signed_in=answer.model_copy(update={"token": token}))
            )
            response.headers["Cache-Control"] = "no-store"
            return response

        return _recording_the_end(api.audit, request, poll)

    return router


@contextmanager
def _naming_who_was_refused(request: Request) -> Iterator[None]:
    """Claims that make someone no one here: the audit log names whom they were about."""
    try:
        yield
    except ClaimRefused as refused:
        if refused.who:
            request.state.login_name = refused.who
        raise


def _kept_login(signer: URLSafeTimedSerializer, cookie: str | None) -> dict[str, Any]:
    if not cookie:
        raise LoginRefused(
            "this browser has no sign-in under way here (it began in another browser, or cookies are off); "
            + _START_AGAIN
        )
    try:
        kept = signer.loads(cookie, max_age=LOGIN_MAX_AGE_S)
    except SignatureExpired:
        raise LoginRefused(f"the sign-in took longer than {LOGIN_MAX_AGE_S // 60} minutes; {_START_AGAIN}") from None
    except BadSignature:
        raise LoginRefused(f"this browser's sign-in cookie was not made here, or was changed; {_START_AGAIN}") from None
    if not isinstance(kept, dict):
        raise LoginRefused(f"this browser's sign-in cookie is not one of ours; {_START_AGAIN}")
    return kept


def _answer(signed_in: SignedIn, email: str, display_name: str, expires_at: Any, prefix: str) -> OidcSignedInOut:
    member = signed_in.member
    return OidcSignedInOut(
        name=member.name,
        organization=signed_in.organization,
        roles=sorted(member.roles),
        email=email,
        display_name=display_name,
        expires_at=expires_at,
        token_prefix=prefix,
    )


def _signed_in_as(request: Request, signed_in: SignedIn, token_prefix: str) -> None:
    """Tells the audit log who signed in (the request carried no token to say so)."""
    member = signed_in.member
    request.state.principal = Principal(
        name=member.name,
        kind=member.kind,
        organization=signed_in.organization,
        roles=member.roles,
        scopes=frozenset(),
        token_prefix=token_prefix,
    )


def _recording_the_end(audit: AuditService, request: Request, poll: Callable[[], Response]) -> Response:
    """Runs a device-flow poll and records it in the audit log when it ends the sign-in (done,
    or refused for a reason the audit trail does not record itself); a pending one is not."""
    try:
        response = poll()
    except SuanliError as error:
        status = status_for(error)
        if status not in _REFUSALS:
            _record(audit, request, status)
        raise
    if response.status_code != 202:
        _record(audit, request, response.status_code)
    return response


def _record(audit: AuditService, request: Request, status: int) -> None:
    scope = request.scope
    actor, organization = principal_of(scope)
    client = scope.get("client")
    audit.record_later(
        actor=actor,
        organization=organization,
        action=f"{request.method} {request.url.path}",
        target=target_of(request.url.path, "/api/v1", scope.get("path_params") or {}),
        result=status,
        request_id=str(getattr(request.state, "request_id", "") or ""),
        client=client[0] if client else "",
    )
