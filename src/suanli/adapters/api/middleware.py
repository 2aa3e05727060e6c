"""Pure ASGI middleware (cheaper than BaseHTTPMiddleware on the hot path)."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.adapters.api.problems import problem_response

log = logging.getLogger("suanli.api")


def _limit_text(limit: int) -> str:
    return (
        f"the server accepts at most {limit} bytes (setting max_body_bytes, SUANLI_MAX_BODY_BYTES); "
        "send fewer jobs per request"
    )


class BodyTooLarge(HTTPException):
    """Raised from the body's ``receive`` once more than the limit has arrived. An HTTPException,
    so FastAPI passes it through from its body reading, and the problem handlers answer 413."""

    slug = "body-too-large"

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than that: {_limit_text(limit)}")


class BodyLimit:
    """Refuses bodies over ``max_bytes`` with 413, without holding more than that in memory.

    A declared Content-Length is checked before anything is read. The body is not buffered here:
    the app reads it through a ``receive`` that counts the bytes as they stream in (a chunked
    request declares no length, and a client may lie) and raises BodyTooLarge at the first byte
    past the limit, so the app never acts on part of an oversize body, and a route may wait for a
    turn before it reads its body at all (``bulk.BulkGate``).
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if not value.isdigit():
                    await problem_response(400, "the Content-Length header is not a number")(scope, receive, send)
                    return
                if int(value) > self.max_bytes:
                    detail = f"the request body is {int(value)} bytes; {_limit_text(self.max_bytes)}"
                    await problem_response(413, detail, slug="body-too-large")(scope, receive, send)
                    return
                break
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)


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
