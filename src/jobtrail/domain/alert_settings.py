"""Alert settings (SPEC §7) as written in a job spec's `alerts:` or sent to the catalog API.
One parser for both, so a setting the runner accepts is one the server accepts, and every
mistake names its field."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from jobtrail.domain.durations import parse_duration

CONDITIONS = (
    "failed",
    "cancelled",
    "stuck",
    "too_short",
    "too_slow",
    "late",
    "missed",
    "too_often",
    "recovered",
)
AUTO: Literal["auto"] = "auto"
_KEYS = ("on", "stuck_after", "min_duration", "late_after", "slow_factor", "channels")


class AlertSettingsError(ValueError):
    """One bad setting; `field` is its key under `alerts` (e.g. `stuck_after`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class AlertSettings:
    """What a job asked for; None means "the organization's default"."""

    on: tuple[str, ...] | None = None
    stuck_after: timedelta | Literal["auto"] | None = None
    min_duration: timedelta | None = None
    late_after: timedelta | None = None
    slow_factor: float | None = None
    channels: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        """The settings as the API and the store keep them: durations in seconds, only those
        given."""
        out: dict[str, Any] = {}
        for key in _KEYS:
            value = getattr(self, key)
            if isinstance(value, timedelta):
                out[key] = value.total_seconds()
            elif isinstance(value, tuple):
                out[key] = list(value)
            elif value is not None:
                out[key] = value
        return out

    def merged_over(self, defaults: "AlertSettings") -> "AlertSettings":
        """These settings, with the defaults filling what was not given."""
        picked = {k: getattr(self, k) for k in _KEYS}
        return AlertSettings(
            **{k: v if v is not None else getattr(defaults, k) for k, v in picked.items()}
        )


def parse_alert_settings(raw: Any) -> AlertSettings:
    """A mapping as written in YAML or JSON → settings; AlertSettingsError names the field."""
    if raw is None:
        return AlertSettings()
    if isinstance(raw, AlertSettings):
        return raw
    if not isinstance(raw, dict):
        raise AlertSettingsError("alerts", "must be a mapping such as {on: [failed]}")
    # YAML 1.1 reads a bare `on:` key as the boolean true.
    raw = {("on" if k is True else k): v for k, v in raw.items()}
    unknown = sorted(str(k) for k in raw if k not in _KEYS)
    if unknown:
        raise AlertSettingsError(unknown[0], f"unknown setting; use {', '.join(_KEYS)}")
    return AlertSettings(
        on=_conditions(raw.get("on")),
        stuck_after=_stuck_after(raw.get("stuck_after")),
        min_duration=_duration("min_duration", raw.get("min_duration")),
        late_after=_duration("late_after", raw.get("late_after")),
        slow_factor=_factor(raw.get("slow_factor")),
        channels=_names("channels", raw.get("channels")),
    )


def check_channels(settings: AlertSettings, known: Iterable[str]) -> None:
    """Every channel the settings name must be configured on the server (where channels and
    their secrets live): a misspelt name would otherwise send nothing, silently."""
    configured = sorted(known)
    for name in settings.channels or ():
        if name not in configured:
            listed = ", ".join(configured) if configured else "none is configured"
            raise AlertSettingsError(
                "channels", f"{name!r} is not a channel configured on the server ({listed})"
            )


def _names(field: str, value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise AlertSettingsError(field, "must be a list of names")
    return tuple(v.strip() for v in value)


def _conditions(value: Any) -> tuple[str, ...] | None:
    names = _names("on", value)
    for name in names or ():
        if name not in CONDITIONS:
            known = ", ".join(CONDITIONS)
            raise AlertSettingsError("on", f"{name!r} is not a condition; use {known}")
    return names


def _duration(field: str, value: Any) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AlertSettingsError(field, "expected a duration such as 30m, 1h30m, 45s or PT30M")
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise AlertSettingsError(field, str(exc)) from None


def _stuck_after(value: Any) -> timedelta | Literal["auto"] | None:
    if isinstance(value, str) and value.strip().lower() == AUTO:
        return AUTO
    return _duration("stuck_after", value)


def _factor(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 1 < value <= 1000:
        raise AlertSettingsError("slow_factor", "must be a number above 1 (e.g. 3)")
    return float(value)
