"""The audit trail of the API: every request gets a request id, and every state-changing request
(and every 401 or 403, on any route, and each check of a token at login) is recorded in the
audit log.

A pure ASGI middleware, the outermost one, so that it also sees what the others answer (a 413 of
``BodyLimit``, a 500 of ``CatchAll``). It hands the record to the audit service when the response
starts; with ``wait`` (setting ``audit_wait``) the client hears the answer only once its entry is
stored, otherwise the service's writer stores it moments later with the others that arrived
meanwhile. A failure to record is logged and the response goes on: the audit log never fails a
request.

The agents' machine protocol (``/api/v1/agent/...``) is not recorded request by request: what
it changes is recorded on the attempts; its refusals (401) are.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import re
from collections.abc import Mapping
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from suanli.services.audit import AuditService

log = logging.getLogger("suanli.api.audit")

REQUEST_ID_HEADER = b"x-request-id"
# A request id a client or a proxy sends is kept if it is short printable ASCII; else a new one.
_GOOD_REQUEST_ID = re.compile(rb"[!-~]{1,128}")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSALS = frozenset({401, 403})


# A new request id: this process's random prefix and a counter, 32 hex digits. Unique across
# processes and restarts (80 random bits per process), without a system call per request; it
# names a request, it guards nothing, so it need not be unpredictable.
_PROCESS_PREFIX = os.urandom(10).hex()
_serial = itertools.count(1)


def _new_process_prefix() -> None:
    global _PROCESS_PREFIX
    _PROCESS_PREFIX = os.urandom(10).hex()


os.register_at_fork(after_in_child=_new_process_prefix)  # a forked worker is another process


def request_id_of(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == REQUEST_ID_HEADER:
            if _GOOD_REQUEST_ID.fullmatch(value):
                return str(value.decode("ascii"))
            break
    return f"{_PROCESS_PREFIX}{next(_serial) & 0xFFFFFFFFFFFF:012x}"


def target_of(path: str, prefix: str, path_params: Mapping[str, Any]) -> str:
    """The resource a request acts on: its path under the API prefix, up to the last segment that
    is a path parameter (``centers/qd-ai-1`` for ``/centers/qd-ai-1/drain``, ``jobs/42`` for
    ``/jobs/42/cancel``), or its first segment when it has none (``jobs`` for ``/jobs/batch``)."""
    relative = path[len(prefix) :] if path.startswith(prefix + "/") else path
    segments = [segment for segment in relative.split("/") if segment]
    values = {str(value) for value in path_params.values()}
    end = 1
    for index, segment in enumerate(segments):
        if segment in values:
            end = index + 1
    return "/".join(segments[:end])


def principal_of(scope: Scope) -> tuple[str, str]:
    """(actor, organization) of the principal that authentication left in ``request.state``:
    ``user:alice`` (its kind and name); ``sign-in:alice`` for a failed sign-in as alice; or
    ("", "") when none did (the log says anonymous)."""
    state = scope.get("state") or {}
    principal = state.get("principal")
    if principal is None:
        attempted = state.get("login_name")  # a sign-in that failed: whose name was tried
        return (f"sign-in:{attempted}", "") if attempted else ("", "")
    name = str(getattr(principal, "name", "") or "")
    kind = getattr(principal, "kind", None)
    actor = f"{kind}:{name}" if kind and name else name
    return actor, str(getattr(principal, "organization", "") or "")


class AuditTrail:
    def __init__(
        self,
        app: ASGIApp,
        audit: AuditService,
        prefix: str,
        *,
        unaudited: tuple[str, ...] = (),
        reads: frozenset[str] = frozenset(),
        wait: bool = False,
    ) -> None:
        self.app = app
        self.audit = audit
        self.prefix = prefix
        self.unaudited = unaudited  # path prefixes whose state changes are recorded elsewhere
        self.reads = reads  # paths recorded whatever the method: a token checked at login
        self.wait = wait

    def audited(self, method: str, path: str) -> bool:
        """Whether a request is recorded whatever its answer (else only a 401 or 403 is)."""
        if path in self.reads:
            return True
        if method not in STATE_CHANGING or not path.startswith(self.prefix + "/"):
            return False
        return not any(path == p or path.startswith(p + "/") for p in self.unaudited)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        always = self.audited(scope["method"], scope["path"])

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), header]
                if always or message["status"] in REFUSALS:
                    await self.record(scope, message["status"], request_id)
            await send(message)

        await self.app(scope, receive, send_with_id)

    async def record(self, scope: Scope, status: int, request_id: str) -> None:
        method, path = scope["method"], scope["path"]
        try:
            actor, organization = principal_of(scope)
            client = scope.get("client")
            stored = self.audit.record_later(
                actor=actor,
                organization=organization,
                action=f"{method} {path}",
                target=target_of(path, self.prefix, scope.get("path_params") or {}),
                result=status,
                request_id=request_id,
                client=client[0] if client else "",
            )
        except Exception:
            log.exception("could not record %s %s (%s, request %s) in the audit log", method, path, status, request_id)
            return
        if self.wait:
            with contextlib.suppress(Exception):  # the service has logged it
                await asyncio.wrap_future(stored)
