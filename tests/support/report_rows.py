"""Rows the reports count, written straight into the tables of the ``clinic_web`` clinics:
texts with a status and a send time, replies to them, flags raised and acknowledged when a
test says. Each helper returns the new row's id."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from sqlalchemy import select

from followup.store.models import Flag, InboundMessage, OutboundMessage, Patient, TreatmentSession

_serial = count(1)


def _patient(db, slug: str) -> Patient:
    first = "P0" if slug == "north" else "P10"
    return db.scalars(select(Patient).where(Patient.external_id == first)).one()


def add_text(web, slug: str, *, status: str, sent_at: datetime | None,
             template: str = "aftercare") -> int:  # fmt: skip
    """A text of the clinic's first patient, in ``status``, accepted at ``sent_at``."""
    with web.sessions() as db, db.begin():
        patient = _patient(db, slug)
        session = db.scalars(
            select(TreatmentSession).where(TreatmentSession.patient_id == patient.id)
        ).first()
        at = sent_at or web.clock.now
        row = OutboundMessage(
            clinic_id=patient.clinic_id, session_id=session.id, patient_id=patient.id,
            step=f"report{next(_serial)}", template_key=template, locale="en", due_at=at,
            send_at=at, expires_at=at, status=status, sent_at=sent_at,
        )  # fmt: skip
        db.add(row)
        db.flush()
        return row.id


def add_reply(web, message_id: int, *, at: datetime, kind: str = "score") -> int:
    """A reply of the text's patient that answers it."""
    with web.sessions() as db, db.begin():
        text = db.get(OutboundMessage, message_id)
        row = InboundMessage(
            clinic_id=text.clinic_id, patient_id=text.patient_id, in_reply_to=text.id,
            from_number="+12015550201", to_number="+12015550111", body="3", kind=kind,
            urgency="routine", provider_sid=f"SMreport{next(_serial):026d}", received_at=at,
        )  # fmt: skip
        db.add(row)
        db.flush()
        return row.id


def add_flag(web, slug: str, kind: str, *, created_at: datetime,
             acknowledged_at: datetime | None = None) -> int:  # fmt: skip
    """A flag of the clinic's first patient, acknowledged at ``acknowledged_at`` if given."""
    with web.sessions() as db, db.begin():
        patient = _patient(db, slug)
        row = Flag(
            clinic_id=patient.clinic_id, patient_id=patient.id, kind=kind, reason="test",
            created_at=created_at, status="acknowledged" if acknowledged_at else "open",
            acknowledged_at=acknowledged_at, acknowledged_by="staff" if acknowledged_at else None,
        )  # fmt: skip
        db.add(row)
        db.flush()
        return row.id
