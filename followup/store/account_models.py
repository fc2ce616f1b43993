"""Who may see a clinic's data: staff accounts, their login sessions, the clinics' API keys,
and the audit log of what each of them did.

Secrets are never stored: a password as its argon2 hash, a login session and an API key as
the SHA-256 of a random token (the token has 256 bits of entropy, so a fast hash is safe and
lets every request find its row by index). The token itself exists only in the cookie or in
the caller's configuration.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from followup.store.schema import Base, UTCDateTime, utcnow
from followup.store.statuses import StaffRole, values

STAFF_ROLES = values(StaffRole)

_ID = BigInteger().with_variant(Integer, "sqlite")


class StaffUser(Base):
    __tablename__ = "staff_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: stored lower-case: the login name
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: set: the account cannot log in (kept for the audit log)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint(f"role IN {STAFF_ROLES!r}", name="role"),)


class StaffClinic(Base):
    """Which clinics a staff account sees: one for admin and staff, one or more for org."""

    __tablename__ = "staff_clinics"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    )
    clinic_id: Mapped[int] = mapped_column(
        ForeignKey("clinics.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class LoginSession(Base):
    """A signed-in browser. Expires after inactivity (``last_seen_at``) and at
    ``expires_at`` whatever happens; logout sets ``ended_at``."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_users.id", ondelete="CASCADE"))
    #: the form token of this session (CSRF), stored as sent: it protects forms, not access
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A clinic's key for the JSON API (``Authorization: Bearer``): shown once when created,
    stored as its hash; ``prefix`` (its first characters) names it in lists and logs."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clinic_id: Mapped[int] = mapped_column(ForeignKey("clinics.id", ondelete="CASCADE"))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (Index(None, "clinic_id"),)


class AuditEvent(Base):
    """Who did what, when: every view of a patient's page, every acknowledgement, every
    change, and every account and key created or revoked. Never deleted by followup."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    #: "user:<email>", "key:<prefix>" or "cli" (an operator at the server)
    actor: Mapped[str] = mapped_column(String(300))
    clinic_id: Mapped[int | None] = mapped_column(ForeignKey("clinics.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    #: what it was done to: "patient:12", "flag:7", "user:3"
    subject: Mapped[str | None] = mapped_column(String(120))
    detail: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index(None, "clinic_id", "at"),)


class LoginFailure(Base):
    """A failed login, for throttling (:mod:`followup.access.throttle`): by the SHA-256 of
    the e-mail tried (what was typed may be a typo of someone else's address: not kept as
    such) and by the client's address."""

    __tablename__ = "login_failures"

    id: Mapped[int] = mapped_column(_ID, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    email_hash: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))

    __table_args__ = (Index(None, "email_hash", "at"), Index(None, "client", "at"))
