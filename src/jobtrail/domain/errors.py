"""Typed errors with stable codes; the HTTP layer turns them into the one error envelope."""


class JobtrailError(Exception):
    """Base of every error a client may see: a stable code, an HTTP status, one clear sentence."""

    code = "bad_request"
    status = 400

    def __init__(self, message: str, *, details: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class BadRequest(JobtrailError):
    code = "bad_request"
    status = 400


class InvalidWindow(JobtrailError):
    code = "invalid_window"
    status = 400


class InvalidEvents(JobtrailError):
    code = "invalid_events"
    status = 400


class InvalidDefinitions(JobtrailError):
    code = "invalid_definitions"
    status = 400


class Unauthorized(JobtrailError):
    code = "unauthorized"
    status = 401


class Forbidden(JobtrailError):
    code = "forbidden"
    status = 403


class NotFound(JobtrailError):
    code = "not_found"
    status = 404


class EventConflict(JobtrailError):
    """An eventId already seen (stored, or earlier in the batch) with different content."""

    code = "event_conflict"
    status = 409


class PayloadTooLarge(JobtrailError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(JobtrailError):
    code = "unsupported_media_type"
    status = 415


class Unavailable(JobtrailError):
    """The store cannot be reached (PostgreSQL down or restarting): try again shortly."""

    code = "unavailable"
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
