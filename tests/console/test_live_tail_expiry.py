"""The console's live tail outlives its tokens: on a server whose tokens last 2 s, each followed
response closes at its token's expiry while the step runs, and the page goes on from the bytes
it has, with a fresh token. Every line shows once; the tail ends with the step."""

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser import signed_in
from tests.support import Api, Org, Server, ago, event, start_server

JOB = "tail-expiry"


@pytest.fixture(scope="module")
def short_tokens(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    log = tmp_path_factory.mktemp("short-tokens") / "server.log"
    srv = start_server(db_url, log, JOBTRAIL_TOKEN_TTL="PT2S")
    yield srv
    srv.stop()


@pytest.fixture
def page(browser: Any, short_tokens: Server, org: Org) -> Iterator[Any]:
    read = org.keys["read"]
    with signed_in(browser, short_tokens.url, org.id, read.key.key_id, read.secret) as tab:
        yield tab


def _line(seq: int, text: str) -> dict[str, Any]:
    return event("log", ago(seconds=1), JOB, job=JOB, step="s", stream="stdout", data=text, seq=seq)


def test_the_live_tail_goes_on_across_token_expiries(page: Any, api: Api) -> None:
    api.ingest([event("step", ago(seconds=5), JOB, job=JOB, step="s", state="RUNNING")])
    api.ingest([_line(0, "line 0\n")])
    (run,) = api.runs("PT-1H", "PT0S", jobName=JOB).json()
    tails: list[str] = []
    page.on("request", lambda r: tails.append(r.url) if "follow=true" in r.url else None)
    page.goto(page.url.split("#")[0] + f"#/runs/{run['runId']}")
    page.locator('#dag .step[data-step="s"]').click()
    page.locator("#stdout-follow").wait_for()
    stdout = page.locator("#stdout")
    n, deadline = 1, time.monotonic() + 90
    while len([u for u in tails if "/logs/stdout" in u]) < 3 and time.monotonic() < deadline:
        api.ingest([_line(n, f"line {n}\n")])
        stdout.filter(has_text=f"line {n}").wait_for()
        n += 1
    assert len([u for u in tails if "/logs/stdout" in u]) >= 3  # reopened at least twice
    api.ingest(
        [
            _line(n, "last\n"),
            event("step", ago(seconds=0), JOB, job=JOB, step="s", state="SUCCEEDED"),
        ]
    )
    page.locator("#stdout-follow").wait_for(state="hidden", timeout=20_000)
    text = stdout.inner_text()
    for i in range(n):
        assert text.count(f"line {i}\n") == 1, (i, text)
    assert text.count("last") == 1
