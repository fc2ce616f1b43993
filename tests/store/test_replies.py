"""The statements of followup.store.replies, directly, on SQLite and PostgreSQL: the
clinics a reply reaches, a number's records with their latest check-in and reply history,
and filing a reply once per MessageSid."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from support.webhooks import BAY_NUMBER, HARBOR_NUMBER, NOW, OTHER, SHARED, Clinics

from followup.store import replies
from followup.store.models import Clinic
from followup.store.statuses import MessageStatus, ReplyKind

UNKNOWN = "+12015550777"


def ago(hours: float):
    return NOW - timedelta(hours=hours)


def file(conn, sid: str, *, at, patient_id=None, sender=SHARED, score=None, reply_key=None):
    return replies.file_reply(
        conn,
        provider_sid=sid,
        clinic_id=None,
        patient_id=patient_id,
        in_reply_to=None,
        from_number=sender,
        to_number=HARBOR_NUMBER,
        messaging_service_sid=None,
        body=f"body of {sid}",
        num_media=0,
        received_at=at,
        kind=ReplyKind.SCORE if score is not None else ReplyKind.TEXT,
        urgency="none",
        score=score,
        worry=None,
        matched=("x",),
        reply_key=reply_key,
        reply_body=f"answer to {sid}" if reply_key else None,
    )


def test_the_clinics_texted_by_number_by_service_and_by_the_process_wide_sender(runtime):
    clinics = Clinics(runtime)
    with clinics.sessions() as db, db.begin():
        db.add(Clinic(slug="home", name="Home", phone="+12015550100", timezone="UTC"))
        db.execute(update(Clinic).where(Clinic.slug == "bay").values(messaging_service_sid="MG1"))
    home_id = clinics.clinic_id("home")
    with runtime.engine.connect() as conn:

        def slugs(to=None, service=None, uses_default=False):
            rows = replies.clinics_texted(
                conn, to_number=to, messaging_service_sid=service, uses_default=uses_default
            )
            return [r.slug for r in rows]

        assert slugs(HARBOR_NUMBER) == ["harbor"]
        assert slugs(BAY_NUMBER) == ["bay"]
        assert slugs(service="MG1") == ["bay"]
        assert slugs(HARBOR_NUMBER, "MG1") == ["harbor", "bay"]
        assert slugs("+19995550000", uses_default=True) == ["home"]
        assert slugs("+19995550000") == []
        home = replies.clinic_by_id(conn, home_id)
        assert (home.slug, home.phone, home.default_locale, home.alert_urls) == (
            "home",
            "+12015550100",
            "en",
            None,
        )
        assert replies.clinic_by_id(conn, 999_999) is None


def test_a_numbers_records_come_with_their_latest_check_in_sent_by_now(runtime):
    clinics = Clinics(runtime)
    sent = MessageStatus.SENT
    clinics.update_text("P0", "checkin_24h", status=sent, sent_at=NOW - timedelta(hours=2))
    clinics.update_text("P0", "aftercare", status=sent, sent_at=NOW - timedelta(hours=1))
    clinics.update_text("P0", "checkin_72h", status=sent, sent_at=NOW + timedelta(hours=1))
    with runtime.engine.connect() as conn:
        rows = replies.records_of_number(conn, SHARED, now=NOW, acknowledged_since=NOW)
    assert [r.id for r in rows] == [clinics.patient_id(p) for p in ("P0", "P1", "P5")]
    p0, p1, _ = rows
    # not the aftercare (not a check-in), not the 72 h one (sent after now)
    assert (p0.checkin_id, p0.template_key) == (clinics.text_id("P0", "checkin_24h"), "checkin_24h")
    assert p0.sent_at == NOW - timedelta(hours=2)
    assert (p1.checkin_id, p1.template_key, p1.sent_at) == (None, None, None)
    assert (p0.clinic_id, p0.first_name, p0.locale) == (clinics.clinic_id("harbor"), "PatA", None)


def test_the_reply_history_is_the_last_score_and_a_recent_acknowledgement(runtime):
    clinics = Clinics(runtime)
    p0 = clinics.patient_id("P0")
    with runtime.engine.begin() as conn:
        file(conn, "SM1", at=ago(30), patient_id=p0, score=3)
        file(conn, "SM2", at=ago(26), patient_id=p0, score=5, reply_key="reply_received")
        file(conn, "SM3", at=ago(20), patient_id=p0)  # no score: does not hide the last one
        file(conn, "SM4", at=ago(10), sender=UNKNOWN, score=9, reply_key="reply_received")
    with runtime.engine.connect() as conn:

        def history(since):
            rows = replies.records_of_number(conn, SHARED, now=NOW, acknowledged_since=since)
            unknown = replies.history_of_number(conn, UNKNOWN, acknowledged_since=since)
            return [(r.previous, r.acked) for r in (rows[0], rows[1], unknown)]

        assert history(ago(24)) == [(5, None), (None, None), (9, 1)]
        assert history(ago(27)) == [(5, 1), (None, None), (9, 1)]
        assert history(ago(9)) == [(5, None), (None, None), (9, None)]
        nobody = replies.history_of_number(conn, OTHER, acknowledged_since=ago(24))
        assert (nobody.previous, nobody.acked) == (None, None)


def test_a_reply_is_filed_once_per_message_sid(runtime):
    Clinics(runtime)
    with runtime.engine.begin() as conn:
        first = file(conn, "SMonce", at=NOW, reply_key="reply_thanks")
        assert first is not None
        assert file(conn, "SMonce", at=NOW + timedelta(1), reply_key="reply_help") is None
        seen = replies.stored_answer(conn, "SMonce")
    assert (seen.id, seen.reply_body) == (first, "answer to SMonce")
