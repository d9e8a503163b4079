"""The server prunes runs past the retention by itself, periodically."""

import time
from pathlib import Path

from sqlalchemy import Engine

from jobtrail.domain.batches import parse_batch
from jobtrail.store.ingest import ingest
from tests.support import Api, ago, make_org, simple_run, start_server


def test_server_prunes_periodically(db_url: str, engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    ingest(engine, org.id, parse_batch({"events": simple_run(ago(hours=3), "old")}), 1 << 24)
    ingest(engine, org.id, parse_batch({"events": simple_run(ago(minutes=5), "new")}), 1 << 24)
    server = start_server(
        db_url, tmp_path / "server.log", JOBTRAIL_RETENTION="PT2H", JOBTRAIL_PRUNE_INTERVAL="PT1S"
    )
    api = Api(server, org, "read")
    try:
        deadline = time.monotonic() + 15
        runs = api.runs("PT-6H", "PT0S").json()
        while len(runs) > 1 and time.monotonic() < deadline:
            time.sleep(0.2)
            runs = api.runs("PT-6H", "PT0S").json()
        assert len(runs) == 1
        assert runs == api.runs("PT-1H", "PT0S").json()  # the recent run is the one left
    finally:
        api.close()
        server.stop()
