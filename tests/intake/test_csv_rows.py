"""followup.intake.csv_rows without a database: the parser asks its lookup for each clinic
once, and reads each row into checked values or rejects it with every problem named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from followup.intake.csv_rows import REQUIRED, Reject, RowParser, regions_of

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
COLUMNS = {name: i for i, name in enumerate(REQUIRED)}


class Lookup:
    """Clinics by slug, counting the questions asked."""

    def __init__(self, **clinics: tuple[int, str, str]) -> None:
        self.clinics = clinics
        self.asked: list[str] = []

    def __call__(self, slug: str) -> tuple[int, str, str] | None:
        self.asked.append(slug)
        return self.clinics.get(slug)


def fields(clinic="downtown", sid="S1", completed="2025-05-30T16:30", consent="yes"):
    return [clinic, sid, "P1", " Ann\tMarie ", "201-555-0123", consent, completed]


def test_a_row_is_read_in_its_clinics_zone_and_each_clinic_looked_up_once():
    lookup = Lookup(downtown=(7, "US", "America/New_York"))
    parse = RowParser(lookup, COLUMNS, NOW)
    row = parse(fields(), line=2)
    assert (row.line, row.clinic_id, row.session_id, row.patient_id) == (2, 7, "S1", "P1")
    assert (row.first_name, row.phone, row.consent, row.status) == (
        "Ann Marie",
        "+12015550123",
        True,
        "completed",
    )
    assert row.completed_at == datetime(2025, 5, 30, 20, 30, tzinfo=UTC)  # 16:30 EDT
    parse(fields(sid="S2", clinic="DOWNTOWN"), line=3)
    with pytest.raises(Reject, match="clinic: no clinic 'uptown'"):
        parse(fields(clinic="uptown"), line=4)
    with pytest.raises(Reject, match="clinic: no clinic 'uptown'"):
        parse(fields(clinic="uptown"), line=5)
    assert lookup.asked == ["downtown", "uptown"]


def test_a_rejected_row_names_every_problem():
    parse = RowParser(Lookup(downtown=(7, "US", "America/New_York")), COLUMNS, NOW)
    with pytest.raises(Reject) as info:
        parse(fields(completed="2025-06-02T09:00", consent="maybe"), line=2)
    assert str(info.value) == (
        "consent: expected yes or no, got 'maybe'; completed_at: 2025-06-02T09:00 is in the "
        "future (times without an offset are read in the clinic's zone, America/New_York)"
    )


def test_a_clinic_with_an_unknown_zone_rejects_its_rows():
    parse = RowParser(Lookup(downtown=(7, "US", "Mars/Olympus")), COLUMNS, NOW)
    with pytest.raises(Reject, match="clinic: 'downtown' has unknown time zone 'Mars/Olympus'"):
        parse(fields(), line=2)


def test_regions_are_lowercase_snake_case_without_repeats():
    assert regions_of("Neck; Upper back;neck;;") == "neck;upper_back"
