"""The Python client of the Jobs API: `JobsClient` (blocking) and `AsyncJobsClient` (asyncio),
one implementation with two faces.

Design: `core` holds the whole behaviour sans I/O (paths from `jobtrail.wire`, the token minted,
re-minted before expiry and once on 401, retries of 429/5xx/connection errors with jittered
backoff honouring `Retry-After`, windows split to the 96-hour limit and again where the server
trimmed, merging by runId, batches split under the ingestion limits); `sync` and `aio` only
carry its requests over httpx. The runner reuses the core's token handling but keeps its own
httpcore transport, because `jobtrail run` starts for every scheduled run and importing httpx
costs a third of that start-up; so this package's faces load lazily (PEP 562), and importing
`jobtrail.client.core` never imports httpx."""

from typing import TYPE_CHECKING, Any

from jobtrail.client.core import ApiError, RetryPolicy
from jobtrail.client.profiles import Profile, ProfileError

if TYPE_CHECKING:
    from jobtrail.client.aio import AsyncJobsClient
    from jobtrail.client.sync import JobsClient

__all__ = ["ApiError", "AsyncJobsClient", "JobsClient", "Profile", "ProfileError", "RetryPolicy"]

_LAZY = {"JobsClient": "jobtrail.client.sync", "AsyncJobsClient": "jobtrail.client.aio"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)
