"""step.owners on step events (issue 10, Deliver 5: a dbt node's meta.owner): validated with a
clear 400 that stores nothing, and stored per step from the newest step event carrying them."""

from datetime import timedelta
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import Engine, select

from jobtrail.domain import identity
from jobtrail.store.schema import steps
from tests.support import BASE, Api, Server, ago, event


def _step(at_s: int, state: str, owners: Any = None, **kw: Any) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": "model.shop.countries"}
    if owners is not None:
        ref["owners"] = owners
    return event("step", ago(hours=1) + timedelta(seconds=at_s), "own", step=ref, state=state, **kw)


def _stored(engine: Engine, api: Api) -> list[str] | None:
    run_id = identity.run_id(api.org.id, identity.job_id(api.org.id, "prod", "webmodel"), "own")
    stmt = select(steps.c.owners).where(steps.c.org_id == api.org.id, steps.c.run_id == run_id)
    with engine.connect() as conn:
        text = conn.execute(stmt).scalar_one()
    return None if text is None else list(orjson.loads(text))


@pytest.mark.parametrize(
    ("owners", "says"),
    [
        ([1], "Input should be a valid string"),
        (["x" * 201], "at most 200 characters"),
        ([f"o{i}" for i in range(21)], "at most 20 items"),
        ([""], "at least 1 character"),
        ({"owner": "a"}, "valid list"),
        (["a\x00b"], "NUL"),
    ],
)
def test_bad_owners_are_a_clear_400_that_stores_nothing(
    api: Api, engine: Engine, owners: Any, says: str
) -> None:
    resp = api.post("/jobs/v1/events", json={"events": [_step(0, "RUNNING", owners)]})
    assert resp.status_code == 400, resp.text
    body = resp.json()
    assert body["error"] == "invalid_events"
    assert says in body["message"], body["message"]
    assert any(d["field"].startswith("step.owners") for d in body["details"]), body["details"]
    assert api.runs().json() == []


def test_owners_on_a_log_event_are_refused(api: Api) -> None:
    log = event(
        "log", ago(hours=1), "own", step={"name": "s", "owners": ["a"]}, stream="stdout",
        data="x\n", seq=0,
    )  # fmt: skip
    resp = api.post("/jobs/v1/events", json={"events": [log]})
    assert resp.status_code == 400, resp.text
    assert "only step events carry step.owners" in resp.json()["message"]


def test_one_owner_is_a_list_of_one_and_repeats_count_once(api: Api, engine: Engine) -> None:
    api.ingest([_step(0, "RUNNING", "ana@shop.test")])
    assert _stored(engine, api) == ["ana@shop.test"]
    api.ingest([_step(1, "FAILED", ["bo@shop.test", "ana@shop.test", "bo@shop.test"])])
    assert _stored(engine, api) == ["bo@shop.test", "ana@shop.test"]


def test_the_newest_event_carrying_owners_decides_in_any_order(api: Api, engine: Engine) -> None:
    events = [
        _step(0, "RUNNING", ["first@shop.test"]),
        _step(2, "FAILED", ["last@shop.test"]),
        _step(3, "FAILED"),  # newer, but says nothing about owners: they stay
    ]
    for ev in reversed(events):
        api.ingest([ev])
    assert _stored(engine, api) == ["last@shop.test"]


def test_an_event_id_again_with_other_owners_is_a_conflict(api: Api) -> None:
    ev = _step(0, "RUNNING", ["a@shop.test"])
    api.ingest([ev])
    again = {**ev, "step": {**ev["step"], "owners": ["b@shop.test"]}}
    assert api.post("/jobs/v1/events", json={"events": [again]}).status_code == 409
    assert api.ingest([ev])["duplicates"] == 1


def test_the_openapi_document_states_the_owner_rules(server: Server) -> None:
    doc = httpx.get(f"{server.url}{BASE}/openapi.json").json()
    owners = doc["components"]["schemas"]["StepIn"]["properties"]["owners"]
    one, many = owners["anyOf"][0]["anyOf"]
    assert one == {"type": "string", "minLength": 1, "maxLength": 200}
    assert many == {"type": "array", "items": one, "maxItems": 20}
    assert "Only on step events" in owners["anyOf"][0]["description"]
