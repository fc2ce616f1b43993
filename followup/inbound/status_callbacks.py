"""Delivery status callbacks: what the carrier did with a text we sent.

Twilio posts a callback per status change, may post one twice, and posts them in any order
(``delivered`` can arrive before ``sent``). So each callback is first kept as a receipt,
unique on (MessageSid, status), which makes a repeat a no-op; then applied to its text only
if the outbox's state machine allows the move (:data:`followup.store.outbox.ALLOWED` never goes
from delivered back to sent). A callback can also outrun the dispatcher, which records the
SID a moment after Twilio accepted the text: such receipts stay unapplied, and
:func:`reconcile` (every worker tick) applies them once the SID is known.

Carrier verdicts about the patient travel on: 21610 (the patient replied STOP to this sender)
marks the patient opted out, 30006 (a landline) marks the number unusable.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from followup.consent import record_carrier_error
from followup.store import receipts
from followup.store.outbox import ALLOWED, transition
from followup.store.statuses import MessageStatus

#: Twilio's MessageStatus -> our message status; others (queued, accepting, sending, canceled,
#: scheduled) are kept as receipts and in provider_status but move nothing
OUR_STATUS = {
    "sent": MessageStatus.SENT,
    "delivered": MessageStatus.DELIVERED,
    "read": MessageStatus.DELIVERED,
    "undelivered": MessageStatus.UNDELIVERED,
    "failed": MessageStatus.FAILED,
}
#: receipts older than this that never matched a text are left alone (a text sent by another
#: system on the same account)
RECONCILE_WINDOW = timedelta(days=2)


@dataclass(frozen=True)
class StatusCallback:
    sid: str
    status: str
    error_code: str | None = None


def next_status(current: str, reported: str) -> MessageStatus | None:
    """Pure: the status a text moves to when the carrier reports ``reported`` (Twilio's word)
    while we hold ``current``; None when the report is stale or says nothing new."""
    target = OUR_STATUS.get(reported)
    if target is None or target == current or target not in ALLOWED.get(current, ()):
        return None
    return target


def _apply(db: Session | Connection, receipt_id: int, cb: StatusCallback, now: datetime) -> str:
    row = receipts.text_with_sid(db, cb.sid)
    if row is None:
        # texts to the on-call phone carry the same callback; they are not in the outbox
        if receipts.staff_alert_with_sid(db, cb.sid) is None:
            return "unmatched"
        receipts.mark_applied(db, receipt_id, now)
        return "staff alert"
    target = next_status(row.status, cb.status)
    outcome = "stale"
    if target is not None:
        code = f" (error {cb.error_code})" if cb.error_code else ""
        values = {"provider_status": cb.status}
        if cb.error_code:
            values["error_code"] = cb.error_code
        if transition(
            db,
            row.id,
            row.status,
            target,
            at=now,
            reason=f"twilio: {cb.status}{code}",
            actor="twilio",
            **values,
        ):
            outcome = target
    if cb.error_code:
        record_carrier_error(db, row.patient_id, now, cb.error_code)
    receipts.mark_applied(db, receipt_id, now, message_id=row.id)
    return outcome


def record_status(db: Session | Connection, cb: StatusCallback, now: datetime) -> str:
    """Keep and apply one callback. Returns what happened: "duplicate", "unmatched" (kept for
    :func:`reconcile`), "stale" (out of order, nothing moved) or the new status."""
    receipt_id = receipts.keep_receipt(
        db, provider_sid=cb.sid, status=cb.status, error_code=cb.error_code, received_at=now
    )
    if receipt_id is None:
        return "duplicate"
    return _apply(db, receipt_id, cb, now)


def reconcile(db: Session, now: datetime) -> int:
    """Apply receipts that arrived before their text's SID was recorded. Returns applied."""
    pending = receipts.unapplied_receipts(db, now=now, window=RECONCILE_WINDOW)
    for r in pending:
        _apply(db, r.id, StatusCallback(r.provider_sid, r.status, r.error_code), now)
    return len(pending)
