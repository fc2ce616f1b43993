"""The two-way tables: delivery receipts, replies, the flags staff act on and their alerts.

Unique on what Twilio sends once (a reply's MessageSid, a receipt's SID and status), so a
retried webhook is stored once; flags and alerts carry CHECK constraints on kind, status,
channel and purpose.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from followup.store.schema import (
    ALERT_CHANNELS,
    ALERT_PURPOSES,
    ALERT_STATUSES,
    FLAG_KINDS,
    FLAG_STATUSES,
    REPLY_KINDS,
    Base,
    UTCDateTime,
)
from followup.store.statuses import (
    AlertPurpose,
)


class DeliveryReceipt(Base):
    """A status callback as Twilio sent it. ``(provider_sid, status)`` is unique, so a repeated
    callback is a no-op; a receipt whose text is not yet known (the callback outran the
    dispatcher's write of the SID) stays unapplied until the worker's next reconcile."""

    __tablename__ = "delivery_receipts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider_sid: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE")
    )

    __table_args__ = (
        UniqueConstraint("provider_sid", "status"),
        Index(
            "ix_delivery_receipts_unapplied",
            "received_at",
            postgresql_where=text("applied_at IS NULL"),
            sqlite_where=text("applied_at IS NULL"),
        ),
    )


class InboundMessage(Base):
    """A text a patient (or anyone) sent us. Kept whatever it says and whoever sent it:
    an unknown number's text is stored with no patient, never dropped."""

    __tablename__ = "inbound_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    #: Twilio's MessageSid; unique, so a webhook retried by Twilio is processed once
    provider_sid: Mapped[str] = mapped_column(String(64), unique=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    #: the check-in this answers: the patient's latest check-in sent before it arrived
    in_reply_to: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="SET NULL")
    )
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str | None] = mapped_column(String(64))
    messaging_service_sid: Mapped[str | None] = mapped_column(String(34))
    body: Mapped[str] = mapped_column(Text, default="")
    num_media: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    kind: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(16))
    score: Mapped[int | None] = mapped_column(Integer)
    worry: Mapped[bool | None] = mapped_column(Boolean)
    #: the terms that decided, for staff ("chest pain", "score 7"); JSON list of strings
    matched: Mapped[list | None] = mapped_column(JSON)
    #: the template we answered with and its text (TwiML), or NULL when we stayed silent
    reply_key: Mapped[str | None] = mapped_column(String(64))
    reply_body: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        CheckConstraint(f"kind IN {REPLY_KINDS!r}", name="kind"),
        Index(None, "patient_id", "received_at"),
        Index(None, "clinic_id", "received_at"),
    )


class Flag(Base):
    """Something staff must act on, raised by a reply or by the outbox (a safety text held
    back, a nudge nobody answered). Open until a named person acknowledges it (it is then in
    hand), and on the staff's list until someone closes it."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    #: the reply that raised it; None for a flag the outbox raised (see ``message_id``)
    inbound_id: Mapped[int | None] = mapped_column(
        ForeignKey("inbound_messages.id", ondelete="CASCADE")
    )
    #: the text a flag of the outbox is about: a safety text a limit held back, a nudge
    #: nobody answered. Unique: each such text raises one flag, however often it is planned
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE"), unique=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    #: why, in staff words without the patient's own text ("red flag: chest pain", "score 8")
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(120))
    #: the staff member (login e-mail) the flag was given to; assigning does not
    #: acknowledge it: its escalation runs until someone says they have it in hand
    assigned_to: Mapped[str | None] = mapped_column(String(254))
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(120))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: when the flag's escalation was queued: a review flag overdue in open time
    #: (``review_alerted_at``), an urgent one sent to the second contact
    #: (``second_contact_at``). Set once, in the transaction that queues the alerts, so a
    #: flag escalates once however many workers look.
    review_alerted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    second_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(f"kind IN {FLAG_KINDS!r}", name="kind"),
        CheckConstraint(f"status IN {FLAG_STATUSES!r}", name="status"),
        Index(None, "clinic_id", "status", "created_at"),
        # the escalation scan: open flags by kind and age
        Index(
            "ix_flags_open_kind_created_at",
            "kind",
            "created_at",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )


class StaffAlert(Base):
    """One delivery of a flag to one destination (the on-call number, an Apprise URL).

    Sent by the alert sender right after the webhook commits and retried with backoff by the
    worker; a failure is kept (``last_error``) for the dashboard and ``followup alerts``."""

    __tablename__ = "staff_alerts"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    flag_id: Mapped[int] = mapped_column(ForeignKey("flags.id", ondelete="CASCADE"), index=True)
    #: None: a fallback alert (an urgent reply no clinic could be given)
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    #: why it was sent (:class:`~followup.store.statuses.AlertPurpose`)
    purpose: Mapped[str] = mapped_column(
        String(16), default=AlertPurpose.FLAG, server_default=text("'flag'")
    )
    destination: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: a sender working on it holds it until then (like the outbox's lease)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(f"channel IN {ALERT_CHANNELS!r}", name="channel"),
        CheckConstraint(f"purpose IN {ALERT_PURPOSES!r}", name="purpose"),
        CheckConstraint(f"status IN {ALERT_STATUSES!r}", name="status"),
        Index(
            "ix_staff_alerts_pending",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )
