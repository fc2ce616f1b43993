"""What a staff account's fields may hold. Pure.

An e-mail is the login name: trimmed, lower-cased, one ``@`` with something on both sides,
no spaces or control characters, at most 254 characters (RFC 5321's path limit). A password
has at least 12 characters (NIST SP 800-63B asks for 8 at least and suggests allowing long
passphrases; 12 because staff accounts read patients' health data) and at most 1,024 (argon2
hashes any length; the cap keeps a login request from being a CPU weapon).
"""

from __future__ import annotations

import re

from followup.store.statuses import StaffRole, values

STAFF_ROLES = values(StaffRole)

MIN_PASSWORD = 12
MAX_PASSWORD = 1024
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")


class AccountError(ValueError):
    """A field that cannot be stored; the message says which and why (never the password)."""


def check_email(raw: str) -> str:
    email = (raw or "").strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise AccountError("email: expected an address such as name@clinic.example")
    return email


def check_role(raw: str) -> str:
    role = (raw or "").strip().lower()
    if role not in STAFF_ROLES:
        raise AccountError(f"role: expected one of {', '.join(STAFF_ROLES)}")
    return role


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"password: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"password: at most {MAX_PASSWORD} characters")
    if password.strip() != password or not password.isprintable():
        raise AccountError("password: no leading or trailing spaces, no control characters")
    return password


def check_clinics(role: str, slugs: list[str]) -> list[str]:
    """The clinics of an account: exactly one for admin and staff, one or more for org."""
    unique = list(dict.fromkeys(s.strip() for s in slugs if s.strip()))
    if not unique:
        raise AccountError("clinic: name at least one (--clinic SLUG)")
    if role != StaffRole.ORG and len(unique) > 1:
        raise AccountError(f"clinic: a {role} account belongs to one clinic; use role org")
    return unique
