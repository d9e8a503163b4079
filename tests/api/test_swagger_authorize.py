"""The Swagger UI's Authorize button works: paste a token, try a request, get data back."""

from typing import Any

from tests.support import BASE, Api, ago, simple_run


def test_authorize_then_try_it_out(browser: Any, api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "swagger"))
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    page.goto(f"{api.http.base_url}{BASE}/docs")
    page.get_by_role("button", name="Authorize").first.click()
    bearer = page.locator(".auth-container").filter(has_text="HTTPBearer")
    bearer.locator("input").fill(api.token)
    bearer.locator("button.authorize").click()  # its accessible name is "Apply credentials"
    bearer.locator("button.btn-done").click()
    op = page.locator(".opblock").filter(has_text="/jobs/v1/runs").filter(has_text="List job runs")
    op.locator(".opblock-summary").click()
    op.locator("input[placeholder='organizationId']").fill(api.org.id)
    op.locator("input[placeholder='from']").fill("PT-12H")
    op.locator("input[placeholder='to']").fill("PT0S")
    op.get_by_role("button", name="Execute").click()
    status = op.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip().startswith("200")
    assert '"state": "SUCCEEDED"' in op.locator(".live-responses-table pre").first.inner_text()
    page.close()
