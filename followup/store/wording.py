"""A clinic's own wording of its texts (``clinic_wordings``): read for a page, read for a
batch of texts at once, saved and removed. What may be stored is decided by
:mod:`followup.desk.wording`; these functions store what they are given."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from followup.store.models import ClinicWording

#: source text by (template key, locale)
Wording = dict[tuple[str, str], str]


def of_clinic(db: Session, clinic_id: int) -> list[ClinicWording]:
    """Every wording the clinic has saved, by key and locale."""
    query = select(ClinicWording).where(ClinicWording.clinic_id == clinic_id)
    return list(db.scalars(query.order_by(ClinicWording.template_key, ClinicWording.locale)))


def for_clinics(conn: Connection | Session, clinic_ids: Iterable[int]) -> dict[int, Wording]:
    """The wording of each of ``clinic_ids`` in one query (a dispatcher batch names several
    clinics): ``{clinic_id: {(key, locale): source}}``; a clinic with none is absent."""
    ids = sorted(set(clinic_ids))
    if not ids:
        return {}
    rows = conn.execute(
        select(ClinicWording.clinic_id, ClinicWording.template_key, ClinicWording.locale,
               ClinicWording.source).where(ClinicWording.clinic_id.in_(ids))
    )  # fmt: skip
    found: dict[int, Wording] = {}
    for clinic_id, key, locale, source in rows:
        found.setdefault(clinic_id, {})[(key, locale)] = source
    return found


def save(
    db: Session, clinic_id: int, key: str, locale: str, source: str, *, now: datetime, by: str
) -> str | None:
    """Store the clinic's wording of ``key`` in ``locale``; returns the text it replaces
    (None when the clinic used the default). The row is locked while it is replaced."""
    row = db.scalar(
        select(ClinicWording)
        .where(ClinicWording.clinic_id == clinic_id, ClinicWording.template_key == key,
               ClinicWording.locale == locale)
        .with_for_update()
    )  # fmt: skip
    if row is None:
        try:
            with db.begin_nested():
                db.add(ClinicWording(clinic_id=clinic_id, template_key=key, locale=locale,
                                     source=source, updated_at=now, updated_by=by))  # fmt: skip
        except IntegrityError:  # saved by another request since we looked: replace that one
            return save(db, clinic_id, key, locale, source, now=now, by=by)
        return None
    previous = row.source
    row.source, row.updated_at, row.updated_by = source, now, by
    db.flush()
    return previous


def remove(db: Session, clinic_id: int, key: str, locale: str) -> bool:
    """Go back to the default text; False when the clinic had no wording of its own."""
    done = db.execute(
        delete(ClinicWording).where(ClinicWording.clinic_id == clinic_id,
                                    ClinicWording.template_key == key,
                                    ClinicWording.locale == locale)
    )  # fmt: skip
    return bool(done.rowcount)
