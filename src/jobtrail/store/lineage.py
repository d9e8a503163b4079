"""OpenLineage steps' datasets: written with the events, read back for the step detail and for
the dependencies inferred from them (SPEC §3.8)."""

from collections.abc import Sequence
from functools import cache
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, select

from jobtrail.domain import identity
from jobtrail.domain.openlineage import StepDataset, infer_dependencies
from jobtrail.store.dialect import executemany, insert
from jobtrail.store.queries import Read, StepRow
from jobtrail.store.schema import step_datasets


@cache
def _insert_ignore(dialect: str) -> Any:
    return insert(step_datasets, dialect).on_conflict_do_nothing()


def write_datasets(conn: Connection, org_id: str, datasets: Sequence[StepDataset]) -> None:
    """Add the datasets to their steps' sets (a dataset already known changes nothing)."""
    run_ids: dict[tuple[str, str], str] = {}
    rows = []
    for ds in sorted(set(datasets)):
        key = (ds.job_id, ds.run_key)
        if key not in run_ids:
            run_ids[key] = identity.run_id(org_id, ds.job_id, ds.run_key)
        rows.append(
            {
                "org_id": org_id,
                "run_id": run_ids[key],
                "step_name": ds.step_name,
                "direction": ds.direction,
                "namespace": ds.namespace,
                "name": ds.name,
            }
        )
    executemany(conn, _insert_ignore(conn.dialect.name), rows)


_DATASETS = select(
    step_datasets.c.step_name,
    step_datasets.c.direction,
    step_datasets.c.namespace,
    step_datasets.c.name,
).where(step_datasets.c.org_id == bindparam("org"), step_datasets.c.run_id == bindparam("run"))
_STEP_DATASETS = _DATASETS.where(step_datasets.c.step_name == bindparam("step"))


def datasets_of(
    org_id: str, run_id: str, step_name: str | None = None
) -> Read[list[tuple[str, str, str, str]]]:
    """(step, direction, namespace, name) of a run's steps (or of one step), sorted, as a `Read`
    (sent with the detail's other reads, `Reads.batch`). The statements are built once."""
    if step_name is None:
        return Read(_DATASETS, {"org": org_id, "run": run_id}, _sorted_datasets)
    params = {"org": org_id, "run": run_id, "step": step_name}
    return Read(_STEP_DATASETS, params, _sorted_datasets)


def _sorted_datasets(rows: list[Any]) -> list[tuple[str, str, str, str]]:
    return sorted((r[0], r[1], r[2], r[3]) for r in rows)


def with_inferred_dependencies(
    rows: list[StepRow], datasets: list[tuple[str, str, str, str]]
) -> list[StepRow]:
    """The run's step rows, with the dependencies that the run's `datasets` imply where the
    events named none. Rows of runs without datasets (every native run) come back as they
    are."""
    if not datasets:
        return rows
    stored = {r.name: orjson.loads(r.dependencies) for r in rows}
    deps = infer_dependencies(stored, datasets)
    return [r._replace(dependencies=orjson.dumps(deps[r.name]).decode()) for r in rows]


def dataset_fields(datasets: list[tuple[str, str, str, str]]) -> dict[str, list[dict[str, str]]]:
    """The step detail's extra `inputs` and `outputs`."""
    return {
        field: [{"namespace": ns, "name": name} for _s, d, ns, name in datasets if d == direction]
        for field, direction in (("inputs", "in"), ("outputs", "out"))
    }
