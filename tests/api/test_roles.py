"""The role matrix (SPEC §3.1, least privilege): every operation of the API, with no token and
with each role → the exact status. The rows are checked against the server's own OpenAPI
document, so a new endpoint without a row here fails, and so do documented roles that drift."""

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from jobtrail.store import accounts
from jobtrail.wire import paths
from tests.conftest import MakeApi
from tests.support import BASE, Api, Org, Server, ago, simple_run

READERS = ("read", "admin")
WRITERS = ("ingest", "admin")
ADMINS = ("admin",)
EVERYONE = ("read", "ingest", "admin")
PUBLIC = "public"  # no token needed
V3_KEY, V2_KEY = "v3 key", "v2 key"  # token exchanges: the key's own kind, any role
STATIC_WRITERS = "static ingest or admin key"  # OpenLineage: `<keyId>.<secret>` as the bearer

# (method, path) → who may: the roles admitted with a bearer token, PUBLIC, or a key kind.
MATRIX: dict[tuple[str, str], tuple[str, ...] | str] = {
    ("GET", BASE + paths.TOKEN_V3): V3_KEY,
    ("GET", BASE + paths.TOKEN_V2): V2_KEY,
    ("GET", BASE + paths.RUNS): READERS,
    ("GET", BASE + paths.RUN): READERS,
    ("GET", BASE + paths.STEPS): READERS,
    ("GET", BASE + paths.STEP): READERS,
    ("GET", BASE + paths.LOGS): READERS,
    ("POST", BASE + paths.EVENTS): WRITERS,
    ("GET", BASE + paths.INSIGHT_JOBS): READERS,
    ("GET", BASE + paths.INSIGHT_JOB): READERS,
    ("GET", BASE + paths.ORG): EVERYONE,
    ("GET", BASE + paths.KEYS): ADMINS,
    ("POST", BASE + paths.KEYS): ADMINS,
    ("DELETE", BASE + paths.KEY): ADMINS,
    ("PUT", BASE + paths.DEFINITIONS): WRITERS,
    ("GET", BASE + paths.DEFINITIONS): READERS,
    ("GET", BASE + paths.ALERTS): READERS,
    ("POST", paths.LINEAGE): STATIC_WRITERS,
    ("GET", paths.HEALTHZ): PUBLIC,
    ("GET", paths.READYZ): PUBLIC,
}
SUCCESS = {"GET": 200, "POST": 200, "PUT": 200, "DELETE": 204}
CREATED = {("POST", BASE + paths.KEYS): 201}
BODIES: dict[str, Any] = {
    BASE + paths.EVENTS: {"events": []},
    BASE + paths.KEYS: {"role": "read"},
    BASE + paths.DEFINITIONS: {"definitions": [{"jobName": "matrix", "environment": "prod"}]},
}
QUERIES = {BASE + paths.RUNS: {"from": "PT-1H", "to": "PT0S"}}
COLUMNS = ("no token", *EVERYONE)


def _operations(server: Server) -> dict[tuple[str, str], dict[str, Any]]:
    doc = httpx.get(server.url + paths.OPENAPI).json()
    return {
        (method.upper(), path): op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    }


def test_every_operation_has_a_row_and_documents_its_roles(server: Server) -> None:
    operations = _operations(server)
    assert sorted(operations) == sorted(MATRIX)
    for row, who in MATRIX.items():
        documented = operations[row].get("x-jobtrail-roles")
        assert documented == (list(who) if isinstance(who, tuple) else None), row
        if isinstance(who, tuple):
            roles = " or ".join(f"`{r}`" for r in who)
            assert f"Needs a token with role {roles}." in operations[row]["description"], row


def _expected(row: tuple[str, str], who: tuple[str, ...], column: str) -> int:
    if column == "no token":
        return 401
    if column not in who:
        return 403
    return CREATED.get(row, SUCCESS[row[0]])


@pytest.fixture
def filled(engine: Engine, org: Org, api: Api) -> dict[str, str]:
    """Path parameters that name real things of `org`: a run with its steps."""
    api.ingest(simple_run(ago(minutes=30), "matrix", fail=True))
    (run,) = api.runs("PT-1H", "PT0S").json()
    return {
        "organizationId": org.id,
        "runId": run["runId"],
        "stepName": "run-dbt",
        "jobId": run["jobId"],
    }


