"""The console's Run page: the DAG, the timeline, a step's logs (ANSI, live tail), as text;
a dbt run's node steps by type and short name, with each node's tests in a group that folds."""

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser import signed_in
from tests.support import Api, Org, Server, ago, event, simple_run

ARTIFACTS = Path(__file__).parent.parent.parent / "artifacts"


@pytest.fixture
def page(browser: Any, server: Server, org: Org) -> Any:
    read = org.keys["read"]
    with signed_in(browser, server.url, org.id, read.key.key_id, read.secret) as tab:
        yield tab


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


def test_each_attempt_output_has_its_header_where_it_begins(page: Any, api: Api) -> None:
    """A step retried while its page is open: the second attempt's header appears by itself,
    exactly where that attempt's output begins (byte offsets, a two-byte character before)."""
    t = ago(minutes=3)
    step = {"name": "flaky"}
    s = timedelta(seconds=1)

    def log(at: datetime, seq: int, data: str, attempt: int) -> dict[str, Any]:
        fields = {"step": step, "stream": "stdout", "data": data, "seq": seq, "attempt": attempt}
        return event("log", at, "retried", **fields)

    api.ingest(
        [
            event("run", t, "retried", state="RUNNING"),
            event("step", t, "retried", step=step, state="RUNNING", attempt=1),
            log(t, 0, "try one\n", 1),
            log(t + s, 1, "é boom\n", 1),
        ]
    )
    _open_run(page, api, "webmodel")
    page.locator('#dag .step[data-step="flaky"]').click()
    page.locator("#stdout").filter(has_text="é boom").wait_for()
    assert page.locator("#stdout .attempt").count() == 0  # one attempt so far: no header
    api.ingest(
        [
            event("step", t + 2 * s, "retried", step=step, state="FAILED", attempt=1),
            event("step", t + 3 * s, "retried", step=step, state="RUNNING", attempt=2),
            log(t + 3 * s, 2, "try two\n", 2),
        ]
    )
    headers = page.locator("#stdout .attempt")
    headers.nth(1).wait_for(timeout=10_000)
    started = (t + 3 * s).isoformat().replace("+00:00", "Z")
    assert headers.nth(0).inner_text().startswith("── attempt 1 · started")
    assert headers.nth(1).inner_text() == f"── attempt 2 · started {started} ──"
    parts = page.evaluate(
        """() => [...document.getElementById("stdout").childNodes].map((n) =>
            n.classList?.contains("attempt") ? "HEADER" : n.textContent)"""
    )
    text = "".join(parts)
    assert text == "HEADERtry one\né boom\nHEADERtry two\n"


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


# --- a dbt run: node steps read as their type and short name, tests fold under their node ---

JOB = "dbt-shop"
TESTS = {  # model → the tests on it: 20 tests on three models
    "orders": ["not_null_orders_id", "unique_orders_id", "not_null_orders_customer_id"]
    + [f"accepted_values_orders_status__v{i}" for i in range(6)]
    + ["relationships_orders_customer_id__id__ref_customers_"],
    "customers": ["not_null_customers_id", "unique_customers_id"]
    + [f"not_null_customers_col{i}" for i in range(5)],
    "payments": ["not_null_payments_id", "unique_payments_id", "assert_payments_positive"],
}
FAILING = "test.shop.assert_payments_positive"


def _test_id(name: str) -> str:
    # Generic tests carry a 10-hex hash; a singular test (assert_...) does not.
    return f"test.shop.{name}" if name.startswith("assert_") else f"test.shop.{name}.0a1b2c3d4e"


