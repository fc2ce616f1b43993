"""What holds at the moment of sending, whatever happened since planning: a text never goes
out at night because a backlog or a stopped worker reached it late, a retry lands inside the
sending hours, and consent, opt-out, wrong number and cancellation are looked at again right
before the send. The lease a claim takes is the one asked for.

Hours are judged with local-time arithmetic of the test's own (``support.oracle``), not the
production window class."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update
from support.oracle import in_hours, local_minute
from support.scripted import T0, TRANSIENT, ScriptedGateway, dispatcher
from support.seeding import seed_treated

from followup.outbound.batch import Batch, DispatchReport
from followup.outbound.planner import plan_pending
from followup.store.models import OutboundMessage, Patient, TreatmentSession

NY = ZoneInfo("America/New_York")
#: the aftercare may go 08:00-21:00 (its own hours), every other text 08:00-20:00 (Harbor's)
AFTERCARE_HOURS = (8 * 60, 21 * 60)
CLINIC_HOURS = (8 * 60, 20 * 60)


def ny(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A New York wall-clock time in March 2026 (daylight time from the 8th), as UTC."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=NY).astimezone(UTC)


@pytest.fixture
def planned(sessions):
    """One patient treated at 10:00 New York on 9 March, planned five minutes later."""
    seed_treated(sessions, ["+12015550101"], T0, plan_at=T0 + timedelta(minutes=5))
    return sessions


def _row(s, step: str = "aftercare") -> OutboundMessage:
    with s() as db:
        return db.scalars(select(OutboundMessage).where(OutboundMessage.step == step)).one()


def _plan_pending(s) -> bool:
    with s() as db:
        return db.scalars(select(TreatmentSession.plan_pending)).one()


def test_a_backlog_reaching_the_aftercare_at_night_holds_it_for_the_morning(planned, runtime):
    s = planned
    gw = ScriptedGateway()
    pace = _SlowPace()
    night = ny(9, 23, 30)  # the worker was down all day
    report = dispatcher(s, runtime, gw, pace=pace).run_once(night)

    assert gw.sent == []
    assert report.deferred == 1
    # found at the claim: no sender slot is spent on a text that waits (at 1 text a second,
    # a night's backlog would otherwise take as many seconds to set aside)
    assert pace.waits == 0
    row = _row(s)
    assert row.status == "scheduled"
    assert row.attempts == 0  # waiting is not an attempt
    local = row.send_at.astimezone(NY)
    assert (local.date().isoformat(), local.hour, local.minute) == ("2026-03-10", 8, 0)
    assert row.reason.startswith("outside sending hours")
    # the planner places it again with every rule (caps, expiry, safety holds)
    assert _plan_pending(s)
    plan_pending(s, night)
    again = _row(s)
    assert again.status in ("scheduled", "skipped")
    if again.status == "scheduled":
        assert in_hours(again.send_at, NY, *AFTERCARE_HOURS)
        assert again.send_at > night
    # and nothing at all goes out before 08:00
    assert dispatcher(s, runtime, gw).run_once(ny(10, 7, 59)).sent == 0
    assert gw.sent == []


def test_the_aftercare_keeps_its_own_later_hours_while_other_texts_wait(sessions, runtime):
    """At 20:30 the aftercare (08:00-21:00) may still go; the 24 h check-in, due then after a
    day's backlog, waits for the clinic's 08:00."""
    s = sessions
    seed_treated(s, ["+12015550101"], ny(8, 20, 20), plan_at=ny(8, 20, 21))
    with s() as db, db.begin():  # the check-in came due at 20:25 the next day (backlog)
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.step != "aftercare")
            .values(send_at=ny(9, 20, 25))
        )
    gw = ScriptedGateway()
    dispatcher(s, runtime, gw).run_once(ny(8, 20, 30))
    assert [sms.message_id for sms in gw.sent] == [_row(s).id]  # the aftercare went
    sent_at = _row(s).sent_at
    assert in_hours(sent_at, NY, *AFTERCARE_HOURS) and not in_hours(sent_at, NY, *CLINIC_HOURS)

    gw.sent.clear()
    dispatcher(s, runtime, gw).run_once(ny(9, 20, 30))
    assert gw.sent == []
    with s() as db:
        waiting = db.scalars(
            select(OutboundMessage).where(OutboundMessage.reason.like("outside sending hours%"))
        ).all()
    assert waiting
    assert all(local_minute(m.send_at, NY) == 8 * 60 for m in waiting)


def test_a_retry_lands_inside_the_sending_hours(planned, runtime):
    s = planned
    with s() as db, db.begin():
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.step == "aftercare")
            .values(send_at=ny(9, 20, 58))
        )
    gw = ScriptedGateway(TRANSIENT)
    # a backoff of several minutes from 20:59 would land after 21:00
    dispatcher(s, runtime, gw, retry_base=600).run_once(ny(9, 20, 59))
    row = _row(s)
    assert (row.status, row.attempts, row.error_code) == ("scheduled", 1, "20429")
    assert in_hours(row.send_at, NY, *AFTERCARE_HOURS), row.send_at.astimezone(NY)
    assert row.send_at > ny(9, 20, 59)


class _SlowPace:
    """A sender's pace whose wait lasts past the hour limit (a busy long code), running
    ``during`` while it waits."""

    def __init__(self, during=None, seconds: float = 0.0) -> None:
        self.during = during
        self.seconds = seconds
        self.waits = 0

    def wait(self, sender: str, stop) -> bool:
        self.waits += 1
        if self.during:
            self.during()
        time.sleep(self.seconds)
        return True


def test_the_hours_are_checked_again_after_waiting_for_the_senders_slot(planned, runtime):
    s = planned
    clock = [ny(9, 20, 59, 50)]
    pace = _SlowPace(during=lambda: clock.__setitem__(0, ny(9, 21, 0, 30)))
    gw = ScriptedGateway()
    d = dispatcher(s, runtime, gw, pace=pace, wall_clock=lambda: clock[0])
    with s() as db, db.begin():
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.step == "aftercare")
            .values(send_at=ny(9, 20, 59))
        )
    report = d.run_once()
    assert gw.sent == []  # 21:00:30 is past the aftercare's hours
    assert report.deferred == 1
    assert local_minute(_row(s).send_at, NY) == 8 * 60


def _claim_then(s, runtime, change, **kw):
    """Claim the aftercare, apply ``change`` to the database, then run the send."""
    gw = ScriptedGateway()
    d = dispatcher(s, runtime, gw, **kw)
    report = DispatchReport()
    now = T0 + timedelta(minutes=30)
    d._skew = now - T0
    [job] = [j for j in d.claimer.claim(now, report) if j.message_id == _row(s).id]
    with s() as db, db.begin():
        change(db)
    d.sender.run_job(job, Batch(), report)
    return gw, _row(s)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda db: db.execute(update(Patient).values(consent=False)), "no consent"),
        (lambda db: db.execute(update(Patient).values(opted_out_at=T0)), "opted out"),
        (
            lambda db: db.execute(update(Patient).values(phone_unusable_at=T0)),
            "number cannot receive texts",
        ),
        (
            lambda db: db.execute(update(TreatmentSession).values(status="cancelled")),
            "session cancelled",
        ),
    ],
    ids=["consent withdrawn", "opted out", "wrong number", "session cancelled"],
)
def test_a_change_between_claim_and_send_stops_the_text(planned, runtime, change, reason):
    gw, row = _claim_then(planned, runtime, change)
    assert gw.sent == []
    assert row.status == "skipped"
    assert row.reason.startswith(reason)


def test_a_change_during_a_long_wait_for_the_senders_slot_stops_the_text(planned, runtime):
    s = planned

    def withdraw() -> None:
        with s() as db, db.begin():
            db.execute(update(Patient).values(consent=False))

    pace = _SlowPace(during=withdraw, seconds=1.2)
    gw = ScriptedGateway()
    report = dispatcher(s, runtime, gw, pace=pace).run_once(T0 + timedelta(minutes=30))
    assert gw.sent == []
    assert report.skipped == 1
    assert _row(s).reason == "no consent"


def test_a_claim_takes_the_lease_it_was_asked_for(planned, runtime):
    s = planned
    now = T0 + timedelta(minutes=30)
    lease = timedelta(minutes=7)
    d = dispatcher(s, runtime, ScriptedGateway(), lease=lease)
    jobs = d.claimer.claim(now, DispatchReport())
    assert jobs
    row = _row(s)
    assert (row.status, row.claimed_by, row.claimed_at) == ("sending", "test", now)
    assert row.lease_until == now + lease
    # nobody else takes it while the lease lasts; after it, another worker recovers it
    other = dispatcher(s, runtime, ScriptedGateway(), worker="other")
    assert other.claimer.claim(now + lease - timedelta(seconds=1), DispatchReport()) == []
    report = DispatchReport()
    assert other.claimer.claim(now + lease + timedelta(seconds=1), report)
    assert report.recovered == 1
