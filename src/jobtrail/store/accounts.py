"""Organizations, API keys (only hashes of secrets) and the token-signing secret."""

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, or_, select, update

from jobtrail.store.dialect import insert_ignore, write_transaction
from jobtrail.store.schema import api_keys, organizations, settings

_SIGNING_SECRET = "token_signing_secret"


def now_micros() -> int:
    return time.time_ns() // 1000


def hash_secret(secret: str) -> str:
    """Keys are 256-bit random strings, so one SHA-256 is enough (no password stretching)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    org_id: str
    key_id: str
    secret_hash: str
    role: str
    name: str
    version: int
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None = None

    def usable(self, at: int) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > at)

    @property
    def kind(self) -> str:
        """`v3` keys are exchanged with their id and secret, legacy `v2` keys with the secret."""
        return f"v{self.version}"


@dataclass(frozen=True)
class NewKey:
    key: ApiKey
    secret: str

    @property
    def openlineage_credential(self) -> str:
        """The static bearer value an OpenLineage transport sends (`OPENLINEAGE_API_KEY`)."""
        return openlineage_api_key(self.key.key_id, self.secret)


def openlineage_api_key(key_id: str, secret: str) -> str:
    """The static bearer value the OpenLineage HTTP transport sends (`OPENLINEAGE_API_KEY`):
    the key id and its secret, so the server finds the key without a token exchange."""
    return f"{key_id}.{secret}"


def split_openlineage_api_key(value: str) -> tuple[str, str] | None:
    """(key id, secret) of an `openlineage_api_key` value, or None when it is not one."""
    key_id, sep, secret = value.partition(".")
    return (key_id, secret) if sep and key_id and secret else None


def create_org(engine: Engine, name: str) -> str:
    org_id = str(uuid.uuid4())
    with write_transaction(engine) as conn:
        conn.execute(organizations.insert().values(id=org_id, name=name, created_at=now_micros()))
    return org_id


def org_exists(engine: Engine, org_id: str) -> bool:
    with engine.connect() as conn:
        stmt = select(organizations.c.id).where(organizations.c.id == org_id)
        return conn.execute(stmt).first() is not None


def org_name(engine: Engine, org_id: str) -> str | None:
    with engine.connect() as conn:
        stmt = select(organizations.c.name).where(organizations.c.id == org_id)
        name: str | None = conn.execute(stmt).scalar_one_or_none()
        return name


def list_orgs(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        stmt = select(organizations.c.id, organizations.c.name).order_by(organizations.c.name)
        return [(r.id, r.name) for r in conn.execute(stmt)]


def expiry_after(lifetime: timedelta) -> int:
    """When a key created now with this lifetime expires (microseconds)."""
    return now_micros() + lifetime // timedelta(microseconds=1)


def create_key(
    engine: Engine,
    org_id: str,
    role: str,
    *,
    name: str = "",
    v2: bool = False,
    expires_at: int | None = None,
) -> NewKey:
    secret = secrets.token_urlsafe(32)
    key = ApiKey(
        org_id=org_id,
        key_id=str(uuid.uuid4()),
        secret_hash=hash_secret(secret),
        role=role,
        name=name,
        version=2 if v2 else 3,
        created_at=now_micros(),
        expires_at=expires_at,
        revoked_at=None,
    )
    with write_transaction(engine) as conn:
        conn.execute(api_keys.insert().values(**key.__dict__))
    return NewKey(key=key, secret=secret)


def _key(row: object) -> ApiKey:
    return ApiKey(**row._mapping)  # type: ignore[attr-defined]


def list_keys(engine: Engine, org_id: str) -> list[ApiKey]:
    with engine.connect() as conn:
        stmt = select(api_keys).where(api_keys.c.org_id == org_id).order_by(api_keys.c.created_at)
        return [_key(r) for r in conn.execute(stmt)]


def get_key(engine: Engine, key_id: str) -> ApiKey | None:
    with engine.connect() as conn:
        row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).first()
        return _key(row) if row else None


def find_key_by_secret(engine: Engine, org_id: str, secret: str) -> ApiKey | None:
    """The legacy v2 exchange names no key id: find the organization's key by its hash."""
    with engine.connect() as conn:
        stmt = select(api_keys).where(
            api_keys.c.org_id == org_id, api_keys.c.secret_hash == hash_secret(secret)
        )
        row = conn.execute(stmt).first()
        return _key(row) if row else None


def revoke_key(engine: Engine, key_id: str) -> bool:
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(api_keys)
            .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now_micros())
        )
        return result.rowcount == 1


USAGE_RESOLUTION = 60_000_000  # microseconds: `last_used_at` is kept to the minute


def touch_key(engine: Engine, key_id: str, at: int) -> bool:
    """Record that a key was used at `at`, unless a use within the last minute is already
    recorded: the conditional UPDATE writes a key's row at most once a minute, whichever
    server process sees the use. Whether it wrote."""
    with write_transaction(engine) as conn:
        result = conn.execute(
            update(api_keys)
            .where(
                api_keys.c.key_id == key_id,
                or_(
                    api_keys.c.last_used_at.is_(None),
                    api_keys.c.last_used_at <= at - USAGE_RESOLUTION,
                ),
            )
            .values(last_used_at=at)
        )
        return result.rowcount == 1


def signing_secret(engine: Engine) -> str:
    """The token-signing secret kept in the store, created once, so every server process of one
    store accepts the same tokens (first writer wins; others read what it wrote)."""
    with write_transaction(engine) as conn:
        conn.execute(
            insert_ignore(settings, conn).values(name=_SIGNING_SECRET, value=secrets.token_hex(32))
        )
        value: str = conn.execute(
            select(settings.c.value).where(settings.c.name == _SIGNING_SECRET)
        ).scalar_one()
        return value
