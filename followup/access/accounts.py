"""Staff accounts: creating them (``followup users add``), checking a login, and the login
sessions of the dashboard.

A login session lives in the database, not in a signed cookie: logout and a disabled account
end it at once, everywhere. It ends after :data:`IDLE` without a request and after
:data:`LIFETIME` whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from followup.access import audit, secrets, throttle
from followup.access.fields import (
    AccountError,
    check_clinics,
    check_email,
    check_password,
    check_role,
)
from followup.store import accounts as store

IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class Account:
    """A signed-in (or just created) staff account: what every page is scoped by."""

    id: int
    email: str
    role: str
    clinic_ids: tuple[int, ...]


@dataclass(frozen=True)
class Login:
    account: Account
    #: the cookie's value: shown once, stored as its hash
    token: str
    csrf_token: str


def add_user(
    db: Session, *, email: str, role: str, clinics: list[str], password: str, now: datetime,
    actor: str = audit.CLI,
) -> Account:  # fmt: skip
    """Create a staff account; AccountError names the field that is wrong."""
    email, role = check_email(email), check_role(role)
    slugs = check_clinics(role, clinics)
    check_password(password)
    found = store.clinic_ids_by_slug(db, slugs)
    missing = [s for s in slugs if s not in found]
    if missing:
        raise AccountError(f"clinic: no clinic {', '.join(missing)} (see `followup clinics list`)")
    if store.user_by_email(db, email) is not None:
        raise AccountError(f"email: an account {email} exists already")
    ids = [found[s] for s in slugs]
    user = store.add_user(
        db, email=email, password_hash=secrets.hash_password(password), role=role,
        clinic_ids=ids, now=now,
    )  # fmt: skip
    if user is None:  # created by a concurrent command since the check
        raise AccountError(f"email: an account {email} exists already")
    for clinic_id in ids:
        audit.record(
            db, actor=actor, action="user.add", now=now, clinic_id=clinic_id,
            subject=f"user:{user.id}", detail=f"{email} as {role}",
        )  # fmt: skip
    return Account(user.id, email, role, tuple(ids))


def set_password(
    db: Session, email: str, password: str, now: datetime, *, actor: str = audit.CLI
) -> Account:
    """Give an account a new password and end its logins (a password is changed when the old
    one may be known to someone else). AccountError for an unknown account or a weak one."""
    check_password(password)
    user = store.user_by_email(db, check_email(email))
    if user is None:
        raise AccountError(f"email: no account {email.strip().lower()}")
    store.set_password_hash(db, user.id, secrets.hash_password(password))
    store.end_logins_of(db, user.id, now)
    account = _account(db, user)
    for clinic_id in account.clinic_ids:
        audit.record(db, actor=actor, action="user.password", now=now, clinic_id=clinic_id,
                     subject=f"user:{user.id}")  # fmt: skip
    return account


class Throttled(Exception):
    """Too many failed logins lately (:mod:`followup.access.throttle`): try again at
    ``retry_at``."""

    def __init__(self, retry_at: datetime) -> None:
        super().__init__(f"too many failed logins; try again after {retry_at:%H:%M} UTC")
        self.retry_at = retry_at


def log_in(
    db: Session, email: str, password: str, now: datetime, *, client: str = "unknown"
) -> Login | None:
    """A new login session when ``email`` and ``password`` match an enabled account, else
    None (the same work either way: :func:`followup.access.secrets.verify_password`).

    Raises :class:`Throttled`, without checking the password, after too many failures for
    that e-mail or from that ``client`` (its address); each failure is recorded for that.
    The caller commits the transaction whatever the outcome, so failures are counted."""
    typed = (email or "").strip().lower()[:254]
    key = secrets.token_hash(typed)
    wait = throttle.retry_at(
        *store.login_failures(db, email_hash=key, client=client, since=now - throttle.WINDOW),
        now,
    )
    if wait is not None:
        raise Throttled(wait)
    user = store.user_by_email(db, typed)
    ok = secrets.verify_password(user.password_hash if user else None, password[:1024])
    if not ok or user is None or user.disabled_at is not None:
        store.add_login_failure(db, email_hash=key, client=client, at=now)
        return None
    if secrets.needs_rehash(user.password_hash):
        store.set_password_hash(db, user.id, secrets.hash_password(password))
    token, csrf = secrets.new_token(), secrets.new_token()
    store.add_login(
        db, token_hash=secrets.token_hash(token), user_id=user.id, csrf_token=csrf, now=now,
        expires_at=now + LIFETIME,
    )  # fmt: skip
    account = _account(db, user)
    for clinic_id in account.clinic_ids:
        audit.record(db, actor=audit.user_actor(user.email), action="login", now=now,
                     clinic_id=clinic_id)  # fmt: skip
    return Login(account, token, csrf)


#: a login's last use is written at most this often: a page's every request need not write
TOUCH_EVERY = timedelta(minutes=1)


def signed_in(
    db: Session, token: str | None, now: datetime, *, activity: bool = True
) -> tuple[Account, str] | None:
    """``(account, csrf token)`` of a live login session; None for a missing, ended, expired
    or idle one, or a disabled account. A request that is the person's ``activity`` keeps the
    login alive; one a page makes by itself (a poll for new flags) does not, so a page left
    open still ends after :data:`IDLE`."""
    if not token:
        return None
    found = store.live_login(db, secrets.token_hash(token), now=now, idle_since=now - IDLE)
    if found is None:
        return None
    login, user = found
    if activity and now - login.last_seen_at >= TOUCH_EVERY:
        store.touch_login(db, login.id, now)
    account = _account(db, user)
    return account, login.csrf_token


def log_out(db: Session, token: str | None, now: datetime) -> bool:
    return bool(token) and store.end_login(db, secrets.token_hash(token or ""), now)


def _account(db: Session, user) -> Account:
    """The :class:`Account` of a stored user, with the clinics it sees."""
    return Account(user.id, user.email, user.role, tuple(store.clinics_of_user(db, user.id)))
