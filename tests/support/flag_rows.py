"""Flags as the flags-page tests make them: a reply of a seeded patient and the flag it
raised, written straight to the database at a chosen age; and one section of the page."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from followup.store.models import Flag, InboundMessage, Patient


def add_flag(web, external_id: str, kind: str, reason: str, body: str, minutes_ago: int) -> int:
    """A flag of ``kind`` raised ``minutes_ago`` by a reply of patient ``external_id``."""
    reply_kind = kind if kind in ("emergency", "clinic_today") else "text"
    with web.sessions() as db, db.begin():
        patient = db.scalars(select(Patient).where(Patient.external_id == external_id)).one()
        reply = InboundMessage(
            clinic_id=patient.clinic_id, patient_id=patient.id, from_number=patient.phone,
            to_number="+12015550111", body=body, kind=reply_kind, urgency=kind,
            provider_sid=f"SM{abs(hash((external_id, body))):032x}"[:34],
            received_at=web.clock.now - timedelta(minutes=minutes_ago),
        )  # fmt: skip
        db.add(reply)
        db.flush()
        flag = Flag(clinic_id=patient.clinic_id, patient_id=patient.id, inbound_id=reply.id,
                    kind=kind, reason=reason,
                    created_at=web.clock.now - timedelta(minutes=minutes_ago))  # fmt: skip
        db.add(flag)
        db.flush()
        return flag.id


def section(client, section_id: str, slug: str = "north") -> str:
    """The HTML of one section of the flags page ('' when the page has none)."""
    text = client.get(f"/clinics/{slug}/flags").text
    start = text.find(f'<section id="{section_id}"')
    return "" if start < 0 else text[start : text.index("</section>", start)]
