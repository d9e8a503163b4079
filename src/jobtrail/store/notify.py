"""Wake-ups for live log tails. On PostgreSQL every ingestion transaction sends a NOTIFY per run
it touched (delivered at commit, to every server process); a listener thread per process passes
them on. SQLite has no such channel, so there a tail keeps polling."""

import logging
import threading
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, Engine, text

log = logging.getLogger("jobtrail.store")

CHANNEL = "jobtrail_runs"
_NOTIFY = text(f"SELECT pg_notify('{CHANNEL}', p) FROM unnest(CAST(:payloads AS text[])) AS p")


def can_notify(bind: Engine | Connection) -> bool:
    return bind.dialect.name == "postgresql"


def run_key(org_id: str, run_id: str) -> str:
    """The payload naming one run: what a tail of that run waits for."""
    return f"{org_id}:{run_id}"


def notify_runs(conn: Connection, org_id: str, run_ids: Sequence[str]) -> None:
    """Announce, at commit, that these runs changed (new output or state)."""
    if run_ids and can_notify(conn):
        conn.execute(_NOTIFY, {"payloads": [run_key(org_id, r) for r in run_ids]})


class Listener:
    """A thread holding one connection that LISTENs and calls `on_notify(payload)` for each
    notification; it reconnects by itself after losing the database (calling `on_notify(None)`
    then, since notifications may have been missed meanwhile)."""

    def __init__(self, engine: Engine, on_notify: Callable[[str | None], None]) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_notify = on_notify
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jobtrail-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        import psycopg  # here: a server on SQLite never loads it

        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as exc:
                self.listening.clear()
                log.warning("live tails: lost the notification channel (%s); reconnecting", exc)
                self._on_notify(None)
                self._stop.wait(1)

    def _listen(self) -> None:
        import psycopg

        with psycopg.connect(self._dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self.listening.set()
            while not self._stop.is_set():
                for note in conn.notifies(timeout=1.0):
                    self._on_notify(note.payload)
