"""Every state and kind the tables know, as enums: the one spelling of each, checked by the
schema (CHECK constraints are built from these) and by the type checker in the code.

They are ``StrEnum``: a member is the string the database stores, so rows read back as plain
strings still compare equal, and values bind as text on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    """Where a text in the outbox is (the state machine of :mod:`followup.store.outbox`)."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    SKIPPED = "skipped"


class SessionStatus(StrEnum):
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class ReplyKind(StrEnum):
    """What a patient's reply was read as (:mod:`followup.inbound.reading`)."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    EMERGENCY = "emergency"
    CLINIC_TODAY = "clinic_today"
    SCORE = "score"
    WRONG_NUMBER = "wrong_number"
    TEXT = "text"


class FlagKind(StrEnum):
    """Why staff must look: an emergency, the clinic should call today, a call-back, or a
    reply the rules could not settle (free text, a negated red flag)."""

    EMERGENCY = "emergency"
    CLINIC_TODAY = "clinic_today"
    CALLBACK = "callback"
    REVIEW = "review"


class OutboxFlag(StrEnum):
    """What a review flag the outbox raises is about; its reason begins with this, and its
    alert is worded from it (:mod:`followup.staff.alerts.wording`): a safety text a limit
    held back (the planner), a safety check-in and its nudge unanswered (the nudges)."""

    HELD_BACK = "safety text held back"
    NO_ANSWER = "no answer"


class FlagStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


class AlertChannel(StrEnum):
    SMS = "sms"
    APPRISE = "apprise"


class AlertPurpose(StrEnum):
    """Why an alert was sent: the flag was raised, a review flag has waited too long (open
    time), or an urgent flag was not acknowledged in time and goes to the second contact."""

    FLAG = "flag"
    OVERDUE = "overdue"
    SECOND_CONTACT = "second_contact"


class AlertStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class StaffRole(StrEnum):
    #: everything at its clinic, settings and accounts included
    ADMIN = "admin"
    #: flags, replies, patients and texts of its clinic
    STAFF = "staff"
    #: admin at each of several clinics (a clinic network)
    ORG = "org"


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The stored strings of ``enum``, in order (for CHECK constraints and CLI choices)."""
    return tuple(member.value for member in enum)
