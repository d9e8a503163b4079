"""Run and step states, and the precedence that breaks timestamp ties."""

from enum import StrEnum


class RunState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StepState(StrEnum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


TERMINAL: frozenset[str] = frozenset({"SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"})

# On equal timestamps the higher rank wins: a terminal state beats RUNNING, which beats PENDING;
# among terminal states FAILED beats CANCELLED beats SUCCEEDED/SKIPPED (SPEC §3.4).
_RANK: dict[str, int] = {
    "PENDING": 0,
    "RUNNING": 1,
    "SUCCEEDED": 2,
    "SKIPPED": 2,
    "CANCELLED": 3,
    "FAILED": 4,
}

NO_RANK = -1  # rank of "no state event yet": any real event beats it


def rank(state: str) -> int:
    """Tie-break rank of a state (higher wins on equal timestamps)."""
    return _RANK[state]


def is_terminal(state: str) -> bool:
    return state in TERMINAL
