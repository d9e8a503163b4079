"""The server's limits and the headers that report them (and the log headers a live tail resumes
by), as a client must know them."""

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

# A step log's response: bytes kept and dropped by the per-stream cap when it began, where in the
# kept stream its body starts, and whether the step had ended (with `follow`: a stream that
# closes while the step runs, at the token's expiry or after an hour, is resumed from
# start + bytes received with a fresh token).
LOG_BYTES_HEADER = "X-Jobtrail-Log-Bytes"
DROPPED_BYTES_HEADER = "X-Jobtrail-Dropped-Bytes"
LOG_OFFSET_HEADER = "X-Jobtrail-Log-Offset"
STEP_ENDED_HEADER = "X-Jobtrail-Step-Ended"
