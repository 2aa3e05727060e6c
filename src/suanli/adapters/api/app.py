"""The FastAPI application: thin routes over the services of one container."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

import suanli
from suanli.adapters.api.bulk import BulkGate
from suanli.adapters.api.middleware import BodyLimit, CatchAll
from suanli.adapters.api.parameters import refuse_bad_text
from suanli.adapters.api.problems import install_problem_handlers
from suanli.adapters.api.responses import document_body_models, state_server_limits
from suanli.adapters.api.routes.agent import agent_router
from suanli.adapters.api.routes.centers import centers_router
from suanli.adapters.api.routes.health import health_router
from suanli.adapters.api.routes.jobs import jobs_router
from suanli.adapters.api.schemas import JobBatchIn
from suanli.composition import Container, build_container
from suanli.settings import Settings, load_settings

API_PREFIX = "/api/v1"

DESCRIPTION = """\
Suanli (算力) places AI work on the compute centers of a region.

Errors are [RFC 9457](https://www.rfc-editor.org/rfc/rfc9457) problem details
(`application/problem+json`) with `type`, `title`, `status`, `detail` and, for invalid input,
`errors: [{field, message}]`.
"""


def create_app(container: Container) -> FastAPI:
    """The API over ``container``. Its lifespan starts the scheduler loop and closes the container."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tune_garbage_collector()
        container.loop.start()
        try:
            yield
        finally:
            container.close()

    app = FastAPI(
        title="Suanli",
        version=suanli.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(refuse_bad_text)],
    )
    app.state.container = container
    app.state.bulk_gate = BulkGate()  # one per process: batches share its memory budget (bulk.py)
    install_problem_handlers(app)
    routers = (health_router(container), centers_router(container), jobs_router(container), agent_router(container))
    for router in routers:
        app.include_router(router, prefix=API_PREFIX)
    document_body_models(app, [JobBatchIn])
    state_server_limits(app, container.catalog, container.settings.max_jobs_per_request)
    # Added last = outermost: CatchAll sees every exception the handlers above did not answer.
    app.add_middleware(BodyLimit, max_bytes=container.settings.max_body_bytes)
    app.add_middleware(CatchAll)
    return app


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


def create_app_from_settings(settings: Settings | None = None) -> FastAPI:
    """For uvicorn: ``uvicorn --factory suanli.adapters.api:create_app_from_settings``."""
    return create_app(build_container(settings if settings is not None else load_settings()))
