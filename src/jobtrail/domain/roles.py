"""API key roles and what each may do (SPEC §3.1)."""

from enum import StrEnum


class Role(StrEnum):
    READ = "read"
    INGEST = "ingest"
    ADMIN = "admin"


_GRANTS: dict[Role, frozenset[str]] = {
    Role.READ: frozenset({"read"}),
    Role.INGEST: frozenset({"read", "ingest"}),
    Role.ADMIN: frozenset({"read", "ingest", "admin"}),
}


def allows(role: str, action: str) -> bool:
    try:
        return action in _GRANTS[Role(role)]
    except ValueError:
        return False
