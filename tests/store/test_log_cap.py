"""The per-stream cap keeps the head and the most recent tail and records what it dropped."""

from sqlalchemy import Engine

from jobtrail.domain.batches import parse_batch
from jobtrail.domain.identity import job_id, run_id
from jobtrail.store import queries
from jobtrail.store.ingest import ingest
from jobtrail.store.logs import StreamRef, read_range
from tests.support import ago, event, make_org

CAP = 4096


def _chunk_events(first: int, count: int) -> list[dict[str, object]]:
    at = ago(minutes=5)
    return [
        event("log", at, "cap", step={"name": "s"}, stream="stdout", data=f"{i:04d}" * 64, seq=i)
        for i in range(first, first + count)
    ]  # 256 bytes each


def test_cap_keeps_head_and_tail(engine: Engine) -> None:
    org = make_org(engine)
    for start in range(0, 40, 10):  # 40 chunks = 10 KiB, in four batches
        ingest(engine, org.id, parse_batch({"events": _chunk_events(start, 10)}), CAP)
    rid = run_id(org.id, job_id(org.id, "prod", "webmodel"), "cap")
    ref = StreamRef(org.id, rid, "s", "stdout")
    kept = b"".join(read_range(engine, ref, 0, None)).decode()
    with engine.connect() as conn:
        stats = queries.stream_stats(conn, org.id, rid, "s")["stdout"]
    assert len(kept) <= CAP
    assert stats.kept_bytes == len(kept)
    assert stats.kept_bytes + stats.dropped_bytes == 40 * 256
    assert kept.startswith("0000" * 64)  # the head stays
    assert kept.endswith("0039" * 64)  # the most recent tail stays
    # A late chunk inside the dropped gap is dropped too, and counted.
    late = _chunk_events(20, 1)
    late[0]["eventId"] = "late-one"
    ingest(engine, org.id, parse_batch({"events": late}), CAP)
    with engine.connect() as conn:
        again = queries.stream_stats(conn, org.id, rid, "s")["stdout"]
    assert again.kept_bytes == stats.kept_bytes
    assert again.dropped_bytes in (stats.dropped_bytes, stats.dropped_bytes + 256)
