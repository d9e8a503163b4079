"""Request authentication: API keys at the token endpoints, bearer tokens everywhere else, each
operation open to the roles that may do its action (least privilege), then the rate limits."""

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from jobtrail.api import tokens
from jobtrail.api.context import AppContext
from jobtrail.domain.errors import Forbidden, Unauthorized
from jobtrail.domain.roles import Action, allows, refusal, roles_for
from jobtrail.store.accounts import now_micros

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `GET /organizations/{organizationId}/credentials/v3/token`.",
)
key_id_header = APIKeyHeader(name="X-API-Key-ID", auto_error=False, scheme_name="ApiKeyId")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")

OrgId = Annotated[
    str, Path(alias="organizationId", description="The organization's id (a UUID).", max_length=100)
]

ROLES_EXTENSION = "x-jobtrail-roles"


def require(action: str) -> Callable[..., Awaitable[tokens.Claims]]:
    """A dependency that admits a valid, unrevoked token of this path's organization whose role
    allows `action`, within the rate limits of its key and organization."""

    async def dependency(
        org_id: OrgId,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        request: Request,
    ) -> tokens.Claims:
        # The context straight from the app rather than as a dependency of its own: FastAPI's
        # resolution of each dependency costs more than this whole function.
        ctx: AppContext = request.app.state.ctx
        if credentials is None or not credentials.credentials:
            raise Unauthorized("Send the header `Authorization: Bearer <token>`.")
        claims = ctx.tokens.verify(credentials.credentials)
        # Async, so a request needs no thread for its auth when everything it checks is in
        # this process's memory (nearly always); a thread only when the store must be read.
        if ctx.keys.fresh(claims.key_id) and not ctx.limiter.needs_read(org_id, claims.key_id):
            _admit(ctx, org_id, claims, action)
        else:
            await run_in_threadpool(_admit, ctx, org_id, claims, action)
        return claims

    dependency.jobtrail_action = action  # type: ignore[attr-defined]  # read by document_roles
    return dependency


def _admit(ctx: AppContext, org_id: str, claims: tokens.Claims, action: str) -> None:
    if not ctx.keys.usable(claims.key_id):
        raise Unauthorized("The API key behind this token was revoked or has expired.")
    if claims.org_id != org_id:
        raise Forbidden("This token is not allowed for this organization.")
    if not allows(claims.role, action):
        raise Forbidden(refusal(claims.role, action))
    ctx.limiter.check(org_id, claims.key_id)
    ctx.usage.note(claims.key_id, now_micros())


Reader = Annotated[tokens.Claims, Depends(require(Action.READ))]
Ingester = Annotated[tokens.Claims, Depends(require(Action.INGEST))]
Admin = Annotated[tokens.Claims, Depends(require(Action.ADMIN))]
Member = Annotated[tokens.Claims, Depends(require(Action.ORGANIZATION))]


def route_action(route: APIRoute) -> str | None:
    """The action a route's token must allow, or None for routes without a bearer token."""
    for dependant in _walk(route.dependant):
        action = getattr(dependant.call, "jobtrail_action", None)
        if action is not None:
            return str(action)
    return None


def _walk(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _walk(sub)


def document_roles(router: APIRouter) -> None:
    """Name in every operation of the OpenAPI the roles it admits (`x-jobtrail-roles` and a line
    of its description), from the dependency that enforces it, so the two cannot drift. Call it
    on each router before including it."""
    for route in router.routes:
        if not isinstance(route, APIRoute) or (action := route_action(route)) is None:
            continue
        roles = roles_for(action)
        extra: dict[str, Any] = dict(route.openapi_extra or {})
        extra[ROLES_EXTENSION] = roles
        route.openapi_extra = extra
        line = f"Needs a token with role {' or '.join(f'`{r}`' for r in roles)}."
        if line not in route.description:
            route.description = f"{route.description}\n\n{line}".strip()
