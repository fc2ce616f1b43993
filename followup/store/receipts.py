"""Delivery receipts (``delivery_receipts``): every status callback the carrier sent, kept
first and applied after, and the lookups that match a receipt to what it reports on (a text
in the outbox, or an alert to the on-call phone).

Twilio posts a callback per status change, repeats some and reorders others; the unique
(MessageSid, status) key makes a repeat a no-op. A callback posts for every text sent, so
the statements are built once, at import.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update
from sqlalchemy.orm import Session

from followup.store.models import DeliveryReceipt, OutboundMessage, StaffAlert, UTCDateTime
from followup.store.upsert import insert_ignore

_TEXT_BY_SID = select(OutboundMessage.id, OutboundMessage.status, OutboundMessage.patient_id).where(
    OutboundMessage.provider_sid == bindparam("sid")
)
_ALERT_BY_SID = select(StaffAlert.id).where(StaffAlert.provider_sid == bindparam("sid"))
_APPLIED = (
    update(DeliveryReceipt)
    .where(DeliveryReceipt.id == bindparam("receipt_id"))
    .values(applied_at=bindparam("now", type_=UTCDateTime), message_id=bindparam("message_id"))
)
_UNAPPLIED = (
    select(
        DeliveryReceipt.id,
        DeliveryReceipt.provider_sid,
        DeliveryReceipt.status,
        DeliveryReceipt.error_code,
    )
    .join(OutboundMessage, OutboundMessage.provider_sid == DeliveryReceipt.provider_sid)
    .where(
        DeliveryReceipt.applied_at.is_(None),
        DeliveryReceipt.received_at > bindparam("since", type_=UTCDateTime),
    )
    .order_by(DeliveryReceipt.received_at, DeliveryReceipt.id)
)


def keep_receipt(
    db: Session | Connection,
    *,
    provider_sid: str,
    status: str,
    error_code: str | None,
    received_at: datetime,
) -> int | None:
    """Keep one callback; its id, or None when this (MessageSid, status) is already kept."""
    return insert_ignore(
        db,
        DeliveryReceipt,
        {
            "provider_sid": provider_sid,
            "status": status,
            "error_code": error_code,
            "received_at": received_at,
        },
        ("provider_sid", "status"),
    )


def text_with_sid(db: Session | Connection, provider_sid: str) -> Row[Any] | None:
    """The outbox text the provider knows as ``provider_sid``: id, status, patient_id."""
    return db.execute(_TEXT_BY_SID, {"sid": provider_sid}).first()


def staff_alert_with_sid(db: Session | Connection, provider_sid: str) -> int | None:
    """The id of the staff alert (a text to an on-call phone) sent as ``provider_sid``."""
    return db.execute(_ALERT_BY_SID, {"sid": provider_sid}).scalar()


def mark_applied(
    db: Session | Connection, receipt_id: int, now: datetime, message_id: int | None = None
) -> None:
    """The receipt has been applied (to text ``message_id``, when it is about one)."""
    db.execute(_APPLIED, {"receipt_id": receipt_id, "now": now, "message_id": message_id})


def unapplied_receipts(
    db: Session | Connection, *, now: datetime, window: timedelta
) -> list[Row[Any]]:
    """Receipts kept within ``window`` before ``now`` and not applied, whose text is now
    known by its SID (the callback outran the dispatcher recording it), oldest first:
    id, provider_sid, status, error_code."""
    return list(db.execute(_UNAPPLIED, {"since": now - window}).all())
