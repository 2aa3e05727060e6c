"""What keeps batch submissions inside a memory budget (docs/api.md, "Limits and memory").

A batch costs memory in proportion to its jobs (about 3 KB each while it is parsed, validated and
stored: pydantic objects, not the bytes of the body), so three things bound it:

- the body: at most ``max_body_bytes``, refused before it is read when its Content-Length says so
  and while it streams otherwise (``middleware.BodyLimit``);
- the count: the jobs are counted before a single job object is built (``count_jobs``), so a body
  holding more than ``max_jobs_per_request`` is refused at the cost of one scan;
- the concurrency: at most ``MAX_CONCURRENT_BATCHES`` batches are read, parsed and stored at once
  in a server process (``BulkGate``); the next ``MAX_WAITING_BATCHES`` wait for a turn, up to
  ``BATCH_WAIT_S``, without their bodies having been read; any more, or one that waited too long,
  is told 503 with Retry-After.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from suanli.domain.errors import SuanliError

MAX_CONCURRENT_BATCHES = 2
MAX_WAITING_BATCHES = 8
BATCH_WAIT_S = 60.0
RETRY_AFTER_S = 5
JOB_BYTES_ESTIMATE = 3 * 1024  # what one job of a batch holds while it is handled (docs/api.md)


class Busy(SuanliError):
    """The server handles as many batches as its memory budget allows; try again shortly."""

    http_status = 503
    title = "Too many batches at once"
    headers = {"Retry-After": str(RETRY_AFTER_S)}


class MalformedJson(SuanliError):
    http_status = 400
    title = "Malformed JSON"


class BulkGate:
    """At most ``slots`` holders at once; up to ``waiting`` more wait (each at most ``wait_s``).

    Asyncio, not threads: a request waits on the event loop before its body is read, holding no
    worker thread and no body."""

    def __init__(
        self, slots: int = MAX_CONCURRENT_BATCHES, waiting: int = MAX_WAITING_BATCHES, wait_s: float = BATCH_WAIT_S
    ) -> None:
        self.slots = slots
        self.waiting_limit = waiting
        self.wait_s = wait_s
        self._free = asyncio.Semaphore(slots)
        self.waiting = 0

    @asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        if self._free.locked() and self.waiting >= self.waiting_limit:
            raise Busy(self._busy(f"{self.waiting} more are waiting"))
        self.waiting += 1
        try:
            async with asyncio.timeout(self.wait_s):  # cancels the acquire cleanly (wait_for can leak one)
                await self._free.acquire()
        except TimeoutError:
            raise Busy(self._busy(f"this one waited {self.wait_s:g}s for its turn")) from None
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            self._free.release()

    def _busy(self, why: str) -> str:
        return (
            f"the server handles {self.slots} batches at a time and {why}; retry after {RETRY_AFTER_S}s, "
            "or send smaller batches one after another"
        )


def count_jobs(body: bytes) -> int | None:
    """How many items the ``jobs`` list of a batch body holds, found without building them: each
    JSON object becomes None as soon as it is read. None when the body is not an object with a
    ``jobs`` list (validation then says what is wrong). Raises MalformedJson for bad JSON."""
    last: list[tuple[str, Any]] = []

    def drop(pairs: list[tuple[str, Any]]) -> None:
        last[:] = pairs  # the top-level object is the last one the decoder finishes
        return None

    try:
        top = json.loads(body, object_pairs_hook=drop)
    except json.JSONDecodeError as error:
        where = f" at line {error.lineno}, column {error.colno}"
        raise MalformedJson(f"the request body is not valid JSON: {error.msg}{where}", field="body") from None
    except UnicodeDecodeError as error:
        raise MalformedJson(f"the request body is not UTF-8 text: {error.reason}", field="body") from None
    except RecursionError:
        raise MalformedJson("the request body is not valid JSON: it is nested too deeply", field="body") from None
    if top is not None:
        return None
    jobs = [value for key, value in last if key == "jobs"]
    return len(jobs[-1]) if jobs and isinstance(jobs[-1], list) else None
