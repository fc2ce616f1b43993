"""Tables. Invariants live in the schema, so races become impossible rather than unlikely.

- ``(clinic_id, external_id)`` is unique for patients and sessions: the clinic's own ids are
  the idempotency keys of every way in (direct writes, CSV, API, FHIR).
- ``(session_id, step)`` is unique in the outbox: planning twice never sends twice.
- ``status`` columns carry CHECK constraints; every transition of a message is written to
  ``message_events`` (the audit trail a clinic will be asked for).

The outbound side (clinics, patients, sessions, the outbox and its events) is here; the
two-way side (replies, flags, staff alerts, delivery receipts) is in
:mod:`followup.store.reply_models`, and the base, the status tuples and the UTC column type
in :mod:`followup.store.schema`. Every name stays importable from here.
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

from followup.store.account_models import (
    STAFF_ROLES,
    ApiKey,
    AuditEvent,
    LoginSession,
    StaffClinic,
    StaffUser,
)
from followup.store.reply_models import DeliveryReceipt, Flag, InboundMessage, StaffAlert
from followup.store.schema import (
    ALERT_CHANNELS,
    ALERT_PURPOSES,
    ALERT_STATUSES,
    FLAG_KINDS,
    FLAG_STATUSES,
    MESSAGE_STATUSES,
    NAMING,
    REPLY_KINDS,
    SESSION_STATUSES,
    Base,
    UTCDateTime,
    utcnow,
)

__all__ = [
    "ALERT_CHANNELS",
    "ALERT_PURPOSES",
    "ALERT_STATUSES",
    "FLAG_KINDS",
    "FLAG_STATUSES",
    "MESSAGE_STATUSES",
    "NAMING",
    "REPLY_KINDS",
    "SESSION_STATUSES",
    "STAFF_ROLES",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Clinic",
    "ClinicWording",
    "DeliveryReceipt",
    "Flag",
    "InboundMessage",
    "JobRun",
    "LoginSession",
    "MessageEvent",
    "OutboundMessage",
    "Patient",
    "StaffAlert",
    "StaffClinic",
    "StaffUser",
    "TreatmentSession",
    "UTCDateTime",
    "utcnow",
]  # fmt: skip


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
    #: days the patients' words (text bodies, reply texts) are kept once a text is finished
    #: or a reply received (:mod:`followup.retention`); at least 30
    retention_days: Mapped[int] = mapped_column(Integer, default=365, server_default=text("365"))
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
        CheckConstraint("retention_days >= 30", name="retention_days"),
    )


class ClinicWording(Base):
    """A clinic's own wording of one text (template key) in one locale, used instead of the
    catalogue's; checked by the catalogue's rules before it is stored
    (:mod:`followup.desk.wording`)."""

    __tablename__ = "clinic_wordings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    template_key: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: who saved it, as the audit log names them (``user:<email>``)
    updated_by: Mapped[str] = mapped_column(String(300))

    __table_args__ = (UniqueConstraint("clinic_id", "template_key", "locale"),)


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
    #: why the planner could not plan this session (its texts are not written; every other
    #: session goes on): cleared when it is planned, e.g. after the clinic fixes the row
    plan_error: Mapped[str | None] = mapped_column(String(500))
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
        # the reports count a clinic's texts sent in a period
        Index(
            "ix_outbound_messages_clinic_sent",
            "clinic_id",
            "sent_at",
            postgresql_where=text("sent_at IS NOT NULL"),
            sqlite_where=text("sent_at IS NOT NULL"),
        ),
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


class JobRun(Base):
    """One run of a job that must happen once per period across every worker ("retention
    for 2026-12-04"). ``(job, period)`` is unique: the worker whose INSERT wins runs it, the
    others see the row and do nothing. ``finished_at`` stays NULL for a run that died."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    period: Mapped[str] = mapped_column(String(32))
    worker: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("job", "period"),)
