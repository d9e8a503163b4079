"""Named profiles in `~/.config/jobtrail/config.toml` (or `$XDG_CONFIG_HOME/jobtrail/`), written
by `jobtrail login` with mode 0600 since they hold API keys."""

import json
import os
import tomllib
from dataclasses import asdict, dataclass
from pathlib import Path

FIELDS = ("server", "organization_id", "api_key_id", "api_key")


@dataclass(frozen=True)
class Profile:
    server: str
    organization_id: str
    api_key_id: str | None
    api_key: str


class ProfileError(Exception):
    pass


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "jobtrail" / "config.toml"


def read_all(path: Path | None = None) -> dict[str, dict[str, str]]:
    path = path or config_path()
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path} cannot be read: {exc}") from None
    profiles = data.get("profiles", {})
    return {k: v for k, v in profiles.items() if isinstance(v, dict)}


def load(name: str, path: Path | None = None) -> Profile:
    path = path or config_path()
    found = read_all(path).get(name)
    if found is None:
        raise ProfileError(f"no profile {name!r} in {path}; create it with `jobtrail login`")
    missing = [f for f in ("server", "organization_id", "api_key") if not found.get(f)]
    if missing:
        raise ProfileError(f"profile {name!r} in {path} lacks {', '.join(missing)}")
    return Profile(
        found["server"], found["organization_id"], found.get("api_key_id"), found["api_key"]
    )


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def save(name: str, profile: Profile, path: Path | None = None) -> Path:
    """Add or replace one profile, keeping the others; the file is created 0600."""
    path = path or config_path()
    profiles = read_all(path)
    profiles[name] = {k: v for k, v in asdict(profile).items() if v is not None}
    lines: list[str] = []
    for pname, values in profiles.items():
        lines.append(f"[profiles.{_quote(pname)}]")
        lines += [f"{k} = {_quote(str(values[k]))}" for k in FIELDS if values.get(k) is not None]
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write("\n".join(lines))
    os.chmod(path, 0o600)
    return path
