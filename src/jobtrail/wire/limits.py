"""The server's limits and the headers that report them, as a client must know them."""

from datetime import timedelta

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 10 * 1024 * 1024
MAX_LOG_CHUNK_BYTES = 1024 * 1024
MAX_MESSAGE = 4096
MAX_NAME = 200
MAX_OWNERS = 20  # owners a step event may name (a dbt node's meta.owner)

WINDOW_MAX_SPAN = timedelta(hours=96)
WINDOW_MAX_AGE = timedelta(days=7)
DEFAULT_WINDOW_EVENT_CAP = 10_000

TRUNCATED_HEADER = "X-Jobtrail-Truncated"
OLDEST_EVENT_HEADER = "X-Jobtrail-Oldest-Event"
