"""The console's sign-in and Runs list in headless Chromium, against a real server."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser import sign_in
from tests.support import Api, Org, Server, ago, event, simple_run

ARTIFACTS = Path(__file__).parent.parent.parent / "artifacts"


@pytest.fixture
def page(browser: Any, server: Server) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{server.url}/console#/runs")  # a shared link: it survives signing in
    yield tab
    context.close()
    assert errors == []


def _sign_in(page: Any, org: Org, key: str | None = None) -> None:
    read = org.keys["read"]
    sign_in(page, org.id, read.key.key_id, key if key is not None else read.secret)


def test_wrong_credentials_get_a_clear_message(page: Any, org: Org) -> None:
    _sign_in(page, org, key="not-the-key")
    # (wait for the text: the empty message box is "visible" before the answer arrives)
    page.locator("#sign-in-error").filter(has_text="Sign-in failed").wait_for()
    assert page.locator("#runs-page").is_hidden()


def test_jobs_page_lists_runs_with_filters_and_counts(page: Any, api: Api, org: Org) -> None:
    api.ingest(
        simple_run(ago(hours=3), "a", job="webmodel", env="prod")
        + simple_run(ago(hours=2), "b", job="webmodel", env="prod", fail=True)
        + simple_run(ago(hours=1), "c", job="orders", env="qa")
    )
    _sign_in(page, org)
    rows = page.locator("#runs tbody tr")
    rows.first.wait_for()
    assert rows.count() == 3
    assert rows.first.locator("td").first.inner_text() == "orders"  # newest first
    assert page.locator("#counts li[data-state=FAILED]").inner_text().endswith("1")
    assert "session" not in page.url
    assert org.keys["read"].secret not in page.url
    page.select_option("#filters select[name=state]", "FAILED")
    rows.nth(1).wait_for(state="detached")  # (no wait_for_function: the page's CSP forbids eval)
    assert rows.count() == 1
    assert "state=FAILED" in page.url  # the view can be shared
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-runs.png"))
    page.click("#sign-out")
    assert page.locator("#sign-in").is_visible()
    assert page.evaluate("sessionStorage.length") == 0


def test_window_rules_are_explained_inline(page: Any, org: Org) -> None:
    _sign_in(page, org)
    page.locator("#runs").wait_for()
    page.select_option("#filters select[name=window]", "custom")
    page.fill("input[name=from]", "2020-01-01T00:00:00")
    page.fill("input[name=to]", "2020-01-02T00:00:00")
    page.click("#filters button[type=submit]")
    page.locator("#window-error").filter(has_text="7 days").wait_for()


def test_user_data_is_shown_as_text(page: Any, api: Api, org: Org) -> None:
    hostile = "<img src=x onerror=window.__xss=1><script>window.__xss=2</script>"
    api.ingest(simple_run(ago(hours=1), "x", job=hostile, env="<b>env</b>"))
    _sign_in(page, org)
    cell = page.locator("#runs tbody tr td").first
    cell.wait_for()
    assert cell.inner_text() == hostile
    assert page.evaluate("window.__xss") is None
    assert page.locator("#runs img").count() == 0


def test_console_pages_carry_a_content_security_policy(server: Server) -> None:
    resp = httpx.get(f"{server.url}/console")
    assert resp.status_code == 200
    csp = resp.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp
    assert httpx.get(f"{server.url}/").headers.get("location") == "/console"


def test_a_trimmed_window_is_split_by_the_console(page: Any, api: Api, org: Org) -> None:
    start = ago(hours=20)
    events = [event("run", start, "early", state="RUNNING")]
    events += [
        event("run", start + timedelta(seconds=10 + i), f"late-{i % 50}", state="RUNNING")
        for i in range(10_000)
    ]
    for chunk in range(0, len(events), 5000):
        api.ingest(events[chunk : chunk + 5000])
    assert api.runs("PT-24H", "PT0S").headers["x-jobtrail-truncated"] == "true"
    _sign_in(page, org)
    page.locator("#window-note").filter(has_text="2 requests").wait_for()
    assert page.locator("#runs tbody tr").count() == 51  # the early run too, each run once
    assert page.locator("#counts li[data-state=RUNNING]").inner_text().endswith("51")


def test_an_expired_token_is_minted_again(page: Any, api: Api, org: Org) -> None:
    api.ingest(simple_run(ago(hours=1), "r"))
    _sign_in(page, org)
    page.locator("#runs tbody tr").first.wait_for()
    page.evaluate(
        "const s = JSON.parse(sessionStorage.getItem('jobtrail.session'));"
        "s.token = 'expired'; s.expiresAt = 0;"
        "sessionStorage.setItem('jobtrail.session', JSON.stringify(s));"
    )
    page.evaluate("document.querySelector('#runs tbody').replaceChildren()")
    page.click("#filters button[type=submit]")
    page.locator("#runs tbody tr").first.wait_for()
    assert (
        page.evaluate("JSON.parse(sessionStorage.getItem('jobtrail.session')).token") != "expired"
    )


def test_auto_refresh_picks_up_new_runs_until_turned_off(
    browser: Any, server: Server, api: Api, org: Org
) -> None:
    """Time is Playwright's fake clock: 30 s pass in an instant, and only when the test says."""
    context = browser.new_context()
    tab = context.new_page()
    tab.clock.install()
    listings: list[str] = []
    tab.on("request", lambda r: listings.append(r.url) if "/jobs/v1/runs?" in r.url else None)
    api.ingest(simple_run(ago(hours=2), "first"))
    tab.goto(f"{server.url}/console#/runs")
    _sign_in(tab, org)
    rows = tab.locator("#runs tbody tr")
    rows.first.wait_for()
    tab.check("input[name=auto]")
    api.ingest(simple_run(ago(hours=1), "second"))
    tab.clock.run_for(31_000)
    rows.nth(1).wait_for()  # appeared without a click
    tab.uncheck("input[name=auto]")
    before = len(listings)
    api.ingest(simple_run(ago(minutes=30), "third"))
    tab.clock.run_for(120_000)  # four periods: nothing may be fetched
    tab.click("#filters button[type=submit]")
    rows.nth(2).wait_for()
    assert len(listings) == before + 1  # only the click's request
    context.close()


