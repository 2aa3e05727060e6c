"""The composition root: wires settings, storage, services and the scheduler loop together."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.leader import make_leader_lock
from suanli.adapters.storage.migrations_runner import upgrade_database
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.wakeups import PostgresWakeups
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.scheduler.cycle import Scheduler
from suanli.services.centers import CenterService
from suanli.services.clock import Clock, SystemClock
from suanli.services.jobs import JobService
from suanli.services.scheduler_loop import SchedulerLoop
from suanli.services.scheduling import SchedulingService
from suanli.settings import Settings


@dataclass
class Container:
    settings: Settings
    catalog: AcceleratorCatalog
    store: SqlStore
    jobs: JobService
    centers: CenterService
    scheduling: SchedulingService
    loop: SchedulerLoop

    def close(self) -> None:
        self.loop.stop()
        self.store.engine.dispose()


def build_container(settings: Settings, clock: Clock | None = None) -> Container:
    clock = clock or SystemClock()
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    upgrade_database(url)
    engine = make_engine(url)
    store = SqlStore(engine)
    catalog = settings.catalog()
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
    scheduling = SchedulingService(store, Scheduler(settings.profile()), catalog, clock, holder)
    loop = SchedulerLoop(
        scheduling,
        make_leader_lock(engine, holder, settings.home),
        settings.scheduler_interval_s,
        wakeups=PostgresWakeups(engine) if engine.dialect.name == "postgresql" else None,
    )

    def capacity_changed() -> None:
        scheduling.invalidate()
        loop.wake()

    return Container(
        settings=settings,
        catalog=catalog,
        store=store,
        jobs=JobService(store, catalog, clock, on_change=loop.wake, on_release=capacity_changed),
        centers=CenterService(store, catalog, clock, on_change=capacity_changed),
        scheduling=scheduling,
        loop=loop,
    )
