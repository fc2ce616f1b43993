"""A clinic's API keys: ``followup keys create --clinic S`` prints one once; the API finds
the clinic of a ``Authorization: Bearer`` key by its hash; ``followup keys revoke`` ends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from followup.access import audit, secrets
from followup.access.fields import AccountError
from followup.store import accounts as store


@dataclass(frozen=True)
class NewKey:
    id: int
    clinic_id: int
    prefix: str
    #: the key itself: shown once, never stored
    key: str


@dataclass(frozen=True)
class KeyHolder:
    """Whose key a request carried: the clinic every query of that request is scoped to."""

    key_id: int
    clinic_id: int
    prefix: str


def create_key(
    db: Session, clinic_slug: str, now: datetime, *, label: str | None = None,
    actor: str = audit.CLI,
) -> NewKey:  # fmt: skip
    found = store.clinic_ids_by_slug(db, [clinic_slug])
    if clinic_slug not in found:
        raise AccountError(f"clinic: no clinic {clinic_slug} (see `followup clinics list`)")
    key = secrets.new_api_key()
    prefix = secrets.key_prefix(key)
    clinic_id = found[clinic_slug]
    key_id = store.add_key(
        db, clinic_id=clinic_id, prefix=prefix, key_hash=secrets.token_hash(key),
        label=(label or "").strip()[:120] or None, now=now,
    )  # fmt: skip
    audit.record(db, actor=actor, action="key.create", now=now, clinic_id=clinic_id,
                 subject=f"key:{key_id}", detail=prefix)  # fmt: skip
    return NewKey(key_id, clinic_id, prefix, key)


def key_holder(db: Session, key: str | None, now: datetime) -> KeyHolder | None:
    """The clinic of a live key, or None (unknown, revoked, or not one of ours)."""
    if not key or not key.startswith(secrets.KEY_PREFIX) or len(key) > 200:
        return None
    found = store.live_key(db, secrets.token_hash(key))
    if found is None:
        return None
    store.touch_key(db, found.id, now)
    return KeyHolder(found.id, found.clinic_id, found.prefix)


def revoke_key(db: Session, key_id: int, now: datetime, *, actor: str = audit.CLI) -> str:
    """Revoke key ``key_id``; its prefix. AccountError when no live key has that id."""
    key = store.revoke_key(db, key_id, now)
    if key is None:
        raise AccountError(f"key: no live key {key_id} (see `followup keys list`)")
    audit.record(db, actor=actor, action="key.revoke", now=now, clinic_id=key.clinic_id,
                 subject=f"key:{key_id}", detail=key.prefix)  # fmt: skip
    return key.prefix
