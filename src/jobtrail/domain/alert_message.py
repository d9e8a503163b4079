"""What an alert says (issue 10, Deliver 5): plain text that also reads well in Slack (a bold
first line, the stderr tail in a code block)."""

from dataclasses import dataclass

from jobtrail.domain.evaluation import Condition, RunFacts
from jobtrail.domain.timefmt import format_ts

STDERR_LINES = 20

_TITLES = {
    "failed": "failed",
    "cancelled": "was cancelled",
    "stuck": "is stuck",
    "too_short": "ended suspiciously fast",
    "too_slow": "ran much slower than usual",
    "late": "did not start on time",
    "missed": "had no successful run in its interval",
    "too_often": "ran more often than its schedule allows",
    "recovered": "recovered",
}


@dataclass(frozen=True)
class AlertContext:
    condition: Condition
    run: RunFacts | None
    owners: tuple[str, ...]
    stderr_tail: str  # the last lines of the failed step's stderr, or ""
    run_url: str | None  # the console link to the run


def recipients(job_owners: tuple[str, ...], run: RunFacts | None) -> tuple[str, ...]:
    """Who an alert is for (issue 10, Deliver 5): the job's owners, then the owners of the run's
    failed step (a dbt node's `meta.owner`), each once (ignoring case, the first spelling kept),
    so the team that owns the broken model hears of it too."""
    step_owners = run.failed_step_owners if run is not None and run.failed_step else ()
    seen: dict[str, str] = {}
    for owner in (*job_owners, *step_owners):
        seen.setdefault(owner.casefold(), owner)
    return tuple(seen.values())


def title(condition: Condition) -> str:
    what = _TITLES.get(condition.condition, condition.condition)
    return f"{condition.job_name} ({condition.environment}) {what}"


def render(ctx: AlertContext) -> str:
    c = ctx.condition
    lines = [f"*{title(c)}*", f"condition: {c.condition} ({c.detail})"]
    if ctx.run is not None:
        run = ctx.run
        start = format_ts(run.start) if run.start is not None else "-"
        end = format_ts(run.end) if run.end is not None else "-"
        lines.append(f"run {run.run_id}: {run.state}, started {start}, ended {end}")
        if run.failed_step:
            lines.append(f"failed step: {run.failed_step}")
    if c.scheduled_at is not None:
        lines.append(f"scheduled at: {format_ts(c.scheduled_at)}")
    if ctx.owners:
        lines.append(f"owners: {', '.join(ctx.owners)}")
    if ctx.run_url:
        lines.append(f"console: {ctx.run_url}")
    tail = "\n".join(ctx.stderr_tail.splitlines()[-STDERR_LINES:])
    if tail:
        lines += ["stderr (last lines):", "```", tail, "```"]
    return "\n".join(lines)
