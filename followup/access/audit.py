"""The audit log: who did what, when. Written in the transaction of the thing audited, so a
change and its record commit together or not at all."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from followup.store import accounts as store

#: the actor of a command run at the server
CLI = "cli"


def record(
    db: Session,
    *,
    actor: str,
    action: str,
    now: datetime,
    clinic_id: int | None = None,
    subject: str | None = None,
    detail: str | None = None,
) -> None:
    """Add one audit event. ``detail`` is for staff words (a note), never a patient's."""
    store.add_audit(
        db, at=now, actor=actor, clinic_id=clinic_id, action=action, subject=subject,
        detail=detail[:2000] if detail else None,
    )  # fmt: skip


def user_actor(email: str) -> str:
    return f"user:{email}"


def key_actor(prefix: str) -> str:
    return f"key:{prefix}"
