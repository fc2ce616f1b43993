"""Passwords and tokens, never stored as themselves. Pure (no database).

- A password is hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106's second
  recommended profile), salted per hash. Verifying takes the same time whether or not the
  account exists (:func:`verify_password` with no hash checks against a dummy one), so a
  login attempt does not tell an attacker which e-mails have accounts.
- A token (login session, API key) is 32 random bytes from :mod:`secrets`, URL-safe. With
  256 bits of entropy nothing can be guessed, so its SHA-256 is stored: a request finds its
  row by that index in one lookup, which argon2 (salted, slow) cannot give.
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_HASHER = PasswordHasher()
#: verified against when an account does not exist: the same work as a real check
_DUMMY = _HASHER.hash("followup-no-such-account")
#: the API keys' visible start: says what it is when found in a file or a log
KEY_PREFIX = "fu_"


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; False otherwise, and for a missing
    or unreadable hash, after the same amount of work."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with weaker parameters than today's: rehash at login."""
    return _HASHER.check_needs_rehash(stored_hash)


def new_token() -> str:
    """A fresh random token (login session cookie, CSRF token)."""
    return secrets.token_urlsafe(32)


def new_api_key() -> str:
    """A fresh API key: ``fu_`` and 43 URL-safe characters."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What is stored for a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def key_prefix(key: str) -> str:
    """The part of a key shown in lists and the audit log: enough to tell keys apart, far
    too little to use."""
    return key[: len(KEY_PREFIX) + 6]
