"""Key management over the API (role admin): create, list, revoke, the organization's name, and
`lastUsedAt` kept by the server."""

from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from jobtrail.store import accounts
from jobtrail.wire import paths
from tests.conftest import MakeApi
from tests.support import Org, Server

FIELDS = {"keyId", "name", "role", "kind", "createdAt", "lastUsedAt", "expiresAt", "revokedAt"}


def _token(server: Server, org_id: str, body: dict[str, Any]) -> httpx.Response:
    headers = {"X-API-Key": body["key"]}
    kind = body["kind"]
    if kind == "v3":
        headers["X-API-Key-ID"] = body["keyId"]
    template = paths.TOKEN_V3 if kind == "v3" else paths.TOKEN_V2
    url = server.url + paths.fill(template, organizationId=org_id)
    return httpx.get(url, headers=headers)


def test_create_list_and_revoke(server: Server, make_api: MakeApi, org: Org) -> None:
    admin = make_api(org, "admin")
    resp = admin.post(
        admin.at(paths.KEYS), json={"role": "read", "name": "console", "expiresIn": "P90D"}
    )
    assert resp.status_code == 201, resp.text
    created = resp.json()
    assert set(created) == FIELDS | {"key"}
    assert created["role"] == "read"
    assert created["kind"] == "v3"
    assert created["name"] == "console"
    assert created["expiresAt"] > created["createdAt"]
    assert created["expiresAt"].endswith("Z")
    assert created["lastUsedAt"] is None
    assert created["revokedAt"] is None
    assert _token(server, org.id, created).status_code == 200

    listed = admin.get(admin.at(paths.KEYS)).json()
    assert isinstance(listed, list)
    assert all(set(k) == FIELDS for k in listed)
    mine = {k["keyId"]: k for k in listed}[created["keyId"]]
    assert mine["lastUsedAt"] is not None
    assert mine["lastUsedAt"].endswith("Z")
    assert {k["keyId"] for k in listed} >= {k.key.key_id for k in org.keys.values()}

    assert (
        admin.http.delete(
            admin.at(paths.KEY, keyId=created["keyId"]), headers=_auth(admin)
        ).status_code
        == 204
    )
    assert _token(server, org.id, created).status_code == 401
    again = {k["keyId"]: k for k in admin.get(admin.at(paths.KEYS)).json()}[created["keyId"]]
    assert again["revokedAt"] is not None
    # Revoking again changes nothing and still answers 204.
    assert (
        admin.http.delete(
            admin.at(paths.KEY, keyId=created["keyId"]), headers=_auth(admin)
        ).status_code
        == 204
    )


def _auth(api: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token}"}


@pytest.mark.parametrize("role", ["read", "ingest", "admin"])
def test_a_key_that_may_ingest_comes_with_its_openlineage_value(
    server: Server, make_api: MakeApi, org: Org, role: str
) -> None:
    admin = make_api(org, "admin")
    body = admin.post(admin.at(paths.KEYS), json={"role": role}).json()
    if role in ("ingest", "admin"):  # both may post OpenLineage events
        assert body["openLineageApiKey"] == f"{body['keyId']}.{body['key']}"
    else:
        assert "openLineageApiKey" not in body
    assert body["expiresAt"] is None
    assert body["name"] == ""


def test_a_v2_key_is_exchanged_at_v2_only(server: Server, make_api: MakeApi, org: Org) -> None:
    admin = make_api(org, "admin")
    body = admin.post(admin.at(paths.KEYS), json={"role": "read", "kind": "v2"}).json()
    assert body["kind"] == "v2"
    assert _token(server, org.id, body).status_code == 200
    assert _token(server, org.id, {**body, "kind": "v3"}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"role": "owner"},
        {"role": "read", "kind": "v4"},
        {"role": "read", "expiresIn": "P1M"},
        {"role": "read", "expiresIn": "PT0S"},
        {"role": "read", "expiresIn": "soon"},
        {"role": "read", "name": "x" * 201},
        {"role": "read", "secret": "mine"},
    ],
)
def test_bad_requests_are_400_and_create_nothing(
    make_api: MakeApi, org: Org, body: dict[str, Any]
) -> None:
    admin = make_api(org, "admin")
    before = admin.get(admin.at(paths.KEYS)).json()
    resp = admin.post(admin.at(paths.KEYS), json=body)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "bad_request"
    assert resp.json()["message"]
    assert admin.get(admin.at(paths.KEYS)).json() == before


def test_keys_of_another_organization_are_out_of_reach(
    server: Server, make_api: MakeApi, org: Org, outsider: Org
) -> None:
    admin = make_api(org, "admin")
    theirs = outsider.keys["read"].key.key_id
    resp = admin.http.delete(admin.at(paths.KEY, keyId=theirs), headers=_auth(admin))
    assert resp.status_code == 404
    assert resp.json()["error"] == "not_found"
    assert (
        _token(
            server,
            outsider.id,
            {"keyId": theirs, "key": outsider.keys["read"].secret, "kind": "v3"},
        ).status_code
        == 200
    )
    assert theirs not in {k["keyId"] for k in admin.get(admin.at(paths.KEYS)).json()}
    unknown = admin.http.delete(admin.at(paths.KEY, keyId="no-such-key"), headers=_auth(admin))
    assert unknown.status_code == 404


@pytest.mark.parametrize("role", ["read", "ingest", "admin"])
def test_any_role_sees_the_organization_name(
    engine: Engine, make_api: MakeApi, org: Org, role: str
) -> None:
    resp = make_api(org, role).get("")
    assert resp.status_code == 200
    assert resp.json() == {"organizationId": org.id, "name": accounts.org_name(engine, org.id)}
