"""Liveness and readiness probes."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text

from jobtrail.api.context import AppContext, get_context
from jobtrail.api.errors import STORE_UNAVAILABLE, error_response
from jobtrail.wire import paths
from jobtrail.wire.shapes import ErrorBody

router = APIRouter(tags=["Health"])


@router.get(paths.HEALTHZ, summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _store_reachable(ctx: AppContext) -> bool:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get(
    paths.READYZ,
    summary="The store is reachable",
    description="200 while the store answers; 503 (with `Retry-After`) while it does not, and "
    "200 again as soon as it is back, without a restart.",
    responses={
        200: {"content": {"application/json": {"example": {"status": "ready"}}}},
        503: {"model": ErrorBody, "description": "The store cannot be reached."},
    },
)
async def readyz(ctx: Annotated[AppContext, Depends(get_context)]) -> Response:
    if await run_in_threadpool(_store_reachable, ctx):
        return JSONResponse({"status": "ready"})
    retry = {"Retry-After": str(STORE_UNAVAILABLE.retry_after)}
    return error_response(503, STORE_UNAVAILABLE.code, STORE_UNAVAILABLE.message, headers=retry)
