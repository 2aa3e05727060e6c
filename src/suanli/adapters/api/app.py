"""The FastAPI application: thin routes over the services of one container."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import suanli
from suanli.adapters.api.middleware import BodyLimit, CatchAll
from suanli.adapters.api.problems import install_problem_handlers
from suanli.adapters.api.responses import document_body_models
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
    )
    app.state.container = container
    install_problem_handlers(app)
    for router in (health_router(container), centers_router(container), jobs_router(container)):
        app.include_router(router, prefix=API_PREFIX)
    document_body_models(app, [JobBatchIn])
    # Added last = outermost: CatchAll sees every exception the handlers above did not answer.
    app.add_middleware(BodyLimit, max_bytes=container.settings.max_body_bytes)
    app.add_middleware(CatchAll)
    return app


def create_app_from_settings(settings: Settings | None = None) -> FastAPI:
    """For uvicorn: ``uvicorn --factory suanli.adapters.api:create_app_from_settings``."""
    return create_app(build_container(settings if settings is not None else load_settings()))
