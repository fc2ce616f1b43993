"""Tables. Invariants live in the schema, so races become impossible rather than unlikely.

- ``(clinic_id, external_id)`` is unique for patients and sessions: the clinic's own ids are
  the idempotency keys of every way in (direct writes, CSV, API, FHIR).
- ``(session_id, step)`` is unique in the outbox: planning twice never sends twice.
- ``status`` columns carry CHECK constraints; every transition of a message is written to
  ``message_events`` (the audit trail a clinic will be asked for).

All timestamps are stored in UTC (timezone-aware columns on PostgreSQL; SQLite stores naive
UTC, and :class:`UTCDateTime` puts the zone back on the way out).
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from followup.store.statuses import (
    AlertChannel,
    AlertPurpose,
    AlertStatus,
    FlagKind,
    FlagStatus,
    MessageStatus,
    ReplyKind,
    SessionStatus,
    values,
)

MESSAGE_STATUSES = values(MessageStatus)
SESSION_STATUSES = values(SessionStatus)
REPLY_KINDS = values(ReplyKind)
FLAG_KINDS = values(FlagKind)
FLAG_STATUSES = values(FlagStatus)
ALERT_CHANNELS = values(AlertChannel)
ALERT_STATUSES = values(AlertStatus)
ALERT_PURPOSES = values(AlertPurpose)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def _require_aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UTC column; attach a time zone first")
    return value


@lru_cache(maxsize=8192)
def _sqlite_utc_text(value: datetime) -> str:
    """How SQLite keeps a UTC timestamp: fixed-width text (the format of SQLAlchemy's SQLite
    DATETIME), so comparing text compares instants. Cached: the planner writes hundreds of
    thousands of timestamps, and many are equal (the run's clock, texts deferred to 08:00)."""
    return value.astimezone(UTC).isoformat(" ", "microseconds")[:26]


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        return None if value is None else _require_aware(value).astimezone(UTC)

    def bind_processor(self, dialect):
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite keeps text: one step from datetime to that text, instead of the generic
        # process_bind_param -> SQLite DATETIME chain (the planner binds hundreds of thousands)
        def process(value: datetime | None) -> str | None:
            return None if value is None else _sqlite_utc_text(_require_aware(value))

        return process

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Clinic(Base):
    __tablename__ = "clinics"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str] = mapped_column(String(20))
    timezone: Mapped[str] = mapped_column(String(64))
    country: Mapped[str] = mapped_column(String(2), default="US")
    default_locale: Mapped[str] = mapped_column(String(16), default="en")
    #: sender: a number in E.164, or a Twilio messaging service SID; both empty means the
    #: process-wide TWILIO_FROM_NUMBER / TWILIO_MESSAGING_SERVICE_SID
    from_number: Mapped[str | None] = mapped_column(String(20))
    messaging_service_sid: Mapped[str | None] = mapped_column(String(34))
    #: the daily window in which messages may go out, minutes after local midnight
    send_window_start: Mapped[int] = mapped_column(Integer, default=8 * 60)
    send_window_end: Mapped[int] = mapped_column(Integer, default=20 * 60)
    emergency_number: Mapped[str] = mapped_column(String(16), default="911")
    #: staff alerts: an on-call number (E.164) texted through the same gateway, and Apprise
    #: URLs (email, Slack, Teams, webhooks); both optional
    oncall_phone: Mapped[str | None] = mapped_column(String(20))
    alert_urls: Mapped[list | None] = mapped_column(JSON)
    #: opening hours per weekday in the clinic's zone (:func:`followup.hours.to_data`);
    #: NULL means :data:`followup.hours.DEFAULT_HOURS`
    opening_hours: Mapped[dict | None] = mapped_column(JSON)
    #: open minutes a review flag may wait unacknowledged before staff are alerted
    review_alert_minutes: Mapped[int] = mapped_column(
        Integer, default=120, server_default=text("120")
    )
    #: minutes an emergency / clinic-today flag may wait unacknowledged before the second
    #: contact is alerted (wall-clock time: these do not wait for opening hours)
    emergency_second_minutes: Mapped[int] = mapped_column(
        Integer, default=15, server_default=text("15")
    )
    clinic_today_second_minutes: Mapped[int] = mapped_column(
        Integer, default=60, server_default=text("60")
    )
    #: who is alerted when nobody acknowledges an urgent flag: an E.164 number or an
    #: Apprise URL; NULL: nobody
    second_contact: Mapped[str | None] = mapped_column(Text)
    #: the clinic's care plan as validated JSON; NULL means the default plan
    care_plan: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(
            "send_window_start >= 0 AND send_window_end <= 1440 "
            "AND send_window_start < send_window_end",
            name="send_window",
        ),
        CheckConstraint(
            "review_alert_minutes > 0 AND emergency_second_minutes > 0"
            " AND clinic_today_second_minutes > 0",
            name="escalation_minutes",
        ),
    )


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    first_name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))
    locale: Mapped[str | None] = mapped_column(String(16))
    timezone: Mapped[str | None] = mapped_column(String(64))
    consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    consent_method: Mapped[str | None] = mapped_column(String(32))
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: how the opt-out came: "sms: STOP", "sms: stop texting me", "provider error 21610"...
    opted_out_how: Mapped[str | None] = mapped_column(String(120))
    #: set when the carrier says this number cannot get texts (30006: a landline); no text is
    #: sent to it until the clinic corrects the number
    phone_unusable_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    phone_unusable_reason: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("clinic_id", "external_id"),
        Index(None, "phone"),
    )


