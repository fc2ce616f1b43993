"""What an answer to a patient promises is true, on SQLite and PostgreSQL: "we have told the
clinic's staff" only when somebody can be alerted, and "will call you" says when, from the
clinic's opening hours at the moment of the reply, in the patient's own time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import update
from support.seeding import seed_treated

from followup.hours import parse_hours, to_data
from followup.inbound.receive import InboundSms, receive
from followup.store.engine import transaction
from followup.store.models import Clinic, Patient
from followup.texts.segments import analyze

PHONE = "+12015550123"
CLINIC_NUMBER = "+12015550111"  # seeding.HARBOR's own number
BLEEDING = "the bleeding won't stop"
CHEST = "I can't breathe and my chest hurts"


def answer(runtime, body: str, now: datetime, sid: str) -> str:
    with transaction(runtime.sessions) as db:
        result = receive(
            db,
            InboundSms(sid=sid, from_number=PHONE, to_number=CLINIC_NUMBER, body=body),
            catalogue=runtime.catalogue,
            now=now,
        )
    assert result.reply is not None
    info = analyze(result.reply)
    assert (info.encoding, info.segments) == ("GSM-7", 1), result.reply
    return result.reply


def setup(runtime, *, zone: str, patient_zone: str | None = None, locale: str = "en", **clinic):
    seed_treated(
        runtime.sessions, [PHONE], datetime(2026, 3, 2, 15, tzinfo=UTC), timezone=zone, **clinic
    )
    with transaction(runtime.sessions) as db:
        db.execute(update(Patient).values(timezone=patient_zone, locale=locale))


@pytest.mark.parametrize(
    ("zone", "now", "when"),
    [
        # open: Tuesday 10:00 in New York
        ("America/New_York", datetime(2026, 3, 3, 15, 0), "will call you today."),
        # Saturday night, DST starts on the Sunday: Monday 09:00 local
        ("America/New_York", datetime(2026, 3, 8, 3, 0), "during opening hours, from Mon 09:00."),
        # before opening on a weekday in Tokyo: that morning
        ("Asia/Tokyo", datetime(2026, 3, 3, 22, 0), "during opening hours, from Wed 09:00."),
        # Friday after closing in Berlin
        ("Europe/Berlin", datetime(2026, 3, 27, 18, 0), "during opening hours, from Mon 09:00."),
    ],
)
def test_clinic_today_says_when_the_call_will_come(runtime, zone, now, when):
    setup(runtime, zone=zone)
    text = answer(runtime, BLEEDING, now.replace(tzinfo=UTC), "SM1")
    assert text.startswith("Thanks PatA. Harbor Physio will call you ")
    assert when in text
    assert "911" in text  # still the emergency line


def test_the_time_is_the_patients_own_and_the_hours_the_clinics(runtime):
    setup(
        runtime, zone="America/New_York", patient_zone="America/Los_Angeles",
        opening_hours=to_data(parse_hours("Mon-Thu 08:00-18:00")),
    )  # fmt: skip
    friday_noon = datetime(2026, 6, 5, 16, 0, tzinfo=UTC)
    assert "from Mon 05:00." in answer(runtime, BLEEDING, friday_noon, "SM1")


def test_spanish_says_it_in_spanish(runtime):
    setup(runtime, zone="America/New_York", locale="es")
    saturday = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)
    assert "le va a llamar a partir del 9/3 a las 09:00." in answer(
        runtime, BLEEDING, saturday, "S1"
    )
    tuesday = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    assert "le va a llamar hoy." in answer(runtime, BLEEDING, tuesday, "S2")


@pytest.mark.parametrize("locale", ["en", "es"])
def test_the_staff_were_told_only_when_somebody_can_be_alerted(runtime, locale):
    now = datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    setup(runtime, zone="America/New_York", locale=locale)
    told = answer(runtime, CHEST, now, "SM1")
    assert ("We have told the clinic's staff." if locale == "en" else "Ya avisamos") in told
    with transaction(runtime.sessions) as db:
        db.execute(update(Clinic).values(oncall_phone=None, alert_urls=None))
    untold = answer(runtime, CHEST, now, "SM2")
    assert "told" not in untold and "avisamos" not in untold
    assert "911" in untold and "Harbor Physio" in untold and "(201) 555-0100" in untold
