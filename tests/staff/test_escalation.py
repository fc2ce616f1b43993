"""Escalation on SQLite and PostgreSQL: review flags nobody acknowledged page staff after a
delay counted in opening hours; unacknowledged emergency and clinic-today flags reach the
second contact; each flag escalates once, across restarts and concurrent workers. Every
clock is injected; clinics sit in several time zones."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from support.seeding import seed_treated

from followup.gateways.base import OutgoingSms, SendResult
from followup.hours import DEFAULT_HOURS, parse_hours, to_data
from followup.staff.alerts import AlertSender, alert_text
from followup.staff.escalation import escalate_due, review_due_at, second_contact_due_at
from followup.store.flags import acknowledge_flag
from followup.store.models import Clinic, Flag, InboundMessage, Patient, StaffAlert
from followup.store.statuses import AlertChannel, AlertPurpose, FlagKind
from followup.texts.segments import analyze

ONCALL = "+12015550199"
SECOND = "+12015550188"


class Gateway:
    name = "recording"

    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []

    def send(self, sms: OutgoingSms) -> SendResult:
        self.sent.append(sms)
        return SendResult(provider_sid=f"SM{len(self.sent):032d}", provider_status="queued")

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        return None


def setup(sessions: sessionmaker[Session], *, zone: str, **clinic: Any) -> None:
    """Harbor (in ``zone``) with patient Maria; ``clinic`` sets clinic columns."""
    seed_treated(
        sessions, ["+12015550123"], datetime(2026, 1, 5, 15, tzinfo=UTC), first_name="Maria"
    )
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(timezone=zone, oncall_phone=ONCALL, **clinic))


def raise_flag(sessions: sessionmaker[Session], kind: str, at: datetime) -> int:
    with sessions() as db, db.begin():
        clinic = db.scalars(select(Clinic)).one()
        patient = db.scalars(select(Patient)).one()
        n = db.query(InboundMessage).count()
        reply = InboundMessage(
            provider_sid=f"SM{n:032d}", from_number=patient.phone, body="hm", received_at=at,
            kind="text", urgency="normal", clinic_id=clinic.id, patient_id=patient.id,
        )  # fmt: skip
        db.add(reply)
        db.flush()
        flag = Flag(
            clinic_id=clinic.id, patient_id=patient.id, inbound_id=reply.id, kind=kind,
            reason="free text", status="open", created_at=at,
        )  # fmt: skip
        db.add(flag)
        db.flush()
        return flag.id


def alerts(sessions: sessionmaker[Session]) -> list[tuple[int, str, str, str]]:
    with sessions() as db:
        rows = db.scalars(select(StaffAlert).order_by(StaffAlert.id))
        return [(a.flag_id, a.purpose, a.channel, a.destination) for a in rows]


# -- the pure decisions ------------------------------------------------------------------------


@given(
    st.sampled_from(["America/New_York", "Europe/Berlin", "Asia/Tokyo", "Australia/Sydney"]),
    st.integers(0, 14 * 24 * 60),
    st.integers(1, 600),
)
def test_review_is_due_after_the_delay_in_open_time(zone, offset, minutes):
    tz = ZoneInfo(zone)
    raised = datetime(2026, 3, 2, tzinfo=UTC) + timedelta(minutes=offset)
    due = review_due_at(raised, minutes, DEFAULT_HOURS, tz)
    assert due is not None and due >= raised + timedelta(minutes=minutes)
    local = due.astimezone(tz)
    # it falls due while the clinic is open (or at the very minute it closes)
    assert local.weekday() < 5 and 9 * 60 < local.hour * 60 + local.minute <= 17 * 60


@pytest.mark.parametrize(
    ("kind", "minutes"),
    [(FlagKind.EMERGENCY, 15), (FlagKind.CLINIC_TODAY, 60), (FlagKind.CALLBACK, None)],
)
def test_second_contact_is_due_after_wall_clock_minutes(kind, minutes):
    raised = datetime(2026, 3, 7, 23, tzinfo=UTC)  # a Saturday night: no waiting for Monday
    due = second_contact_due_at(kind, raised, emergency_minutes=15, clinic_today_minutes=60)
    assert due == (raised + timedelta(minutes=minutes) if minutes else None)


@pytest.mark.parametrize(
    ("purpose", "kind", "says"),
    [
        (AlertPurpose.OVERDUE, FlagKind.REVIEW, "Message from Maria still unread."),
        (
            AlertPurpose.SECOND_CONTACT,
            FlagKind.EMERGENCY,
            "Emergency reply from Maria not acknowledged. They were told to call 911.",
        ),
        (
            AlertPurpose.SECOND_CONTACT,
            FlagKind.CLINIC_TODAY,
            "Maria needs a call today, not acknowledged.",
        ),
    ],
)
def test_escalation_alerts_say_why_in_one_segment(purpose, kind, says):
    title, body = alert_text(
        kind=kind, first_name="Maria", clinic_name="Harbor Physio", link=None,
        emergency_number="911", purpose=purpose,
    )  # fmt: skip
    assert says in body and "Harbor Physio" in title + body
    assert analyze(body).segments == 1


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=120))
def test_escalation_alerts_fit_one_segment_whatever_the_names(name, clinic):
    for purpose, kind in [
        (AlertPurpose.OVERDUE, FlagKind.REVIEW),
        (AlertPurpose.SECOND_CONTACT, FlagKind.EMERGENCY),
        (AlertPurpose.SECOND_CONTACT, FlagKind.CLINIC_TODAY),
    ]:
        _, body = alert_text(
            kind=kind, first_name=name, clinic_name=clinic, link="https://x.example/f/1",
            emergency_number="911", purpose=purpose,
        )  # fmt: skip
        info = analyze(body)
        assert (info.encoding, info.segments) == ("GSM-7", 1)


def test_a_review_flag_is_not_paged_when_raised_and_no_kind_mixes_purposes():
    with pytest.raises(ValueError):
        alert_text(kind=FlagKind.REVIEW, first_name="M", clinic_name="C", link=None)
    with pytest.raises(ValueError):
        alert_text(
            kind=FlagKind.CALLBACK, first_name="M", clinic_name="C", link=None,
            purpose=AlertPurpose.SECOND_CONTACT,
        )  # fmt: skip


# -- review flags, on the database ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "raised", "early", "due"),
    [
        # Saturday night in New York (DST starts that Sunday): Monday 11:00
        ("America/New_York", (2026, 3, 7, 23, 0), (2026, 3, 9, 10, 59), (2026, 3, 9, 11, 0)),
        # Friday 16:30 in Berlin before its DST change: 30 minutes Friday, 90 on Monday
        ("Europe/Berlin", (2026, 3, 27, 16, 30), (2026, 3, 30, 10, 29), (2026, 3, 30, 10, 30)),
        # Tuesday 10:00 in Tokyo: two hours later, the same day
        ("Asia/Tokyo", (2026, 6, 2, 10, 0), (2026, 6, 2, 11, 59), (2026, 6, 2, 12, 0)),
    ],
)
def test_an_unread_review_flag_pages_staff_once_after_the_delay_in_opening_hours(
    sessions, zone, raised, early, due
):
    tz = ZoneInfo(zone)
    setup(sessions, zone=zone, alert_urls=["json://127.0.0.1:9/hook"])
    flag = raise_flag(sessions, FlagKind.REVIEW, datetime(*raised, tzinfo=tz))
    assert escalate_due(sessions, datetime(*early, tzinfo=tz)).overdue == 0
    assert alerts(sessions) == []

    report = escalate_due(sessions, datetime(*due, tzinfo=tz))
    assert (report.overdue, report.alerts) == (1, 2)
    assert alerts(sessions) == [
        (flag, AlertPurpose.OVERDUE, AlertChannel.SMS, ONCALL),
        (flag, AlertPurpose.OVERDUE, AlertChannel.APPRISE, "json://127.0.0.1:9/hook"),
    ]
    # once: later ticks, and a restarted worker, find nothing more to do
    for later in (timedelta(minutes=1), timedelta(days=3)):
        assert escalate_due(sessions, datetime(*due, tzinfo=tz) + later).overdue == 0
    assert len(alerts(sessions)) == 2


def test_the_clinic_sets_the_delay_and_its_own_hours(sessions):
    hours = to_data(parse_hours("Sat 10:00-14:00"))
    setup(sessions, zone="America/Denver", review_alert_minutes=30, opening_hours=hours)
    tz = ZoneInfo("America/Denver")
    raise_flag(sessions, FlagKind.REVIEW, datetime(2026, 6, 1, 9, tzinfo=tz))  # a Monday
    assert escalate_due(sessions, datetime(2026, 6, 6, 10, 29, tzinfo=tz)).overdue == 0
    assert escalate_due(sessions, datetime(2026, 6, 6, 10, 30, tzinfo=tz)).overdue == 1


def test_an_acknowledged_flag_never_escalates(sessions):
    setup(sessions, zone="America/New_York")
    t = datetime(2026, 6, 2, 14, tzinfo=UTC)
    review = raise_flag(sessions, FlagKind.REVIEW, t)
    urgent = raise_flag(sessions, FlagKind.EMERGENCY, t)
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(second_contact=SECOND))
        assert acknowledge_flag(db, review, by="Ann", now=t + timedelta(minutes=5))
        assert acknowledge_flag(db, urgent, by="Ann", now=t + timedelta(minutes=5))
    report = escalate_due(sessions, t + timedelta(days=2))
    assert (report.overdue, report.second_contact) == (0, 0)
    assert alerts(sessions) == []


def test_a_clinic_nobody_can_alert_pages_as_soon_as_it_has_a_destination(sessions):
    setup(sessions, zone="America/New_York")
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(oncall_phone=None, alert_urls=None))
    t = datetime(2026, 6, 2, 14, tzinfo=UTC)
    flag = raise_flag(sessions, FlagKind.REVIEW, t)
    assert escalate_due(sessions, t + timedelta(hours=3)).overdue == 0
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(oncall_phone=ONCALL))
    assert escalate_due(sessions, t + timedelta(hours=3, minutes=1)).overdue == 1
    assert alerts(sessions) == [(flag, AlertPurpose.OVERDUE, AlertChannel.SMS, ONCALL)]


def test_concurrent_workers_escalate_each_flag_once(db_url):
    from followup.store.engine import make_engine, make_sessionmaker

    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    setup(sessions, zone="America/New_York", second_contact=SECOND)
    t = datetime(2026, 6, 2, 14, tzinfo=UTC)
    flags = [
        raise_flag(sessions, kind, t) for kind in [FlagKind.REVIEW] * 5 + [FlagKind.EMERGENCY] * 5
    ]
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def worker() -> None:
        own = make_sessionmaker(make_engine(db_url))
        try:
            barrier.wait()
            escalate_due(own, t + timedelta(hours=3))
        except BaseException as exc:  # pragma: no cover - shown by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    got = alerts(sessions)
    assert sorted(f for f, purpose, _, _ in got if purpose == AlertPurpose.OVERDUE) == flags[:5]
    assert (
        sorted(f for f, purpose, _, _ in got if purpose == AlertPurpose.SECOND_CONTACT) == flags[5:]
    )
    engine.dispose()


# -- the second contact ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "minutes", "contact", "channel"),
    [
        (FlagKind.EMERGENCY, 15, SECOND, AlertChannel.SMS),
        (FlagKind.CLINIC_TODAY, 60, "mailto://boss:pw@example.org", AlertChannel.APPRISE),
    ],
)
def test_an_urgent_flag_nobody_acknowledged_reaches_the_second_contact_once(
    sessions, kind, minutes, contact, channel
):
    setup(sessions, zone="Europe/London", second_contact=contact)
    t = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # a Sunday night, across London's DST change
    flag = raise_flag(sessions, kind, t)
    assert escalate_due(sessions, t + timedelta(minutes=minutes - 1)).second_contact == 0
    assert escalate_due(sessions, t + timedelta(minutes=minutes)).second_contact == 1
    assert escalate_due(sessions, t + timedelta(minutes=minutes + 30)).second_contact == 0
    assert alerts(sessions) == [(flag, AlertPurpose.SECOND_CONTACT, channel, contact)]


def test_the_clinic_sets_the_second_contact_delays(sessions):
    setup(
        sessions, zone="America/New_York", second_contact=SECOND,
        emergency_second_minutes=5, clinic_today_second_minutes=240,
    )  # fmt: skip
    t = datetime(2026, 6, 2, 14, tzinfo=UTC)
    raise_flag(sessions, FlagKind.EMERGENCY, t)
    raise_flag(sessions, FlagKind.CLINIC_TODAY, t)
    assert escalate_due(sessions, t + timedelta(minutes=5)).second_contact == 1
    assert escalate_due(sessions, t + timedelta(minutes=239)).second_contact == 0
    assert escalate_due(sessions, t + timedelta(minutes=240)).second_contact == 1


def test_without_a_second_contact_nothing_is_sent_and_callbacks_never_escalate(sessions):
    setup(sessions, zone="America/New_York")
    t = datetime(2026, 6, 2, 14, tzinfo=UTC)
    raise_flag(sessions, FlagKind.EMERGENCY, t)
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(second_contact=None))
    raise_flag(sessions, FlagKind.CALLBACK, t)
    assert escalate_due(sessions, t + timedelta(days=1)).second_contact == 0
    with sessions() as db, db.begin():
        db.execute(update(Clinic).values(second_contact=SECOND))
    report = escalate_due(sessions, t + timedelta(days=1))
    assert report.second_contact == 1  # the emergency, never the call-back


def test_the_alert_sender_delivers_the_second_contact_text(sessions):
    setup(sessions, zone="America/New_York", second_contact=SECOND)
    t = datetime(2026, 6, 2, 14, tzinfo=UTC)
    raise_flag(sessions, FlagKind.EMERGENCY, t)
    escalate_due(sessions, t + timedelta(minutes=20))
    gateway = Gateway()
    sender = AlertSender(
        sessions, gateway, public_url=None, default_from=None, default_service_sid=None,
        worker="test",
    )  # fmt: skip
    assert sender.run_once(t + timedelta(minutes=20)).sent == 1
    assert [(s.to, s.body) for s in gateway.sent] == [
        (SECOND, "URGENT Harbor Physio: Emergency reply from Maria not acknowledged. They were "
         "told to call 911.")
    ]  # fmt: skip
