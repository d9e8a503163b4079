"""OpenAPI, Swagger UI served locally, health probes, and responses matching documented shapes."""

from typing import Any

import httpx
from pydantic import TypeAdapter

from jobtrail.wire import paths
from jobtrail.wire.shapes import RunDetail, RunSummary, StepDetail, StepSummary, TokenResponse
from tests.support import BASE, Api, Server, ago, simple_run


def test_openapi_documents_every_endpoint_and_bearer_auth(server: Server) -> None:
    doc = httpx.get(server.url + paths.OPENAPI).json()
    documented = doc["paths"]
    outside = {paths.LINEAGE, paths.HEALTHZ, paths.READYZ}  # not under the base path
    assert set(documented) == {BASE + p for p in paths.UNDER_BASE} | outside  # one home: wire
    for path in paths.UNDER_BASE:
        for op in documented[BASE + path].values():
            assert {"400", "401", "404"} <= set(op["responses"]), path
    schemes = doc["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert "EventBatch" in doc["components"]["schemas"]
    assert "ErrorBody" in doc["components"]["schemas"]
    runs_op = documented[BASE + paths.RUNS]["get"]
    assert {"HTTPBearer": []} in runs_op["security"]


def test_swagger_ui_is_served_without_a_cdn(server: Server) -> None:
    page = httpx.get(server.url + paths.DOCS)
    assert page.status_code == 200
    assert paths.OPENAPI in page.text
    assert "cdn" not in page.text.lower()
    js = httpx.get(f"{server.url}{paths.DOCS}/static/swagger-ui-bundle.js")
    assert js.status_code == 200
    assert len(js.content) > 100_000
    index = httpx.get(f"{server.url}{paths.DOCS}/index.html", follow_redirects=True)
    assert index.status_code == 200


def test_health_probes(server: Server) -> None:
    assert httpx.get(server.url + paths.HEALTHZ).json() == {"status": "ok"}
    assert httpx.get(server.url + paths.READYZ).json() == {"status": "ready"}


def test_responses_match_the_documented_models(api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "shape", fail=True))
    runs = _strict(list[RunSummary], api.runs().json())
    run_id = runs[0]["runId"]
    _strict(RunDetail, api.get(api.at(paths.RUN, runId=run_id)).json())
    _strict(list[StepSummary], api.get(api.at(paths.STEPS, runId=run_id)).json())
    _strict(StepDetail, api.get(api.at(paths.STEP, runId=run_id, stepName="run-dbt")).json())
    key = api.org.keys["read"]
    token = api.http.get(
        api.at(paths.TOKEN_V3),
        headers={"X-API-Key-ID": key.key.key_id, "X-API-Key": key.secret},
    )
    _strict(TokenResponse, token.json())


def _strict(shape: Any, body: Any) -> Any:
    """Validate a response against a wire shape; the shapes are closed, so a key the shape does
    not name is refused too."""
    TypeAdapter(shape).validate_python(body)
    return body
