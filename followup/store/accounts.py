"""Staff accounts, login sessions, API keys and the audit log (:mod:`.account_models`): the
statements :mod:`followup.access` runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from followup.store.account_models import (
    ApiKey,
    AuditEvent,
    LoginFailure,
    LoginSession,
    StaffClinic,
    StaffUser,
)
from followup.store.models import Clinic


def clinic_ids_by_slug(db: Session, slugs: Sequence[str]) -> dict[str, int]:
    rows = db.execute(select(Clinic.slug, Clinic.id).where(Clinic.slug.in_(list(slugs))))
    return {slug: cid for slug, cid in rows}


def user_by_email(db: Session, email: str) -> StaffUser | None:
    return db.scalars(select(StaffUser).where(StaffUser.email == email)).first()


def add_user(
    db: Session,
    *,
    email: str,
    password_hash: str,
    role: str,
    clinic_ids: Sequence[int],
    now: datetime,
) -> StaffUser | None:
    """The new account with its clinics; None when the e-mail is taken (the unique key
    decides, so two concurrent commands cannot both create it)."""
    try:
        with db.begin_nested():
            user = StaffUser(email=email, password_hash=password_hash, role=role, created_at=now)
            db.add(user)
            db.flush()
            db.add_all(StaffClinic(user_id=user.id, clinic_id=c) for c in clinic_ids)
            db.flush()
    except IntegrityError:
        return None
    return user


def set_password_hash(db: Session, user_id: int, password_hash: str) -> None:
    db.execute(update(StaffUser).where(StaffUser.id == user_id).values(password_hash=password_hash))


def disable_user(db: Session, user_id: int, now: datetime) -> bool:
    done = db.execute(
        update(StaffUser)
        .where(StaffUser.id == user_id, StaffUser.disabled_at.is_(None))
        .values(disabled_at=now)
    )
    db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return done.rowcount == 1


def end_logins_of(db: Session, user_id: int, now: datetime) -> int:
    """End every live login of an account (its password changed): how many."""
    done = db.execute(
        update(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return done.rowcount


def clinics_of_user(db: Session, user_id: int) -> list[int]:
    q = select(StaffClinic.clinic_id).where(StaffClinic.user_id == user_id)
    return sorted(db.scalars(q))


def users(db: Session) -> list[Row[Any]]:
    """``(user, clinic slugs)``, by e-mail."""
    rows = db.execute(
        select(StaffUser, Clinic.slug)
        .join(StaffClinic, StaffClinic.user_id == StaffUser.id)
        .join(Clinic, Clinic.id == StaffClinic.clinic_id)
        .order_by(StaffUser.email, Clinic.slug)
    ).all()
    by_user: dict[int, tuple[StaffUser, list[str]]] = {}
    for user, slug in rows:
        by_user.setdefault(user.id, (user, []))[1].append(slug)
    return list(by_user.values())  # type: ignore[arg-type]


# --- login sessions --------------------------------------------------------------------------


def add_login(
    db: Session, *, token_hash: str, user_id: int, csrf_token: str, now: datetime,
    expires_at: datetime,
) -> None:  # fmt: skip
    db.execute(
        insert(LoginSession).values(
            token_hash=token_hash,
            user_id=user_id,
            csrf_token=csrf_token,
            created_at=now,
            last_seen_at=now,
            expires_at=expires_at,
        )
    )


def live_login(db: Session, token_hash: str, *, now: datetime, idle_since: datetime):
    """``(login session, user)`` for a token still valid at ``now`` (not ended, not past
    ``expires_at``, seen after ``idle_since``, its account enabled), or None."""
    return db.execute(
        select(LoginSession, StaffUser)
        .join(StaffUser, StaffUser.id == LoginSession.user_id)
        .where(
            LoginSession.token_hash == token_hash,
            LoginSession.ended_at.is_(None),
            LoginSession.expires_at > now,
            LoginSession.last_seen_at > idle_since,
            StaffUser.disabled_at.is_(None),
        )
    ).first()


def touch_login(db: Session, login_id: int, now: datetime) -> None:
    db.execute(update(LoginSession).where(LoginSession.id == login_id).values(last_seen_at=now))


def end_login(db: Session, token_hash: str, now: datetime) -> bool:
    done = db.execute(
        update(LoginSession)
        .where(LoginSession.token_hash == token_hash, LoginSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return done.rowcount == 1


# --- API keys --------------------------------------------------------------------------------


def add_key(
    db: Session, *, clinic_id: int, prefix: str, key_hash: str, label: str | None, now: datetime
) -> int:
    key = ApiKey(clinic_id=clinic_id, prefix=prefix, key_hash=key_hash, label=label, created_at=now)
    db.add(key)
    db.flush()
    return key.id


def live_key(db: Session, key_hash: str) -> ApiKey | None:
    q = select(ApiKey).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None))
    return db.scalars(q).first()


def touch_key(db: Session, key_id: int, now: datetime) -> None:
    db.execute(update(ApiKey).where(ApiKey.id == key_id).values(last_used_at=now))


def revoke_key(db: Session, key_id: int, now: datetime) -> ApiKey | None:
    key = db.get(ApiKey, key_id)
    if key is None or key.revoked_at is not None:
        return None
    key.revoked_at = now
    db.flush()
    return key


def keys(db: Session, clinic_id: int | None = None) -> list[Row[Any]]:
    """``(key, clinic slug)``, newest first."""
    q = select(ApiKey, Clinic.slug).join(Clinic, Clinic.id == ApiKey.clinic_id)
    if clinic_id is not None:
        q = q.where(ApiKey.clinic_id == clinic_id)
    return db.execute(q.order_by(ApiKey.created_at.desc(), ApiKey.id.desc())).all()


# --- audit -----------------------------------------------------------------------------------


def add_audit(
    db: Session, *, at: datetime, actor: str, clinic_id: int | None, action: str,
    subject: str | None, detail: str | None,
) -> None:  # fmt: skip
    db.execute(
        insert(AuditEvent).values(
            at=at,
            actor=actor,
            clinic_id=clinic_id,
            action=action,
            subject=subject,
            detail=detail,
        )
    )


def audit_events(db: Session, clinic_ids: Sequence[int] | None, limit: int = 200):
    q = select(AuditEvent).order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    if clinic_ids is not None:
        q = q.where(AuditEvent.clinic_id.in_(list(clinic_ids)))
    return list(db.scalars(q))


def subject_events(db: Session, clinic_id: int, subject: str) -> list[AuditEvent]:
    """What was done to one thing of a clinic (``flag:7``), oldest first: its history."""
    q = (
        select(AuditEvent)
        .where(AuditEvent.clinic_id == clinic_id, AuditEvent.subject == subject)
        .order_by(AuditEvent.at, AuditEvent.id)
    )
    return list(db.scalars(q))


# --- failed logins ---------------------------------------------------------------------------


def add_login_failure(db: Session, *, email_hash: str, client: str, at: datetime) -> None:
    db.execute(insert(LoginFailure).values(at=at, email_hash=email_hash, client=client[:64]))


def login_failures(
    db: Session, *, email_hash: str, client: str, since: datetime
) -> tuple[list[datetime], list[datetime]]:
    """The failed logins since ``since``: of that e-mail, and from that client."""
    at, recent = LoginFailure.at, LoginFailure.at > since
    by_email = db.scalars(select(at).where(LoginFailure.email_hash == email_hash, recent))
    by_client = db.scalars(select(at).where(LoginFailure.client == client[:64], recent))
    return list(by_email), list(by_client)


def clinic_staff_emails(db: Session, clinic_id: int) -> list[str]:
    """The e-mails of the accounts that see this clinic and can log in: whom a flag of
    the clinic may be assigned to."""
    q = (
        select(StaffUser.email)
        .join(StaffClinic, StaffClinic.user_id == StaffUser.id)
        .where(StaffClinic.clinic_id == clinic_id, StaffUser.disabled_at.is_(None))
        .order_by(StaffUser.email)
    )
    return list(db.scalars(q))
