"""The figures Prometheus reads from the database at scrape time (:mod:`followup.ops.figures`).

Read from the database rather than counted in a process because every worker and web process
sees the same rows: the figures agree however many processes there are, and a restart
loses nothing. Each statement aggregates in the database and returns a handful of rows.
The outbox and flag figures use the partial indexes of the scan they resemble
(``ix_outbound_messages_due``, ``ix_flags_open_kind_created_at``, ``ix_staff_alerts_pending``);
the texts-by-status count reads the whole outbox, which the caller bounds in time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, func, select

from followup.store.models import Clinic, Flag, OutboundMessage, StaffAlert
from followup.store.statuses import FlagKind, FlagStatus, MessageStatus

#: the clinic label of rows without a clinic (a fallback alert)
NO_CLINIC = "none"


@dataclass
class OpsFigures:
    """One scrape's figures, counted by label values; ages in seconds (None: nothing waits)."""

    #: (clinic slug, status) -> texts
    texts: dict[tuple[str, str], int] = field(default_factory=dict)
    #: texts scheduled, due or not (the outbox's depth)
    scheduled: int = 0
    #: how long the oldest scheduled text whose send_at has passed has waited
    oldest_due_seconds: float | None = None
    #: (clinic slug, kind) -> open flags (not yet acknowledged)
    open_flags: dict[tuple[str, str], int] = field(default_factory=dict)
    #: how long the oldest open (unacknowledged) emergency flag has waited
    oldest_emergency_seconds: float | None = None
    #: (status, channel) -> staff alerts
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)


def _age(now: datetime, since: datetime | None) -> float | None:
    return None if since is None else max(0.0, (now - since).total_seconds())


def read_figures(conn: Connection, now: datetime) -> OpsFigures:
    """The figures of :class:`OpsFigures` as of ``now``, in a few aggregate statements."""
    m, f, a, c = OutboundMessage, Flag, StaffAlert, Clinic
    figures = OpsFigures()
    slugs = dict(conn.execute(select(c.id, c.slug)).all())
    texts = select(m.clinic_id, m.status, func.count()).group_by(m.clinic_id, m.status)
    for clinic_id, status, n in conn.execute(texts):
        figures.texts[(slugs.get(clinic_id, NO_CLINIC), status)] = n
    scheduled = m.status == MessageStatus.SCHEDULED
    figures.scheduled = conn.scalar(select(func.count()).where(scheduled)) or 0
    oldest_due = conn.scalar(select(func.min(m.send_at)).where(scheduled, m.send_at <= now))
    figures.oldest_due_seconds = _age(now, oldest_due)
    is_open = f.status == FlagStatus.OPEN
    flags = select(f.clinic_id, f.kind, func.count()).where(is_open).group_by(f.clinic_id, f.kind)
    for clinic_id, kind, n in conn.execute(flags):
        figures.open_flags[(slugs.get(clinic_id, NO_CLINIC), kind)] = n
    oldest = conn.scalar(
        select(func.min(f.created_at)).where(is_open, f.kind == FlagKind.EMERGENCY)
    )
    figures.oldest_emergency_seconds = _age(now, oldest)
    alerts = select(a.status, a.channel, func.count()).group_by(a.status, a.channel)
    figures.alerts = {(status, channel): n for status, channel, n in conn.execute(alerts)}
    return figures
