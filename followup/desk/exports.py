"""The clinic's replies and flags as CSV, for its own records: UTF-8, one row each, times in
UTC (ISO 8601), within a range of days of the clinic. Every export is audited
(``export.replies``, ``export.flags``: how many rows and which days, never what they hold).

A CSV is opened in a spreadsheet, and a spreadsheet runs a cell that starts with ``=``,
``+``, ``-`` or ``@`` (and, in some, a tab or carriage return before one) as a formula:
a patient who texts ``=HYPERLINK("http://...")`` must not get a link, or worse, into the
clinic's spreadsheet. Every such cell is written with a leading ``'``, which spreadsheets
show as text and do not run (OWASP's advice for CSV injection). What the patient wrote is
otherwise kept exactly.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.replies import all_replies
from followup.store import listings

#: the first characters a spreadsheet may read as the start of a formula
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

REPLY_COLUMNS = (
    "received_at", "patient_id", "first_name", "kind", "urgency", "score", "matched",
    "patient_wrote", "we_answered", "staff_answers", "flags",
)  # fmt: skip
FLAG_COLUMNS = (
    "created_at", "kind", "reason", "status", "patient_id", "first_name", "patient_wrote",
    "acknowledged_by", "acknowledged_at", "assigned_to", "assigned_at", "closed_by", "closed_at",
)  # fmt: skip


def safe_cell(value: object) -> str:
    """A value as a CSV cell a spreadsheet shows and never runs."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """The rows as CSV text, every cell through :func:`safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([safe_cell(v) for v in row])
    return out.getvalue()


def _days(since: datetime | None, until: datetime | None) -> str:
    start = since.isoformat() if since else "the start"
    end = until.isoformat() if until else "now"
    return f"from {start} to {end}"


def replies_csv(
    db: Session,
    clinic_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    actor: str,
) -> str:
    """The clinic's replies received in [since, until), newest first, as CSV; audited."""
    views = all_replies(db, clinic_id, since=since, until=until)
    rows = [
        (
            v.received_at, v.external_id, v.first_name, v.kind, v.urgency, v.score,
            "; ".join(v.matched), v.body, v.answer,
            " | ".join(f"{a.body} ({a.status}, by {a.written_by or 'staff'})"
                       for a in v.staff_answers),
            "; ".join(f"{f.kind}: {f.reason} ({f.status})" for f in v.flags),
        )
        for v in views
    ]  # fmt: skip
    audit.record(db, actor=actor, action="export.replies", now=now, clinic_id=clinic_id,
                 subject=f"clinic:{clinic_id}",
                 detail=f"{len(rows)} replies {_days(since, until)}")  # fmt: skip
    return to_csv(REPLY_COLUMNS, rows)


def flags_csv(
    db: Session,
    clinic_id: int,
    *,
    since: datetime | None,
    until: datetime | None,
    now: datetime,
    actor: str,
) -> str:
    """The clinic's flags raised in [since, until), oldest first, as CSV; audited."""
    rows = [
        (f.created_at, f.kind, f.reason, f.status, ext, first, body, f.acknowledged_by,
         f.acknowledged_at, f.assigned_to, f.assigned_at, f.closed_by, f.closed_at)
        for f, first, ext, body in listings.clinic_flags_between(
            db, clinic_id, since=since, until=until
        )
    ]  # fmt: skip
    audit.record(db, actor=actor, action="export.flags", now=now, clinic_id=clinic_id,
                 subject=f"clinic:{clinic_id}",
                 detail=f"{len(rows)} flags {_days(since, until)}")  # fmt: skip
    return to_csv(FLAG_COLUMNS, rows)
