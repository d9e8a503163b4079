"""The listing's rule, checked against a model: the runs that own at least one of the newest `cap`
state changes in [start, end), newest first by (time, event id). The store reads them by one of
two plans on SQLite (from the kept events; or, when nothing lies after the window, from the
runs active since the oldest kept one), so windows with and without later events are drawn."""

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from jobtrail.domain.batches import parse_batch
from jobtrail.domain.timefmt import MICROS, to_micros
from jobtrail.store.ingest import ingest
from jobtrail.store.queries import window_runs
from tests.support import event, make_org

STATES = ["RUNNING", "SUCCEEDED", "FAILED"]
# (run, second, state): several events of a run, and ties in time across runs.
CHANGES = st.lists(
    st.tuples(st.integers(0, 5), st.integers(0, 40), st.sampled_from(STATES)),
    min_size=1,
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    changes=CHANGES,
    bounds=st.tuples(st.integers(0, 41), st.integers(1, 42)).filter(lambda b: b[0] < b[1]),
    cap=st.integers(1, 12),
    split=st.integers(0, 30),
)
def test_window_runs_match_the_rule(
    engine: Engine,
    changes: list[tuple[int, int, str]],
    bounds: tuple[int, int],
    cap: int,
    split: int,
) -> None:
    org = make_org(engine)
    base = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    body = [
        event("run", base + timedelta(seconds=sec), f"r{run}", state=state, eventId=f"e{i:03d}")
        for i, (run, sec, state) in enumerate(changes)
    ]
    for part in (body[:split], body[split:]):  # two batches: runs merged across them too
        if part:
            ingest(engine, org.id, parse_batch({"events": part}), 1 << 24)
    start, end = (to_micros(base) + b * MICROS for b in bounds)

    inside = sorted(
        ((to_micros(base) + sec * MICROS, f"e{i:03d}", f"r{run}")
         for i, (run, sec, _) in enumerate(changes)
         if start <= to_micros(base) + sec * MICROS < end),
        reverse=True,
    )  # fmt: skip
    kept = inside[:cap]
    result = window_runs(engine, org.id, start, end, cap)

    assert {row[4] for row in result.runs} == {run for _, _, run in kept}
    assert result.truncated == (len(inside) > cap)
    assert result.oldest_kept_ts == (kept[-1][0] if len(inside) > cap else None)
