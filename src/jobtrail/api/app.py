"""The FastAPI application: routers, error envelope, docs, and the background worker."""

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from jobtrail import __version__
from jobtrail.api import (
    routes_alerts,
    routes_catalog,
    routes_events,
    routes_health,
    routes_insights,
    routes_logs,
    routes_runs,
    routes_tokens,
)
from jobtrail.api.context import AppContext
from jobtrail.api.docs import BASE, OPENAPI_URL, install_docs
from jobtrail.api.errors import install_error_handlers
from jobtrail.api.limits import HeaderLimits
from jobtrail.api.metrics import StoreCollector, install_metrics
from jobtrail.console.routes import install_console
from jobtrail.settings import Settings
from jobtrail.store import accounts
from jobtrail.store.dialect import make_engine
from jobtrail.worker.loop import Worker, default_tasks


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for one store. Migrations are applied by `jobtrail serve` before this."""
    settings = settings or Settings()
    engine = make_engine(settings.db)
    ctx = AppContext(settings, engine, settings.secret or accounts.signing_secret(engine))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        worker = Worker(engine, default_tasks(settings), accounts.now_micros, settings.worker_poll)
        thread = worker.start_thread() if settings.worker else None
        ctx.live.start(asyncio.get_running_loop())
        # Everything built at start-up lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise cost a fifth of large ingestion requests.
        gc.freeze()
        yield
        ctx.live.stop()
        worker.stop()
        if thread is not None:
            thread.join(30)
        engine.dispose()

    app = FastAPI(
        title="jobtrail Jobs API",
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.add_middleware(HeaderLimits)
    for module in (
        routes_tokens,
        routes_runs,
        routes_logs,
        routes_events,
        routes_insights,
        routes_catalog,
        routes_alerts,
    ):
        app.include_router(module.router, prefix=BASE)
    app.include_router(routes_health.router)
    retain = int(settings.retention.total_seconds() * 1_000_000)
    store = StoreCollector(engine, settings.metrics_org_label, retain)
    install_metrics(app, ctx.metrics, store)
    install_docs(app)
    install_console(app)
    return app
