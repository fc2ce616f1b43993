"""Clinics (``clinics``): adding one, finding one by its slug, listing them, and the settings
staff change later (alert destinations, the care plan).

What a clinic's fields may hold is decided by :mod:`followup.intake.clinics`; these functions
store what they are given. The slug is unique in the schema, so an add that loses a race
with another is told so here rather than trusting a lookup made just before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from followup.store.models import Clinic
from followup.store.sessions import replan_scheduled


def by_slug(db: Session, slug: str) -> Clinic | None:
    """The clinic whose slug is ``slug``, or None."""
    return db.scalar(select(Clinic).where(Clinic.slug == slug))


def slug_taken(db: Session, slug: str) -> bool:
    return db.scalar(select(Clinic.id).where(Clinic.slug == slug)) is not None


def add(db: Session, **fields: Any) -> Clinic | None:
    """Add a clinic with these column values (flushed, in a savepoint, not committed); None
    when a clinic with its slug exists already, the caller's transaction left as it was."""
    clinic = Clinic(**fields)
    try:
        with db.begin_nested():
            db.add(clinic)
    except IntegrityError:
        return None
    return clinic


def listed(db: Session) -> Sequence[Clinic]:
    """Every clinic, by slug."""
    return db.scalars(select(Clinic).order_by(Clinic.slug)).all()


def set_alert_destinations(
    db: Session, clinic: Clinic, *, oncall_phone: str | None, alert_urls: Sequence[str]
) -> None:
    """Replace where ``clinic``'s staff alerts go; empty values are stored as NULL."""
    clinic.oncall_phone = oncall_phone or None
    clinic.alert_urls = list(alert_urls) or None
    db.flush()


def set_care_plan(db: Session, clinic: Clinic, plan: dict | None) -> None:
    """Replace ``clinic``'s care plan (None: the default plan) and mark its sessions that
    still have texts waiting to be planned again, so those texts follow the new plan."""
    clinic.care_plan = plan
    db.flush()
    replan_scheduled(db, clinic.id)
