"""The planner and the database: a safety text a limit holds back raises one flag and pages
staff; the caps never hold one back. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from support.seeding import seed_treated

from followup.outbound.planner import plan_pending
from followup.store.models import Flag, OutboundMessage, StaffAlert, TreatmentSession

ONCALL = "+12015550999"
LATE = datetime(2026, 3, 11, 1, 30, tzinfo=UTC)  # 21:30 on the 10th in New York


def steps(sessions) -> dict[str, OutboundMessage]:
    with sessions() as db:
        return {m.step: m for m in db.scalars(select(OutboundMessage))}


def test_safety_texts_held_overnight_page_staff_once_when_they_were_due(sessions):
    seed_treated(sessions, ["+12015550123"], LATE, regions="upper_back", oncall_phone=ONCALL)
    texts = steps(sessions)
    aftercare, checkin = texts["aftercare"], texts["checkin_24h"]
    assert aftercare.status == "scheduled"
    assert aftercare.send_at == datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert aftercare.reason.startswith("held back: quiet hours")
    # the breathing check-in, due 21:30 the next day, waits for 08:00 as well
    assert checkin.template_key == "checkin_24h_breathing"
    assert checkin.reason.startswith("held back: quiet hours")
    assert texts["checkin_72h"].reason is None  # no safety text: nothing for staff
    with sessions() as db:
        flags = db.scalars(select(Flag).order_by(Flag.id)).all()
        alerts = db.scalars(select(StaffAlert).order_by(StaffAlert.id)).all()
    assert [(f.kind, f.message_id, f.inbound_id) for f in flags] == [
        ("review", aftercare.id, None),
        ("review", checkin.id, None),
    ]
    assert flags[0].reason.startswith("safety text held back: aftercare held back")
    assert [(a.flag_id, a.destination, a.status, a.next_attempt_at) for a in alerts] == [
        (flags[0].id, ONCALL, "pending", LATE),  # at once: the aftercare was due now
        (flags[1].id, ONCALL, "pending", LATE + timedelta(days=1)),  # when it was due
    ]

    # planned again (the clinic re-imports the session): still one flag, one alert
    with sessions() as db, db.begin():
        db.execute(update(TreatmentSession).values(plan_pending=True))
    plan_pending(sessions, LATE + timedelta(minutes=5))
    with sessions() as db:
        assert len(db.scalars(select(Flag)).all()) == 2
        assert len(db.scalars(select(StaffAlert)).all()) == 2


def test_an_evening_session_is_not_held_and_raises_nothing(sessions):
    evening = LATE - timedelta(hours=1, minutes=45)  # 19:45 in New York
    seed_treated(sessions, ["+12015550123"], evening, regions="upper_back", oncall_phone=ONCALL)
    aftercare = steps(sessions)["aftercare"]
    assert aftercare.send_at == evening and aftercare.reason is None
    with sessions() as db:
        assert db.scalars(select(Flag)).all() == []
