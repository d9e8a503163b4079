"""Alerts (SPEC §7): open and recent alerts with their delivery attempts."""

from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from jobtrail.api.auth import OrgId, Reader
from jobtrail.api.context import AppContext, get_context
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain.timefmt import format_ts
from jobtrail.store import alerts
from jobtrail.wire import paths
from jobtrail.wire.shapes import AlertOut

router = APIRouter(tags=["Alerts"])
Ctx = Annotated[AppContext, Depends(get_context)]


@router.get(
    paths.ALERTS,
    response_model=list[AlertOut],
    responses=ERROR_RESPONSES,
    summary="Open and recent alerts, with their deliveries",
    description="Newest first (at most 500). `state=open` (default) or `all`.",
)
async def get_alerts(
    org_id: OrgId,
    _claims: Reader,
    ctx: Ctx,
    state: Annotated[Literal["open", "all"], Query()] = "open",
) -> Response:
    rows = await run_in_threadpool(alerts.list_alerts, ctx.engine, org_id, state == "open")
    body = [_alert(row) for row in rows]
    return Response(orjson.dumps(body), media_type="application/json")


def _ts(us: int | None) -> str | None:
    return None if us is None else format_ts(us)


def _alert(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "alertId": row["alert_key"],
        "jobName": row["job_name"],
        "environment": row["environment"],
        "condition": row["condition"],
        "state": row["state"],
        "runId": row["run_id"],
        "stepName": row["step_name"],
        "scheduledAt": _ts(row["scheduled_at"]),
        "raisedAt": format_ts(row["raised_at"]),
        "resolvedAt": _ts(row["resolved_at"]),
        "message": row["message"],
        "deliveries": [
            {
                "channel": d["channel"],
                "status": d["status"],
                "attempts": d["attempts"],
                "lastAttemptAt": _ts(d["last_attempt_at"]),
                "lastError": d["last_error"],
            }
            for d in row["deliveries"]
        ],
    }
