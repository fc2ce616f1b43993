"""Adding clinics: validation of every field, warnings for costly names, unique slugs."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from followup.intake.clinics import ClinicError, add_clinic, set_care_plan
from followup.store.engine import transaction
from followup.store.models import Clinic

BASE = {
    "slug": "downtown",
    "name": "Downtown Physio",
    "timezone": "America/New_York",
    "phone": "(201) 555-0100",
    # a clinic nobody can alert adds a warning (tested on its own below)
    "oncall_phone": "+12015550199",
}


def add(sessions, **overrides):
    with transaction(sessions) as s:
        return add_clinic(s, **{**BASE, **overrides})


def test_it_adds_a_clinic(sessions) -> None:
    clinic, warnings = add(sessions)
    assert warnings == []
    with sessions() as s:
        stored = s.scalars(select(Clinic)).one()
    assert stored.id == clinic.id
    assert stored.slug == BASE["slug"]
    assert (stored.name, stored.timezone) == (BASE["name"], BASE["timezone"])
    assert stored.phone == "+12015550100"
    assert stored.country == "US"
    assert stored.default_locale == "en"
    assert stored.emergency_number == "911"
    assert (stored.send_window_start, stored.send_window_end) == (480, 1200)
    assert stored.from_number is None
    assert stored.messaging_service_sid is None


def test_it_takes_every_option(sessions) -> None:
    clinic, warnings = add(
        sessions,
        slug="zurich-1",
        name="Physio Zurich",
        timezone="Europe/Zurich",
        phone="044 668 18 00",
        country="ch",
        locale="de-CH",
        from_number="+1 500 555 0006",
        send_window=("09:30", "18:00"),
    )
    assert warnings == []
    assert clinic.country == "CH"
    assert clinic.phone == "+41446681800"
    assert clinic.emergency_number == "112"
    assert clinic.from_number == "+15005550006"
    assert clinic.default_locale == "de-CH"
    assert (clinic.send_window_start, clinic.send_window_end) == (570, 1080)


def test_emergency_number_defaults_by_country(sessions) -> None:
    clinic, _ = add(
        sessions, slug="london", timezone="Europe/London", phone="020 7946 0018", country="GB"
    )
    assert clinic.emergency_number == "999"
    clinic, _ = add(sessions, slug="custom", emergency_number="000")
    assert clinic.emergency_number == "000"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"slug": "Downtown"}, "slug: 'Downtown' must be"),
        ({"slug": "a"}, "slug: 'a' must be"),
        ({"slug": "-down"}, "slug: '-down' must be"),
        ({"name": "  "}, "name: expected 1 to 120 characters"),
        ({"timezone": "Mars/Olympus"}, "timezone: 'Mars/Olympus' is not an IANA time zone"),
        ({"timezone": "america/new_york"}, "did you mean 'America/New_York'?"),
        ({"country": "XX"}, "country: 'XX' is not an ISO 3166 alpha-2 code"),
        ({"country": "USA"}, "country: 'USA' is not an ISO 3166"),
        ({"locale": "english"}, "locale: 'english' is not a language code"),
        ({"phone": "555-555-0100"}, "phone: not a valid number for US"),
        ({"phone": "front desk"}, "phone: not a phone number"),
        ({"from_number": "12"}, "from_number: not a valid number for US"),
        ({"messaging_service_sid": "MG123"}, "messaging_service_sid: expected 'MG' followed by"),
        ({"emergency_number": "call 911"}, "emergency_number: 'call 911' is not a number"),
        ({"send_window": ("8am", "20:00")}, "send_window start: '8am' is not a time of day"),
        ({"send_window": ("08:00", "24:30")}, "send_window end: '24:30' is not a time of day"),
        ({"send_window": ("20:00", "08:00")}, "send_window: start 20:00 must be before end 08:00"),
        ({"send_window": ("09:00", "09:00")}, "send_window: start 09:00 must be before end 09:00"),
    ],
)
def test_it_rejects_bad_fields(sessions, overrides: dict, message: str) -> None:
    with pytest.raises(ClinicError) as info:
        add(sessions, **overrides)
    assert message in str(info.value)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Clinic)) == 0


def test_it_refuses_a_second_clinic_with_the_same_slug(sessions) -> None:
    add(sessions)
    with pytest.raises(ClinicError, match="slug: a clinic 'downtown' already exists"):
        add(sessions, name="Another")
    with sessions() as s:
        assert s.scalars(select(Clinic.name)).all() == ["Downtown Physio"]


def test_it_warns_about_non_gsm_characters_in_the_name(sessions) -> None:
    clinic, warnings = add(sessions, name="Fisioterapia Martín")
    assert clinic.name == "Fisioterapia Martín"
    assert len(warnings) == 1
    assert "'í' (U+00ED) not in the GSM-7 alphabet" in warnings[0]
    assert "UCS-2" in warnings[0]
    assert "texts spell it 'Fisioterapia Martin'" in warnings[0]  # what patients will see


def test_gsm_accented_letters_do_not_warn(sessions) -> None:
    # é and ñ are in GSM-7: no extra cost
    _, warnings = add(sessions, name="Clinica Peña José")
    assert warnings == []


def test_it_warns_about_long_names(sessions) -> None:
    name = "Northside Sports Injury and Dry Needling Centre"
    _, warnings = add(sessions, name=name)
    assert warnings == [
        f"name: {len(name)} characters; templates are budgeted for 30, so some texts may "
        "need a second segment"
    ]


def test_it_warns_about_a_send_window_outside_allowed_hours(sessions) -> None:
    clinic, warnings = add(sessions, send_window=("07:00", "22:00"))
    assert (clinic.send_window_start, clinic.send_window_end) == (420, 1320)
    assert any("07:00-22:00 reaches outside 08:00-21:00" in w for w in warnings)


def test_it_allows_a_window_until_midnight(sessions) -> None:
    clinic, _ = add(sessions, send_window=("10:00", "24:00"))
    assert clinic.send_window_end == 1440


def test_a_care_plan_is_set_on_an_existing_clinic_only(sessions) -> None:
    add(sessions)
    plan = {"steps": [{"key": "aftercare", "offset": "2h"}]}
    with (
        pytest.raises(ClinicError, match="slug: no clinic 'uptown'"),
        transaction(sessions) as s,
    ):
        set_care_plan(s, "uptown", plan)
    with transaction(sessions) as s:
        assert set_care_plan(s, "downtown", plan).slug == "downtown"
    with sessions() as s:
        assert s.scalars(select(Clinic.care_plan)).all() == [plan]
    with transaction(sessions) as s:
        set_care_plan(s, "downtown", None)
    with sessions() as s:
        assert s.scalars(select(Clinic.care_plan)).all() == [None]
