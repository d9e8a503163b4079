"""The console's Run page: the DAG, the timeline, a step's logs (ANSI, live tail), as text."""

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser import sign_in
from tests.support import Api, Org, Server, ago, event, simple_run

ARTIFACTS = Path(__file__).parent.parent.parent / "artifacts"


@pytest.fixture
def page(browser: Any, server: Server, org: Org) -> Any:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.goto(f"{server.url}/console")
    read = org.keys["read"]
    sign_in(tab, org.id, read.key.key_id, read.secret)
    tab.locator("#overview").wait_for()
    yield tab
    context.close()
    assert errors == []


def _open_run(page: Any, api: Api, job: str = "webmodel") -> str:
    runs = [r for r in api.runs("PT-12H", "PT0S").json() if r["jobName"] == job]
    run_id = str(runs[0]["runId"])
    page.goto(page.url.split("#")[0] + f"#/runs/{run_id}")
    page.locator("#dag svg").wait_for()
    return run_id


def test_dag_boxes_colours_and_arrows(page: Any, api: Api) -> None:
    api.ingest(simple_run(ago(hours=1), "dag", fail=True))
    _open_run(page, api)
    boxes = page.locator("#dag .step")
    assert boxes.count() == 2
    assert "SUCCEEDED" in boxes.nth(0).get_attribute("class")
    assert "FAILED" in page.locator('#dag .step[data-step="run-dbt"]').get_attribute("class")
    edges = page.locator("#dag .edge")
    assert edges.count() == 1
    assert edges.first.get_attribute("data-from") == "git-clone-cache"
    assert edges.first.get_attribute("data-to") == "run-dbt"
    left = _x(page.locator('#dag .step[data-step="git-clone-cache"]'))
    right = _x(page.locator('#dag .step[data-step="run-dbt"]'))
    assert left < right  # laid out left to right by dependency
    assert page.locator("#timeline .lane[data-step]").count() == 2
    assert page.locator("#timeline .axis .tick").count() == 5  # a time axis
    # The failed step is selected on open, its output shown without a click.
    page.locator("#stderr").filter(has_text="Database Error").wait_for()
    assert "selected" in page.locator('#step-list tr[data-step="run-dbt"]').get_attribute("class")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-run.png"))
    page.locator('#dag .step[data-step="run-dbt"]').focus()  # keyboard: focus and Enter
    page.keyboard.press("Enter")
    page.locator("#stderr").filter(has_text="Database Error").wait_for()
    assert "Database Error in model x" in page.locator("#step-facts").inner_text()
    page.screenshot(path=str(ARTIFACTS / "console-step-log.png"), full_page=True)


def _x(box: Any) -> float:
    match = re.search(r"translate\(([-\d.]+)", box.get_attribute("transform"))
    assert match
    return float(match[1])


def test_logs_show_ansi_colours_and_html_as_text(page: Any, api: Api) -> None:
    t = ago(minutes=10)
    step = {"name": "s"}
    hostile = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>\n"
    api.ingest(
        [
            event("step", t, "logs", step=step, state="SUCCEEDED"),
            event(
                "log",
                t,
                "logs",
                step=step,
                stream="stdout",
                data="\x1b[31mred\x1b[0m plain\n",
                seq=0,
            ),
            event("log", t, "logs", step=step, stream="stderr", data=hostile, seq=0),
        ]
    )
    _open_run(page, api)
    page.locator('#dag .step[data-step="s"]').click()
    page.locator("#stderr").filter(has_text="<script>").wait_for()
    assert page.locator("#stderr").inner_text().strip() == hostile.strip()
    assert page.locator("#stderr img").count() == 0
    assert page.evaluate("window.__xss") is None
    red = page.locator("#stdout span.ansi-fg31")
    assert red.inner_text() == "red"


