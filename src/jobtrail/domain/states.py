"""Run and step states, and the precedence that breaks timestamp ties."""

from jobtrail.wire.shapes import TERMINAL_STATES
from jobtrail.wire.shapes import RunState as RunState
from jobtrail.wire.shapes import StepState as StepState

TERMINAL: frozenset[str] = TERMINAL_STATES

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


NEVER_RAN: frozenset[str] = frozenset({"PENDING", "SKIPPED", "CANCELLED"})


def step_times(
    state: str, state_ts: int, first_event_ts: int | None, first_running_ts: int | None
) -> tuple[int | None, int | None]:
    """A step's (start, end) in µs. The start is its first RUNNING; a step that never ran
    (pending, skipped, or cancelled before it started) has neither start nor end, so a skipped
    node is not drawn as a bar. A reporter that sends only an end state (no RUNNING) still gets
    its first event as the start, as for runs (SPEC §3.4)."""
    if first_running_ts is None and state in NEVER_RAN:
        return None, None
    start = first_running_ts if first_running_ts is not None else first_event_ts
    end = state_ts if is_terminal(state) and state_ts >= 0 else None
    return start, end