class TreatmentSession(Base):
    __tablename__ = "treatment_sessions"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    external_id: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="completed")
    #: treated body regions, semicolon-separated (``neck;upper_back``); never sent in a text
    regions: Mapped[str] = mapped_column(Text, default="")
    next_appointment_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: true while the planner has not yet turned the latest version of this row into messages;
    #: every writer (CSV, API, a clinic system writing directly) sets it on insert and update
    plan_pending: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("clinic_id", "external_id"),
        CheckConstraint(f"status IN {SESSION_STATUSES!r}", name="status"),
        Index(None, "patient_id", "completed_at"),
        Index("ix_treatment_sessions_plan_pending", "plan_pending"),
    )


class OutboundMessage(Base):
    """One text in the outbox. The row is the schedule: cancelling is an UPDATE."""

    __tablename__ = "outbound_messages"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    step: Mapped[str] = mapped_column(String(32))
    template_key: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    #: when the care plan wanted it (before quiet hours and caps), and when it will go
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    send_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: after this instant the message is no longer useful and is skipped, not sent
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    provider_sid: Mapped[str | None] = mapped_column(String(64))
    provider_status: Mapped[str | None] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(16))
    error_message: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("session_id", "step"),
        CheckConstraint(f"status IN {MESSAGE_STATUSES!r}", name="status"),
        CheckConstraint("attempts >= 0", name="attempts"),
        Index(
            "ix_outbound_messages_due",
            "send_at",
            "id",
            postgresql_where=text("status = 'scheduled'"),
            sqlite_where=text("status = 'scheduled'"),
        ),
        Index(
            "ix_outbound_messages_leased",
            "lease_until",
            postgresql_where=text("status = 'sending'"),
            sqlite_where=text("status = 'sending'"),
        ),
        Index(None, "patient_id", "send_at"),
        # the nudges look for safety check-ins sent lately; unsent rows are not indexed
        Index(
            "ix_outbound_messages_sent_template",
            "template_key",
            "sent_at",
            postgresql_where=text("sent_at IS NOT NULL"),
            sqlite_where=text("sent_at IS NOT NULL"),
        ),
        # the nudges themselves, for their staff follow-up
        Index(
            "ix_outbound_messages_nudges",
            "due_at",
            postgresql_where=text("step = 'nudge'"),
            sqlite_where=text("step = 'nudge'"),
        ),
        # callbacks look texts up by the provider's id; most rows have none yet
        Index(
            "ix_outbound_messages_provider_sid",
            "provider_sid",
            postgresql_where=text("provider_sid IS NOT NULL"),
            sqlite_where=text("provider_sid IS NOT NULL"),
        ),
    )


class MessageEvent(Base):
    """Every status change of a message: from, to, when, why, and who made it."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("outbound_messages.id", ondelete="CASCADE"), index=True
    )
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(Text)
    actor: Mapped[str] = mapped_column(String(64), default="system")


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
    from_number: Mapped[str] = mapped_column(String(32))
    to_number: Mapped[str | None] = mapped_column(String(32))
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
    back, a nudge nobody answered). Open until a named person acknowledges it."""

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
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
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
