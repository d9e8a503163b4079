"""A step's start and end: its first RUNNING; a step that never ran has neither."""

import pytest

from jobtrail.domain.states import step_times


def test_a_step_that_ran_starts_at_its_first_running_and_ends_at_its_end_state() -> None:
    assert step_times("FAILED", 50, 10, 20) == (20, 50)
    assert step_times("RUNNING", 20, 10, 20) == (20, None)


@pytest.mark.parametrize("state", ["SKIPPED", "CANCELLED", "PENDING"])
def test_a_step_that_never_ran_has_no_start_and_no_end(state: str) -> None:
    assert step_times(state, 50, 10, None) == (None, None)


def test_a_step_cancelled_while_running_keeps_its_times() -> None:
    assert step_times("CANCELLED", 50, 10, 20) == (20, 50)


def test_a_reporter_sending_only_an_end_state_gets_its_first_event_as_start() -> None:
    assert step_times("SUCCEEDED", 50, 50, None) == (50, 50)
    assert step_times("FAILED", 50, 40, None) == (40, 50)
