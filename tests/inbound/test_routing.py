"""followup.inbound.routing, pure: which record answers, which clinics hear of a flag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.inbound.routing import RECENT, answering_order, records_to_flag, shared_value
from followup.store.statuses import FlagKind

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


@dataclass(frozen=True)
class R:
    id: int
    clinic_id: int
    sent_at: datetime | None = None
    last_treated: datetime | None = None
    last_texted: datetime | None = None


def test_the_record_whose_check_in_went_out_last_answers():
    a = R(1, 1, sent_at=NOW - timedelta(hours=2))
    b = R(2, 2, sent_at=NOW - timedelta(hours=1))
    never = R(3, 3)
    assert answering_order([b, never, a])[-1] == b
    assert answering_order([R(5, 1, NOW), R(4, 2, NOW)])[-1].id == 5  # a tie: the newer record


@pytest.mark.parametrize("kind", [FlagKind.EMERGENCY, FlagKind.CLINIC_TODAY])
def test_a_red_flag_reaches_each_clinic_seen_within_the_window_once(kind):
    answering = R(1, 1, last_texted=NOW)
    inside = R(2, 2, last_treated=NOW - RECENT)  # the boundary itself is inside
    outside = R(3, 3, last_treated=NOW - RECENT - timedelta(seconds=1))
    older_at_2 = R(4, 2, last_texted=NOW - timedelta(days=20))
    never = R(5, 4)
    again_at_1 = R(6, 1, last_texted=NOW)
    chosen = records_to_flag([answering, inside, outside, older_at_2, never, again_at_1],
                             answering, kind, NOW)  # fmt: skip
    assert chosen == [answering, older_at_2]  # clinic 2's most recently contacted record


@pytest.mark.parametrize("kind", [FlagKind.CALLBACK, FlagKind.REVIEW])
def test_other_flags_stay_with_the_answering_clinic(kind):
    answering, other = R(1, 1, last_texted=NOW), R(2, 2, last_texted=NOW)
    assert records_to_flag([answering, other], answering, kind, NOW) == [answering]
    assert records_to_flag([answering, other], answering, None, NOW) == []


times = st.one_of(st.none(), st.integers(-90, 0).map(lambda d: NOW + timedelta(days=d)))
records = st.lists(
    st.builds(R, st.integers(1, 50), st.integers(1, 4), times, times, times), min_size=1
)


@given(records, st.sampled_from([FlagKind.EMERGENCY, FlagKind.CLINIC_TODAY]))
def test_the_answering_clinic_is_first_and_no_clinic_is_flagged_twice(rows, kind):
    answering = rows[0]
    chosen = records_to_flag(rows, answering, kind, NOW)
    assert chosen[0] == answering
    clinics = [r.clinic_id for r in chosen]
    assert len(clinics) == len(set(clinics))
    recent = {r.clinic_id for r in rows
              if any(t and t >= NOW - RECENT for t in (r.last_treated, r.last_texted))}  # fmt: skip
    assert set(clinics) == recent | {answering.clinic_id}


def test_a_shared_value_is_one_all_agree_on():
    assert shared_value(["911", "911"]) == "911"
    assert shared_value(["911", "000"]) is None
    assert shared_value([]) is None
