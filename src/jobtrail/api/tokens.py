"""Signed bearer tokens (JWT, HS256) carrying organization, key id, role and expiry."""

import sys
import time
import uuid
from dataclasses import dataclass

from jobtrail.domain.errors import Unauthorized


def _import_jwt() -> None:
    """PyJWT loads `cryptography` whenever it is installed (about 10 MB in every server
    process), for asymmetric algorithms jobtrail never uses: its tokens are HS256, which PyJWT
    signs with the standard library. jobtrail does not depend on cryptography (only a test tool
    installs it), so PyJWT is imported as if it were absent; cryptography itself still imports
    normally afterwards for anything that wants it."""
    if "jwt" in sys.modules or "cryptography" in sys.modules:
        return
    sys.modules["cryptography"] = None  # type: ignore[assignment]  # import raises: absent
    try:
        import jwt  # noqa: F401
    finally:
        del sys.modules["cryptography"]


_import_jwt()
import jwt  # noqa: E402

_ALGORITHM = "HS256"
_ISSUER = "jobtrail"


@dataclass(frozen=True)
class Claims:
    org_id: str
    key_id: str
    role: str
    expires_at: int  # seconds since the epoch


def mint(secret: str, org_id: str, key_id: str, role: str, ttl_seconds: float) -> tuple[str, int]:
    now = int(time.time())
    exp = now + max(1, int(ttl_seconds))
    payload = {
        "iss": _ISSUER,
        "sub": key_id,
        "org": org_id,
        "role": role,
        "iat": now,
        "exp": exp,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=_ALGORITHM), exp


def verify(secret: str, token: str) -> Claims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The token has expired; exchange your API key for a new one.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The bearer token is invalid.") from exc
    try:
        return Claims(
            str(payload["org"]), str(payload["sub"]), str(payload["role"]), int(payload["exp"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("The bearer token is invalid.") from exc
