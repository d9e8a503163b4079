"""dbt steps: each node dbt runs (model, seed, snapshot, test, source freshness) becomes a step
of its own with dbt's dependencies, reported live from one dbt invocation (SPEC §4).

The runner imports this package; dbt itself is imported only by `driver.py`, in the process
that runs dbt, so `jobtrail run` stays lean."""

from jobtrail.runner.dbt.command import (
    DBT_ENV,
    DbtMissing,
    dbt_arguments,
    dbt_executable,
    driver_command,
)
from jobtrail.runner.dbt.steps import DbtSteps

__all__ = [
    "DBT_ENV",
    "DbtMissing",
    "DbtSteps",
    "dbt_arguments",
    "dbt_executable",
    "driver_command",
]
