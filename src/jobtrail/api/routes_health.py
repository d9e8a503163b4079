"""Liveness and readiness probes."""

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import text

from jobtrail.api.context import AppContext, get_context

router = APIRouter(tags=["Health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


def _store_reachable(ctx: AppContext) -> bool:
    try:
        with ctx.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@router.get("/readyz", summary="The store is reachable")
async def readyz(ctx: Annotated[AppContext, Depends(get_context)]) -> JSONResponse:
    if await run_in_threadpool(_store_reachable, ctx):
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {"error": "store_unreachable", "message": "The store cannot be reached."}, 503
    )