@pytest.mark.parametrize(
    "row", [r for r, who in MATRIX.items() if isinstance(who, tuple)], ids=" ".join
)
def test_bearer_operation_admits_exactly_its_roles(
    row: tuple[str, str], engine: Engine, org: Org, make_api: MakeApi, filled: dict[str, str]
) -> None:
    method, template = row
    who = MATRIX[row]
    assert isinstance(who, tuple)
    clients = {role: make_api(org, role) for role in EVERYONE}
    got: dict[str, int] = {}
    for column in COLUMNS:
        values = {**filled, "stream": "stdout"}
        values["keyId"] = accounts.create_key(engine, org.id, "read").key.key_id
        headers = (
            {} if column == "no token" else {"Authorization": f"Bearer {clients[column].token}"}
        )
        resp = clients["admin"].http.request(
            method,
            template.format(**values),
            headers=headers,
            params=QUERIES.get(template),
            json=BODIES.get(template),
        )
        got[column] = resp.status_code
        if resp.status_code == 403:
            body = resp.json()
            assert body["error"] == "forbidden"
            assert f"role `{column}` may not" in body["message"]
    assert got == {c: _expected(row, who, c) for c in COLUMNS}


def test_public_operations_need_no_token(server: Server) -> None:
    for (method, path), who in MATRIX.items():
        if who == PUBLIC:
            assert httpx.request(method, server.url + path).status_code == 200, path


def _exchange(server: Server, org: Org, kind: str, key: accounts.NewKey) -> httpx.Response:
    headers = {"X-API-Key": key.secret}
    if kind == "v3":
        headers["X-API-Key-ID"] = key.key.key_id
    template = paths.TOKEN_V3 if kind == "v3" else paths.TOKEN_V2
    url = server.url + paths.fill(template, organizationId=org.id)
    return httpx.get(url, headers=headers)


def test_each_key_kind_only_at_its_own_token_endpoint(
    server: Server, engine: Engine, org: Org
) -> None:
    """Every role's v3 key at v3 and v2 key at v2 → 200; each at the other endpoint → 401
    saying where it belongs."""
    legacy = {role: accounts.create_key(engine, org.id, role, v2=True) for role in EVERYONE}
    got: dict[tuple[str, str, str], int] = {}
    for role in EVERYONE:
        for kind, key in (("v3", org.keys[role]), ("v2", legacy[role])):
            for endpoint in ("v3", "v2"):
                resp = _exchange(server, org, endpoint, key)
                got[(role, kind, endpoint)] = resp.status_code
                if endpoint != kind:
                    assert resp.json()["error"] == "unauthorized"
                    assert f"/credentials/{kind}/token" in resp.json()["message"]
    assert got == {k: 200 if k[1] == k[2] else 401 for k in got}
    assert set(MATRIX.values()) >= {V3_KEY, V2_KEY}


def test_a_wrong_secret_never_learns_the_key_kind(server: Server, engine: Engine, org: Org) -> None:
    legacy = accounts.create_key(engine, org.id, "read", v2=True)
    forged = accounts.NewKey(legacy.key, "not-the-secret")
    resp = _exchange(server, org, "v3", forged)
    assert resp.status_code == 401
    assert "v2" not in resp.json()["message"]


def test_openlineage_takes_a_static_key_of_a_writing_role(server: Server, org: Org) -> None:
    """No key → 401; a read key → 403 naming the role; ingest and admin keys → 200."""
    event = {
        "eventType": "START",
        "eventTime": ago(minutes=1).isoformat(),
        "run": {"runId": "0b5e3c6c-4a8e-4f6e-9d1c-5b0f7e2a9c11"},
        "job": {"namespace": "matrix", "name": "static-key"},
        "producer": "https://example.test/producer",
        "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
    }
    got: dict[str, int] = {}
    for column in COLUMNS:
        headers = {}
        if column != "no token":
            new = org.keys[column]
            headers["Authorization"] = f"Bearer {new.openlineage_credential}"
        resp = httpx.post(server.url + paths.LINEAGE, json=event, headers=headers)
        got[column] = resp.status_code
        if resp.status_code == 403:
            assert f"role `{column}` may not" in resp.json()["message"]
    assert got == {"no token": 401, "read": 403, "ingest": 200, "admin": 200}
    assert MATRIX[("POST", paths.LINEAGE)] == STATIC_WRITERS
