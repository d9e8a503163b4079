"""Typed errors with stable codes; the HTTP layer turns them into the one error envelope."""

from jobtrail.wire import errors as codes


class JobtrailError(Exception):
    """Base of every error a client may see: a stable code, an HTTP status, one clear sentence."""

    code = codes.BAD_REQUEST
    status = 400

    def __init__(self, message: str, *, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(JobtrailError):
    code = codes.BAD_REQUEST
    status = 400


class InvalidWindow(JobtrailError):
    code = codes.INVALID_WINDOW
    status = 400


class InvalidEvents(JobtrailError):
    code = codes.INVALID_EVENTS
    status = 400


class InvalidDefinitions(JobtrailError):
    code = "invalid_definitions"
    status = 400


class Unauthorized(JobtrailError):
    code = codes.UNAUTHORIZED
    status = 401


class Forbidden(JobtrailError):
    code = codes.FORBIDDEN
    status = 403


class NotFound(JobtrailError):
    code = codes.NOT_FOUND
    status = 404


class EventConflict(JobtrailError):
    """An eventId already seen (stored, or earlier in the batch) with different content."""

    code = codes.EVENT_CONFLICT
    status = 409


class PayloadTooLarge(JobtrailError):
    code = codes.PAYLOAD_TOO_LARGE
    status = 413


class UnsupportedMediaType(JobtrailError):
    code = codes.UNSUPPORTED_MEDIA_TYPE
    status = 415


class Unavailable(JobtrailError):
    """The store cannot be reached (PostgreSQL down or restarting): try again shortly."""

    code = codes.UNAVAILABLE
    status = 503
    retry_after = 5  # seconds, sent as `Retry-After`


class RateLimited(JobtrailError):
    """Over a rate limit: the client may retry after `retry_after` seconds (sent as
    `Retry-After`)."""

    code = "rate_limited"
    status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
