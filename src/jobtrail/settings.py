"""One typed settings object, read from JOBTRAIL_* variables; bad values fail loudly at start."""

from datetime import timedelta

import isodate
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobtrail.domain.events import TimeBounds
from jobtrail.domain.logcap import DEFAULT_STREAM_CAP
from jobtrail.domain.ratelimit import Limits, Rule

DEFAULT_DB = "sqlite:///./jobtrail.db"
_PLACEHOLDERS = {"changeme", "change-me", "secret", "password", "jobtrail", "dev", "test"}


def parse_iso_duration(value: object) -> timedelta:
    """`P7D`, `PT1H` (or a number of seconds) → timedelta; months and years are refused."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float):
        return timedelta(seconds=value)
    text = str(value).strip()
    if text.replace(".", "", 1).isdigit():
        return timedelta(seconds=float(text))
    parsed = isodate.parse_duration(text)
    if not isinstance(parsed, timedelta):
        raise ValueError(f"{text!r}: use days, hours, minutes or seconds, not months or years")
    return parsed


def positive_duration(text: str) -> timedelta | None:
    """A lifetime such as `P90D` given by a user (a key's expiry), or None when it is not a
    positive ISO 8601 duration."""
    try:
        lifetime = parse_iso_duration(text)
    except Exception:
        return None
    return lifetime if lifetime > timedelta(0) else None


def normalise_db_url(url: str) -> str:
    """Accept the usual `postgresql://` spelling and use the psycopg 3 driver for it."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _micros(delta: timedelta) -> int:
    return delta // timedelta(microseconds=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="JOBTRAIL_", extra="ignore")

    db: str = DEFAULT_DB
    secret: str | None = Field(default=None, repr=False)
    token_ttl: timedelta = timedelta(hours=1)
    retention: timedelta = timedelta(days=7)
    clock_skew: timedelta = timedelta(minutes=5)
    prune_interval: timedelta = timedelta(hours=1)
    log_stream_cap: int = Field(default=DEFAULT_STREAM_CAP, ge=1024)
    key_cache_seconds: float = Field(default=2.0, ge=0, le=60)
    metrics_org_label: bool = False
    window_event_cap: int = Field(default=10_000, ge=1)
    # Rate limits (token buckets) per API key and per organization: requests per second (0: no
    # limit, the default) and the burst a bucket holds; shared through the store, settled by
    # each server process every `rate_limit_sync` seconds.
    rate_limit_key_rate: float = Field(default=0.0, ge=0)
    rate_limit_key_burst: int = Field(default=100, ge=1)
    rate_limit_org_rate: float = Field(default=0.0, ge=0)
    rate_limit_org_burst: int = Field(default=1000, ge=1)
    rate_limit_sync: float = Field(default=1.0, gt=0, le=60)

    def rate_limits(self) -> Limits:
        key, org = self.rate_limit_key_rate, self.rate_limit_org_rate
        return Limits(
            key=Rule(key, self.rate_limit_key_burst) if key else None,
            org=Rule(org, self.rate_limit_org_burst) if org else None,
        )

    # OpenLineage job namespace → environment, for events without an environment tag
    # (JSON: {"airflow-prod": "prod"}); an unmapped namespace is its own environment.
    lineage_environments: dict[str, str] = Field(default_factory=dict)
    # Concurrent ingestion requests share one commit (off: each commits alone, for comparison).
    group_commit: bool = True
    worker: bool = True  # run the background worker inside `jobtrail serve`
    worker_poll: float = Field(default=1.0, gt=0, le=300)  # seconds between worker rounds
    alerts_interval: timedelta = timedelta(seconds=15)  # between alert evaluations
    alerts_config: str | None = None  # TOML file: default alert settings and channels
    public_url: str | None = None  # where the console is reached, for links in alerts

    @field_validator("db")
    @classmethod
    def _db(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql", "postgres://")):
            raise ValueError("JOBTRAIL_DB must be a sqlite:/// or postgresql:// URL")
        return normalise_db_url(value)

    @field_validator(
        "token_ttl", "retention", "clock_skew", "prune_interval", "alerts_interval", mode="before"
    )
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        parsed = parse_iso_duration(value)
        if parsed <= timedelta(0):
            raise ValueError("must be a positive duration such as PT1H or P7D")
        return parsed

    def time_bounds(self, now_us: int) -> TimeBounds:
        """The timestamps kept at `now_us`: ingestion refuses events outside, pruning deletes
        runs that end up outside."""
        return TimeBounds.around(now_us, _micros(self.retention), _micros(self.clock_skew))

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.lower() in _PLACEHOLDERS or len(value) < 32:
            raise ValueError(
                "JOBTRAIL_SECRET must be at least 32 random characters (not a placeholder); "
                "leave it unset to have one generated and kept in the store"
            )
        return value
