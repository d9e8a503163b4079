"""The listing's fast JSON writer says exactly what the summaries say, whatever the stored times."""

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from jobtrail.api.serialise import run_list, run_list_json
from jobtrail.domain.timefmt import FIRST_MICROS, LAST_MICROS

_times = st.one_of(
    st.integers(FIRST_MICROS - 10**12, LAST_MICROS + 10**12),
    st.integers(-(10**12), 4 * 10**15),
    st.sampled_from([-1, 0, FIRST_MICROS, LAST_MICROS, 1_700_000_000_000_000]),
    st.integers(0, 10**9).map(lambda s: s * 1_000_000),  # whole seconds: no fraction written
)
_rows = st.tuples(
    st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.text(max_size=8),
    st.sampled_from(["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", "SKIPPED"]),
    _times,
    st.none() | _times,
    st.none() | _times,
    _times,
)


@settings(deadline=None)  # a loaded machine must not fail it
@given(st.lists(_rows, max_size=20))
def test_listing_json_is_the_summaries_json(rows: list[tuple[object, ...]]) -> None:
    assert run_list_json(rows) == orjson.dumps(run_list(rows))
