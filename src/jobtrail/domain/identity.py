"""Opaque, stable identifiers derived from what reporters send (SPEC §3.2)."""

import hashlib
import uuid

_SEP = "\x1f"


def _digest(*parts: str) -> str:
    return hashlib.sha256(_SEP.join(parts).encode("utf-8")).hexdigest()[:16]


def job_id(org_id: str, environment: str, name: str, given: str | None = None) -> str:
    """The reporter's job.id when given, else a hash of (organization, environment, name)."""
    return given if given is not None else _digest("job", org_id, environment, name)


def lineage_job_id(namespace: str, name: str) -> str:
    """An OpenLineage job's id, from its namespace and name alone: a step's events carry only
    the parent facet's job, so the id must not depend on anything else (not the environment)."""
    return "ol-" + _digest("openlineage-job", namespace, name)


def run_id(org_id: str, job: str, run_key: str) -> str:
    """Hash of (organization, job id, run key): URL-safe and the same on every retry."""
    return _digest("run", org_id, job, run_key)


def looks_like_run_id(value: str) -> bool:
    """Run ids are 16 lowercase hex digits; anything else cannot name a run."""
    return len(value) == 16 and all(c in "0123456789abcdef" for c in value)


def looks_like_org_id(value: str) -> bool:
    """Organization ids are UUIDs in their canonical text form."""
    try:
        return str(uuid.UUID(value)) == value.lower() and len(value) == 36
    except ValueError:
        return False
