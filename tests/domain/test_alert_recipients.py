"""Who an alert is for: the job's owners and the failed step's own (issue 10, Deliver 5)."""

from jobtrail.domain.alert_message import recipients
from jobtrail.domain.evaluation import RunFacts

JOB = ("ana@acme.example", "dbt-team@acme.example")


def _run(step: str | None, owners: tuple[str, ...]) -> RunFacts:
    return RunFacts("r1", "FAILED", 1, 2, step, owners)


def test_the_failed_steps_owners_follow_the_jobs_each_once_ignoring_case() -> None:
    run = _run("model.shop.countries", ("DBT-Team@acme.example", "shop@acme.example"))
    assert recipients(JOB, run) == (*JOB, "shop@acme.example")


def test_the_step_owners_alone_when_the_job_has_none() -> None:
    assert recipients((), _run("m", ("shop@acme.example",))) == ("shop@acme.example",)


def test_only_the_jobs_owners_without_a_failed_step() -> None:
    assert recipients(JOB, None) == JOB
    assert recipients(JOB, _run(None, ())) == JOB
    assert recipients(JOB, _run("m", ())) == JOB
    assert recipients((), _run(None, ("x@acme.example",))) == ()
