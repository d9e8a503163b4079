"""Without JOBTRAIL_SECRET the signing secret is generated once and kept in the store, so every
server process of one store accepts the tokens of the others."""

from pathlib import Path

from sqlalchemy import Engine

from tests.support import Api, make_org, start_server


def test_two_servers_accept_each_others_tokens(db_url: str, engine: Engine, tmp_path: Path) -> None:
    org = make_org(engine)
    first = start_server(db_url, tmp_path / "a.log", JOBTRAIL_SECRET="")
    second = start_server(db_url, tmp_path / "b.log", JOBTRAIL_SECRET="")
    try:
        api = Api(first, org, "read")
        resp = api.http.get(
            f"{second.url}{api.prefix}/jobs/v1/runs",
            params={"from": "PT-1H", "to": "PT0S"},
            headers={"Authorization": f"Bearer {api.token}"},
        )
        api.close()
        assert resp.status_code == 200, resp.text
    finally:
        first.stop()
        second.stop()
