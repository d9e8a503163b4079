"""The organization page: its id with a copy button, and key management for an admin key."""

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.browser import sign_in
from tests.support import Org, Server


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Any]:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server.url}/console#/settings")
    yield page
    context.close()
    assert errors == []


def _sign_in(page: Any, org: Org, role: str) -> None:
    key = org.keys[role]
    sign_in(page, org.id, key.key.key_id, key.secret)


def _keys_api(make_api: Any, org: Org) -> bool:
    return bool(make_api(org, "admin").get("/keys/v1/keys").status_code == 200)


def test_organization_id_is_shown_and_copied(tab: Any, org: Org) -> None:
    _sign_in(tab, org, "read")
    tab.locator("#org-id").filter(has_text=org.id).wait_for()
    tab.click("#copy-org")
    tab.locator("#copy-org").filter(has_text="Copied").wait_for()
    assert tab.evaluate("navigator.clipboard.readText()") == org.id
    # A read key may not manage keys: the page says so instead of showing the form.
    tab.locator("#keys-note").filter(has_text="key").wait_for()
    assert tab.locator("#keys-admin").is_hidden()


def test_admin_creates_and_revokes_a_key(tab: Any, org: Org, make_api: Any, server: Server) -> None:
    if not _keys_api(make_api, org):
        pytest.skip("the key-management API (h8-roles) is not on this branch")
    _sign_in(tab, org, "admin")
    rows = tab.locator("#keys tbody tr")
    rows.first.wait_for()
    before = rows.count()
    tab.fill("#new-key input[name=name]", "lineage")
    tab.select_option("#new-key select[name=role]", "ingest")
    tab.click("#new-key button[type=submit]")
    tab.locator("#new-secret").wait_for()
    key_id = tab.locator("#new-key-id").inner_text()
    key = tab.locator("#new-key-secret").inner_text()
    assert key
    rows.nth(before).wait_for()
    minted = httpx.get(
        f"{server.url}/api/msc/v1/organizations/{org.id}/credentials/v3/token",
        headers={"X-API-Key-ID": key_id, "X-API-Key": key},
    )
    assert minted.status_code == 200  # the secret shown once works
    ol = tab.locator("#new-ol-key")
    if ol.is_visible():
        assert ol.inner_text().startswith(key_id)
    row = tab.locator(f'#keys tbody tr[data-key-id="{key_id}"]')
    row.locator("button", has_text="Revoke").click()
    row.locator("button", has_text="Keep").click()  # a change of mind changes nothing
    assert _keys_api(make_api, org)
    row.locator("button", has_text="Revoke").click()
    row.locator("button", has_text="Yes, revoke").click()
    tab.locator(f'#keys tbody tr[data-key-id="{key_id}"]').filter(has_text="revoked").wait_for()


def test_without_the_key_api_an_admin_gets_a_note(tab: Any, org: Org, make_api: Any) -> None:
    if _keys_api(make_api, org):
        pytest.skip("this server offers key management")
    _sign_in(tab, org, "admin")
    tab.locator("#org-id").filter(has_text=org.id).wait_for()
    tab.locator("#keys-note").filter(has_text="does not offer key management").wait_for()
    assert tab.locator("#keys-admin").is_hidden()
