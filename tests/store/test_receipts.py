"""followup.store.receipts directly, on SQLite and PostgreSQL: a callback is kept once per
(MessageSid, status), matched to a text or a staff alert, and left for reconciling only
while its text may still get its SID."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update
from support.webhooks import BAY_NUMBER, NOW, SHARED, Clinics

from followup.store import receipts
from followup.store.models import DeliveryReceipt, StaffAlert
from followup.store.statuses import MessageStatus

WINDOW = timedelta(days=2)


def keep(db, sid: str, status: str = "delivered", at=NOW, code=None):
    return receipts.keep_receipt(
        db, provider_sid=sid, status=status, error_code=code, received_at=at
    )


def test_a_callback_is_kept_once_per_sid_and_status(runtime):
    with runtime.engine.begin() as conn:
        first = keep(conn, "SM1")
        assert first is not None
        assert keep(conn, "SM1", at=NOW + timedelta(1)) is None
        assert keep(conn, "SM1", "sent") not in (None, first)
    with runtime.sessions() as db:
        assert db.get(DeliveryReceipt, first).received_at == NOW


def test_a_receipt_is_matched_to_its_text_or_to_a_staff_alert(runtime):
    clinics = Clinics(runtime)
    clinics.update_text("P2", "aftercare", status=MessageStatus.SENT, provider_sid="SMtext")
    alert = clinics.receive("I fainted", SHARED, BAY_NUMBER, sid="SMreply")  # pages Bay
    assert alert.alerts == 1
    with clinics.sessions() as db, db.begin():
        db.execute(update(StaffAlert).values(provider_sid="SMalert"))
    expected = (clinics.text_id("P2", "aftercare"), MessageStatus.SENT, clinics.patient_id("P2"))
    with runtime.engine.connect() as conn:
        assert tuple(receipts.text_with_sid(conn, "SMtext")) == expected
        assert receipts.text_with_sid(conn, "SMalert") is None
        assert receipts.staff_alert_with_sid(conn, "SMalert") is not None
        assert receipts.staff_alert_with_sid(conn, "SMtext") is None


def test_unapplied_receipts_of_known_texts_within_the_window_oldest_first(runtime):
    clinics = Clinics(runtime)
    clinics.update_text("P2", "aftercare", status=MessageStatus.SENT, provider_sid="SMknown")
    message_id = clinics.text_id("P2", "aftercare")
    with runtime.engine.begin() as conn:
        late = keep(conn, "SMknown", "delivered", NOW - timedelta(hours=1))
        early = keep(conn, "SMknown", "sent", NOW - timedelta(hours=2))
        applied = keep(conn, "SMknown", "read", NOW - timedelta(hours=3))
        receipts.mark_applied(conn, applied, NOW, message_id=message_id)
        keep(conn, "SMknown", "failed", NOW - WINDOW - timedelta(minutes=1))  # too old
        keep(conn, "SMunknown", "delivered", NOW)  # no such text (yet)
        pending = receipts.unapplied_receipts(conn, now=NOW, window=WINDOW)
    assert [(r.id, r.status) for r in pending] == [(early, "sent"), (late, "delivered")]
    assert {(r.provider_sid, r.error_code) for r in pending} == {("SMknown", None)}
    with runtime.sessions() as db:
        row = db.get(DeliveryReceipt, applied)
        assert (row.applied_at, row.message_id) == (NOW, message_id)
