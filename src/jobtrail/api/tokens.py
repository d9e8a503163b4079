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
        raise _expired() from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized("The bearer token is invalid.") from exc
    try:
        return Claims(
            str(payload["org"]), str(payload["sub"]), str(payload["role"]), int(payload["exp"])
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise Unauthorized("The bearer token is invalid.") from exc


def _expired() -> Unauthorized:
    return Unauthorized("The token has expired; exchange your API key for a new one.")


VERIFIED_TOKENS = 4096


class VerifiedTokens:
    """`verify`, remembering the tokens that passed: a client sends the same token with every
    request for its life (an hour by default), and checking it again (PyJWT: two base64 and JSON
    decodes, an HMAC, the claims' rules) cost a tenth of a small read. The expiry of a
    remembered token is checked again on each use, by PyJWT's rule (expired once `exp <= now`);
    nothing else about a token that passed can change (its `iat` only grows older). Whether its
    key may still be used is not a token's property: the caller asks on every request, so
    revocation takes effect as before. Bounded: the oldest is forgotten first (and checked again
    should it come back)."""

    def __init__(self, secret: str, size: int = VERIFIED_TOKENS) -> None:
        self._secret = secret
        self._size = size
        self._seen: dict[str, Claims] = {}

    def verify(self, token: str) -> Claims:
        claims = self._seen.get(token)
        if claims is None:
            claims = verify(self._secret, token)
            if len(self._seen) >= self._size:
                self._seen.pop(next(iter(self._seen)), None)
            self._seen[token] = claims
        elif claims.expires_at <= time.time():
            self._seen.pop(token, None)
            raise _expired()
        return claims
