"""The alerts configuration file (`JOBTRAIL_ALERTS_CONFIG`, TOML): organization-wide default
alert settings and the channels, which hold secrets and so live on the server, not in specs.

    [defaults]                      # for every organization
    on = ["failed", "stuck", "late", "recovered"]
    stuck_after = "auto"
    late_after = "10m"
    channels = ["team-hook"]

    [organizations."<organization id>"]   # overrides per organization
    channels = ["ops-mail"]

    [channels.team-hook]
    type = "webhook"                # JSON POST signed with HMAC-SHA256
    url = "https://hooks.example/jobtrail"
    secret = "..."
    timeout = 10                    # seconds per attempt (webhook and email; at most 100)

    [channels.ops-mail]
    type = "email"                  # to the job's owners
    host = "smtp.example"
    port = 587
    sender = "jobtrail@example"
    starttls = true
    cafile = "/etc/ssl/internal-ca.pem"   # optional: a CA to trust besides the system's
    username = "..."
    password = "..."

    [channels.slack]
    type = "apprise"                # every service Apprise supports
    urls = ["slack://T000/B000/XXXX"]
"""

import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from jobtrail.domain.alert_settings import (
    AlertSettings,
    AlertSettingsError,
    check_channels,
    parse_alert_settings,
)

# Without a configuration: the conditions that need no tuning, on no channel.
BUILTIN_DEFAULTS = AlertSettings(
    on=("failed", "cancelled", "stuck", "late", "missed", "recovered"),
    stuck_after="auto",
    late_after=timedelta(minutes=10),
    channels=(),
)
CHANNEL_TYPES = ("webhook", "email", "apprise")


class ConfigError(ValueError):
    """The file cannot be used; the message names the file and the setting."""


@dataclass(frozen=True)
class AlertsConfig:
    defaults: AlertSettings = BUILTIN_DEFAULTS
    per_org: dict[str, AlertSettings] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def defaults_for(self, org_id: str) -> AlertSettings:
        org = self.per_org.get(org_id)
        return org.merged_over(self.defaults) if org else self.defaults


def load_config(path: str | None) -> AlertsConfig:
    if not path:
        return AlertsConfig()
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as TOML: {exc}") from None
    defaults = _settings(path, "defaults", raw.get("defaults")).merged_over(BUILTIN_DEFAULTS)
    per_org = {
        org: _settings(path, f"organizations.{org}", value)
        for org, value in (raw.get("organizations") or {}).items()
    }
    channels = raw.get("channels") or {}
    for name, channel in channels.items():
        _check_channel(path, name, channel)
    for where, settings in (("defaults", defaults), *per_org.items()):
        try:
            check_channels(settings, channels)
        except AlertSettingsError as exc:
            prefix = where if where == "defaults" else f"organizations.{where}"
            raise ConfigError(f"{path}: {prefix}.{exc.field}: {exc.reason}") from None
    return AlertsConfig(defaults, per_org, channels)


@lru_cache(maxsize=4)
def configured_channels(path: str | None) -> frozenset[str] | None:
    """The channel names of the configuration file, for the API to check the ones definitions
    name; None without a file (the worker may run apart with its own, so no name is refused)
    or when it cannot be read (`serve` refuses to start on a bad one)."""
    if not path:
        return None
    try:
        return frozenset(load_config(path).channels)
    except ConfigError:
        return None


def _settings(path: str, where: str, raw: Any) -> AlertSettings:
    try:
        return parse_alert_settings(raw)
    except AlertSettingsError as exc:
        raise ConfigError(f"{path}: {where}.{exc.field}: {exc.reason}") from None


def _check_channel(path: str, name: str, channel: Any) -> None:
    where = f"{path}: channels.{name}"
    if not isinstance(channel, dict) or channel.get("type") not in CHANNEL_TYPES:
        raise ConfigError(f"{where}.type: must be one of {', '.join(CHANNEL_TYPES)}")
    required = {"webhook": ("url",), "email": ("host", "sender"), "apprise": ("urls",)}
    for key in required[channel["type"]]:
        if not channel.get(key):
            raise ConfigError(f"{where}.{key}: required for a {channel['type']} channel")
    if "cafile" in channel and not (
        isinstance(channel["cafile"], str) and Path(channel["cafile"]).is_file()
    ):
        raise ConfigError(f"{where}.cafile: must be the path of a readable CA bundle (PEM)")
    timeout = channel.get("timeout", 10)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= 100:
        # A claim on a delivery lasts 120 s: an attempt must end well before it lapses.
        raise ConfigError(f"{where}.timeout: seconds per attempt, above 0 and at most 100")
