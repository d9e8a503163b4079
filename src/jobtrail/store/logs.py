"""Reading stored log streams in pieces: a byte range, the last N bytes or lines, or a stream of
chunks, each reading only the chunks it returns, so a 100 MiB log never sits in memory whole."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Engine, bindparam, select

from jobtrail.store.queries import Reads
from jobtrail.store.schema import log_chunks

_FETCH_BYTES = 4 * 1024 * 1024  # per round trip when streaming: bounds the memory of a read
_FETCH_TAIL = 64  # chunks per round trip when reading backwards for `tail`


@dataclass(frozen=True)
class StreamRef:
    org_id: str
    run_id: str
    step_name: str
    stream: str


def _where(ref: StreamRef) -> tuple[object, ...]:
    t = log_chunks.c
    return (
        t.org_id == ref.org_id,
        t.run_id == ref.run_id,
        t.step_name == ref.step_name,
        t.stream == ref.stream,
    )


def chunk_sizes(engine: Engine, ref: StreamRef) -> list[tuple[int, int]]:
    """(seq, size) of every kept chunk in order: the map that byte offsets are read from."""
    t = log_chunks.c
    with engine.connect() as conn:
        stmt = select(t.seq, t.size).where(*_where(ref)).order_by(t.seq)  # type: ignore[arg-type]
        return [(r.seq, r.size) for r in conn.execute(stmt)]


_CHUNK_KEY = (
    log_chunks.c.org_id == bindparam("org"),
    log_chunks.c.run_id == bindparam("run"),
    log_chunks.c.step_name == bindparam("step"),
)
_ATTEMPT_SIZES = (
    select(log_chunks.c.attempt, log_chunks.c.size)
    .where(*_CHUNK_KEY, log_chunks.c.stream == bindparam("stream"))
    .order_by(log_chunks.c.seq)
)


def _key(ref: StreamRef) -> dict[str, str]:
    return {"org": ref.org_id, "run": ref.run_id, "step": ref.step_name, "stream": ref.stream}


def attempt_starts(reads: Reads, ref: StreamRef) -> list[tuple[int, int]]:
    """(attempt, offset in kept bytes) where each attempt's output begins, in stream order, for
    chunks whose reporter said which attempt wrote them. Reads the chunks' sizes, not their data;
    asked only of steps that ran more than once."""
    starts: list[tuple[int, int]] = []
    offset = 0
    for attempt, size in reads.rows(_ATTEMPT_SIZES, _key(ref)):
        if attempt is not None and (not starts or starts[-1][0] != attempt):
            starts.append((int(attempt), offset))
        offset += int(size)
    return starts


def _groups(chunks: list[tuple[int, int]]) -> Iterator[list[int]]:
    """Seqs in groups of at most `_FETCH_BYTES` (at least one chunk each)."""
    group: list[int] = []
    size = 0
    for seq, length in chunks:
        if group and size + length > _FETCH_BYTES:
            yield group
            group, size = [], 0
        group.append(seq)
        size += length
    if group:
        yield group


def iter_chunks(engine: Engine, ref: StreamRef, chunks: list[tuple[int, int]]) -> Iterator[bytes]:
    """The data of the given (seq, size) chunks, in order, a few MiB at a time."""
    t = log_chunks.c
    for part in _groups(chunks):
        with engine.connect() as conn:
            stmt = (
                select(t.data)
                .where(*_where(ref), t.seq.in_(part))  # type: ignore[arg-type]
                .order_by(t.seq)
            )
            for (data,) in conn.execute(stmt):
                yield bytes(cast(bytes, data))


def read_range(
    engine: Engine,
    ref: StreamRef,
    offset: int,
    limit: int | None,
    sizes: list[tuple[int, int]] | None = None,
) -> Iterator[bytes]:
    """Bytes [offset, offset+limit) of the kept stream (as of the `sizes` snapshot when given),
    reading only the chunks that hold them."""
    sizes = chunk_sizes(engine, ref) if sizes is None else sizes
    end = None if limit is None else offset + limit
    wanted: list[tuple[int, int]] = []
    first_start = 0
    pos = 0
    for seq, size in sizes:
        if pos + size > offset and (end is None or pos < end):
            if not wanted:
                first_start = pos
            wanted.append((seq, size))
        pos += size
    pos = first_start
    for data in iter_chunks(engine, ref, wanted):
        lo = max(0, offset - pos)
        hi = len(data) if end is None else min(len(data), end - pos)
        pos += len(data)
        if hi > lo:
            yield data[lo:hi]


def read_tail_bytes(engine: Engine, ref: StreamRef, max_bytes: int) -> tuple[bytes, int]:
    """The most recent `max_bytes` of the stream, and the kept size of the whole stream."""
    sizes = chunk_sizes(engine, ref)
    total = sum(size for _, size in sizes)
    start = max(0, total - max_bytes)
    return b"".join(read_range(engine, ref, start, None, sizes)), total


_STEP_CHUNKS = (
    select(log_chunks.c.stream, log_chunks.c.data)
    .where(*_CHUNK_KEY)
    .order_by(log_chunks.c.stream, log_chunks.c.seq)
)


def step_tails(
    reads: Reads, engine: Engine, refs: list[tuple[StreamRef, int]], max_bytes: int
) -> dict[str, tuple[bytes, int]]:
    """`read_tail_bytes` of every stream of one step, each given with the kept size its stream
    record holds. When all are that small (the usual step) they are read whole in one query on
    `reads`; otherwise each piece by piece, as `read_tail_bytes` does. The answer is the same
    either way, computed from the chunks read."""
    if not refs:
        return {}
    if any(kept > max_bytes for _ref, kept in refs):
        return {ref.stream: read_tail_bytes(engine, ref, max_bytes) for ref, _kept in refs}
    first = refs[0][0]
    params = {"org": first.org_id, "run": first.run_id, "step": first.step_name}
    parts: dict[str, list[bytes]] = {ref.stream: [] for ref, _kept in refs}
    for stream, data in reads.rows(_STEP_CHUNKS, params):
        if stream in parts:
            parts[stream].append(bytes(data))
    out = {}
    for stream, pieces in parts.items():
        whole = b"".join(pieces)
        out[stream] = (whole[-max_bytes:] if len(whole) > max_bytes else whole, len(whole))
    return out


def read_tail_lines(
    engine: Engine, ref: StreamRef, lines: int, sizes: list[tuple[int, int]] | None = None
) -> bytes:
    """The last `lines` lines, reading chunks backwards only until enough newlines are seen."""
    sizes = chunk_sizes(engine, ref) if sizes is None else sizes
    collected: list[bytes] = []
    newlines = 0
    for start in range(len(sizes), 0, -_FETCH_TAIL):
        part = sizes[max(0, start - _FETCH_TAIL) : start]
        for data in reversed(list(iter_chunks(engine, ref, part))):
            collected.append(data)
            newlines += data.count(b"\n")
            if newlines > lines:
                break
        if newlines > lines:
            break
    text = b"".join(reversed(collected))
    body = text[:-1] if text.endswith(b"\n") else text
    kept = body.split(b"\n")[-lines:] if lines else []
    out = b"\n".join(kept)
    return out + b"\n" if kept and text.endswith(b"\n") else out


def chunks_after(
    engine: Engine, ref: StreamRef, seq: int, limit: int = 64
) -> list[tuple[int, bytes]]:
    """Chunks numbered after `seq`, in order (what a live tail has not sent yet)."""
    t = log_chunks.c
    with engine.connect() as conn:
        stmt = (
            select(t.seq, t.data)
            .where(*_where(ref), t.seq > seq)  # type: ignore[arg-type]
            .order_by(t.seq)
            .limit(limit)
        )
        return [(r.seq, bytes(r.data)) for r in conn.execute(stmt)]
