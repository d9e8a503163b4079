"""A failed run raises one alert, delivered once to a real webhook receiver that checks the
HMAC signature; evaluating again raises nothing; a success afterwards sends `recovered`; a
channel that answers 500 three times is retried with backoff and delivered once."""

from datetime import timedelta

from sqlalchemy import Engine

from tests.support import Api, Server, ago, make_org, simple_run
from tests.worker.conftest import HOOK_SECRET, RunWorker
from tests.worker.receiver import Receiver


def config(url: str) -> str:
    return f"""
[defaults]
on = ["failed", "recovered"]
channels = ["hook"]

[channels.hook]
type = "webhook"
url = "{url}"
secret = "{HOOK_SECRET}"
"""


def _api(server: Server, engine: Engine) -> Api:
    org = make_org(engine)
    return Api(server, org, "admin")


def test_failed_run_alerts_once_then_recovers(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker, receiver: Receiver
) -> None:
    api = _api(alert_server, alert_engine)
    try:
        owners = {"jobName": "webmodel", "environment": "prod", "owners": ["data@acme.example"]}
        assert (
            api.http.put(
                api.prefix + "/jobs/v1/definitions",
                json={"definitions": [owners]},
                headers={"Authorization": f"Bearer {api.token}"},
            ).status_code
            == 200
        )
        api.ingest(simple_run(ago(minutes=10), "bad", fail=True))
        now = ago(minutes=2)
        run_worker(now, config(receiver.url))
        [got] = receiver.received
        assert got.signed
        assert got.body["condition"] == "failed"
        assert got.body["owners"] == ["data@acme.example"]
        text = got.body["text"]
        assert "webmodel (prod) failed" in text
        assert "failed step: run-dbt" in text
        assert "Database Error" in text  # the stderr tail
        assert "http://jobtrail.example/console#/runs/" in text
        run_worker(now + timedelta(seconds=30), config(receiver.url))
        assert len(receiver.received) == 1  # the same failed run is never raised twice
        [alert] = api.get("/alerts/v1/alerts").json()
        assert alert["alertId"] == got.key
        assert alert["state"] == "open"
        assert alert["stepName"] == "run-dbt"
        assert alert["deliveries"] == [
            {
                "channel": "hook", "status": "delivered", "attempts": 1,
                "lastAttemptAt": alert["deliveries"][0]["lastAttemptAt"], "lastError": None,
            }
        ]  # fmt: skip
        api.ingest(simple_run(ago(minutes=1), "good"))
        run_worker(ago(), config(receiver.url))
        assert [r.body["condition"] for r in receiver.received] == ["failed", "recovered"]
        assert api.get("/alerts/v1/alerts").json() == []
        assert {a["state"] for a in api.get("/alerts/v1/alerts?state=all").json()} == {"resolved"}
    finally:
        api.close()


def test_retried_with_backoff_and_delivered_once(
    alert_server: Server, alert_engine: Engine, run_worker: RunWorker, receiver: Receiver
) -> None:
    receiver.script = [500, 500, 500]
    api = _api(alert_server, alert_engine)
    try:
        api.ingest(simple_run(ago(minutes=10), "bad", fail=True))
        start = ago()
        # Attempts at 0 s, then after 10, 20 and 40 s of backoff; a round in between sends none.
        for offset in (0, 5, 10, 30, 31, 70, 200):
            run_worker(start + timedelta(seconds=offset), config(receiver.url))
        assert [r.status for r in receiver.received] == [500, 500, 500, 200]
        assert len({r.key for r in receiver.received}) == 1
        [alert] = api.get("/alerts/v1/alerts").json()
        [delivery] = alert["deliveries"]
        assert delivery["status"] == "delivered"
        assert delivery["attempts"] == 4
        assert delivery["lastError"] is None  # cleared by the attempt that went through
    finally:
        api.close()
