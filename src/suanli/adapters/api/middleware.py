"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path)."""

from __future__ import annotations

import logging

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.adapters.api.problems import problem_response

log = logging.getLogger("suanli.api")


def _too_large(size: int | None, limit: int) -> Response:
    said = f"the request body is {size} bytes" if size is not None else "the request body is larger than that"
    detail = (
        f"{said}; the server accepts at most {limit} bytes (setting max_body_bytes, "
        "SUANLI_MAX_BODY_BYTES); send fewer jobs per request"
    )
    return problem_response(413, detail, slug="body-too-large")


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413 before any of it is parsed.

    A declared Content-Length is checked first; the streamed bytes are counted as well, because a
    chunked request declares none (and a client may lie). The body is read here and replayed to
    the app, so the app never sees part of an oversize body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared: int | None = None
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    await problem_response(400, "the Content-Length header is not a number")(scope, receive, send)
                    return
                break
        if declared is not None and declared > self.max_bytes:
            await _too_large(declared, self.max_bytes)(scope, receive, send)
            return

        messages: list[Message] = []
        total = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                await _too_large(None, self.max_bytes)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)


class CatchAll:
    """An unexpected exception becomes a 500 problem: logged here, never a traceback in the body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("unexpected error serving %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            response = problem_response(
                500,
                "the server failed unexpectedly; the error is in the server's log. Try again, "
                "and report it if it persists",
                slug="internal",
            )
            await response(scope, receive, send)
