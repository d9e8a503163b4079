"""Request-header limits. The HTTP parser under uvicorn (httptools) accepts headers of any size,
so a client could make every request cost a megabyte of parsing and memory; refuse early."""

from starlette.types import ASGIApp, Receive, Scope, Send

from jobtrail.api.errors import error_response

MAX_HEADER_BYTES = 64 * 1024
MAX_HEADERS = 100


class HeaderLimits:
    """Answers 431 when the request's headers exceed MAX_HEADER_BYTES or MAX_HEADERS."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _too_large(scope["headers"]):
            response = error_response(
                431,
                "headers_too_large",
                f"Request headers may hold at most {MAX_HEADERS} fields and "
                f"{MAX_HEADER_BYTES // 1024} KiB.",
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _too_large(headers: list[tuple[bytes, bytes]]) -> bool:
    return len(headers) > MAX_HEADERS or sum(len(k) + len(v) for k, v in headers) > (
        MAX_HEADER_BYTES
    )
