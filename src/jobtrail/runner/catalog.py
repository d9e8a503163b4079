"""Reporting a job spec's definition (schedule, owners, labels, alert settings) to the catalog.

Best effort and off the run's critical path: a run never fails or waits long because its
definition could not be reported; the next run or agent scan reports it again."""

import logging
import threading
from collections.abc import Callable
from typing import Any

from jobtrail.domain.catalog import JobDefinition
from jobtrail.runner.sinks import Sink
from jobtrail.runner.spec import JobSpec

log = logging.getLogger("jobtrail.runner")


def definition_payload(spec: JobSpec, scheduled: bool | None = None) -> dict[str, Any]:
    """The definition as the catalog API takes it; a spec without a schedule is unscheduled."""
    return JobDefinition(
        job_name=spec.job,
        environment=spec.environment,
        schedule=spec.schedule,
        timezone=spec.timezone,
        owners=tuple(spec.owners),
        labels=dict(spec.labels),
        alerts=spec.alerts,
        scheduled=spec.schedule is not None if scheduled is None else scheduled,
    ).to_json()


def report_definitions(sink: Sink, definitions: list[dict[str, Any]]) -> bool:
    """Send definitions through a sink that can take them; False (logged) when it failed."""
    define = getattr(sink, "define", None)
    if define is None or not definitions:
        return False
    try:
        define(definitions)
    except Exception as exc:  # the run goes on; the definition is reported again next time
        log.warning("could not report the job definition: %s", exc)
        return False
    return True


def report_in_background(
    make_sink: Callable[[], Sink], definitions: list[dict[str, Any]]
) -> threading.Thread:
    """Report definitions on a thread of its own, with its own sink (so a slow server never
    delays a run's start or an agent's ticks); join it, with a timeout, before exiting."""

    def send() -> None:
        destination = make_sink()
        try:
            report_definitions(destination, definitions)
        finally:
            destination.close()

    thread = threading.Thread(target=send, name="jobtrail-definition", daemon=True)
    thread.start()
    return thread
