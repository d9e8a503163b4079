"""Straight into a store (`jobtrail run --db`): kept apart from the HTTP sink so a runner that
reports to a server never imports SQLAlchemy."""

from typing import Any

from sqlalchemy import Engine

from jobtrail.domain.batches import parse_batch
from jobtrail.domain.catalog import parse_definitions
from jobtrail.runner.sinks import RetryLater
from jobtrail.store.accounts import now_micros
from jobtrail.store.catalog import put_definitions
from jobtrail.store.ingest import ingest


class StoreSink:
    """Straight into a store (`jobtrail run --db`)."""

    def __init__(self, engine: Engine, org_id: str, stream_cap: int) -> None:
        self._engine = engine
        self._org_id = org_id
        self._cap = stream_cap

    def deliver(self, events: list[dict[str, Any]]) -> None:
        try:
            ingest(self._engine, self._org_id, parse_batch({"events": events}), self._cap)
        except Exception as exc:  # a locked or unreachable store: keep the events, retry
            raise RetryLater(str(exc)) from exc

    def define(self, definitions: list[dict[str, Any]]) -> None:
        parsed = parse_definitions({"definitions": definitions})
        put_definitions(self._engine, self._org_id, parsed, now_micros())

    def close(self) -> None:
        self._engine.dispose()
