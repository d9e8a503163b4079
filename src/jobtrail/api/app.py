"""The FastAPI application: routers, error envelope, docs, and the background worker."""

import asyncio
import contextlib
import ctypes
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.telemetry import TelemetryConfig
from opentelemetry import _logs as otel_logs
from opentelemetry import metrics, trace
from sqlalchemy.exc import DBAPIError

from jobtrail import __version__
from jobtrail.api import (
    routes_alerts,
    routes_catalog,
    routes_events,
    routes_health,
    routes_insights,
    routes_lineage,
    routes_logs,
    routes_org,
    routes_runs,
    routes_tokens,
)
from jobtrail.api.auth import document_roles
from jobtrail.api.context import AppContext
from jobtrail.api.docs import OPENAPI_URL, install_docs
from jobtrail.api.errors import install_error_handlers
from jobtrail.api.limits import HeaderLimits
from jobtrail.api.metrics import StoreCollector, install_metrics
from jobtrail.console.routes import install_console
from jobtrail.settings import Settings
from jobtrail.store import accounts
from jobtrail.store.dialect import is_unavailable, make_engine
from jobtrail.wire.paths import BASE
from jobtrail.worker.loop import Worker, default_tasks

log = logging.getLogger("jobtrail.api")


def _log_failure(what: str, exc: Exception) -> None:
    """A periodic task failed: an outage is a warning, not a traceback in the log every
    interval; anything else is logged in full."""
    if isinstance(exc, DBAPIError) and is_unavailable(exc):
        log.warning("%s: the store is unreachable (%s); will try again", what, exc.orig)
    else:
        log.exception("%s failed; will try again", what, exc_info=exc)


async def _sync_forever(ctx: AppContext) -> None:
    """Settle the rate limits with the other server processes and record key usage, in
    batches, so that requests never wait on the store for either."""
    while True:
        await asyncio.sleep(ctx.settings.rate_limit_sync)
        await _sync(ctx)


async def _sync(ctx: AppContext) -> None:
    try:
        await run_in_threadpool(ctx.limiter.sync)
        await run_in_threadpool(ctx.usage.flush)
    except Exception as exc:
        _log_failure("rate limits and key usage: sync", exc)
    await run_in_threadpool(_release_freed_memory)


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        trim: Callable[[int], int] = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc
        return None
    return trim


_TRIM = _malloc_trim()


def _release_freed_memory() -> None:
    """Give back to the system the memory a burst of requests (a large ingestion batch) freed:
    glibc keeps it otherwise, and the process's size stays at its highest point. Cheap when
    nothing was freed; a few ms after a burst, once a second at most (with the sync)."""
    if _TRIM is not None:
        _TRIM(0)


YOUNGEST_GENERATION = 10_000

_DEFERRED = {"ProxyTracerProvider", "_ProxyMeterProvider", "ProxyLoggerProvider"}


def _telemetry() -> TelemetryConfig | None:
    """FastAPI's own OpenTelemetry spans and metrics, kept when a provider is set up before the
    server starts (opentelemetry-instrument, OTEL_PYTHON_*_PROVIDER), the only ways it can be
    for jobtrail; otherwise turned off, as FastAPI would otherwise look for providers again on
    every request (a twentieth of a small read's time)."""
    providers = (
        trace.get_tracer_provider(),
        metrics.get_meter_provider(),
        otel_logs.get_logger_provider(),
    )
    if any(type(p).__name__ not in _DEFERRED for p in providers):
        return None
    return {"tracing": False, "metrics": False, "logs": False}


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
        sync = asyncio.create_task(_sync_forever(ctx))
        # Everything built at start-up lives as long as the process: keep it out of the garbage
        # collector's scans, which otherwise cost a fifth of large ingestion requests.
        gc.freeze()
        # A request's objects nearly all die with it, by reference count; the collector's
        # youngest generation, collected every 700 new objects, ran several times inside each
        # listing or ingested batch (thousands of rows, summaries or events, all alive until it
        # is answered) and promoted them to be scanned again: 0.8 ms of a 15 ms listing, half
        # the collector's cost under ingestion. At 10,000 it seldom runs during a request, and
        # cycles still go within a few requests' worth of objects.
        gc.set_threshold(YOUNGEST_GENERATION, *gc.get_threshold()[1:])
        yield
        sync.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sync
        await _sync(ctx)
        ctx.live.stop()
        worker.stop()
        if thread is not None:
            thread.join(30)
        ctx.committer.close()
        engine.dispose()

    app = FastAPI(
        title="jobtrail Jobs API",
        version=__version__,
        openapi_url=OPENAPI_URL,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        telemetry=_telemetry(),
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
        routes_org,
        routes_catalog,
        routes_alerts,
    ):
        document_roles(module.router)
        app.include_router(module.router, prefix=BASE)
    app.include_router(routes_health.router)
    retain = int(settings.retention.total_seconds() * 1_000_000)
    store = StoreCollector(engine, settings.metrics_org_label, retain)
    install_metrics(app, ctx.metrics, store)
    app.include_router(routes_lineage.router)
    install_docs(app)
    install_console(app)
    return app
