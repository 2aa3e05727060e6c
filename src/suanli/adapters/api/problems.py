"""Errors as RFC 9457 problem details, so every failure reads the same way to a person or a script.

Domain errors map to statuses here and nowhere else:

| error                                   | status |
|-----------------------------------------|--------|
| NotFound                                | 404    |
| Conflict, StaleVersion, IllegalTransition | 409  |
| InvalidSpec, request validation         | 422    |
| QuotaExceeded                           | 403    |
| Forbidden                               | 403    |
| Unauthenticated (no token, or a bad one)| 401, ``WWW-Authenticate: Bearer`` |
| TooManyAttempts (failed sign-ins)       | 429, with ``Retry-After`` |
| malformed JSON                          | 400    |
| body too large, batch too long          | 413    |
| a method the path does not take         | 405, ``Allow`` naming every method it takes |
| too many batches at once (bulk.Busy)    | 503, with ``Retry-After`` |
| anything unexpected                     | 500, logged, no traceback in the body |

QuotaExceeded is 403, as Kubernetes answers an exceeded ResourceQuota: 429 tells a client to slow
down and retry, which does not help when the quota itself is spent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match

from suanli.domain.errors import (
    Conflict,
    Forbidden,
    IllegalTransition,
    InvalidSpec,
    NotFound,
    QuotaExceeded,
    StaleVersion,
    SuanliError,
    TooManyAttempts,
    Unauthenticated,
)
from suanli.domain.errors import field_path as domain_field_path
from suanli.protocol.rest import FieldError, Problem

PROBLEM_JSON = "application/problem+json"

_STATUS: tuple[tuple[type[SuanliError], int], ...] = (
    (NotFound, 404),
    (StaleVersion, 409),
    (IllegalTransition, 409),
    (Conflict, 409),
    (InvalidSpec, 422),
    (QuotaExceeded, 403),
    (Forbidden, 403),
    (Unauthenticated, 401),
    (TooManyAttempts, 429),
)

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


def problem_type(slug: str) -> str:
    return f"urn:suanli:problem:{slug}"


def _slug(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()


def problem_response(
    status: int,
    detail: str,
    *,
    title: str | None = None,
    slug: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> Response:
    phrase = HTTPStatus(status).phrase
    problem = Problem.model_construct(
        type=problem_type(slug or _slug(phrase.replace(" ", ""))),
        title=title or phrase,
        status=status,
        detail=detail,
        errors=list(errors),
    )
    return Response(problem.model_dump_json(), status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _plain(part: str) -> bool:
    return bool(part) and part.isprintable() and part.strip() == part and part != "[key]"


def field_path(loc: Iterable[int | str]) -> str:
    """``("body", "resources", "accelerators", 0)`` -> ``resources.accelerators[0]``.

    The same notation as the fields that domain errors name, so a client sees one style. A
    mapping key that is not a plain word (empty, or holding NUL or other control characters) is
    quoted in brackets, and a key that is itself wrong is marked ``[key]``: ``labels['a\\x00'][key]``.
    """
    parts = list(loc)
    if parts and parts[0] in _LOCATIONS:
        location = parts.pop(0)
        if not parts:
            return str(location)
    if all(isinstance(p, int) or _plain(p) for p in parts):
        return domain_field_path(parts)
    text = ""
    for part in parts:
        if isinstance(part, int) or part == "[key]":
            text += f"[{part}]" if isinstance(part, int) else part
        elif _plain(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            return message[len(prefix) :]
    return message


def field_errors(errors: Iterable[Any]) -> list[FieldError]:
    return [FieldError(field=field_path(e.get("loc", ())), message=_message(e)) for e in errors]


def _summary(errors: Sequence[FieldError]) -> str:
    first = errors[0]
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{first.field}: {first.message}{more}"


def _json_error(exc: RequestValidationError) -> Response | None:
    """Malformed JSON is a 400, not a validation error: the body could not be read at all."""
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            ctx = error.get("ctx") or {}
            loc = error.get("loc", ())
            where = ""
            body = getattr(exc, "body", None)
            if len(loc) > 1 and isinstance(loc[1], int) and isinstance(body, str | bytes):
                text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
                pos = loc[1]
                line = text.count("\n", 0, pos) + 1
                column = pos - (text.rfind("\n", 0, pos) + 1) + 1
                where = f" at line {line}, column {column}"
            reason = ctx.get("error", "invalid JSON")
            return problem_response(400, f"the request body is not valid JSON: {reason}{where}", slug="malformed-json")
    return None


async def _on_request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    malformed = _json_error(exc)
    if malformed is not None:
        return malformed
    for error in exc.errors():
        if tuple(error.get("loc", ())) == ("body",) and isinstance(error.get("input"), bytes):
            # FastAPI passes a body it did not parse as JSON (another Content-Type) through as bytes.
            return problem_response(
                415, "send the body as JSON with the header Content-Type: application/json", slug="not-json"
            )
    errors = field_errors(exc.errors())
    detail = _summary(errors) if errors else "invalid request"
    return problem_response(422, detail, title="Invalid request", slug="validation", errors=errors)


async def _on_pydantic_validation(request: Request, exc: Exception) -> Response:
    """A body a route parsed itself (``model_validate_json``): malformed JSON is 400, the rest 422."""
    assert isinstance(exc, ValidationError)
    for error in exc.errors():
        if error.get("type") == "json_invalid":
            detail = _message(error).removeprefix("Invalid JSON: ")
            return problem_response(400, f"the request body is not valid JSON: {detail}", slug="malformed-json")
    errors = field_errors(exc.errors())
    return problem_response(422, _summary(errors), title="Invalid request", slug="validation", errors=errors)


def status_for(error: SuanliError) -> int:
    override = getattr(error, "http_status", None)  # an API-level error may name its own status
    if isinstance(override, int):
        return override
    for cls, status in _STATUS:
        if isinstance(error, cls):
            return status
    return 400


async def _on_domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, SuanliError)
    errors = [FieldError(field=exc.field, message=exc.message)] if exc.field else []
    headers = getattr(exc, "headers", None)
    if isinstance(exc, Unauthenticated):  # RFC 6750: a 401 names the scheme it wants
        headers = {"WWW-Authenticate": 'Bearer realm="suanli"', **(headers or {})}
    if isinstance(exc, TooManyAttempts):
        headers = {"Retry-After": str(exc.retry_after_s), **(headers or {})}
    return problem_response(
        status_for(exc), exc.message, title=exc.title, slug=_slug(type(exc).__name__), errors=errors, headers=headers
    )


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this path (Starlette's 405 names only the
    methods of the first route whose path matched). Asked of the routes themselves, so that
    routers nested in routers are asked too."""
    routes = request.app.router.routes
    return [m for m in _METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)]


async def _on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).description
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"no such endpoint: {request.method} {request.url.path}; see /docs for the API"
    elif exc.status_code == 405:
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        detail = f"{request.method} is not allowed on {request.url.path}; it takes {', '.join(allowed)}"
    return problem_response(exc.status_code, detail, slug=getattr(exc, "slug", None), headers=headers or None)


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_request_validation)
    app.add_exception_handler(ValidationError, _on_pydantic_validation)
    app.add_exception_handler(SuanliError, _on_domain_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_exception)
