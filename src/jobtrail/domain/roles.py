"""API key roles and what each may do (SPEC §3.1), least privilege: the `ingest` key that sits on
every runner machine can report but not read the organization's runs and logs."""

from enum import StrEnum


class Role(StrEnum):
    READ = "read"
    INGEST = "ingest"
    ADMIN = "admin"


class Action(StrEnum):
    READ = "read"  # every GET of runs, steps, logs (and later definitions, alerts, insights)
    INGEST = "ingest"  # events (and later OpenLineage events, job definitions)
    ADMIN = "admin"  # key management
    ORGANIZATION = "organization"  # the organization's own id and name


_GRANTS: dict[Role, frozenset[Action]] = {
    Role.READ: frozenset({Action.READ, Action.ORGANIZATION}),
    Role.INGEST: frozenset({Action.INGEST, Action.ORGANIZATION}),
    Role.ADMIN: frozenset(Action),
}

_WHAT = {
    Action.READ: "read runs, steps or logs",
    Action.INGEST: "report events",
    Action.ADMIN: "manage API keys",
    Action.ORGANIZATION: "see the organization",
}


def allows(role: str, action: str) -> bool:
    try:
        return Action(action) in _GRANTS[Role(role)]
    except ValueError:
        return False


def roles_for(action: str) -> list[str]:
    """The roles that may do `action`, in a fixed order (documented in the OpenAPI)."""
    return [role.value for role in Role if allows(role, action)]


def refusal(role: str, action: str) -> str:
    """Why a token of `role` is refused, naming the roles that would do."""
    return (
        f"A token with role `{role}` may not {_WHAT[Action(action)]}; "
        f"use a key with role {' or '.join(roles_for(action))}."
    )
