"""Channel names must be configured: the alerts configuration refuses defaults naming a channel
it does not define (`serve` and `worker` exit 2 naming the setting), and a server with a
configuration refuses definitions whose alert settings name an unknown channel (400 naming the
entry and field, nothing stored)."""

import os
import subprocess
import sys
from pathlib import Path

import httpx
from sqlalchemy import Engine

from tests.support import SECRET, Api, make_org, start_server

CONFIG = """
[defaults]
on = ["failed"]
channels = ["team-hook"]

[organizations."some-org"]
channels = ["{org_channel}"]

[channels.team-hook]
type = "webhook"
url = "http://127.0.0.1:9/hook"

[channels.ops-mail]
type = "email"
host = "127.0.0.1"
sender = "jobtrail@acme.example"
"""


def _worker(db: str, config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "jobtrail.cli", "worker", "--db", db, "--once"],
        env={**os.environ, "JOBTRAIL_SECRET": SECRET, "JOBTRAIL_ALERTS_CONFIG": str(config)},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_configuration_refuses_unknown_channels(alert_db: str, tmp_path: Path) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text(CONFIG.format(org_channel="ops-male"))
    done = _worker(alert_db, config)
    assert done.returncode == 2
    assert "organizations.some-org.channels: 'ops-male' is not a channel configured" in done.stderr
    assert "(ops-mail, team-hook)" in done.stderr
    config.write_text(CONFIG.format(org_channel="ops-mail").replace('["team-hook"]', '["nope"]'))
    done = _worker(alert_db, config)
    assert done.returncode == 2
    assert "defaults.channels: 'nope' is not a channel configured" in done.stderr
    config.write_text(CONFIG.format(org_channel="ops-mail"))
    assert _worker(alert_db, config).returncode == 0


def test_definitions_naming_unknown_channels_are_refused(
    alert_db: str, alert_engine: Engine, tmp_path: Path
) -> None:
    config = tmp_path / "alerts.toml"
    config.write_text(CONFIG.format(org_channel="ops-mail"))
    server = start_server(
        alert_db, tmp_path / "server.log", JOBTRAIL_WORKER="false",
        JOBTRAIL_ALERTS_CONFIG=str(config),
    )  # fmt: skip
    org = make_org(alert_engine)
    api, reader = Api(server, org, "ingest"), Api(server, org, "read")
    path = api.prefix + "/jobs/v1/definitions"
    auth = {"Authorization": f"Bearer {api.token}"}

    def put(*channels: str) -> httpx.Response:
        good = {"jobName": "fine", "environment": "prod", "alerts": {"channels": ["team-hook"]}}
        named = {"jobName": "typo", "environment": "prod", "alerts": {"channels": list(channels)}}
        return api.http.put(path, json={"definitions": [good, named]}, headers=auth)

    try:
        refused = put("ops-mail", "team-hok")
        assert refused.status_code == 400
        body = refused.json()
        assert body["error"] == "invalid_definitions"
        assert (
            "definitions[1].alerts.channels: 'team-hok' is not a channel configured"
            in (body["message"])
        )
        assert "(ops-mail, team-hook)" in body["message"]
        assert reader.get("/jobs/v1/definitions").json() == []  # all or nothing
        assert put("ops-mail").status_code == 200
        assert [d["jobName"] for d in reader.get("/jobs/v1/definitions").json()] == [
            "fine",
            "typo",
        ]
    finally:
        api.close()
        reader.close()
        server.stop()
