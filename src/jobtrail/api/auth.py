"""Request authentication: API keys at the token endpoints, bearer tokens everywhere else."""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from jobtrail.api import tokens
from jobtrail.api.context import AppContext, get_context
from jobtrail.domain.errors import Forbidden, Unauthorized
from jobtrail.domain.roles import allows

bearer = HTTPBearer(
    auto_error=False,
    description="A token from `GET /organizations/{organizationId}/credentials/v3/token`.",
)
key_id_header = APIKeyHeader(name="X-API-Key-ID", auto_error=False, scheme_name="ApiKeyId")
key_header = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey")

OrgId = Annotated[
    str, Path(alias="organizationId", description="The organization's id (a UUID).", max_length=100)
]


def require(action: str) -> Callable[..., tokens.Claims]:
    """A dependency that admits a valid, unrevoked token of this path's organization whose role
    allows `action`."""

    def dependency(
        org_id: OrgId,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ctx: Annotated[AppContext, Depends(get_context)],
    ) -> tokens.Claims:
        if credentials is None or not credentials.credentials:
            raise Unauthorized("Send the header `Authorization: Bearer <token>`.")
        claims = tokens.verify(ctx.secret, credentials.credentials)
        if not ctx.keys.usable(claims.key_id):
            raise Unauthorized("The API key behind this token was revoked or has expired.")
        if claims.org_id != org_id:
            raise Forbidden("This token is not allowed for this organization.")
        if not allows(claims.role, action):
            raise Forbidden(f"A token with role `{claims.role}` may not {action}.")
        return claims

    return dependency


Reader = Annotated[tokens.Claims, Depends(require("read"))]
Ingester = Annotated[tokens.Claims, Depends(require("ingest"))]