def test_a_week_long_window_returns_every_run_once_in_pages(page: Any, api: Api, org: Org) -> None:
    """Longer than the API's 96 hours: the console asks piece by piece and merges by run id.
    (The server answers for the last 7 days, so that is the longest window there is.)"""
    events = []
    for i in range(150):
        start = ago(hours=2 + i * 1.1)
        events += [
            event("run", start, f"w{i}", state="RUNNING"),
            event("run", start + timedelta(minutes=3), f"w{i}", state="SUCCEEDED"),
        ]
    # One run with events on both sides of the pieces' boundary (96 hours ago).
    events += [
        event("run", ago(hours=97), "across", state="RUNNING"),
        event("run", ago(hours=95), "across", state="SUCCEEDED"),
    ]
    api.ingest(events)
    _sign_in(page, org)
    page.locator("#runs tbody tr").first.wait_for()
    # The older piece is held back: the newest piece's runs are listed while it is awaited.
    held: list[Any] = []
    requests: list[str] = []

    def hold_second(route: Any) -> None:
        requests.append(route.request.url)
        if len(requests) == 2:
            held.append(route)
        else:
            route.continue_()

    page.route("**/jobs/v1/runs?*", hold_second)
    page.select_option("#filters select[name=window]", "168h")
    page.locator("#window-note").filter(has_text="Loading: 1 request so far").wait_for()
    newest = page.locator("#runs tbody tr").count()
    assert 0 < newest < 100
    assert len(held) == 1
    held[0].continue_()
    page.locator("#window-note").filter(has_text="2 requests").wait_for()
    assert page.locator("#page-info").inner_text() == "1\u2013100 of 151"
    seen = page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.runId)")
    assert page.locator("#runs tbody tr").first.locator("td").nth(4).inner_text().endswith("ago")
    page.click("#page-next")
    page.locator("#page-info").filter(has_text="101\u2013151").wait_for()
    seen += page.locator("#runs tbody tr").evaluate_all("rows => rows.map(r => r.dataset.runId)")
    assert len(seen) == len(set(seen)) == 151
    assert page.locator("#runs tbody tr td.mono").first.inner_text() in seen  # run ids shown
