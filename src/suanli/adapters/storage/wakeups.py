"""Cross-process scheduler wake-ups on PostgreSQL (LISTEN/NOTIFY).

Every server process runs a scheduler loop, but only the leader schedules. A submission that
reaches another process notifies the channel, and the leader's listener wakes its loop at once
instead of at its next timer tick. The channel is named after the schema, so installations (and
test runs) that share a database do not wake each other.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text

log = logging.getLogger(__name__)


class PostgresWakeups:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._channel: str | None = None

    @property
    def channel(self) -> str:
        if self._channel is None:
            with self.engine.connect() as connection:
                schema = connection.execute(text("SELECT current_schema()")).scalar_one()
            self._channel = "suanli_scheduler_" + re.sub(r"[^a-z0-9_]", "_", str(schema).lower())[:40]
        return self._channel

    def notify(self) -> None:
        with self.engine.connect() as connection:
            connection.execute(text("SELECT pg_notify(:channel, '')"), {"channel": self.channel})
            connection.commit()

    def listen(self, on_wake: Callable[[], None], stop: threading.Event) -> threading.Thread:
        """Calls ``on_wake`` for each notification until ``stop`` is set; reconnects on errors."""
        thread = threading.Thread(target=self._listen, args=(on_wake, stop), name="suanli-wakeups", daemon=True)
        thread.start()
        return thread

    def _listen(self, on_wake: Callable[[], None], stop: threading.Event) -> None:
        import psycopg

        conninfo = self.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(conninfo, autocommit=True) as connection:
                    connection.execute(f'LISTEN "{self.channel}"')
                    while not stop.is_set():
                        for _ in connection.notifies(timeout=1.0):
                            on_wake()
            except Exception:  # the database went away: the timer still schedules; listen again soon
                log.warning("scheduler wake-up listener lost its connection; retrying", exc_info=True)
                stop.wait(1.0)
