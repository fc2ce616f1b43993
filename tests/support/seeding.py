"""Test data every sending test starts from: the Harbor Physio clinic (New York, its own
number) and patients treated at a given time, planned by the real planner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from followup.outbound.planner import plan_pending
from followup.store.models import Clinic, OutboundMessage, Patient, TreatmentSession

HARBOR: dict[str, Any] = {
    "slug": "harbor",
    "name": "Harbor Physio",
    "phone": "+12015550100",
    "timezone": "America/New_York",
    "country": "US",
    "default_locale": "en",
    "emergency_number": "911",
    "from_number": "+12015550111",
    # a clinic nobody can alert texts nobody (followup.store.outbox.waiting)
    "oncall_phone": "+12015550190",
}


def seed_treated(
    factory: sessionmaker[Session],
    phones: Sequence[str],
    completed_at: datetime,
    *,
    plan_at: datetime | None = None,
    first_name: str = "Pat{letter}",
    first_id: int = 0,
    regions: str | None = "calf",
    **clinic: Any,
) -> None:
    """The Harbor clinic (``clinic`` overrides its fields) and one consenting patient per
    phone, external ids ``P{i}``/``S{i}`` from ``first_id``, each with a session completed at
    ``completed_at``; then planned at ``plan_at`` (default: ``completed_at``). Patient ``P{i}``
    is called ``Pat`` and the i-th letter (P0 "PatA", P5 "PatF"): a name with a digit is no
    name, and texts leave it out.

    The sessions treated the calf unless ``regions`` says otherwise: away from the lung, so
    the 24 h check-in is the plain one (no region at all would ask about breathing)."""
    with factory() as db, db.begin():
        row = Clinic(**{**HARBOR, **clinic})
        db.add(row)
        db.flush()
        for i, phone in enumerate(phones, start=first_id):
            patient = Patient(
                clinic_id=row.id,
                external_id=f"P{i}",
                first_name=first_name.format(i=i, letter=chr(ord("A") + i % 26)),
                phone=phone,
                consent=True,
            )
            db.add(patient)
            db.flush()
            db.add(
                TreatmentSession(
                    clinic_id=row.id,
                    external_id=f"S{i}",
                    patient_id=patient.id,
                    completed_at=completed_at,
                    regions=regions,
                )
            )
    plan_pending(factory, plan_at or completed_at)


def aftercares(factory: sessionmaker[Session]) -> list[OutboundMessage]:
    """Every aftercare text in the outbox, oldest first."""
    with factory() as db:
        return list(
            db.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.step == "aftercare")
                .order_by(OutboundMessage.id)
            )
        )


def midday_before(t: datetime) -> datetime:
    """The last 12:00 in New York (Harbor's zone) at or before ``t``: a session in clinic
    hours, whose aftercare no quiet hours hold back. A test seeding "30 hours ago" at night
    would otherwise raise held-back flags and alerts of its own, depending on the clock."""
    ny = ZoneInfo("America/New_York")
    noon = t.astimezone(ny).replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > t:
        noon -= timedelta(days=1)
    return noon.astimezone(UTC)
