"""The organization and its API keys over the API (role admin), so the console can manage keys
the way `jobtrail key ...` does, through the same store functions."""

from datetime import timedelta
from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Path
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from jobtrail.api.auth import Admin, Member, OrgId
from jobtrail.api.context import AppContext
from jobtrail.api.routes_runs import Ctx
from jobtrail.api.schemas import ERROR_RESPONSES
from jobtrail.api.serialise import key_summary
from jobtrail.domain.errors import BadRequest, NotFound
from jobtrail.domain.roles import Role, allows
from jobtrail.settings import positive_duration
from jobtrail.store import accounts
from jobtrail.wire import paths
from jobtrail.wire.shapes import ApiKeyOut, NewApiKeyOut, Organization

router = APIRouter(tags=["Organization"])

KeyId = Annotated[str, Path(alias="keyId", max_length=100, description="From the key listing.")]


class KeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    name: str = Field(default="", max_length=200, description="A label to recognise the key.")
    kind: Literal["v3", "v2"] = Field(
        default="v3", description="v3 (key id and key) or legacy v2 (key alone)."
    )
    expiresIn: str | None = Field(
        default=None, examples=["P90D"], description="Lifetime, an ISO 8601 duration."
    )


def _json(body: object, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status, media_type="application/json")


def _lifetime(text: str) -> timedelta:
    lifetime = positive_duration(text)
    if lifetime is None:
        raise BadRequest(f"`expiresIn` {text[:100]!r} is not a positive ISO 8601 duration (P90D).")
    return lifetime


@router.get(
    paths.ORG,
    response_model=Organization,
    responses=ERROR_RESPONSES,
    summary="The organization's id and name",
)
async def get_organization(org_id: OrgId, _claims: Member, ctx: Ctx) -> Response:
    name = await run_in_threadpool(accounts.org_name, ctx.engine, org_id)
    if name is None:
        raise NotFound(f"Unknown organization {org_id!r}.")
    return _json({"organizationId": org_id, "name": name})


@router.get(
    paths.KEYS,
    response_model=list[ApiKeyOut],
    responses=ERROR_RESPONSES,
    summary="The organization's API keys (never their secrets)",
)
async def list_keys(org_id: OrgId, _claims: Admin, ctx: Ctx) -> Response:
    keys = await run_in_threadpool(accounts.list_keys, ctx.engine, org_id)
    return _json([key_summary(k) for k in keys])


@router.post(
    paths.KEYS,
    status_code=201,
    response_model=NewApiKeyOut,
    responses=ERROR_RESPONSES,
    summary="Create an API key; its secret is in this response only",
)
async def create_key(org_id: OrgId, body: KeyRequest, _claims: Admin, ctx: Ctx) -> Response:
    expires_at = None
    if body.expiresIn is not None:
        expires_at = accounts.expiry_after(_lifetime(body.expiresIn))
    new = await run_in_threadpool(
        accounts.create_key,
        ctx.engine,
        org_id,
        body.role.value,
        name=body.name,
        v2=body.kind == "v2",
        expires_at=expires_at,
    )
    out = {**key_summary(new.key), "key": new.secret}
    if allows(new.key.role, "ingest"):  # ingest and admin keys may post OpenLineage events
        out["openLineageApiKey"] = new.openlineage_credential
    return _json(out, 201)


def _revoke(ctx: AppContext, org_id: str, key_id: str) -> None:
    key = accounts.get_key(ctx.engine, key_id)
    if key is None or key.org_id != org_id:
        raise NotFound(f"Unknown API key {key_id!r}.")
    accounts.revoke_key(ctx.engine, key_id)


@router.delete(
    paths.KEY,
    status_code=204,
    response_class=Response,
    responses=ERROR_RESPONSES,
    summary="Revoke an API key; tokens minted from it stop working within seconds",
)
async def revoke_key(org_id: OrgId, key_id: KeyId, _claims: Admin, ctx: Ctx) -> Response:
    await run_in_threadpool(_revoke, ctx, org_id, key_id)
    return Response(status_code=204)
