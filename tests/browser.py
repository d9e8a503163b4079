"""Headless Debian Chromium for browser tests, driven by Playwright (no browser download)."""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def sign_in(page: Any, org_id: str, key_id: str, key: str) -> None:
    """Fill the console's sign-in form and submit it."""
    page.fill("input[name=org]", org_id)
    page.fill("input[name=keyId]", key_id)
    page.fill("input[name=key]", key)
    page.click("#sign-in-form button[type=submit]")


@contextmanager
def signed_in(browser: Any, server_url: str, org_id: str, key_id: str, key: str) -> Iterator[Any]:
    """A console tab signed in with the key, at the overview; the test fails on a page error."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{server_url}/console")
    sign_in(tab, org_id, key_id, key)
    tab.locator("#overview").wait_for()
    yield tab
    context.close()
    assert errors == []


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (/usr/bin/chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=str(CHROMIUM), args=FLAGS)
        yield instance
        instance.close()
