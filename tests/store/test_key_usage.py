"""`lastUsedAt`: written at most once a minute per key, whatever the number of uses or
processes."""

from sqlalchemy import Engine

from jobtrail.api.context import KeyUsage
from jobtrail.store import accounts
from tests.support import make_org

MINUTE = 60_000_000


def _last_used(engine: Engine, key_id: str) -> int | None:
    key = accounts.get_key(engine, key_id)
    assert key is not None
    return key.last_used_at


def test_touch_writes_at_most_once_a_minute(engine: Engine) -> None:
    key_id = make_org(engine).keys["read"].key.key_id
    t = accounts.now_micros()
    assert accounts.touch_key(engine, key_id, t)
    assert not accounts.touch_key(engine, key_id, t + MINUTE - 1)
    assert _last_used(engine, key_id) == t
    assert accounts.touch_key(engine, key_id, t + MINUTE)
    assert _last_used(engine, key_id) == t + MINUTE


def test_bearer_uses_are_written_in_batches(engine: Engine) -> None:
    org = make_org(engine)
    key_id = org.keys["read"].key.key_id
    first, second = KeyUsage(engine), KeyUsage(engine)  # two server processes
    t = accounts.now_micros()
    for i in range(100):
        first.note(key_id, t + i)
        second.note(key_id, t + i)
    assert _last_used(engine, key_id) is None  # nothing written per request
    first.flush()
    second.flush()
    assert _last_used(engine, key_id) == t + 99
    first.note(key_id, t + MINUTE // 2)
    first.flush()
    assert _last_used(engine, key_id) == t + 99  # within the minute: not written again
    first.note(key_id, t + 2 * MINUTE)
    first.flush()
    assert _last_used(engine, key_id) == t + 2 * MINUTE
