"""Credentials → token (SPEC §3.1): v3, v2, errors, expiry, revocation, tenant isolation."""

import time
import uuid

import httpx
import jwt
import pytest
from sqlalchemy import Engine

from jobtrail.store import accounts
from jobtrail.wire import paths
from tests.conftest import MakeApi
from tests.support import SECRET, Org, Server


def _v3(server: Server, org_id: str, headers: dict[str, str]) -> httpx.Response:
    url = server.url + paths.fill(paths.TOKEN_V3, organizationId=org_id)
    return httpx.get(url, headers=headers)


def _assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"] == code
    assert isinstance(body["message"], str)
    assert body["message"]


def test_v3_token_with_case_insensitive_headers(server: Server, org: Org) -> None:
    key = org.keys["read"]
    resp = _v3(server, org.id, {"x-api-key-id": key.key.key_id, "X-API-KEY": key.secret})
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"accessToken", "expiresAt"}
    claims = jwt.decode(body["accessToken"], SECRET, algorithms=["HS256"], issuer="jobtrail")
    assert claims["org"] == org.id
    assert claims["role"] == "read"
    assert claims["sub"] == key.key.key_id
    assert 3500 <= claims["exp"] - claims["iat"] <= 3600
    assert body["expiresAt"].endswith("Z")


def test_v2_token_with_key_alone(server: Server, engine: Engine, org: Org) -> None:
    legacy = accounts.create_key(engine, org.id, "read", v2=True)
    url = server.url + paths.fill(paths.TOKEN_V2, organizationId=org.id)
    resp = httpx.get(url, headers={"X-API-Key": legacy.secret})
    assert resp.status_code == 200
    assert resp.json()["accessToken"]
    _assert_error(httpx.get(url, headers={"X-API-Key": "nope"}), 401, "unauthorized")
    _assert_error(httpx.get(url), 401, "unauthorized")


def test_unknown_organization_is_404(server: Server, org: Org) -> None:
    key = org.keys["read"]
    headers = {"X-API-Key-ID": key.key.key_id, "X-API-Key": key.secret}
    _assert_error(_v3(server, str(uuid.uuid4()), headers), 404, "not_found")
    _assert_error(_v3(server, "not-a-uuid", headers), 404, "not_found")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-API-Key-ID": "KEY"},
        {"X-API-Key": "SECRET"},
        {"X-API-Key-ID": "KEY", "X-API-Key": "wrong"},
        {"X-API-Key-ID": "unknown", "X-API-Key": "SECRET"},
        {"X-API-Key-ID": "", "X-API-Key": "SECRET"},
    ],
)
def test_missing_or_wrong_key_is_401(server: Server, org: Org, headers: dict[str, str]) -> None:
    key = org.keys["read"]
    real = {
        k: v.replace("KEY", key.key.key_id).replace("SECRET", key.secret)
        for k, v in headers.items()
    }
    _assert_error(_v3(server, org.id, real), 401, "unauthorized")


def test_key_of_another_org_cannot_mint_here(server: Server, org: Org, outsider: Org) -> None:
    key = outsider.keys["admin"]
    resp = _v3(server, org.id, {"X-API-Key-ID": key.key.key_id, "X-API-Key": key.secret})
    _assert_error(resp, 401, "unauthorized")


def test_expired_key_is_refused(server: Server, engine: Engine, org: Org) -> None:
    old = accounts.create_key(engine, org.id, "read", expires_at=accounts.now_micros() - 1)
    resp = _v3(server, org.id, {"X-API-Key-ID": old.key.key_id, "X-API-Key": old.secret})
    _assert_error(resp, 401, "unauthorized")


def test_revoked_key_fails_and_its_tokens_stop_within_seconds(
    server: Server, engine: Engine, org: Org, make_api: MakeApi
) -> None:
    api = make_api(org, "read")
    assert api.runs().status_code == 200
    accounts.revoke_key(engine, org.keys["read"].key.key_id)
    deadline = time.monotonic() + 5
    status = 200
    while time.monotonic() < deadline and status == 200:
        status = api.runs().status_code
        time.sleep(0.1)
    assert status == 401
    key = org.keys["read"]
    resp = _v3(server, org.id, {"X-API-Key-ID": key.key.key_id, "X-API-Key": key.secret})
    _assert_error(resp, 401, "unauthorized")


def _forged(org: Org, **claims: object) -> str:
    now = int(time.time())
    payload = {
        "iss": "jobtrail",
        "sub": org.keys["admin"].key.key_id,
        "org": org.id,
        "role": "admin",
        "iat": now - 7200,
        "exp": now - 3600,
        **claims,
    }
    return jwt.encode(payload, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("authorization", "why"),
    [
        (None, "absent"),
        ("Bearer", "empty"),
        ("Basic dXNlcjpwYXNz", "wrong scheme"),
        ("Bearer not.a.jwt", "malformed"),
        ("EXPIRED", "expired"),
        ("WRONGSIG", "wrong signature"),
    ],
)
def test_bad_authorization_is_401(
    server: Server, org: Org, authorization: str | None, why: str
) -> None:
    if authorization == "EXPIRED":
        authorization = f"Bearer {_forged(org)}"
    elif authorization == "WRONGSIG":
        now = int(time.time())
        payload = {
            "iss": "jobtrail",
            "sub": "k",
            "org": org.id,
            "role": "admin",
            "iat": now,
            "exp": now + 60,
        }
        authorization = "Bearer " + jwt.encode(
            payload, "another-secret-" + "y" * 40, algorithm="HS256"
        )
    headers = {"Authorization": authorization} if authorization else {}
    url = server.url + paths.fill(paths.RUNS, organizationId=org.id) + "?from=PT-1H&to=PT0S"
    resp = httpx.get(url, headers=headers)
    _assert_error(resp, 401, "unauthorized")
    assert resp.headers["www-authenticate"] == "Bearer", why


def test_token_of_org_a_is_403_on_every_org_b_path(
    make_api: MakeApi, org: Org, outsider: Org
) -> None:
    api = make_api(org, "admin")
    ids = {"organizationId": outsider.id, "runId": "abc", "stepName": "run-dbt"}
    targets = [
        ("GET", paths.fill(paths.RUNS, **ids) + "?from=PT-1H&to=PT0S"),
        ("GET", paths.fill(paths.RUN, **ids)),
        ("GET", paths.fill(paths.STEPS, **ids)),
        ("GET", paths.fill(paths.STEP, **ids)),
        ("GET", paths.fill(paths.LOGS, **ids, stream="stdout")),
        ("POST", paths.fill(paths.EVENTS, **ids)),
    ]
    for method, path in targets:
        resp = api.http.request(
            method, path, headers={"Authorization": f"Bearer {api.token}"}, json={"events": []}
        )
        _assert_error(resp, 403, "forbidden")


def test_read_token_cannot_ingest(make_api: MakeApi, org: Org) -> None:
    api = make_api(org, "read")
    resp = api.post(api.at(paths.EVENTS), json={"events": []})
    _assert_error(resp, 403, "forbidden")
    assert (
        make_api(org, "ingest").post(api.at(paths.EVENTS), json={"events": []}).status_code == 200
    )
    assert make_api(org, "admin").post(api.at(paths.EVENTS), json={"events": []}).status_code == 200
