"""Retention: a clinic keeps its patients' words for ``retention_days`` (365 by default),
then they are cleared; what happened stays.

After a text is finished (sent, delivered, undelivered, failed or skipped) for longer than
the clinic's period, its body and the provider's error text are set to NULL; after a reply
was received for that long, its text is emptied and our automatic answer set to NULL.
Everything else stays for audit and reports: the message events, statuses, kinds, scores,
urgencies, matched lexicon terms ("chest pain"), counts and timestamps, the flags (whose
reason is written in staff words, never the patient's) and the audit log with the staff's
notes (staff words as well).

**Nothing tied to a flag that is not closed is cleared**: while a flag is open, or
acknowledged and in hand, staff still need the patient's own words, so every text and
reply of that flag's patient (and the reply or text that raised it) is kept until the flag
is closed; the next run after that clears them.

Why 365 days and at least 30: a clinic is asked about a patient's aftercare months later
(a complaint, a follow-up visit), so a year is kept unless the clinic chooses less; under
30 days a flag closed on Friday could lose its patient's words before the clinic's next
review of the month's flags.

The purge runs in batches of :data:`BATCH` rows, each committed on its own, so a first run
over years of texts never holds long locks; each clinic's run is audited as
``retention.purge`` with the counts (never a word of the texts). The worker runs it once a
day across every replica: the day's run is claimed in ``job_runs`` (one INSERT guarded by
the unique key, :func:`followup.store.retention.claim_run`), so of several workers exactly
one purges; ``followup retention run`` runs it at once. A run that fails gives its claim
back and is tried again within the hour; one whose process died is taken up by the next
day's (clearing is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from followup.store import retention as rows
from followup.store.accounts import add_audit
from followup.store.clinics import by_slug
from followup.store.engine import transaction

log = logging.getLogger(__name__)

#: the fewest days a clinic may keep its patients' words (see the module's docstring)
MIN_DAYS = 30
DEFAULT_DAYS = 365
#: rows cleared by one UPDATE, each committed on its own
BATCH = 1000
JOB = "retention"
ACTION = "retention.purge"


class RetentionError(ValueError):
    """A retention period or clinic that cannot be used; the message says why."""


def check_days(days: int) -> int:
    """``days`` when a clinic may keep its patients' words that long. Pure."""
    if days < MIN_DAYS:
        raise RetentionError(
            f"retention must be at least {MIN_DAYS} days (staff may still need a patient's "
            f"words weeks after a flag is closed), got {days}"
        )
    return days


def set_days(db: Session, slug: str, days: int, *, now: datetime, actor: str) -> int:
    """Set how many days the clinic of ``slug`` keeps its patients' words; the days it kept
    them before. Audited as ``settings.change`` like the settings page's saves."""
    clinic = by_slug(db, slug)
    if clinic is None:
        raise RetentionError(f"no clinic {slug!r}")
    before = clinic.retention_days
    rows.set_retention_days(db, clinic, check_days(days))
    if before != days:
        add_audit(
            db, at=now, actor=actor, clinic_id=clinic.id, action="settings.change",
            subject=f"clinic:{clinic.id}", detail=f"retention_days: {before} -> {days}",
        )  # fmt: skip
    return before


def cutoff(now: datetime, days: int) -> datetime:
    """Words of texts finished and replies received before this instant are cleared. Pure."""
    return now - timedelta(days=days)


def period_of(now: datetime) -> str:
    """The period a daily run belongs to: the UTC day (``2026-12-04``). Pure."""
    return now.date().isoformat()


@dataclass
class ClinicPurge:
    """What a run did (or, dry, would do) for one clinic."""

    slug: str
    days: int
    texts: int = 0
    replies: int = 0

    def line(self, *, dry: bool) -> str:
        verb = "would clear" if dry else "cleared"
        return (
            f"{self.slug}: {verb} {self.texts} text(s) and {self.replies} reply text(s) "
            f"older than {self.days} days"
        )


@dataclass
class RetentionReport:
    clinics: list[ClinicPurge] = field(default_factory=list)

    @property
    def texts(self) -> int:
        return sum(c.texts for c in self.clinics)

    @property
    def replies(self) -> int:
        return sum(c.replies for c in self.clinics)


def purge(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    actor: str,
    slug: str | None = None,
    dry_run: bool = False,
    batch: int = BATCH,
) -> RetentionReport:
    """Clear the words older than each clinic's period (or only ``slug``'s); with
    ``dry_run`` only count them and write nothing. Raises :class:`RetentionError` for an
    unknown slug."""
    with sessions() as db:
        clinics = rows.retention_days(db, slug)
    if slug is not None and not clinics:
        raise RetentionError(f"no clinic {slug!r}")
    report = RetentionReport()
    for clinic_id, clinic_slug, days in clinics:
        done = ClinicPurge(clinic_slug, days)
        before = cutoff(now, days)
        if dry_run:
            with sessions() as db:
                done.texts, done.replies = rows.count_old(db, clinic_id, before)
        else:
            done.texts = _in_batches(sessions, rows.clear_outbound_batch, clinic_id, before, batch)
            done.replies = _in_batches(sessions, rows.clear_inbound_batch, clinic_id, before, batch)
            with transaction(sessions) as db:
                add_audit(
                    db, at=now, actor=actor, clinic_id=clinic_id, action=ACTION,
                    subject=f"clinic:{clinic_slug}",
                    detail=f"older than {days} days: {done.texts} text(s), "
                    f"{done.replies} reply text(s) cleared",
                )  # fmt: skip
        report.clinics.append(done)
    return report


def _in_batches(
    sessions: sessionmaker[Session],
    clear: Callable[..., int],
    clinic_id: int,
    before: datetime,
    batch: int,
) -> int:
    """Run ``clear`` (one UPDATE of at most ``batch`` rows), each in its own transaction,
    until it clears fewer than a batch; how many rows it cleared in all."""
    total = 0
    while True:
        with transaction(sessions) as db:
            n = clear(db, clinic_id, before, limit=batch)
        total += n
        if n < batch:
            return total


def run_daily(
    sessions: sessionmaker[Session], now: datetime, *, worker: str
) -> RetentionReport | None:
    """Today's run, if this worker is the one to claim it; None when another worker (or an
    earlier tick of this one) has. The claim is committed before the purge starts, so a
    second worker sees it at once."""
    with transaction(sessions) as db:
        run_id = rows.claim_run(db, JOB, period_of(now), worker=worker, now=now)
    if run_id is None:
        return None
    try:
        report = purge(sessions, now, actor=f"worker:{worker}")
    except Exception:
        # give the day back, so the next try (this worker's next hour, or another's) runs
        with transaction(sessions) as db:
            rows.release_run(db, run_id)
        raise
    with transaction(sessions) as db:
        rows.finish_run(db, run_id, now)
    if report.texts or report.replies:
        log.info("retention: cleared %s text(s) and %s reply text(s)", report.texts, report.replies)
    return report
