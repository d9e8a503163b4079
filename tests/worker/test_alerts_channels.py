"""E-mail reaches the job's owners through a real SMTP server on loopback (aiosmtpd), also over
STARTTLS with a login (a certificate made in the test by trustme, trusted through the channel's
`cafile`, refused without it), and an Apprise URL delivers to a real loopback `json://`
target."""

import ssl
from collections.abc import Iterator
from email import message_from_bytes
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from sqlalchemy import Engine

from tests.support import Api, Server, ago, free_port, make_org, simple_run
from tests.worker.conftest import Inbox, RunWorker
from tests.worker.receiver import Receiver


@pytest.fixture
def tls_smtp(tmp_path: Path) -> Iterator[tuple[Inbox, int, Path]]:
    """An SMTP server that requires STARTTLS, then a login, with a certificate for 127.0.0.1
    from a CA made for the test; yields the CA's file for the channel's `cafile`."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    cafile = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(cafile))
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
        auth_required=True, authenticator=inbox.authenticate,
    )  # fmt: skip
    controller.start()
    yield inbox, port, cafile
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


def test_email_over_starttls_with_a_login(
    alert_server: Server,
    alert_engine: Engine,
    run_worker: RunWorker,
    tls_smtp: tuple[Inbox, int, Path],
) -> None:
    inbox, port, cafile = tls_smtp
    api = _failed_job(alert_server, alert_engine, ["ana@acme.example"])
    channel = f"""
type = "email"
host = "127.0.0.1"
port = {port}
sender = "jobtrail@acme.example"
starttls = true
username = "jobtrail"
password = "s3cret"
"""
    config = f"""
[defaults]
on = ["failed"]
channels = ["mail", "untrusted"]
[channels.mail]{channel}cafile = "{cafile}"
[channels.untrusted]{channel}"""
    try:
        run_worker(ago(minutes=2), config)
        [(to, raw)] = inbox.messages
        assert to == ["ana@acme.example"]
        assert inbox.secure == [True]
        assert inbox.logins == [b"jobtrail"]
        assert message_from_bytes(raw)["Subject"] == "webmodel (prod) failed"
        [alert] = api.get("/alerts/v1/alerts").json()
        sent = {d["channel"]: d for d in alert["deliveries"]}
        assert sent["mail"]["status"] == "delivered"
        # The certificate is not trusted without the channel's CA: not sent, retried later.
        assert sent["untrusted"]["status"] == "pending"
        assert "CERTIFICATE_VERIFY_FAILED" in sent["untrusted"]["lastError"]
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
