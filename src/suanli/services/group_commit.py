"""Group commit: single submissions that arrive together are written in one transaction.

Each request validates its own job in its own thread, then hands it to one writer thread,
which takes everything waiting (up to ``max_batch``) and stores it with one commit. Under load
this turns a commit per job into a commit per burst; alone, a job waits only for its own write.
A batch is all-or-nothing in storage, so when one job in a merged batch is refused (say, an
idempotency key reused with another spec) the writer stores the others one by one, and only
that request gets the error.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future, wait
from typing import Any, Generic, TypeVar

from suanli.domain.errors import SuanliError

T = TypeVar("T")  # what is written (a new job, an audit record)
R = TypeVar("R")  # what writing one returns (the stored job, the chained entry)
_FLUSH = object()  # queued by flush: answered once everything queued before it is written


class GroupCommit(Generic[T, R]):
    """``write`` stores a batch in one transaction and returns one result per item, in order.

    With ``linger_s`` the writer, once something arrives, waits that long for more before it
    writes (unless ``flush`` hurries it): for callers that do not wait for their write, it turns
    a transaction per item into a few per second.
    """

    def __init__(
        self,
        write: Callable[[Sequence[T]], list[R]],
        max_batch: int = 512,
        *,
        linger_s: float = 0.0,
        name: str = "suanli-group-commit",
    ) -> None:
        self.write = write
        self.max_batch = max_batch
        self.linger_s = linger_s
        self.name = name
        # Items, and flush markers (_FLUSH with a Future[None]): the writer takes them in order.
        self._waiting: queue.SimpleQueue[tuple[Any, Future[Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._hurry = threading.Event()

    def submit(self, item: T) -> R:
        """Stores ``item`` (merged with others waiting) and returns it; raises what storing raised."""
        return self.enqueue(item).result()

    def enqueue(self, item: T) -> Future[R]:
        """Like ``submit``, without waiting: the future holds the stored item or the error."""
        done: Future[R] = Future()
        self._ensure_writer()
        self._waiting.put((item, done))
        return done

    def flush(self, timeout: float | None = None) -> bool:
        """Waits until everything queued so far is written (or failed); False on ``timeout``.

        It queues a marker behind them, which the writer answers once what came before it is
        written: the submitting path takes no lock and keeps no record for flush's sake."""
        if self._thread is None:
            return True  # nothing was ever queued
        marker: Future[None] = Future()
        self._waiting.put((_FLUSH, marker))
        self._hurry.set()
        return not wait([marker], timeout).not_done

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            if self.linger_s > 0:
                # Sleeps, not a get per item: each wake-up would take the GIL from the requests.
                self._hurry.wait(self.linger_s)
                self._hurry.clear()
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            items = [entry for entry in batch if entry[0] is not _FLUSH]
            if items:
                self._write(items)
            for item, marker in batch:
                if item is _FLUSH:
                    marker.set_result(None)

    def _write(self, batch: list[tuple[T, Future[R]]]) -> None:
        try:
            stored = self.write([item for item, _ in batch])
        except SuanliError as error:
            if len(batch) == 1:
                batch[0][1].set_exception(error)
                return
            for item in batch:  # find the job that was refused; store the others
                self._write([item])
            return
        except Exception as error:  # the database is down, say: every waiting request learns why
            for _, done in batch:
                done.set_exception(error)
            return
        for (_, done), result in zip(batch, stored, strict=True):
            done.set_result(result)
