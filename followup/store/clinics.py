"""Clinics (``clinics``): adding one, finding one by its slug, listing them, and the settings
staff change later (alert destinations, opening hours and escalations, the care plan).

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
from followup.store.outbox.waiting import release_waiting
from followup.store.sessions import replan_scheduled
from followup.store.statuses import AlertChannel


def alert_destinations(
    oncall_phone: str | None, alert_urls: Sequence[object] | None
) -> list[tuple[AlertChannel, str]]:
    """``(channel, destination)`` of each place a clinic's alerts go: its on-call phone
    first, then each Apprise URL once (blanks and repeats are ignored). The one rule for
    "this clinic can be alerted", used by the alerts and by the dispatcher's hold."""
    found: list[tuple[AlertChannel, str]] = []
    if oncall_phone and oncall_phone.strip():
        found.append((AlertChannel.SMS, oncall_phone.strip()))
    for url in alert_urls or []:
        if not isinstance(url, str) or not url.strip():
            continue
        destination = (AlertChannel.APPRISE, url.strip())
        if destination not in found:
            found.append(destination)
    return found


def contact_channel(contact: str) -> AlertChannel:
    """How a second contact is reached: a phone number (E.164, as stored) by SMS, anything
    else is an Apprise URL."""
    return AlertChannel.SMS if contact.startswith("+") else AlertChannel.APPRISE


def by_slug(db: Session, slug: str) -> Clinic | None:
    """The clinic whose slug is ``slug``, or None."""
    return db.scalar(select(Clinic).where(Clinic.slug == slug))


def by_id(db: Session, clinic_id: int) -> Clinic | None:
    return db.get(Clinic, clinic_id)


def by_ids(db: Session, ids: Sequence[int]) -> Sequence[Clinic]:
    """The clinics of ``ids``, by name (the clinics a staff account sees)."""
    if not ids:
        return []
    return db.scalars(select(Clinic).where(Clinic.id.in_(list(ids))).order_by(Clinic.name)).all()


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


def sender_numbers(db: Session) -> list[str]:
    """Every clinic's own sender number (E.164): numbers that are never a patient's."""
    return list(db.scalars(select(Clinic.from_number).where(Clinic.from_number.is_not(None))))


def listed(db: Session) -> Sequence[Clinic]:
    """Every clinic, by slug."""
    return db.scalars(select(Clinic).order_by(Clinic.slug)).all()


def without_alert_destination(db: Session) -> list[Clinic]:
    """The clinics nobody can alert (no on-call phone, no Apprise URL), by slug: their
    patients get no texts until one is set."""
    rows = db.execute(
        select(Clinic.id, Clinic.oncall_phone, Clinic.alert_urls).order_by(Clinic.slug)
    ).all()
    silent = [r.id for r in rows if not alert_destinations(r.oncall_phone, r.alert_urls)]
    if not silent:
        return []
    return list(db.scalars(select(Clinic).where(Clinic.id.in_(silent)).order_by(Clinic.slug)))


def without_alert_destination_ids(db: Session) -> list[int]:
    """The ids of :func:`without_alert_destination` (one small query; the dispatcher asks
    before every claim)."""
    rows = db.execute(select(Clinic.id, Clinic.oncall_phone, Clinic.alert_urls)).all()
    return [r.id for r in rows if not alert_destinations(r.oncall_phone, r.alert_urls)]


def set_alert_destinations(
    db: Session, clinic: Clinic, *, oncall_phone: str | None, alert_urls: Sequence[str]
) -> int:
    """Replace where ``clinic``'s staff alerts go; empty values are stored as NULL. When
    the clinic can be alerted now, its texts that waited for that go with the next claim;
    returns how many were waiting."""
    clinic.oncall_phone = oncall_phone or None
    clinic.alert_urls = list(alert_urls) or None
    db.flush()
    if alert_destinations(clinic.oncall_phone, clinic.alert_urls):
        return release_waiting(db, clinic.id)
    return 0


def set_opening_hours(db: Session, clinic: Clinic, hours: dict | None) -> None:
    """Replace ``clinic``'s opening hours (:func:`followup.hours.to_data`; None: the
    default)."""
    clinic.opening_hours = hours
    db.flush()


def set_escalation(
    db: Session,
    clinic: Clinic,
    *,
    review_minutes: int,
    emergency_minutes: int,
    clinic_today_minutes: int,
    second_contact: str | None,
) -> None:
    """Replace how long flags may wait before escalating, and who the second contact is."""
    clinic.review_alert_minutes = review_minutes
    clinic.emergency_second_minutes = emergency_minutes
    clinic.clinic_today_second_minutes = clinic_today_minutes
    clinic.second_contact = second_contact or None
    db.flush()


def set_send_window(db: Session, clinic: Clinic, start: int, end: int) -> None:
    """Replace the daily window (minutes after local midnight) in which texts may go out."""
    clinic.send_window_start, clinic.send_window_end = start, end
    db.flush()


def set_emergency_number(db: Session, clinic: Clinic, number: str) -> None:
    """Replace the number patients are told to call in an emergency."""
    clinic.emergency_number = number
    db.flush()


def set_care_plan(db: Session, clinic: Clinic, plan: dict | None) -> None:
    """Replace ``clinic``'s care plan (None: the default plan) and mark its sessions that
    still have texts waiting to be planned again, so those texts follow the new plan."""
    clinic.care_plan = plan
    db.flush()
    replan_scheduled(db, clinic.id)