def test_live_tail_shows_new_output_within_seconds(page: Any, api: Api) -> None:
    t = ago(minutes=1)
    step = {"name": "live"}
    api.ingest(
        [
            event("step", t, "tail", step=step, state="RUNNING"),
            event("log", t, "tail", step=step, stream="stdout", data="first line\n", seq=0),
        ]
    )
    _open_run(page, api)
    page.locator('#dag .step[data-step="live"]').click()
    page.locator("#stdout").filter(has_text="first line").wait_for()
    api.ingest(
        [
            event(
                "log",
                ago(seconds=0),
                "tail",
                step=step,
                stream="stdout",
                data="second line\n",
                seq=1,
            )
        ]
    )
    page.locator("#stdout").filter(has_text="second line").wait_for(timeout=5000)
    assert page.locator("#stdout").inner_text().count("first line") == 1


def test_long_logs_load_in_pieces(page: Any, api: Api) -> None:
    t = ago(minutes=10)
    step = {"name": "big"}
    lines = "".join(f"line {i:07d}\n" for i in range(120_000))  # ~1.6 MB: more than the 1 MiB shown
    chunks = [lines[i : i + 500_000] for i in range(0, len(lines), 500_000)]
    events = [event("step", t, "long", step=step, state="SUCCEEDED")]
    events += [
        event("log", t, "long", step=step, stream="stdout", data=c, seq=n)
        for n, c in enumerate(chunks)
    ]
    for ev in events:
        api.ingest([ev])
    _open_run(page, api)
    page.locator('#dag .step[data-step="big"]').click()
    page.locator("#stdout").filter(has_text="line 0119999").wait_for()
    assert "line 0000000" not in page.locator("#stdout").inner_text()
    more = page.locator("#stdout-note button")
    while more.count():
        button = more.element_handle()
        button.click()
        button.wait_for_element_state("hidden")  # replaced once the piece is in
    text = page.locator("#stdout").inner_text()
    assert text.startswith("line 0000000")
    assert text.count("line 0050000") == 1


def test_a_run_finishing_while_open_turns_succeeded_without_reload(page: Any, api: Api) -> None:
    events = simple_run(ago(minutes=2), "live-run")
    api.ingest(events[:5])  # running: run-dbt has started
    run_id = _open_run(page, api)
    assert page.locator("#run-state").inner_text() == "RUNNING"
    assert page.locator("#run-live").is_visible()
    page.locator('#dag .step[data-step="run-dbt"]').click()
    page.locator("#stdout-follow").wait_for()  # the live tail says it is following
    polls: list[str] = []
    page.on("response", lambda r: polls.append(str(r.status)) if r.url.endswith(run_id) else None)
    page.wait_for_timeout(2500)  # at least one poll of an unchanged run: answered 304
    assert "304" in polls
    api.ingest(events[5:])
    page.locator("#run-state").filter(has_text="SUCCEEDED").wait_for(timeout=10_000)
    assert (
        page.locator('#dag .step[data-step="run-dbt"]')
        .get_attribute("class")
        .endswith("SUCCEEDED selected")
    )
    page.locator("#run-live").wait_for(state="hidden")
    page.locator("#stdout-follow").wait_for(state="hidden")
    page.locator("#step-facts").filter(has_text="SUCCEEDED").wait_for()
    count = len(polls)
    page.wait_for_timeout(2500)
    assert len(polls) == count  # final: polling stopped


def test_pending_and_skipped_steps_are_drawn_as_such(page: Any, api: Api) -> None:
    t = ago(minutes=5)
    a = {"name": "a", "dependencies": []}
    b = {"name": "b", "dependencies": ["a"]}
    c = {"name": "c", "dependencies": ["b"]}
    api.ingest(
        [
            event("run", t, "skips", state="RUNNING"),
            event("step", t, "skips", step=a, state="RUNNING", attempt=1),
            event("step", t + timedelta(milliseconds=86), "skips", step=a, state="FAILED"),
            event("step", t, "skips", step=b, state="SKIPPED"),
            event("step", t, "skips", step=c, state="PENDING"),
        ]
    )
    _open_run(page, api)
    lanes = page.locator("#timeline .lane[data-step]")
    assert [lanes.nth(i).get_attribute("data-step") for i in range(3)] == ["a", "b", "c"]
    assert page.locator('#timeline .lane[data-step="b"] .unstarted').inner_text() == "skipped"
    assert page.locator('#timeline .lane[data-step="c"] .unstarted').inner_text() == "not started"
    assert page.locator('#step-list tr[data-step="a"] td').nth(3).inner_text() == "86 ms"
