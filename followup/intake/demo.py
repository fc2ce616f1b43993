"""Demo data: a clinic, three patients and today's sessions, so ``followup run`` shows texts
going out on the console within a minute of starting.

Idempotent: the clinic and patients are created once; session ids carry the date, so running
the demo again the same day changes nothing and running it on a later day adds that day's
sessions (which supersede the earlier check-ins, as a real week of treatment would).

Texts only go out inside the send window (08:00-20:00 local). So that a newcomer sees texts
whatever their own hour, the demo clinic is placed in a time zone where it is now daytime.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from followup.store import clinics, patients, sessions
from followup.store.patients import PatientRow
from followup.store.sessions import SessionRow
from followup.store.statuses import SessionStatus

DEMO_SLUG = "demo"
#: the demo clinic's on-call phone (a fictional 555 number)
DEMO_ONCALL = "+12015550150"
DAYTIME_ZONES = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Los_Angeles",
    "Pacific/Honolulu",
    "Pacific/Auckland",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "Europe/London",
    "America/Sao_Paulo",
)
PATIENTS = (
    # external id, first name, phone, locale, regions of today's session
    ("demo-p1", "Ana", "+12015550123", "en", "neck;upper_back"),
    ("demo-p2", "Benito", "+12125550199", "es", "lower_back"),
    ("demo-p3", "Carla", "+13105550142", "en", "calf"),
)


def daytime_zone(now: datetime) -> str:
    """The zone (of a fixed list) where local time is closest to 13:00 now."""

    def distance(name: str) -> float:
        local = now.astimezone(ZoneInfo(name))
        return abs(local.hour + local.minute / 60 - 13)

    return min(DAYTIME_ZONES, key=distance)


def create_demo(factory: sessionmaker[Session], now: datetime) -> list[str]:
    """Create or top up the demo data; returns lines describing what was done."""
    lines: list[str] = []
    with factory() as db, db.begin():
        clinic = clinics.by_slug(db, DEMO_SLUG)
        if clinic is None:
            clinic = clinics.add(
                db,
                slug=DEMO_SLUG,
                name="Harbor Physio (demo)",
                phone="+12015550100",
                timezone=daytime_zone(now),
                country="US",
                default_locale="en",
                emergency_number="911",
                # a clinic nobody can alert texts nobody: the demo's on-call phone prints
                # its alerts on the console beside the patients' texts
                oncall_phone=DEMO_ONCALL,
            )
            if clinic is None:  # another `followup demo` added it since the lookup
                raise RuntimeError("the demo clinic was added meanwhile: run the demo again")
            lines.append(
                f"created clinic {DEMO_SLUG} in {clinic.timezone}, staff alerts to {DEMO_ONCALL}"
            )
        elif not clinics.alert_destinations(clinic.oncall_phone, clinic.alert_urls):
            # a demo database from before alerts mattered: give it its on-call phone
            clinics.set_alert_destinations(db, clinic, oncall_phone=DEMO_ONCALL, alert_urls=[])
            lines.append(f"staff alerts of clinic {DEMO_SLUG} go to {DEMO_ONCALL}")
        tz = ZoneInfo(clinic.timezone)
        day = now.astimezone(tz).date().isoformat()
        for i, (ext, first, phone, locale, regions) in enumerate(PATIENTS):
            patient = patients.by_external_id(db, clinic.id, ext)
            if patient is None:
                row = PatientRow(clinic.id, ext, first, phone, locale, consent=True)
                patient = patients.add(db, row, now, consent_method="demo")
            session_ext = f"demo-{day}-{i + 1}"
            if sessions.exists(db, clinic.id, session_ext):
                continue
            completed = now - timedelta(minutes=31 + i)
            next_appt = (completed + timedelta(days=7)) if i != 1 else None
            sessions.add(
                db,
                SessionRow(
                    clinic_id=clinic.id,
                    external_id=session_ext,
                    patient_id=patient.id,
                    completed_at=completed,
                    status=SessionStatus.COMPLETED,
                    regions=regions,
                    next_appointment_at=next_appt,
                ),
            )
            lines.append(f"added session {session_ext} for {first}")
    if not lines:
        lines.append(f"demo data for {day} already present")
    lines.append("now run: followup run   (texts print here; Ctrl-C stops)")
    return lines
