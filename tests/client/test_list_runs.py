"""`list_runs` over a whole week against a real server whose window cap is scaled down (500
instead of 10,000, the data by the same factor): every run once with its newest state, as the
store holds it, however the windows were split."""

import random
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select

from jobtrail.store.schema import runs as runs_table
from tests.client.conftest import CAP, client_for
from tests.support import Api, Org, Server, ago, event, make_org

WEEK_EVENTS = 2_000  # 40,000 at the real cap of 10,000, scaled by 500 / 10,000
BURST_EVENTS = 3 * CAP  # a 6-hour burst, far over the cap


def _week(now: datetime) -> list[dict[str, object]]:
    """Runs spread over the week, then a burst; some end, some fail, some are still running."""
    rnd = random.Random(3)
    events: list[dict[str, object]] = []
    spread = WEEK_EVENTS // 3
    for i in range(spread):
        at = now - timedelta(days=6, hours=23) + timedelta(seconds=i * 6.9 * 86400 / spread)
        events += _run(f"w{i}", at, rnd)
    burst_start = now - timedelta(days=2, hours=8)
    for i in range(BURST_EVENTS // 3):
        events += _run(
            f"b{i}", burst_start + timedelta(seconds=i * 6 * 3600 / (BURST_EVENTS // 3)), rnd
        )
    return events


def _run(key: str, at: datetime, rnd: random.Random) -> list[dict[str, object]]:
    job = rnd.choice(["webmodel", "orders"])
    s = timedelta(seconds=1)
    out = [
        event("run", at, key, job=job, state="RUNNING"),
        event(
            "step", at + s, key, job=job, step={"name": "a", "dependencies": []}, state="RUNNING"
        ),
    ]
    end = rnd.choice(["SUCCEEDED", "FAILED", None])
    if end is not None:
        out.append(event("run", at + 2 * s, key, job=job, state=end))
    else:
        out.append(event("step", at + 2 * s, key, job=job, step="a", state="RUNNING", attempt=2))
    return out


@pytest.fixture(scope="module")
def week(capped: Server, engine: Engine) -> Org:
    org = make_org(engine)
    api = Api(capped, org)
    events = _week(ago(seconds=0))
    for start in range(0, len(events), 5000):
        api.ingest(events[start : start + 5000])
    api.close()
    return org


def _stored(engine: Engine, org_id: str) -> dict[str, str]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(runs_table.c.run_id, runs_table.c.state).where(runs_table.c.org_id == org_id)
        )
        return {r.run_id: r.state for r in rows}


def test_a_week_with_a_burst_lists_every_run_once_with_its_newest_state(
    capped: Server, week: Org, engine: Engine
) -> None:
    stored = _stored(engine, week.id)
    with client_for(capped.url, week) as client:
        runs = client.list_runs("P-7D", "PT0S")
        print(f"\nlist_runs(P-7D, PT0S): {len(runs)} runs in {client.requests} requests")
    assert len(runs) == len({r["runId"] for r in runs})
    assert {r["runId"]: r["state"] for r in runs} == stored
    assert client.requests > 3  # two 96-hour windows and more: the burst was split again
    starts = [r["startTime"] for r in runs]
    assert starts == sorted(starts, reverse=True)


def test_the_iterator_streams_the_same_runs(capped: Server, week: Org, engine: Engine) -> None:
    with client_for(capped.url, week) as client:
        streamed = [r["runId"] for r in client.iter_runs(timedelta(days=-7), timedelta(0))]
    assert sorted(streamed) == sorted(_stored(engine, week.id))


def test_filters_pass_through(capped: Server, week: Org, engine: Engine) -> None:
    with client_for(capped.url, week) as client:
        failed = client.list_runs("P-7D", "PT0S", job="orders", state="FAILED")
    assert failed
    assert {(r["jobName"], r["state"]) for r in failed} == {("orders", "FAILED")}


def test_tokens_expiring_mid_listing_are_reminted(
    capped: Server, week: Org, engine: Engine
) -> None:
    """The client's clock runs ahead a second at every look (no sleeping): its 2-second tokens
    go stale between windows and are minted again before the server would refuse them."""
    ticks = iter(range(10_000))
    start = ago(seconds=0)

    def clock() -> datetime:
        return start + timedelta(seconds=next(ticks))

    with client_for(capped.url, week, clock=clock) as client:
        runs = client.list_runs("P-7D", "PT0S")
    assert {r["runId"]: r["state"] for r in runs} == _stored(engine, week.id)
    assert client.core.mints > 2
