"""The OpenAPI document is exactly as strict as the server: walked for each rule it states."""

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from jobtrail.wire import paths
from tests.support import BASE, Api, Server, ago, event


@pytest.fixture(scope="module")
def doc(server: Server) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(server.url + paths.OPENAPI).json()
    return body


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, op in methods.items():
            yield path, method, op


def _walk(node: object) -> Iterator[object]:
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def test_422_appears_nowhere(doc: dict[str, Any]) -> None:
    for path, method, op in _operations(doc):
        assert "422" not in op["responses"], (method, path)
    assert not any(isinstance(n, str) and "ValidationError" in n for n in _walk(doc))


def test_window_parameters_are_required(doc: dict[str, Any]) -> None:
    params = {p["name"]: p for p in doc["paths"][BASE + paths.RUNS]["get"]["parameters"]}
    assert params["from"]["required"] is True
    assert params["to"]["required"] is True
    assert not params["jobName"].get("required", False)


def test_event_timestamp_has_the_pattern_the_server_checks(doc: dict[str, Any], api: Api) -> None:
    schema = doc["components"]["schemas"]["EventIn"]["properties"]["timestamp"]
    pattern = re.compile(schema["pattern"])
    for text in ["2026-11-29T10:00:00Z", "2026-11-29t10:00:00.123z", "2026-11-29T10:00:00+05:30"]:
        assert pattern.match(text), text
    for text in ["2026-11-29T10:00:00", "2026-11-29 10:00:00Z", "yesterday"]:
        assert not pattern.match(text), text
        bad = {**event("run", ago(minutes=1), "pattern", state="RUNNING"), "timestamp": text}
        resp = api.post(api.at(paths.EVENTS), json={"events": [bad]})
        assert resp.status_code == 400, text


def test_follow_is_documented_to_exclude_limit(doc: dict[str, Any]) -> None:
    op = doc["paths"][BASE + paths.LOGS]["get"]
    follow = next(p for p in op["parameters"] if p["name"] == "follow")
    assert "`limit`" in follow["description"]
    assert "`follow` excludes `limit`" in op["description"]


def test_v3_token_needs_both_headers_in_one_requirement(doc: dict[str, Any]) -> None:
    v3 = doc["paths"][BASE + paths.TOKEN_V3]["get"]
    assert v3["security"] == [{"ApiKeyId": [], "ApiKey": []}]
    for _path, _method, op in _operations(doc):
        assert len(op.get("security", [])) <= 1  # never alternatives the server does not take


def test_readyz_documents_503(doc: dict[str, Any]) -> None:
    responses = doc["paths"][paths.READYZ]["get"]["responses"]
    assert responses["503"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"
    }


def test_ingestion_documents_its_error_statuses(doc: dict[str, Any]) -> None:
    responses = doc["paths"][BASE + paths.EVENTS]["post"]["responses"]
    assert {"400", "401", "403", "404", "409", "413", "415"} <= set(responses)
    assert "charset" in responses["415"]["description"]
