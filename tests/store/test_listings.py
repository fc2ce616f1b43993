"""followup.store.listings directly, on SQLite and PostgreSQL: which rows each listing
returns, in what order (ties broken by id), with whose ids, and that a clinic filter keeps
one clinic's rows from another's. The rows are those of :func:`support.staff_rows.seed_staff_rows`
(its table says who wrote what when)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update
from support.staff_rows import SLACK, TELEGRAM, UNKNOWN, WEBHOOK, ago, seed_staff_rows

from followup.store import listings, replies
from followup.store.models import OutboundMessage
from followup.store.statuses import AlertStatus, FlagStatus
from followup.store.statuses import MessageStatus as S

STEPS = ("aftercare", "checkin_24h", "checkin_72h")


@pytest.fixture
def seeded(clinics):
    return seed_staff_rows(clinics)


def outbox_of(db, **filters) -> list[tuple[str, str, str, str]]:
    """(clinic, session, patient, step) of each text the outbox listing returns, in order."""
    return [(slug, sess, pat, m.step) for m, slug, sess, pat in listings.outbox(db, **filters)]


def test_the_outbox_lists_every_text_soonest_first_with_the_clinics_own_ids(clinics):
    with clinics.sessions() as db:
        rows = outbox_of(db)
    # all four aftercares are due at the same minute: then by id, Harbor's patients first
    patients = [("harbor", "S0", "P0"), ("harbor", "S1", "P1"), ("harbor", "S2", "P2"),
                ("bay", "S5", "P5")]  # fmt: skip
    assert rows == [(*who, step) for step in STEPS for who in patients]


def test_the_outbox_orders_by_when_a_text_goes_not_by_when_it_was_planned(clinics):
    # P5's aftercare deferred past everyone's 24 h check-in; P2's brought forward
    clinics.update_text("P5", "aftercare", send_at=ago(-25))
    clinics.update_text("P2", "checkin_72h", send_at=ago(-0.5))
    with clinics.sessions() as db:
        rows = [(pat, step) for _, _, pat, step in outbox_of(db)]
    assert rows == [
        ("P0", "aftercare"), ("P1", "aftercare"), ("P2", "aftercare"),
        ("P2", "checkin_72h"),
        ("P0", "checkin_24h"), ("P1", "checkin_24h"), ("P2", "checkin_24h"), ("P5", "checkin_24h"),
        ("P5", "aftercare"),
        ("P0", "checkin_72h"), ("P1", "checkin_72h"), ("P5", "checkin_72h"),
    ]  # fmt: skip


def test_the_outbox_filters_by_status_and_clinic_and_limits_after_filtering(clinics):
    clinics.update_text("P0", "aftercare", status=S.SENT)
    clinics.update_text("P5", "aftercare", status=S.SENT)
    clinics.update_text("P5", "checkin_72h", status=S.SKIPPED, reason="opted out: sms: STOP")
    with clinics.sessions() as db:
        assert outbox_of(db, status=S.SENT) == [
            ("harbor", "S0", "P0", "aftercare"),
            ("bay", "S5", "P5", "aftercare"),
        ]
        assert outbox_of(db, clinic_slug="bay") == [("bay", "S5", "P5", step) for step in STEPS]
        assert outbox_of(db, clinic_slug="bay", status=S.SCHEDULED) == [
            ("bay", "S5", "P5", "checkin_24h")
        ]
        # the limit counts the clinic's rows, not everyone's
        assert outbox_of(db, clinic_slug="bay", limit=2) == [
            ("bay", "S5", "P5", "aftercare"),
            ("bay", "S5", "P5", "checkin_24h"),
        ]
        assert len(outbox_of(db, limit=5)) == 5
        assert outbox_of(db, clinic_slug="nowhere") == []
        assert outbox_of(db, status=S.FAILED) == []
        skipped = listings.outbox(db, status=S.SKIPPED)
        assert [(m.reason, m.status) for m, *_ in skipped] == [("opted out: sms: STOP", S.SKIPPED)]


def test_a_new_text_of_one_clinic_never_shows_in_anothers_outbox(clinics):
    with clinics.sessions() as db, db.begin():  # Bay's texts all move to the front
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.clinic_id == clinics.clinic_id("bay"))
            .values(send_at=ago(5))
        )
    with clinics.sessions() as db:
        harbor = outbox_of(db, clinic_slug="harbor")
        bay = outbox_of(db, clinic_slug="bay")
        assert {slug for slug, *_ in harbor} == {"harbor"} and len(harbor) == 9
        assert {pat for _, _, pat, _ in harbor} == {"P0", "P1", "P2"}
        assert bay == [("bay", "S5", "P5", step) for step in STEPS]
        assert outbox_of(db, limit=3) == bay


def test_flags_are_listed_newest_first_by_status_with_whose_they_are(seeded):
    names = seeded.flag_names
    with seeded.clinics.sessions() as db:
        rows = listings.flags(db, status=FlagStatus.OPEN)
        # F3 and F4 were raised at the same time: the later id first
        assert [names[f.id] for f, *_ in rows] == ["F4", "F3", "F2", "F1"]
        assert [(slug, first, ext) for _, slug, first, ext in rows] == [
            ("harbor", "PatC", "P2"),
            (None, None, None),  # the unknown number: no clinic, no patient, still listed
            ("bay", "PatF", "P5"),
            ("harbor", "PatA", "P0"),
        ]
        assert [(f.kind, f.created_at) for f, *_ in rows][2] == ("emergency", ago(2))
        acknowledged = listings.flags(db, status=FlagStatus.ACKNOWLEDGED)
        assert [(names[f.id], f.acknowledged_by) for f, *_ in acknowledged] == [("F5", "Dr. Lee")]


def test_the_flags_of_one_clinic_are_not_anothers(seeded):
    names = seeded.flag_names
    with seeded.clinics.sessions() as db:

        def of(clinic, status=FlagStatus.OPEN):
            return [names[f.id] for f, *_ in listings.flags(db, status=status, clinic_slug=clinic)]

        assert of("harbor") == ["F4", "F1"]  # not Bay's F2, not the unknown number's F3
        assert of("bay") == ["F2"]
        assert of("harbor", FlagStatus.ACKNOWLEDGED) == ["F5"]
        assert of("bay", FlagStatus.ACKNOWLEDGED) == []
        assert of("nowhere") == []


def test_alerts_are_listed_newest_first_all_or_by_status(seeded):
    ids = seeded.alert
    with seeded.clinics.sessions() as db:
        everything = listings.alerts(db)
        assert [a.id for a in everything] == [
            ids[TELEGRAM],  # raised now
            ids["+12015550999"],  # two hours ago
            ids[WEBHOOK],  # three hours ago, three at once: the later id first
            ids[SLACK],
            ids["+12015550998"],
        ]
        pending = listings.alerts(db, status=AlertStatus.PENDING)
        assert [a.id for a in pending] == [ids[WEBHOOK], ids[SLACK], ids["+12015550998"]]
        assert [a.destination for a in listings.alerts(db, status=AlertStatus.FAILED)] == [TELEGRAM]
        (sent,) = listings.alerts(db, status=AlertStatus.SENT)
        assert (sent.destination, sent.sent_at, sent.provider_sid) == (
            "+12015550999",
            ago(2),
            "SMalert",
        )


def test_replies_are_the_latest_first_and_the_limit_counts_after_the_clinic_filter(seeded):
    names = seeded.reply_names
    with seeded.clinics.sessions() as db:

        def of(**kw):
            return [(names[m.id], slug, ext) for m, slug, ext in listings.replies(db, **kw)]

        # R3 and R4 came in at the same time: the later id first
        assert of() == [
            ("R5", "harbor", "P0"),
            ("R4", None, None),
            ("R3", "harbor", "P2"),
            ("R2", "bay", "P5"),
            ("R1", "harbor", "P0"),
        ]
        assert of(limit=2) == [("R5", "harbor", "P0"), ("R4", None, None)]
        assert of(clinic_slug="bay") == [("R2", "bay", "P5")]
        # Harbor's two latest, though the unknown number's R4 is newer than R3
        assert of(clinic_slug="harbor", limit=2) == [("R5", "harbor", "P0"), ("R3", "harbor", "P2")]
        assert of(clinic_slug="nowhere") == []
        (latest, *_), *_ = listings.replies(db, limit=1)
        assert (latest.received_at, latest.score, latest.kind) == (ago(0), None, "clinic_today")


def test_the_default_reply_limit_is_fifty(clinics):
    with clinics.runtime.engine.begin() as conn:
        for i in range(55):
            replies.file_reply(
                conn, provider_sid=f"SMmany{i}", clinic_id=None, patient_id=None,
                in_reply_to=None, from_number=UNKNOWN, to_number=None,
                messaging_service_sid=None, body=str(i), num_media=0,
                received_at=ago(0) - timedelta(minutes=i), kind="text", urgency="review",
                score=None, worry=None, matched=(), reply_key=None, reply_body=None,
            )  # fmt: skip
    with clinics.sessions() as db:
        rows = listings.replies(db)
    assert [m.body for m, *_ in rows] == [str(i) for i in range(50)]
