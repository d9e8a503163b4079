"""Tables. Every per-organization table leads its keys and indexes with the organization id, and
times are integer microseconds since the epoch (UTC) so both dialects sort and compare alike."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Computed,
    Float,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
)

metadata = MetaData()

# Event ids decide the last tie of the materialisation rule: compare them bytewise everywhere.
EventIdType = String(200).with_variant(String(200, collation="C"), "postgresql")

settings = Table(
    "settings",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

organizations = Table(
    "organizations",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("key_id", String(64), primary_key=True),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(16), nullable=False),
    Column("name", String(200), nullable=False, server_default=""),
    Column("version", SmallInteger, nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger),
    Column("revoked_at", BigInteger),
    # Written at most once a minute per key (see accounts.touch_key), so stale keys show.
    Column("last_used_at", BigInteger),
    Index("ix_api_keys_key_id", "key_id", unique=True),
    Index("ix_api_keys_org_hash", "org_id", "secret_hash"),
)

# Shared token buckets of the rate limits, one row per scope (`key:<id>`, `org:<id>`): each
# server process settles what it admitted into them in batches (store/ratelimit.py).
rate_buckets = Table(
    "rate_buckets",
    metadata,
    Column("scope", String(100), primary_key=True),
    Column("level", Float, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)

# State changes of runs and steps (log events are kept as log chunks only). On PostgreSQL this
# and log_chunks are partitioned by day on `ts`, and their primary keys then also hold `ts`
# (migration 0008, store/partitions.py); SQLite keeps these keys as they are written here.
events = Table(
    "events",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("event_id", EventIdType, primary_key=True),
    Column("ts", BigInteger, nullable=False),
    Column("kind", String(4), nullable=False),
    Column("run_id", String(16), nullable=False),
    Column("step_name", String(200)),
    Column("state", String(16)),
    Column("state_rank", SmallInteger, nullable=False),
    Column("attempt", Integer),
    Column("exit_code", Integer),
    Column("message", Text),
    # A digest of the event's content (domain.events.fingerprint): a repeat of the eventId with
    # another fingerprint is refused. Null for events stored before it existed.
    Column("fingerprint", String(32)),
    # The window query: the newest state-change events of one organization, index-only.
    Index("ix_events_window", "org_id", "ts", "event_id", "run_id"),
    Index("ix_events_run", "org_id", "run_id", "step_name"),
)


def _key(prefix: str) -> list[Column[object]]:
    """A materialisation key (timestamp, state rank, event id) stored as three columns."""
    return [
        Column(f"{prefix}_ts", BigInteger, nullable=False),
        Column(f"{prefix}_rank", SmallInteger, nullable=False),
        Column(f"{prefix}_eid", EventIdType, nullable=False),
    ]


# A run's start is its first RUNNING, or its first event for a reporter that sends only end
# states (SPEC §3.4); its duration runs from there to the final state's event.
RUN_START = "COALESCE(first_running_ts, first_event_ts)"
RUN_DURATION = (
    f"CASE WHEN state IN ('SUCCEEDED', 'FAILED', 'CANCELLED') THEN state_ts - {RUN_START} END"
)

_JOB_KEY = ("org_id", "job_id", "environment", "job_name")

runs = Table(
    "runs",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("run_id", String(16), primary_key=True),
    Column("job_id", String(200), nullable=False),
    Column("job_name", String(200), nullable=False),
    Column("environment", String(200), nullable=False),
    Column("run_key", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    *_key("state"),
    Column("attempt", Integer),
    Column("exit_code", Integer),
    Column("message", Text),
    Column("first_event_ts", BigInteger),
    Column("first_running_ts", BigInteger),
    *_key("last"),
    Column("last_event_ts", BigInteger, nullable=False),
    # Derived by the database whenever the row changes (no writer computes them): when the run
    # started, and how long a final run took. Insights aggregate over these indexed columns.
    Column("start_ts", BigInteger, Computed(RUN_START)),
    Column("duration", BigInteger, Computed(RUN_DURATION)),
    Index("ix_runs_retention", "org_id", "last_event_ts"),
    # Insights (SPEC §3.7), both read without touching the table: a job's runs by start (its
    # newest runs) and by duration (counts, maxima and percentiles in one ordered pass).
    Index("ix_runs_job", *_JOB_KEY, "start_ts", "run_id", "state", "duration"),
    Index("ix_runs_durations", *_JOB_KEY, "duration", "start_ts", "state", "state_ts"),
)

steps = Table(
    "steps",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("run_id", String(16), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("state", String(16), nullable=False),
    *_key("state"),
    Column("dependencies", Text, nullable=False),
    *_key("deps"),
    Column("attempt", Integer, nullable=False),
    Column("exit_code", Integer),
    Column("message", Text),
    Column("first_event_ts", BigInteger),
    Column("first_running_ts", BigInteger),
    # The step's own owners (a JSON list, e.g. a dbt node's meta.owner), decided by the newest
    # step event carrying owners; the key's defaults are "no such event yet" (NO_KEY).
    Column("owners", Text),
    Column("owners_ts", BigInteger, nullable=False, server_default="-1"),
    Column("owners_rank", SmallInteger, nullable=False, server_default="-1"),
    Column("owners_eid", EventIdType, nullable=False, server_default=""),
)

log_chunks = Table(
    "log_chunks",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("run_id", String(16), primary_key=True),
    Column("step_name", String(200), primary_key=True),
    Column("stream", String(6), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
    Column("data", LargeBinary, nullable=False),
    # The timestamp of the log event that carried the chunk: its day's partition on PostgreSQL.
    Column("ts", BigInteger, nullable=False),
    # The step's attempt that wrote the chunk (null when the reporter did not say): where each
    # attempt's output begins in the stream.
    Column("attempt", Integer),
)

log_streams = Table(
    "log_streams",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("run_id", String(16), primary_key=True),
    Column("step_name", String(200), primary_key=True),
    Column("stream", String(6), primary_key=True),
    Column("kept_bytes", BigInteger, nullable=False),
    Column("dropped_bytes", BigInteger, nullable=False),
    # Seqs in [dropped_lo, dropped_hi] were dropped by the cap; late chunks there are dropped too.
    Column("dropped_lo", BigInteger),
    Column("dropped_hi", BigInteger),
)

# Datasets an OpenLineage step read (`in`) or wrote (`out`): kept as a set, so dependencies
# inferred from them at read time are the same in any arrival order.
step_datasets = Table(
    "step_datasets",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("run_id", String(16), primary_key=True),
    Column("step_name", String(200), primary_key=True),
    Column("direction", String(3), primary_key=True),
    Column("namespace", String(500), primary_key=True),
    Column("name", String(500), primary_key=True),
)

# The jobs catalog: one definition per (organization, job, environment), as last reported.
# Owners, labels and alert settings are JSON text; times are microseconds like everywhere.
job_definitions = Table(
    "job_definitions",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("job_name", String(200), primary_key=True),
    Column("environment", String(200), primary_key=True),
    Column("job_id", String(200), nullable=False),
    Column("schedule", String(200)),
    Column("timezone", String(64), nullable=False),
    Column("owners", Text, nullable=False),
    Column("labels", Text, nullable=False),
    Column("alerts", Text, nullable=False),
    Column("scheduled", Boolean, nullable=False),
    Column("first_seen", BigInteger, nullable=False),
    Column("last_seen", BigInteger, nullable=False),
    # The worker's evaluation reads every scheduled definition of every organization.
    Index("ix_job_definitions_scheduled", "scheduled", "org_id"),
)

# Leases on periodic background work: a worker runs a task only after moving `until` (when it
# last ran) forward with a conditional UPDATE that changed exactly one row, so several workers
# never double it.
worker_leases = Table(
    "worker_leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(100), nullable=False),
    Column("until", BigInteger, nullable=False),
)

# Alerts: one row per condition instance, keyed by its idempotency key, so an instance is raised
# once however often (and by however many workers) it is evaluated. The message is built when
# the alert is raised, so delivery reads nothing else.
alerts = Table(
    "alerts",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("alert_key", String(64), primary_key=True),
    Column("job_name", String(200), nullable=False),
    Column("environment", String(200), nullable=False),
    Column("condition", String(16), nullable=False),
    Column("run_id", String(16)),
    Column("step_name", String(200)),
    Column("scheduled_at", BigInteger),
    Column("state", String(8), nullable=False),
    Column("raised_at", BigInteger, nullable=False),
    Column("resolved_at", BigInteger),
    Column("message", Text, nullable=False),
    Column("recipients", Text, nullable=False),  # JSON list: the job's owners (and dbt's)
    Index("ix_alerts_job", "org_id", "job_name", "environment", "state"),
    Index("ix_alerts_raised", "org_id", "raised_at"),
)

# The outbox: one delivery per alert and channel, written with the alert. A worker claims a due
# delivery by a conditional UPDATE (`claimed_until`), so a crashed sender's claim lapses and
# another worker sends it again with the same idempotency key.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("alert_key", String(64), primary_key=True),
    Column("channel", String(100), primary_key=True),
    Column("status", String(10), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", BigInteger, nullable=False),
    Column("claimed_until", BigInteger, nullable=False),
    Column("last_attempt_at", BigInteger),
    Column("last_error", Text),
    Index("ix_alert_deliveries_due", "status", "next_attempt_at"),
)

# Silenced jobs: their alerts are still recorded (and listed) but sent to no channel until then.
alert_silences = Table(
    "alert_silences",
    metadata,
    Column("org_id", String(36), primary_key=True),
    Column("job_name", String(200), primary_key=True),
    Column("environment", String(200), primary_key=True),
    Column("until", BigInteger, nullable=False),
)
