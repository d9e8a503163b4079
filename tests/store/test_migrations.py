"""The Alembic migrations build exactly the tables `store/schema.py` describes, on both backends,
so a change to one without the other fails here."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect, select

from jobtrail.domain.events import Event, to_event
from jobtrail.domain.timefmt import to_micros
from jobtrail.settings import normalise_db_url
from jobtrail.store import migrate
from jobtrail.store.dialect import make_engine
from jobtrail.store.ingest import ingest
from jobtrail.store.partitions import include_name
from jobtrail.store.schema import metadata, runs
from tests.conftest import fresh_database


def test_migrations_produce_the_schema_module(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}
        )
        assert compare_metadata(context, metadata) == []


def test_a_migrated_store_is_current(engine: Engine) -> None:
    assert migrate.is_current(engine)


def test_0002_downgrades_and_upgrades_again(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'roundtrip.db'}")
    migrate.upgrade(engine)
    config = migrate.alembic_config()
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0001")
        assert "fingerprint" not in {c["name"] for c in inspect(conn).get_columns("events")}
        command.upgrade(config, "head")
        conn.commit()
    assert migrate.is_current(engine)
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_0007_gives_stored_runs_their_start_and_duration(
    backend: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Runs stored before 0007 get a start and (when final) a duration from the upgrade itself,
    and later merges keep them right."""
    with fresh_database(backend, tmp_path_factory) as url:
        engine = make_engine(normalise_db_url(url))
        config = migrate.alembic_config()
        with engine.connect() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "0004")
            conn.commit()
        t = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
        ingest(engine, "org", _events(t, "done", "RUNNING", "SUCCEEDED"), 1 << 20)
        ingest(engine, "org", _events(t, "live", "RUNNING"), 1 << 20)
        migrate.upgrade(engine)
        start = to_micros(t)
        assert _derived(engine) == {"done": (start, 90_000_000), "live": (start, None)}
        ingest(engine, "org", _events(t, "live", "FAILED", first=2), 1 << 20)
        assert _derived(engine)["live"] == (start, 180_000_000)
        engine.dispose()


def _events(t: datetime, key: str, *states: str, first: int = 0) -> list[Event]:
    """The run's states 90 s apart, from the `first`-th step of 90 s on."""
    return [
        to_event(
            {
                "eventId": f"{key}-{state}",
                "timestamp": (t + timedelta(seconds=90 * (first + i))).isoformat(),
                "kind": "run",
                "job": {"name": "nightly", "environment": "prod"},
                "runKey": key,
                "state": state,
            }
        )
        for i, state in enumerate(states)
    ]


def _derived(engine: Engine) -> dict[str, tuple[int, int | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.run_key, runs.c.start_ts, runs.c.duration))
        return {r.run_key: (r.start_ts, r.duration) for r in rows}
