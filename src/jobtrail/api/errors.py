"""The one error envelope, `{"error": code, "message": sentence}`, built here and nowhere else."""

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jobtrail.domain.errors import JobtrailError, Unavailable
from jobtrail.store.dialect import is_unavailable

log = logging.getLogger("jobtrail.api")

STORE_UNAVAILABLE = Unavailable(
    f"The store cannot be reached right now; retry in {Unavailable.retry_after} seconds."
)
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int,
    code: str,
    message: str,
    details: list[dict[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = details
    all_headers = dict(headers or {})
    if status == 401:
        all_headers["WWW-Authenticate"] = "Bearer"
    return Response(orjson.dumps(body), status, all_headers, media_type="application/json")


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("query", "path", "header", "body")]
    return ".".join(parts) or "request"


async def _jobtrail_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, JobtrailError)
    return _from_error(exc)


def _from_error(exc: JobtrailError) -> Response:
    retry = getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(retry)} if retry is not None else None
    return error_response(exc.status, exc.code, exc.message, exc.details, headers)


async def _database_error(request: Request, exc: Exception) -> Response:
    """The database out of reach is a 503 the client can retry, not a 500 with a traceback."""
    assert isinstance(exc, DBAPIError)
    if not is_unavailable(exc):
        return await _unexpected(request, exc)
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, exc.orig)
    return _from_error(STORE_UNAVAILABLE)


async def _validation_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    details = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:5])
    return error_response(400, "bad_request", f"Invalid request: {summary}.", details)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "bad_request" if exc.status_code < 500 else "error")
    message = (
        f"No such resource: {request.method} {request.url.path}."
        if exc.status_code == 404
        else str(exc.detail)
    )
    # Keep the exception's headers: a 405 names the allowed methods in `Allow`.
    return error_response(exc.status_code, code, message, headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "The server failed to handle this request.")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(JobtrailError, _jobtrail_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(Exception, _unexpected)
