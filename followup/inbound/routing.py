"""Whose reply is it: which record of a number is answering, and which clinics must hear of
an urgent one. Pure: records and times in, decisions out.

One phone can belong to patients of several clinics (a family's shared phone, a patient
treated at two practices), and several clinics can send from one number (the process-wide
sender). The reply is filed with one record, the one whose check-in went out last: that is
most likely the question being answered, and its clinic's words answer the patient.

That choice is a guess, and a guess may decide only what is cheap to get wrong. A red flag
("chest pain", "bleeding that won't stop") is about the patient's body, not about the last
check-in: the other clinic may have needled the chest wall. So an urgent reply is flagged
at every clinic that treated or texted the number lately (:data:`RECENT`), each with its
own record of the patient and its own alerts; a score or free text stays with the answering
record's clinic, which is all it needs (minimum necessary: docs/compliance.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from followup.store.statuses import FlagKind

#: how long after its last treatment or text a clinic still hears of a patient's red flag
RECENT = timedelta(days=30)
#: flags about the patient's body: every recent clinic is told
EVERY_RECENT_CLINIC = frozenset({FlagKind.EMERGENCY, FlagKind.CLINIC_TODAY})
_NEVER = datetime.min.replace(tzinfo=UTC)


class Record(Protocol):
    """A patient record of the number, as :func:`followup.store.replies.records_of_number`
    returns it (the columns used here)."""

    id: int
    clinic_id: int
    sent_at: datetime | None
    last_treated: datetime | None
    last_texted: datetime | None


def answering_order(records: Sequence[Any]) -> list[Any]:
    """``records`` with the answering one last: by when each one's latest check-in went out
    (none first), then by id (the newer record of two texted at once)."""
    return sorted(records, key=lambda r: (r.sent_at or _NEVER, r.id))


def last_contact(record: Any) -> datetime | None:
    """When the record's clinic last treated or texted the patient, or None."""
    times = [t for t in (record.last_treated, record.last_texted) if t is not None]
    return max(times) if times else None


def records_to_flag(
    records: Sequence[Any], answering: Any, kind: str | None, now: datetime
) -> list[Any]:
    """The records a flag of ``kind`` is opened for: the answering record, and for a flag in
    :data:`EVERY_RECENT_CLINIC` one record at each other clinic whose last treatment or text
    is within :data:`RECENT` of ``now`` (that clinic's most recently contacted record of the
    number). The answering record comes first; no clinic appears twice."""
    if kind is None:
        return []
    chosen = [answering]
    if kind not in EVERY_RECENT_CLINIC:
        return chosen
    best: dict[int, Any] = {}
    for r in records:
        contact = last_contact(r)
        if r.clinic_id == answering.clinic_id or contact is None or contact < now - RECENT:
            continue
        held = best.get(r.clinic_id)
        if held is None or (contact, r.id) > (last_contact(held), held.id):
            best[r.clinic_id] = r
    return chosen + sorted(best.values(), key=lambda r: r.clinic_id)


def shared_value(values: Sequence[str | None]) -> str | None:
    """The one value every item has (the clinics behind a sender share an emergency number,
    a language), or None when they differ or there are none."""
    distinct = set(values)
    return distinct.pop() if len(distinct) == 1 else None
