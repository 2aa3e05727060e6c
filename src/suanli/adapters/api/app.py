"""The FastAPI application: thin routes over the services they call.

The API takes what it serves as ``ApiServices``, a protocol it states itself: the composition
root's ``Container`` is one, and nothing here imports the composition root. Each router factory
takes only the services and settings its routes use.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

from fastapi import APIRouter, Depends, FastAPI

import suanli
from suanli.adapters.api.audit import AuditTrail
from suanli.adapters.api.auth import authorizer
from suanli.adapters.api.bulk import BulkGate
from suanli.adapters.api.middleware import BodyLimit, CatchAll
from suanli.adapters.api.parameters import refuse_bad_text
from suanli.adapters.api.problems import install_problem_handlers
from suanli.adapters.api.responses import document_body_models, state_server_limits
from suanli.adapters.api.routes.accounts import accounts_router
from suanli.adapters.api.routes.agent import agent_router
from suanli.adapters.api.routes.audit import audit_router
from suanli.adapters.api.routes.centers import centers_router
from suanli.adapters.api.routes.health import health_router
from suanli.adapters.api.routes.identity import identity_router
from suanli.adapters.api.routes.invoices import invoices_router
from suanli.adapters.api.routes.jobs import jobs_router
from suanli.adapters.api.routes.oidc import SingleSignOnApi, oidc_router
from suanli.adapters.api.routes.pricing import pricing_router
from suanli.adapters.api.routes.sign_in import sign_in_router
from suanli.adapters.api.routes.usage import usage_router
from suanli.domain.accelerators import AcceleratorCatalog
from suanli.protocol.pricing import RateIn
from suanli.protocol.rest import JobBatchIn
from suanli.services.agents import AgentService
from suanli.services.audit import AuditService
from suanli.services.centers import CenterService
from suanli.services.identity import IdentityService
from suanli.services.invoices import InvoiceService
from suanli.services.jobs import JobService
from suanli.services.pricing import PricingService
from suanli.services.rating import RatingService
from suanli.services.scheduler_loop import SchedulerLoop
from suanli.services.scheduling import SchedulingService
from suanli.services.sign_in import SignInService
from suanli.services.signal import Signal
from suanli.services.status import StatusService
from suanli.services.usage import UsageService
from suanli.services.waiting import WaitingReasons
from suanli.settings import Settings

API_PREFIX = "/api/v1"

DESCRIPTION = """\
Suanli (算力) places AI work on the compute centers of a region.

Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details
(`application/problem+json`) with `type`, `title`, `status`, `detail` and, for invalid input,
`errors: [{field, message}]`.
"""


class ApiServices(Protocol):
    """What the API runs over: the use cases its routes call, the settings they read, and the
    scheduler loop that its lifespan starts and ``close`` stops."""

    @property
    def settings(self) -> Settings: ...
    @property
    def catalog(self) -> AcceleratorCatalog: ...
    @property
    def jobs(self) -> JobService: ...
    @property
    def centers(self) -> CenterService: ...
    @property
    def scheduling(self) -> SchedulingService: ...
    @property
    def agents(self) -> AgentService: ...
    @property
    def assignments(self) -> Signal: ...  # fired when there is news for the agents' long polls
    @property
    def loop(self) -> SchedulerLoop: ...
    @property
    def waiting(self) -> WaitingReasons: ...  # why waiting jobs wait; whether a new one could ever fit
    @property
    def status(self) -> StatusService: ...
    @property
    def audit(self) -> AuditService: ...  # the audit log: every state-changing request is recorded
    @property
    def identity(self) -> IdentityService: ...  # tokens, organizations, members; authenticates requests
    @property
    def sign_in(self) -> SignInService: ...  # passwords, browser sessions
    @property
    def usage(self) -> UsageService: ...  # usage records
    @property
    def rating(self) -> RatingService: ...  # charges in the ledger, and its balances
    @property
    def invoices(self) -> InvoiceService: ...  # invoices and statements, read from the ledger
    @property
    def pricing(self) -> PricingService: ...  # rate cards

    def close(self) -> None: ...


def create_app(services: ApiServices) -> FastAPI:
    """The API over ``services``. Its lifespan starts the scheduler loop and closes ``services``."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector()
        services.loop.start()
        try:
            yield
        finally:
            services.close()

    app = FastAPI(
        title="Suanli",
        version=suanli.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Every route checks its text first, then who asks and whether they may (auth.py).
        dependencies=[Depends(refuse_bad_text), Depends(authorizer(services.identity))],
    )
    app.state.bulk_gate = BulkGate()  # one per process: batches share its memory budget (bulk.py)
    install_problem_handlers(app)
    for router in routers(services):
        app.include_router(router, prefix=API_PREFIX)
    document_body_models(app, [JobBatchIn, RateIn])
    settings = services.settings
    state_server_limits(app, services.catalog, settings.max_jobs_per_request)
    # Added last = outermost: CatchAll sees every exception the handlers above did not answer.
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(CatchAll)
    # Outermost of all: it records what the layers inside answer, a 500 or a 413 included.
    app.add_middleware(
        AuditTrail,
        audit=services.audit,
        prefix=API_PREFIX,
        # The agents' protocol: recorded on the attempts it changes, and when refused. A device
        # sign-in's polls: the one that ends it is recorded by its route (routes/oidc.py).
        unaudited=(f"{API_PREFIX}/agent", f"{API_PREFIX}/auth/oidc/device/token"),
        # `suanli login` checks its token at whoami; a browser's single sign-on ends at the callback
        reads=frozenset({f"{API_PREFIX}/whoami", f"{API_PREFIX}/auth/oidc/callback"}),
        wait=settings.audit_wait,
    )
    return app


def routers(services: ApiServices) -> list[APIRouter]:
    """One router per resource, each given only what its routes use."""
    settings = services.settings
    return [
        health_router(services.loop, services.status, settings.resolved_database_url),
        centers_router(services.centers, services.scheduling, services.agents),
        pricing_router(services.pricing),
        jobs_router(
            services.jobs, services.scheduling, services.waiting, services.agents, settings.max_jobs_per_request
        ),
        agent_router(
            services.agents,
            services.assignments,
            heartbeat_s=settings.agent_heartbeat_s,
            offline_after_s=settings.agent_offline_after_s,
        ),
        audit_router(services.audit),
        identity_router(services.identity),
        oidc_router(SingleSignOnApi.from_settings(settings, services.identity, services.audit)),
        sign_in_router(services.sign_in),
        usage_router(services.usage),
        accounts_router(services.rating, services.identity),
        invoices_router(services.invoices, services.identity),
    ]


def tune_garbage_collector() -> None:
    """Collect cyclic garbage far less often than CPython's default (every 700 allocations).

    A request allocates hundreds of short-lived objects, none in cycles, so the default spent a
    large share of the server's time in young-generation collections and, every so often, in a
    full collection over the scheduler's working set that stalled every request: under 16
    concurrent submitters this took p99 latency from 38 ms to 115 ms (docs/performance.md).
    What exists at start-up is frozen out of collections altogether.
    """
    gc.freeze()
    gc.set_threshold(100_000, 50, 50)
