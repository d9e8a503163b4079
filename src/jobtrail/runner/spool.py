"""A durable spool: events that could not be delivered yet, appended and fsynced to a JSON-lines
file, with the offset of what has been delivered kept beside it. Delivery resumes in order, with
the same eventIds, so nothing is lost and nothing is doubled.

One process at a time delivers a spool: the run that writes it holds an flock on a lock file
beside it for its whole life, and `jobtrail flush` or the agent deliver only spools whose lock
they can take, i.e. those of runs that have ended. The kernel drops the lock when a process dies,
so a crashed run's spool is never stuck."""

import fcntl
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

log = logging.getLogger("jobtrail.runner")


class Spool:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset_path = path.with_suffix(".offset")
        self._lock_path = path.with_suffix(".lock")
        self._lock: int | None = None

    def claim(self) -> bool:
        """Take this spool for this process; False when a live process holds it."""
        if self._lock is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock = fd
        return True

    def release(self) -> None:
        """Let go of the spool; its lock file goes too once nothing is left to deliver."""
        if self._lock is None:
            return
        if not self.path.exists():
            self._lock_path.unlink(missing_ok=True)
        os.close(self._lock)
        self._lock = None

    def append(self, events: list[dict[str, Any]]) -> None:
        if not events:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = b"".join(orjson.dumps(e) + b"\n" for e in events)
        with self.path.open("ab") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def offset(self) -> int:
        try:
            return int(self._offset_path.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def pending(self) -> bool:
        return self.path.exists() and self.path.stat().st_size > self.offset()

    def batches(
        self, max_events: int, max_bytes: int, *, writer_gone: bool = False
    ) -> Iterator[tuple[list[dict[str, Any]], int]]:
        """Undelivered events in order, as (batch, offset after the batch). A last line without
        its newline is still being written; but when the writer is gone (`writer_gone`), it is
        what a crash left half-written, and is passed over, as is any line that is not JSON."""
        if not self.path.exists():
            return
        with self.path.open("rb") as f:
            f.seek(self.offset())
            batch: list[dict[str, Any]] = []
            size = 0
            for line in f:
                if not line.endswith(b"\n") and not writer_gone:
                    break
                try:
                    batch.append(orjson.loads(line))
                except orjson.JSONDecodeError:
                    log.warning(
                        "%s: a damaged line (%d bytes) is passed over", self.path, len(line)
                    )
                size += len(line)
                if len(batch) >= max_events or size >= max_bytes:
                    yield batch, f.tell()
                    batch, size = [], 0
            if batch or size:
                yield batch, f.tell()

    def commit(self, offset: int) -> None:
        """Remember that everything before `offset` was delivered (fsynced, then renamed)."""
        tmp = self._offset_path.with_suffix(".offset.tmp")
        with tmp.open("w") as f:
            f.write(str(offset))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._offset_path)

    def remove_if_delivered(self) -> bool:
        if self.path.exists() and not self.pending():
            self.path.unlink()
            self._offset_path.unlink(missing_ok=True)
            return True
        return not self.path.exists()


def spools_in(folder: Path) -> list[Spool]:
    return [Spool(p) for p in sorted(folder.glob("*.jsonl"))] if folder.is_dir() else []
