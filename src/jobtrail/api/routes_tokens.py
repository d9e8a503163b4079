"""Credentials → token (SPEC §3.1): v3 with key id and key, legacy v2 with the key alone."""

import hmac
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from jobtrail.api import tokens
from jobtrail.api.auth import OrgId, key_header, key_id_header
from jobtrail.api.context import AppContext, get_context
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.domain import identity
from jobtrail.domain.errors import NotFound, Unauthorized
from jobtrail.domain.timefmt import format_ts
from jobtrail.store import accounts
from jobtrail.wire import paths
from jobtrail.wire.shapes import TokenResponse

router = APIRouter(tags=["Credentials"])

_BAD_KEY = "The API key is missing, wrong, revoked or expired."


_WRONG_KIND = {
    "v3": "This is a v3 API key: exchange it at `/credentials/v3/token` with the headers "
    "`X-API-Key-ID` and `X-API-Key`.",
    "v2": "This is a legacy v2 API key: exchange it at `/credentials/v2/token` with the header "
    "`X-API-Key` alone.",
}


def _check_key(key: accounts.ApiKey | None, org_id: str, secret: str, kind: str) -> accounts.ApiKey:
    if key is None or key.org_id != org_id:
        raise Unauthorized(_BAD_KEY)
    if not hmac.compare_digest(key.secret_hash, accounts.hash_secret(secret)):
        raise Unauthorized(_BAD_KEY)
    if not key.usable(accounts.now_micros()):
        raise Unauthorized(_BAD_KEY)
    if key.kind != kind:  # said only to whoever holds the secret
        raise Unauthorized(_WRONG_KIND[key.kind])
    return key


def _token_response(ctx: AppContext, key: accounts.ApiKey) -> Response:
    token, exp = tokens.mint(
        ctx.secret, key.org_id, key.key_id, key.role, ctx.settings.token_ttl.total_seconds()
    )
    body = {"accessToken": token, "expiresAt": format_ts(exp * 1_000_000)}
    return Response(orjson.dumps(body), media_type="application/json")


def _exchange(ctx: AppContext, org_id: str, key_id: str | None, secret: str | None) -> Response:
    if not identity.looks_like_org_id(org_id) or not accounts.org_exists(ctx.engine, org_id):
        raise NotFound(f"Unknown organization {org_id!r}.")
    if not secret or (key_id is not None and not key_id):
        raise Unauthorized(_BAD_KEY)
    if key_id is None:
        key = accounts.find_key_by_secret(ctx.engine, org_id, secret)
    else:
        key = accounts.get_key(ctx.engine, key_id)
    checked = _check_key(key, org_id, secret, "v2" if key_id is None else "v3")
    ctx.usage.record(checked.key_id, accounts.now_micros())
    return _token_response(ctx, checked)


_RESPONSES = {k: v for k, v in ERROR_RESPONSES.items() if k not in (403, 429)}


@router.get(
    paths.TOKEN_V3,
    response_model=TokenResponse,
    responses=_RESPONSES,
    summary="Exchange an API key id and key for a bearer token",
    description="For v3 keys (the default kind); a legacy v2 key is refused here with 401.",
)
async def token_v3(
    org_id: OrgId,
    ctx: Annotated[AppContext, Depends(get_context)],
    key_id: Annotated[str | None, Depends(key_id_header)],
    key: Annotated[str | None, Depends(key_header)],
) -> Response:
    return await run_in_threadpool(_exchange, ctx, org_id, key_id or "", key)


@router.get(
    paths.TOKEN_V2,
    response_model=TokenResponse,
    responses=_RESPONSES,
    summary="Exchange a legacy API key (no key id) for a bearer token",
    description="For legacy v2 keys only; a v3 key is refused here with 401.",
)
async def token_v2(
    org_id: OrgId,
    ctx: Annotated[AppContext, Depends(get_context)],
    key: Annotated[str | None, Depends(key_header)],
) -> Response:
    return await run_in_threadpool(_exchange, ctx, org_id, None, key)
