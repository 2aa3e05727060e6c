"""The composition root: wires settings, storage, services and the scheduler loop together, and
hands them to the API (``create_app_from_settings``). Nothing below it imports it."""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import timedelta

from fastapi import FastAPI

from suanli.adapters.api.app import create_app
from suanli.adapters.storage.agent_store import SqlAgentStore
from suanli.adapters.storage.audit_store import SqlAuditStore
from suanli.adapters.storage.engine import make_engine
from suanli.adapters.storage.identity_store import SqlIdentityStore
from suanli.adapters.storage.invoice_store import SqlInvoiceStore
from suanli.adapters.storage.leader import make_leader_lock
from suanli.adapters.storage.ledger_store import SqlLedgerStore
from suanli.adapters.storage.migrations_runner import upgrade_database
from suanli.adapters.storage.rate_store import SqlRateStore
from suanli.adapters.storage.store import SqlStore
from suanli.adapters.storage.usage_store import SqlUsageStore
from suanli.adapters.storage.wakeups import PostgresWakeups
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.scheduler.cycle import Scheduler
from suanli.services.agents import AgentService
from suanli.services.audit import DEFAULT_LINGER_S, AuditService
from suanli.services.centers import CenterService
from suanli.services.clock import Clock, SystemClock
from suanli.services.identity import IdentityService
from suanli.services.invoices import InvoiceService
from suanli.services.jobs import JobService
from suanli.services.pricing import PoolPrices, PricingService
from suanli.services.rating import RatingService
from suanli.services.scheduler_loop import SchedulerLoop
from suanli.services.scheduling import SchedulingService
from suanli.services.sign_in import SignInService
from suanli.services.signal import Signal
from suanli.services.status import StatusService
from suanli.services.usage import UsageService
from suanli.services.waiting import WaitingReasons
from suanli.settings import Settings, load_settings


@dataclass
class Container:
    """Everything one server process runs; it is the ``ApiServices`` the API is created over."""

    settings: Settings
    catalog: AcceleratorCatalog
    store: SqlStore
    jobs: JobService
    centers: CenterService
    scheduling: SchedulingService
    loop: SchedulerLoop
    agents: AgentService
    assignments: Signal  # fired when placements are written or jobs let go: wakes agents' long polls
    waiting: WaitingReasons
    status: StatusService
    audit: AuditService
    identity: IdentityService
    sign_in: SignInService
    pricing: PricingService  # rate cards: what each pool costs, from when
    usage: UsageService  # usage records: checkpoints and reading (final records come with each attempt's end)
    rating: RatingService  # usage records become charges in the ledger
    invoices: InvoiceService  # invoices and statements, read from the ledger

    def bootstrap_admin(self) -> str | None:
        """The first admin and its token in ``home/token`` on an installation without principals
        (None when it has them), recorded in the audit log."""
        token = self.identity.bootstrap(self.settings.home / "token")
        if token:
            record_bootstrap(self.audit)
        return token

    def close(self) -> None:
        self.loop.stop()
        self.audit.close()  # what the audit writer still holds, before the engine goes
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
    assignments = Signal()
    scheduling = SchedulingService(
        store, Scheduler(settings.profile()), catalog, clock, holder, on_placed=assignments.notify
    )
    loop = SchedulerLoop(
        scheduling,
        make_leader_lock(engine, holder, settings.home),
        settings.scheduler_interval_s,
        wakeups=PostgresWakeups(engine) if engine.dialect.name == "postgresql" else None,
    )

    def capacity_changed() -> None:
        scheduling.invalidate()
        waiting.invalidate()
        loop.wake()
        assignments.notify()  # a cancelled job's attempt is news for its center's long poll

    rates = SqlRateStore(store)
    prices = PoolPrices(rates)
    centers = CenterService(
        store,
        catalog,
        clock,
        on_change=capacity_changed,
        offline_after_s=settings.agent_offline_after_s,
        prices=prices,
    )
    pricing = PricingService(rates, centers, prices, clock)
    waiting = WaitingReasons(scheduling, store, clock, settings.agent_offline_after_s)
    agents = AgentService(
        store,
        SqlAgentStore(store),
        centers,
        clock,
        heartbeat_s=settings.agent_heartbeat_s,
        offline_after_s=settings.agent_offline_after_s,
        on_release=capacity_changed,
    )

    usage = UsageService(SqlUsageStore(store), clock, interval_s=settings.usage_interval_s)
    rating = RatingService(SqlLedgerStore(store), rates, clock, fee_rate=settings.platform_fee)

    def housekeeping() -> bool:
        expired = agents.expire_silent_centers()  # LOST attempts get their final usage records here
        usage.checkpoint()  # after it, and changing no capacity
        rating.housekeep()  # the records just written, and those of the reports since the last turn
        return pricing.apply_due() or expired  # both run: prices that came due reach the hints

    loop.housekeeping = housekeeping
    identity = IdentityService(SqlIdentityStore(store), clock, cache_s=settings.token_cache_s)
    return Container(
        settings=settings,
        catalog=catalog,
        store=store,
        jobs=JobService(
            store, catalog, clock, on_change=loop.wake, on_release=capacity_changed, why_unfit=waiting.why_unfit
        ),
        centers=centers,
        scheduling=scheduling,
        loop=loop,
        agents=agents,
        assignments=assignments,
        waiting=waiting,
        status=StatusService(store, scheduling, clock, settings.agent_offline_after_s),
        audit=AuditService(SqlAuditStore(store), clock, linger_s=0.0 if settings.audit_wait else DEFAULT_LINGER_S),
        identity=identity,
        sign_in=SignInService(identity, clock, session_lifetime=timedelta(seconds=settings.session_lifetime_s)),
        pricing=pricing,
        usage=usage,
        rating=rating,
        invoices=InvoiceService(SqlInvoiceStore(store), rating),
    )


def create_app_from_settings(settings: Settings | None = None) -> FastAPI:
    """For uvicorn: ``uvicorn --factory suanli.composition:create_app_from_settings``."""
    return create_app(build_container(settings if settings is not None else load_settings()))


def bootstrap_identity(settings: Settings) -> str | None:
    """The first admin's token, written to ``home/token``, on an installation without principals
    (``IdentityService.bootstrap``); None when it has them. Migrates the database first."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.home.mkdir(parents=True, exist_ok=True)
    upgrade_database(url)
    engine = make_engine(url)
    try:
        store, clock = SqlStore(engine), SystemClock()
        token = IdentityService(SqlIdentityStore(store), clock).bootstrap(settings.home / "token")
        if token:
            record_bootstrap(AuditService(SqlAuditStore(store), clock, linger_s=0.0))
        return token
    finally:
        engine.dispose()


def record_bootstrap(audit: AuditService) -> None:
    """The first admin's creation, in the audit log: no request made it, so no request records it."""
    audit.record(
        actor="system", action="principal.bootstrap", target="principals/admin", organization="default", result="ok"
    )
