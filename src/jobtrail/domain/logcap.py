"""Bounded log streams (SPEC §3.4): beyond the cap keep the head and the most recent tail."""

DEFAULT_STREAM_CAP = 16 * 1024 * 1024


def chunks_to_drop(chunks: list[tuple[int, int]], cap: int) -> list[int]:
    """Given a stream's chunks as (seq, size) in seq order, the seqs to drop so that at most `cap`
    bytes stay: up to half the cap from the head, up to half from the tail, the middle goes."""
    if sum(size for _, size in chunks) <= cap:
        return []
    half = cap // 2
    head_end = 0
    used = 0
    while head_end < len(chunks) and used + chunks[head_end][1] <= half:
        used += chunks[head_end][1]
        head_end += 1
    tail_start = len(chunks)
    used = 0
    while tail_start > head_end and used + chunks[tail_start - 1][1] <= half:
        used += chunks[tail_start - 1][1]
        tail_start -= 1
    return [seq for seq, _ in chunks[head_end:tail_start]]


def utf8_start(data: bytes) -> int:
    """Index of the first byte of `data` that starts a UTF-8 character (skip continuation bytes),
    so that a cut into the middle of a log never yields a broken character."""
    i = 0
    while i < len(data) and i < 4 and (data[i] & 0xC0) == 0x80:
        i += 1
    return i
