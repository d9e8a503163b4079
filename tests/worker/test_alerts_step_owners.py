"""A failed step's own owners (a dbt node's `meta.owner`, sent as step.owners) are among a
failed-run alert's recipients, through a real server and `jobtrail worker --once --now`, with
the e-mail taken by a real SMTP server (aiosmtpd)."""

from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.support import Api, Server, ago, make_org, simple_run
from tests.worker.conftest import Inbox, RunWorker


def _config(port: int, to: str = "") -> str:
    return f"""
[defaults]
on = ["failed"]
channels = ["mail"]
[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
sender = "jobtrail@acme.example"
{to}
"""


def _with_step_owners(
    events: list[dict[str, Any]], running: list[str], failed: list[str] | str
) -> list[dict[str, Any]]:
    """simple_run's events with owners on the failing step: the FAILED event's win."""
    for ev in events:
        if ev["kind"] == "step" and ev["step"]["name"] == "run-dbt":
            ev["step"]["owners"] = running if ev["state"] == "RUNNING" else failed
    return events


@pytest.fixture
def job_api(alert_server: Server, alert_engine: Engine) -> Iterator[Api]:
    api = Api(alert_server, make_org(alert_engine), "admin")
    yield api
    api.close()


def _define(api: Api, owners: list[str]) -> None:
    definition = {"jobName": "webmodel", "environment": "prod", "owners": owners}
    resp = api.http.put(
        api.prefix + "/jobs/v1/definitions",
        json={"definitions": [definition]},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert resp.status_code == 200


def test_the_failed_steps_owners_get_the_email_too(
    job_api: Api, run_worker: RunWorker, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    _define(job_api, ["ana@acme.example", "dbt-team@acme.example"])
    run = simple_run(ago(minutes=10), "bad", fail=True)
    job_api.ingest(
        _with_step_owners(
            run, ["old-owner@acme.example"], ["DBT-team@acme.example", "shop@acme.example"]
        )
    )
    run_worker(ago(minutes=2), _config(port))
    [(to, raw)] = inbox.messages
    assert to == ["ana@acme.example", "dbt-team@acme.example", "shop@acme.example"]
    body = message_from_bytes(raw).get_payload(decode=True)
    assert isinstance(body, bytes)
    assert b"failed step: run-dbt" in body
    assert b"owners: ana@acme.example, dbt-team@acme.example, shop@acme.example" in body
    [alert] = job_api.get("/alerts/v1/alerts").json()
    assert alert["deliveries"][0]["status"] == "delivered"


def test_a_job_without_owners_mails_the_failed_steps_owner(
    job_api: Api, run_worker: RunWorker, smtp: tuple[Inbox, int]
) -> None:
    """No job owners and a channel `to`: the step's one owner (a string, as dbt allows) is
    the recipient, as the job's owners would be."""
    inbox, port = smtp
    _define(job_api, [])
    run = _with_step_owners(simple_run(ago(minutes=10), "bad", fail=True), [], "shop@acme.example")
    job_api.ingest(run)
    run_worker(ago(minutes=2), _config(port, 'to = ["fallback@acme.example"]'))
    [(to, _raw)] = inbox.messages
    assert to == ["shop@acme.example"]
