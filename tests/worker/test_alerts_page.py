"""The console's Alerts page (headless Chromium): open alerts with their deliveries, the
message, a link to the run; resolved ones on request."""

from typing import Any

from sqlalchemy import Engine

from tests.browser import sign_in
from tests.support import Api, Server, ago, make_org, simple_run
from tests.worker.conftest import HOOK_SECRET, RunWorker
from tests.worker.receiver import Receiver
from tests.worker.test_alerts_webhook import config


def test_alerts_page(
    browser: Any, alert_server: Server, alert_engine: Engine, run_worker: RunWorker
) -> None:
    receiver = Receiver(HOOK_SECRET)
    org = make_org(alert_engine)
    api = Api(alert_server, org, "admin")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        api.ingest(simple_run(ago(minutes=10), "bad", fail=True))
        done = run_worker(ago(minutes=2), config(receiver.url))
        assert done.returncode == 0, done.stderr
        assert "alerts-evaluate: 1" in done.stdout, done.stdout
        tab.goto(f"{alert_server.url}/console")
        read = org.keys["read"]
        sign_in(tab, org.id, read.key.key_id, read.secret)
        # Signed in once the overview shows (as `signed_in` waits): a click on Alerts before
        # that raced the sign-in on a loaded machine, and the alerts never showed.
        tab.locator("#overview").wait_for()
        tab.get_by_role("link", name="Alerts").click()
        row = tab.locator("#alerts-rows tr")
        # The rows, or the page's error when the alerts could not be read (then named below).
        tab.locator("#alerts-rows tr, #alerts-error:not(:empty)").first.wait_for()
        assert tab.locator("#alerts-error").inner_text() == ""
        assert row.count() == 1
        text = row.first.inner_text()
        assert "webmodel" in text
        assert "failed" in text
        assert "hook: delivered (1 attempt)" in text
        row.first.locator("summary").click()
        assert "failed step: run-dbt" in row.first.locator("pre").inner_text()
        row.first.get_by_role("link", name="webmodel").click()
        tab.locator("#dag svg").wait_for()
        assert errors == []
    finally:
        context.close()
        receiver.close()
        api.close()