def _dbt_steps() -> list[tuple[str, list[str], str]]:
    """(unique id, dependencies, final state) in the order dbt runs them."""
    steps = [
        ("dbt", [], "FAILED"),
        ("source.shop.raw.orders", ["dbt"], "SUCCEEDED"),
        ("seed.shop.countries", ["dbt"], "SUCCEEDED"),
        ("model.shop.customers", ["seed.shop.countries"], "SUCCEEDED"),
        ("model.shop.orders", ["source.shop.raw.orders", "model.shop.customers"], "SUCCEEDED"),
        ("model.shop.payments", ["model.shop.orders"], "SUCCEEDED"),
        ("snapshot.shop.orders_snapshot", ["model.shop.orders"], "SUCCEEDED"),
    ]
    for model, names in TESTS.items():
        for name in names:
            deps = [f"model.shop.{model}"]
            if name.startswith("relationships_"):  # tests orders, refers to customers
                deps = ["model.shop.customers", "model.shop.orders"]
            test_id = _test_id(name)
            steps.append((test_id, deps, "FAILED" if test_id == FAILING else "SUCCEEDED"))
    return steps


def _ingest_dbt_run(api: Api, start: datetime) -> None:
    events = [event("run", start, "dbt1", job=JOB, state="RUNNING")]
    for n, (name, deps, state) in enumerate(_dbt_steps()):
        step = {"name": name, "dependencies": deps}
        began = start + timedelta(seconds=n)
        events.append(event("step", began, "dbt1", job=JOB, step=step, state="RUNNING", attempt=1))
        ended = began + timedelta(seconds=2 if name != "dbt" else 40)
        events.append(event("step", ended, "dbt1", job=JOB, step=step, state=state))
    events.append(event("run", start + timedelta(seconds=41), "dbt1", job=JOB, state="FAILED"))
    api.ingest(events)


def _visible(page: Any, selector: str) -> int:
    return int(page.locator(f"{selector} >> visible=true").count())


