"""`/metrics` scraped and parsed with prometheus-client's own parser, under `--workers 2`."""

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine

from jobtrail.domain.evaluation import Condition
from jobtrail.store import accounts
from jobtrail.store.alerts import NewAlert, claim_due, finish, raise_alerts
from jobtrail.wire import paths
from tests.support import Api, Org, Server, ago, make_org, simple_run, start_server


@pytest.fixture(scope="module")
def workers(
    db_url: str, engine: Engine, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("w") / "server.log"
    srv = start_server(db_url, log, args=["--workers", "2"])
    yield srv
    srv.stop()


def _samples(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    resp = httpx.get(f"{server.url}/metrics")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(resp.text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def test_metrics_under_two_workers(workers: Server, engine: Engine) -> None:
    org = make_org(engine)
    job = f"metrics-{uuid.uuid4().hex[:6]}"
    apis = [Api(workers, org) for _ in range(6)]  # separate connections: both workers ingest
    sent = [
        simple_run(ago(hours=1, minutes=i), f"r{i}", job=job, fail=i % 3 == 0) for i in range(6)
    ]
    for api, events in zip(apis, sent, strict=True):
        api.ingest(events)
    apis[3].ingest(sent[0])  # the same events again: duplicates, nothing counted twice
    running = simple_run(ago(minutes=5), "live", job=job)[:2]
    apis[1].ingest(running)
    bad = apis[2].post(apis[2].at(paths.EVENTS), json={"events": [{"kind": "nope"}]})
    assert bad.status_code == 400
    conflict = {**sent[1][0], "state": "FAILED"}  # a stored eventId with other content
    assert apis[2].post(apis[2].at(paths.EVENTS), json={"events": [conflict]}).status_code == 409
    for api in apis:
        api.close()
    # Every scrape, whichever worker answers it, sees the sum of both workers' series.
    scrapes = [_samples(workers) for _ in range(4)]
    for samples in scrapes:
        labels = {"job": job, "environment": "prod"}
        assert _value(samples, "jobtrail_runs_finished_total", **labels, state="FAILED") == 2
        assert _value(samples, "jobtrail_runs_finished_total", **labels, state="SUCCEEDED") == 4
        assert _value(samples, "jobtrail_run_duration_seconds_count", **labels) == 6
        assert _value(samples, "jobtrail_run_duration_seconds_sum", **labels) == 42  # 7 s each
        assert _value(samples, "jobtrail_run_duration_seconds_bucket", **labels, le="5.0") == 0
        assert _value(samples, "jobtrail_run_duration_seconds_bucket", **labels, le="15.0") == 6
        assert _value(samples, "jobtrail_step_duration_seconds_count", **labels) == 12
        assert _value(samples, "jobtrail_runs_in_progress", **labels) == 1
        last = _value(samples, "jobtrail_last_success_timestamp_seconds", **labels)
        assert last is not None
        assert abs(last - ago(hours=1, minutes=1).timestamp()) < 120
        assert _value(samples, "jobtrail_events_ingested_total") == 6 * 9 + 2
        assert _value(samples, "jobtrail_events_rejected_total", reason="duplicate") == 9
        assert _value(samples, "jobtrail_events_rejected_total", reason="invalid_events") == 1
        assert _value(samples, "jobtrail_events_rejected_total", reason="event_conflict") == 1
        assert not any("organization" in dict(k[1]) for k in samples)
        http = [k for k in samples if k[0] == "jobtrail_http_request_duration_seconds_count"]
        routes = {dict(k[1])["route"] for k in http}
        assert "/organizations/{organizationId}/jobs/v1/events" in routes  # templates


def test_organization_label_only_when_asked(
    db_url: str, engine: Engine, tmp_path: Path, org: Org
) -> None:
    srv = start_server(db_url, tmp_path / "server.log", JOBTRAIL_METRICS_ORG_LABEL="true")
    try:
        api = Api(srv, org)
        api.ingest(simple_run(ago(hours=1), "one", job="labelled"))
        api.close()
        samples = _samples(srv)
        labels = {"organization": org.id, "job": "labelled", "environment": "prod"}
        assert _value(samples, "jobtrail_runs_finished_total", **labels, state="SUCCEEDED") == 1
        assert _value(samples, "jobtrail_runs_in_progress", **labels) == 0
        channel = f"hook-{uuid.uuid4().hex[:6]}"
        _deliveries(engine, org, {channel: ["delivered"]})
        labels = {"organization": org.id, "channel": channel, "status": "delivered"}
        assert _value(_samples(srv), "jobtrail_alert_deliveries_total", **labels) == 1
    finally:
        srv.stop()


def _deliveries(engine: Engine, org: Org, outcomes: dict[str, list[str]]) -> None:
    """One alert per position of the lists, delivered to each channel; each delivery tried once
    and ending as its channel's list says (delivered, failed, or retry: pending again)."""
    now = accounts.now_micros()
    run = uuid.uuid4().hex[:8]
    count = max(len(v) for v in outcomes.values())
    alerts = [
        NewAlert(Condition(org.id, "job", "prod", "failed", f"{run}-{i}"), "failed", None,
                 tuple(outcomes), ())
        for i in range(count)
    ]  # fmt: skip
    raise_alerts(engine, alerts, now)
    due, _ = claim_due(engine, now, lease=60_000_000, limit=10_000)
    for d in due:
        if d.channel not in outcomes:  # another test's delivery: its claim lapses
            continue
        outcome = outcomes[d.channel][int(d.alert_key.rsplit("-", 1)[1])]
        error = None if outcome == "delivered" else "HTTP 500"
        finish(engine, d, error, now + 60_000_000 if outcome == "retry" else None)


def test_alert_deliveries_by_channel(workers: Server, engine: Engine, org: Org) -> None:
    hook, mail = f"hook-{uuid.uuid4().hex[:6]}", f"mail-{uuid.uuid4().hex[:6]}"
    _deliveries(
        engine,
        org,
        {hook: ["delivered", "delivered", "failed"], mail: ["delivered", "retry", "retry"]},
    )
    for samples in (_samples(workers), _samples(workers)):
        total = "jobtrail_alert_deliveries_total"
        assert _value(samples, total, channel=hook, status="delivered") == 2
        assert _value(samples, total, channel=hook, status="failed") == 1
        assert _value(samples, total, channel=mail, status="delivered") == 1
        assert _value(samples, total, channel=mail, status="failed") is None
        assert _value(samples, "jobtrail_alert_deliveries_pending", channel=mail) == 2
        assert _value(samples, "jobtrail_alert_deliveries_pending", channel=hook) is None
        assert _value(samples, "jobtrail_alert_delivery_attempts_total", channel=hook) == 3
        assert _value(samples, "jobtrail_alert_delivery_attempts_total", channel=mail) == 3
