"""Retention's SQL: clearing a clinic's old text bodies and reply texts in batches, counting
what would be cleared, and claiming a job's run for a period.

Which rows are old is decided by the caller (:mod:`followup.retention` gives the cutoff);
these statements pick them within one clinic, leave out every row tied to a flag staff
have not closed, and clear only the words: statuses, events, kinds, scores, matched terms
and timestamps stay, so reports and the audit trail still add up.

Each :func:`clear_outbound_batch` / :func:`clear_inbound_batch` is one UPDATE of at most
``limit`` rows, meant to be committed on its own, so a clinic's first purge of years of
texts never holds its locks for long.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from followup.store.models import Clinic, Flag, InboundMessage, JobRun, OutboundMessage
from followup.store.statuses import FlagStatus, MessageStatus
from followup.store.upsert import insert_ignore

#: a text is finished (its words no longer needed to send it) in these statuses
FINISHED = (
    MessageStatus.SENT,
    MessageStatus.DELIVERED,
    MessageStatus.UNDELIVERED,
    MessageStatus.FAILED,
    MessageStatus.SKIPPED,
)


def _unclosed_flag(*tied: ColumnElement[bool]) -> ColumnElement[bool]:
    """A flag not yet closed (open, or acknowledged and in hand) that ``tied`` links."""
    return exists().where(Flag.status != FlagStatus.CLOSED, or_(*tied))


def _outbound_old(clinic_id: int, cutoff: datetime) -> ColumnElement[bool]:
    finished_at = func.coalesce(OutboundMessage.sent_at, OutboundMessage.updated_at)
    return and_(
        OutboundMessage.clinic_id == clinic_id,
        OutboundMessage.status.in_(FINISHED),
        finished_at < cutoff,
        or_(OutboundMessage.body.is_not(None), OutboundMessage.error_message.is_not(None)),
        ~_unclosed_flag(
            Flag.message_id == OutboundMessage.id, Flag.patient_id == OutboundMessage.patient_id
        ),
    )


def _inbound_old(clinic_id: int, cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        InboundMessage.clinic_id == clinic_id,
        InboundMessage.received_at < cutoff,
        or_(InboundMessage.body != "", InboundMessage.reply_body.is_not(None)),
        ~_unclosed_flag(
            Flag.inbound_id == InboundMessage.id,
            and_(
                InboundMessage.patient_id.is_not(None),
                Flag.patient_id == InboundMessage.patient_id,
            ),
        ),
    )


def count_old(db: Session, clinic_id: int, cutoff: datetime) -> tuple[int, int]:
    """(texts, replies) of the clinic whose words a purge at ``cutoff`` would clear."""
    texts = select(func.count()).select_from(OutboundMessage)
    replies = select(func.count()).select_from(InboundMessage)
    return (
        db.scalar(texts.where(_outbound_old(clinic_id, cutoff))) or 0,
        db.scalar(replies.where(_inbound_old(clinic_id, cutoff))) or 0,
    )


def clear_outbound_batch(db: Session, clinic_id: int, cutoff: datetime, *, limit: int) -> int:
    """Clear the body and provider error text of at most ``limit`` of the clinic's old
    finished texts; how many were cleared."""
    ids = select(OutboundMessage.id).where(_outbound_old(clinic_id, cutoff)).limit(limit)
    stmt = (
        update(OutboundMessage)
        .where(OutboundMessage.id.in_(ids.scalar_subquery()))
        .values(body=None, error_message=None)
        .execution_options(synchronize_session=False)
    )
    return db.execute(stmt).rowcount


def clear_inbound_batch(db: Session, clinic_id: int, cutoff: datetime, *, limit: int) -> int:
    """Empty the text and our answer of at most ``limit`` of the clinic's old replies; how
    many were cleared."""
    ids = select(InboundMessage.id).where(_inbound_old(clinic_id, cutoff)).limit(limit)
    stmt = (
        update(InboundMessage)
        .where(InboundMessage.id.in_(ids.scalar_subquery()))
        .values(body="", reply_body=None)
        .execution_options(synchronize_session=False)
    )
    return db.execute(stmt).rowcount


def retention_days(db: Session, slug: str | None = None) -> list[tuple[int, str, int]]:
    """(id, slug, retention days) of every clinic, or of the one of ``slug``, by slug."""
    q = select(Clinic.id, Clinic.slug, Clinic.retention_days).order_by(Clinic.slug)
    if slug is not None:
        q = q.where(Clinic.slug == slug)
    return [(r.id, r.slug, r.retention_days) for r in db.execute(q)]


def set_retention_days(db: Session, clinic: Clinic, days: int) -> None:
    """Replace how many days ``clinic`` keeps its patients' words (checked by the caller)."""
    clinic.retention_days = days
    db.flush()


def claim_run(db: Session, job: str, period: str, *, worker: str, now: datetime) -> int | None:
    """The id of the new run of ``job`` for ``period``, or None when a worker claimed it
    already. One INSERT guarded by the unique key: of two workers racing, one row is
    written and the other's insert does nothing, on SQLite and PostgreSQL alike."""
    values = {"job": job, "period": period, "worker": worker, "started_at": now}
    return insert_ignore(db, JobRun, values, ("job", "period"))


def release_run(db: Session, run_id: int) -> None:
    """Give a claimed run back (it failed), so the period can be claimed again."""
    db.execute(delete(JobRun).where(JobRun.id == run_id))


def finish_run(db: Session, run_id: int, now: datetime) -> None:
    db.execute(update(JobRun).where(JobRun.id == run_id).values(finished_at=now))
