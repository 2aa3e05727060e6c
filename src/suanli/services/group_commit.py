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
from concurrent.futures import Future

from suanli.domain.errors import SuanliError
from suanli.domain.job import Job
from suanli.services.ports import NewJob

Writer = Callable[[Sequence[NewJob]], list[Job]]


class GroupCommit:
    def __init__(self, write: Writer, max_batch: int = 512) -> None:
        self.write = write
        self.max_batch = max_batch
        self._waiting: queue.SimpleQueue[tuple[NewJob, Future[Job]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def submit(self, job: NewJob) -> Job:
        """Stores ``job`` (merged with others waiting) and returns it; raises what storing raised."""
        return self.enqueue(job).result()

    def enqueue(self, job: NewJob) -> Future[Job]:
        """Like ``submit``, without waiting: the future holds the stored job or the error."""
        done: Future[Job] = Future()
        self._ensure_writer()
        self._waiting.put((job, done))
        return done

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._start_lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="suanli-group-commit", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._waiting.get()]
            while len(batch) < self.max_batch:
                try:
                    batch.append(self._waiting.get_nowait())
                except queue.Empty:
                    break
            self._write(batch)

    def _write(self, batch: list[tuple[NewJob, Future[Job]]]) -> None:
        try:
            stored = self.write([job for job, _ in batch])
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
        for (_, done), job in zip(batch, stored, strict=True):
            done.set_result(job)
