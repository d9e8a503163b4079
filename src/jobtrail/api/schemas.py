"""The error responses every route documents. The shapes themselves live in the wire contract
(`jobtrail.wire.shapes`), from which FastAPI builds the OpenAPI document; handlers serialise rows
straight to JSON for speed, and tests check that real responses match those shapes."""

from jobtrail.wire.shapes import ErrorBody

ERROR_RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorBody, "description": "Bad input."},
    401: {"model": ErrorBody, "description": "No, invalid or expired token."},
    403: {"model": ErrorBody, "description": "Token not allowed for this organization or action."},
    404: {"model": ErrorBody, "description": "Unknown organization, run or step."},
    429: {
        "model": ErrorBody,
        "description": "Over the rate limit of the key or organization; retry after the "
        "`Retry-After` header's seconds.",
    },
}
