"""OpenAPI, Swagger UI served locally, health probes, and responses matching documented shapes."""

from typing import Any

import httpx
from pydantic import TypeAdapter

from jobtrail.wire.shapes import RunDetail, RunSummary, StepDetail, StepSummary, TokenResponse
from tests.support import BASE, Api, Server, ago, simple_run


def test_openapi_documents_every_endpoint_and_bearer_auth(server: Server) -> None:
    doc = httpx.get(f"{server.url}{BASE}/openapi.json").json()
    paths = doc["paths"]
    org = "/api/msc/v1/organizations/{organizationId}"
    for path in [
        f"{org}/credentials/v3/token",
        f"{org}/credentials/v2/token",
        f"{org}/jobs/v1/runs",
        f"{org}/jobs/v1/runs/{{runId}}",
        f"{org}/jobs/v1/runs/{{runId}}/steps",
        f"{org}/jobs/v1/runs/{{runId}}/steps/{{stepName}}",
        f"{org}/jobs/v1/runs/{{runId}}/steps/{{stepName}}/logs/{{stream}}",
        f"{org}/jobs/v1/events",
        f"{org}/insights/v1/jobs",
        f"{org}/insights/v1/jobs/{{jobId}}",
    ]:
        assert path in paths, path
        for op in paths[path].values():
            assert {"400", "401", "404"} <= set(op["responses"]), path
    schemes = doc["components"]["securitySchemes"]
    assert schemes["HTTPBearer"]["scheme"] == "bearer"
    assert "EventBatch" in doc["components"]["schemas"]
    assert "ErrorBody" in doc["components"]["schemas"]
    runs_op = paths[f"{org}/jobs/v1/runs"]["get"]
    assert {"HTTPBearer": []} in runs_op["security"]


def test_swagger_ui_is_served_without_a_cdn(server: Server) -> None:
    page = httpx.get(f"{server.url}{BASE}/docs")
    assert page.status_code == 200
    assert "/api/msc/v1/openapi.json" in page.text
    assert "cdn" not in page.text.lower()
    js = httpx.get(f"{server.url}{BASE}/docs/static/swagger-ui-bundle.js")
    assert js.status_code == 200
    assert len(js.content) > 100_000
    index = httpx.get(f"{server.url}{BASE}/docs/index.html", follow_redirects=True)
    assert index.status_code == 200


def test_health_probes(server: Server) -> None:
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready"}


def test_responses_match_the_documented_models(api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "shape", fail=True))
    runs = _strict(list[RunSummary], api.runs().json())
    run_id = runs[0]["runId"]
    _strict(RunDetail, api.get(f"/jobs/v1/runs/{run_id}").json())
    _strict(list[StepSummary], api.get(f"/jobs/v1/runs/{run_id}/steps").json())
    _strict(StepDetail, api.get(f"/jobs/v1/runs/{run_id}/steps/run-dbt").json())
    key = api.org.keys["read"]
    token = api.http.get(
        f"{api.prefix}/credentials/v3/token",
        headers={"X-API-Key-ID": key.key.key_id, "X-API-Key": key.secret},
    )
    _strict(TokenResponse, token.json())


def _strict(shape: Any, body: Any) -> Any:
    """Validate a response against a wire shape, refusing keys the shape does not name."""
    TypeAdapter(shape).validate_python(body)
    item = shape.__args__[0] if isinstance(body, list) else shape
    for one in body if isinstance(body, list) else [body]:
        assert set(one) <= item.__required_keys__ | item.__optional_keys__
    return body