def test_dbt_steps_show_type_and_short_name_and_tests_fold(page: Any, api: Api) -> None:
    _ingest_dbt_run(api, ago(minutes=5))
    _open_run(page, api, job=JOB)
    dag = page.locator("#dag")
    # Short label with its type; the unique id on hover; non-dbt names untouched.
    orders = dag.locator('.step[data-step="model.shop.orders"]')
    assert orders.locator("text").text_content() == "model orders"
    assert orders.locator("title").text_content() == "model.shop.orders: SUCCEEDED"
    labels = {
        "seed.shop.countries": "seed countries",
        "source.shop.raw.orders": "source raw.orders",
        "snapshot.shop.orders_snapshot": "snapshot orders_snapshot",
        "dbt": "dbt",
    }
    for name, label in labels.items():
        assert dag.locator(f'.step[data-step="{name}"] text').text_content() == label
    row = page.locator('#step-list tr[data-step="model.shop.customers"] a .step-label')
    assert row.inner_text() == "MODEL customers"  # the type tag is set in capitals
    assert row.get_attribute("title") == "model.shop.customers"
    lane = page.locator('#timeline .lane[data-step="seed.shop.countries"] .step-label')
    assert lane.get_attribute("title") == "seed.shop.countries"
    assert page.locator('#step-list tr[data-step="dbt"] a').inner_text() == "dbt"
    assert page.locator('#step-list tr[data-step="dbt"] a [title]').count() == 0

    # A failed test's group is unfolded on arrival; the test's panel shows its label and id.
    failing = dag.locator(f'.step[data-step="{FAILING}"]')
    assert failing.locator("text").text_content() == "test assert_payments_positive"
    failing.dispatch_event("click")
    page.locator("#step-name").filter(has_text=FAILING).wait_for()
    assert "selected" in (failing.get_attribute("class") or "")
    payments = dag.locator('.test-group[data-group="model.shop.payments"]')
    assert payments.locator(".group-head").get_attribute("aria-expanded") == "true"
    assert "3 tests · 1 failed" in payments.locator(".group-head text").text_content()

    # Tests hang under the node they test: 10 on orders (the relationships test too).
    group = dag.locator('.test-group[data-group="model.shop.orders"]')
    head = group.locator(".group-head")
    assert head.locator("text").text_content() == "▸ 10 tests"
    assert group.locator(".step[data-step]").count() == 0  # folded: only the group's box
    edges = dag.locator('.edge[data-to="tests of model.shop.orders"]')
    froms = {edges.nth(i).get_attribute("data-from") for i in range(edges.count())}
    assert froms == {"model.shop.orders", "model.shop.customers"}  # relationships refs customers
    ids = [_test_id(n) for n in TESTS["orders"]]
    rows = ", ".join(f'#step-list tr[data-step="{i}"]' for i in ids)
    lanes = ", ".join(f'#timeline .lane[data-step="{i}"]' for i in ids)
    assert page.locator(rows).count() == 10
    assert _visible(page, rows) == 0
    assert _visible(page, lanes) == 0

    head.dispatch_event("click")  # unfold: the tests are shown in the DAG, list and timeline
    assert head.get_attribute("aria-expanded") == "true"
    assert group.locator(".step[data-step]").count() == 10
    labels = group.locator(".step[data-step] text").all_text_contents()
    assert len(set(labels)) == 10
    assert all(lbl.startswith("test ") for lbl in labels)
    assert _visible(page, rows) == 10
    assert _visible(page, lanes) == 10
    title = group.locator(f'.step[data-step="{ids[0]}"] title').text_content()
    assert title == f"{ids[0]}: SUCCEEDED"
    page.locator("#dag").hover()
    for _ in range(3):  # zoomed out to the whole DAG for the picture
        page.mouse.wheel(0, 100)
    page.locator("#dag").screenshot(path=str(ARTIFACTS / "console-dbt-dag.png"))
    page.screenshot(path=str(ARTIFACTS / "console-dbt-run.png"))
    page.screenshot(path=str(ARTIFACTS / "console-dbt-run-full.png"), full_page=True)

    # Fold it again from the step list: hidden everywhere.
    page.locator('#step-list tr.group[data-group="model.shop.orders"] button').click()
    assert dag.locator('.test-group[data-group="model.shop.orders"] .step[data-step]').count() == 0
    assert _visible(page, rows) == 0
    assert _visible(page, lanes) == 0
    assert page.locator('#timeline .lane.group[data-group="model.shop.orders"] .bar').count() == 1
    # The other groups: customers' seven, folded; nothing grouped under a test or a source.
    assert "7 tests" in dag.locator('[data-group="model.shop.customers"] .group-head').inner_html()
    assert dag.locator(".test-group").count() == 3

    # From the keyboard: Enter on a group's toggle unfolds it and keeps the focus there.
    page.locator('#timeline .lane.group[data-group="model.shop.customers"] button').focus()
    page.keyboard.press("Enter")
    customers = ", ".join(f'#timeline .lane[data-step="{_test_id(n)}"]' for n in TESTS["customers"])
    assert _visible(page, customers) == 7
    focused = page.evaluate("document.activeElement.closest('[data-group]')?.dataset.group")
    assert focused == "model.shop.customers"


def test_dbt_names_are_recognised_by_shape_only(page: Any) -> None:
    names = {
        "model.shop.orders": ["model", "orders"],
        "model.shop.orders.v2": ["model", "orders.v2"],
        "seed.shop.countries": ["seed", "countries"],
        "snapshot.shop.orders_snapshot": ["snapshot", "orders_snapshot"],
        "source.shop.raw.orders": ["source", "raw.orders"],
        "test.shop.not_null_orders_id.0a1b2c3d4e": ["test", "not_null_orders_id"],
        "test.shop.assert_total_positive": ["test", "assert_total_positive"],
        # Not dbt's shape: shown exactly as named.
        "run-dbt": None,
        "dbt build": None,
        "model.orders": None,
        "model.shop.orders.extra": None,
        "test.shop.name.nothash": None,
        "source.shop.orders": None,
        "exposure.shop.dashboard": None,
        "model.shop.my orders": None,
    }
    found = page.evaluate(
        """async (names) => {
            const { dbtNode } = await import("/console/static/dbt.js");
            return Object.fromEntries(names.map((n) => {
                const node = dbtNode(n);
                return [n, node && [node.type, node.short]];
            }));
        }""",
        list(names),
    )
    assert found == names
