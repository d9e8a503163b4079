"""E-mail reaches the job's owners through a real SMTP server on loopback (aiosmtpd), and an
Apprise URL delivers to a real loopback `json://` target."""

from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from tests.support import Api, Server, ago, free_port, make_org, simple_run
from tests.worker.conftest import RunWorker
from tests.worker.receiver import Receiver


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def _failed_job(server: Server, engine: Engine, owners: list[str]) -> Api:
    api = Api(server, make_org(engine), "admin")
    definition = {"jobName": "webmodel", "environment": "prod", "owners": owners}
    resp = api.http.put(
        api.prefix + "/jobs/v1/definitions",
        json={"definitions": [definition]},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert resp.status_code == 200
    api.ingest(simple_run(ago(minutes=10), "bad", fail=True))
    return api


def test_email_to_the_owners(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    api = _failed_job(alert_server, alert_engine, ["ana@acme.example", "bo@acme.example"])
    config = f"""
[defaults]
on = ["failed"]
channels = ["mail"]
[channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
sender = "jobtrail@acme.example"
"""
    try:
        run_worker(ago(minutes=2), config)
        [(to, raw)] = inbox.messages
        assert to == ["ana@acme.example", "bo@acme.example"]
        mail = message_from_bytes(raw)
        assert mail["Subject"] == "webmodel (prod) failed"
        body = mail.get_payload(decode=True)
        assert isinstance(body, bytes)
        assert b"failed step: run-dbt" in body
        assert b"Database Error" in body
        assert api.get("/alerts/v1/alerts").json()[0]["deliveries"][0]["status"] == "delivered"
    finally:
        api.close()


def test_apprise_to_a_loopback_json_target(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker
) -> None:
    target = Receiver("unused")
    api = _failed_job(alert_server, alert_engine, [])
    url = target.url.replace("http://", "json://")
    config = f"""
[defaults]
on = ["failed"]
channels = ["chat"]
[channels.chat]
type = "apprise"
urls = ["{url}"]
"""
    try:
        run_worker(ago(minutes=2), config)
        [got] = target.received
        assert got.body["title"] == "webmodel (prod) failed"
        assert "failed step: run-dbt" in got.body["message"]
    finally:
        target.close()
        api.close()
