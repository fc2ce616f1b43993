"""followup.store.clinics directly, on SQLite and PostgreSQL: a clinic is added once per
slug (a lost race leaves the caller's transaction usable), found by its slug, listed by it,
and its alert destinations and care plan are replaced."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select, update
from support.seeding import seed_treated

from followup.store import clinics
from followup.store.models import Clinic, OutboundMessage, TreatmentSession
from followup.store.statuses import MessageStatus

DONE = datetime(2026, 3, 9, 15, 0, tzinfo=UTC)


def fields(slug: str, **overrides):
    return {
        "slug": slug,
        "name": f"Clinic {slug}",
        "phone": "+12015550100",
        "timezone": "America/New_York",
        **overrides,
    }


def test_a_clinic_is_added_once_per_slug_and_found_by_it(sessions):
    with sessions() as db, db.begin():
        added = clinics.add(db, **fields("north", send_window_start=540, emergency_number="112"))
        assert added is not None and added.id is not None  # flushed: it has its id
        assert clinics.slug_taken(db, "north")
        assert clinics.add(db, **fields("north", name="Another")) is None
        # the lost insert was rolled back to its savepoint; the transaction goes on
        assert clinics.add(db, **fields("south")) is not None
    with sessions() as db:
        north = clinics.by_slug(db, "north")
        assert (north.id, north.name, north.send_window_start, north.send_window_end) == (
            added.id,
            "Clinic north",
            540,
            1200,
        )
        assert north.emergency_number == "112"
        assert clinics.by_slug(db, "nowhere") is None
        assert clinics.slug_taken(db, "nowhere") is False
        assert db.scalars(select(Clinic.slug).order_by(Clinic.id)).all() == ["north", "south"]


def test_clinics_are_listed_by_slug(sessions):
    with sessions() as db, db.begin():
        for slug in ("west", "east", "north"):
            clinics.add(db, **fields(slug))
    with sessions() as db:
        assert [c.slug for c in clinics.listed(db)] == ["east", "north", "west"]


def test_alert_destinations_are_replaced_and_empty_ones_stored_as_null(sessions):
    with sessions() as db, db.begin():
        clinic = clinics.add(db, **fields("north"))
        clinics.set_alert_destinations(
            db, clinic, oncall_phone="+12015550199", alert_urls=["json://example.org/hook"]
        )
    with sessions() as db:
        stored = clinics.by_slug(db, "north")
        assert (stored.oncall_phone, stored.alert_urls) == (
            "+12015550199",
            ["json://example.org/hook"],
        )
    with sessions() as db, db.begin():
        clinics.set_alert_destinations(
            db, clinics.by_slug(db, "north"), oncall_phone="", alert_urls=[]
        )
    with sessions() as db:
        stored = clinics.by_slug(db, "north")
        assert (stored.oncall_phone, stored.alert_urls) == (None, None)


def test_a_new_care_plan_replans_only_the_clinics_sessions_with_texts_still_scheduled(sessions):
    seed_treated(sessions, ["+12015550123", "+12015550124"], DONE)  # harbor: S0, S1, planned
    with sessions() as db, db.begin():
        s1 = db.scalar(select(TreatmentSession.id).where(TreatmentSession.external_id == "S1"))
        db.execute(  # everything of S1's has gone out
            update(OutboundMessage)
            .where(OutboundMessage.session_id == s1)
            .values(status=MessageStatus.SENT)
        )
        clinics.add(db, **fields("other"))
    plan = {"steps": [{"key": "aftercare", "offset": "2h"}]}
    with sessions() as db, db.begin():
        clinics.set_care_plan(db, clinics.by_slug(db, "other"), plan)
    with sessions() as db:
        assert clinics.by_slug(db, "other").care_plan == plan
        assert clinics.by_slug(db, "harbor").care_plan is None
        pending = db.scalars(select(TreatmentSession.plan_pending)).all()
        assert pending == [False, False]  # another clinic's plan changes nothing of harbor's
    with sessions() as db, db.begin():
        clinics.set_care_plan(db, clinics.by_slug(db, "harbor"), plan)
    with sessions() as db:
        rows = db.execute(
            select(TreatmentSession.external_id, TreatmentSession.plan_pending).order_by(
                TreatmentSession.external_id
            )
        ).all()
        assert rows == [("S0", True), ("S1", False)]
        assert clinics.by_slug(db, "harbor").care_plan == plan
