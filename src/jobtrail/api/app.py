"""The FastAPI application: routers, error envelope, docs, and periodic retention."""

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import DBAPIError

from jobtrail import __version__
from jobtrail.api import (
    routes_events,
    routes_health,
    routes_insights,
    routes_lineage,
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
from jobtrail.store import accounts, retention
from jobtrail.store.dialect import is_unavailable, make_engine

log = logging.getLogger("jobtrail.api")


async def _prune_forever(ctx: AppContext) -> None:
    interval = ctx.settings.prune_interval.total_seconds()
    while True:
        try:
            kept = ctx.settings.time_bounds(accounts.now_micros())
            pruned = await run_in_threadpool(
                retention.prune, ctx.engine, kept.earliest, kept.latest
            )
            if pruned:
                log.info("retention: pruned %d runs", pruned)
        except DBAPIError as exc:
            if not is_unavailable(exc):
                log.exception("retention: pruning failed; will try again")
            else:  # an outage, not a bug: no traceback in the log every interval
                log.warning("retention: the store is unreachable (%s); will try again", exc.orig)
        except Exception:
            log.exception("retention: pruning failed; will try again")
        await asyncio.sleep(interval)


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app for one store. Migrations are applied by `jobtrail serve` before this."""
    settings = settings or Settings()
    engine = make_engine(settings.db)
    ctx = AppContext(settings, engine, settings.secret or accounts.signing_secret(engine))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        task = asyncio.create_task(_prune_forever(ctx))
        ctx.live.start(asyncio.get_running_loop())
        # Everything built at start-up lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise cost a fifth of large ingestion requests.
        gc.freeze()
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        ctx.live.stop()
        ctx.committer.close()
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
    for module in (routes_tokens, routes_runs, routes_logs, routes_events, routes_insights):
        app.include_router(module.router, prefix=BASE)
    app.include_router(routes_health.router)
    retain = int(settings.retention.total_seconds() * 1_000_000)
    store = StoreCollector(engine, settings.metrics_org_label, retain)
    install_metrics(app, ctx.metrics, store)
    app.include_router(routes_lineage.router)
    install_docs(app)
    install_console(app)
    return app
