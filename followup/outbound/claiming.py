"""Claiming a batch and making it ready to send, in one short transaction.

First texts whose worker died mid-send (lease expired: taken over, to be looked up at the
provider before any resend; failed instead once their worker has died on them
``max_attempts`` times), then due texts, each ``sending`` under a lease, except those of a
clinic without a staff alert destination: they wait, saying why
(:mod:`followup.store.outbox.waiting`). For each, check what
may have changed since planning (opt-out, consent, cancelled session, step window:
``skipped`` with the reason), render the body from the current catalogue and store it on the
row, so a text that is interrupted can be recognised at the provider later.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import OutgoingSms
from followup.gateways.policy import sender_for
from followup.outbound.batch import DispatchReport, Job
from followup.outbound.lookup import UNCERTAIN
from followup.outbound.outcomes import Outcomes
from followup.outbound.send_checks import skip_reason
from followup.phones import display_phone
from followup.store.clinics import without_alert_destination_ids
from followup.store.outbox import claim_due, claimed_texts, hold_due, reclaim_expired, set_bodies
from followup.texts.catalogue import Catalogue, TemplateError, format_appointment
from followup.texts.names import patient_names, tidy_without_name

log = logging.getLogger(__name__)

#: a text whose template cannot be rendered is tried again this much later
TEMPLATE_RETRY = timedelta(minutes=15)


class Claimer:
    """Claims batches for one worker and turns them into :class:`Job` s."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        catalogue: Catalogue,
        outcomes: Outcomes,
        *,
        worker: str,
        batch_size: int,
        lease: timedelta,
        max_attempts: int,
        default_from: str | None,
        default_service_sid: str | None,
    ) -> None:
        self.factory = factory
        self.catalogue = catalogue
        self.outcomes = outcomes
        self.worker = worker
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts
        self.default_from = default_from
        self.default_service_sid = default_service_sid

    def claim(self, now: datetime, report: DispatchReport) -> list[Job]:
        """The next batch, ready to go (empty when nothing is due)."""
        with self.factory() as db, db.begin():
            recovered = reclaim_expired(
                db, now=now, worker=self.worker, limit=self.batch_size, lease=self.lease
            )
            stuck = {mid for mid, _, attempts in recovered if attempts >= self.max_attempts}
            for message_id, previous, attempts in recovered:
                log.warning(
                    "message %s: worker %s stopped while sending it; recovering", message_id,
                    previous,
                )  # fmt: skip
                if message_id in stuck:
                    # Its worker died on it every time: stop trying rather than loop forever.
                    self.outcomes.fail(
                        db, message_id, now, "interrupted",
                        f"the sending worker stopped {attempts} times", report,
                    )  # fmt: skip
            report.add("recovered", len(recovered))
            # a clinic nobody can alert does not text its patients: its due texts wait
            held = without_alert_destination_ids(db)
            waiting, late = hold_due(db, held, now=now, actor=self.worker)
            report.add("waiting", waiting)
            report.add("skipped", late)
            claimed = claim_due(
                db,
                now=now,
                worker=self.worker,
                limit=max(1, self.batch_size - len(recovered)),
                lease=self.lease,
                skip_clinics=held,
            )
            report.add("claimed", len(claimed))
            ids = [mid for mid, _, _ in recovered if mid not in stuck] + claimed
            return self._prepare(db, ids, {mid for mid, _, _ in recovered}, now, report)

    def _prepare(
        self,
        db: Session,
        ids: list[int],
        recovered: set[int],
        now: datetime,
        report: DispatchReport,
    ) -> list[Job]:
        if not ids:
            return []
        by_id = {row.id: row for row in claimed_texts(db, ids)}
        jobs: list[Job] = []
        bodies: list[tuple[int, str]] = []
        for message_id in ids:
            row = by_id.get(message_id)
            if row is None:
                continue
            why = skip_reason(
                opted_out=row.opted_out_at is not None,
                consent=row.consent,
                phone_unusable=row.phone_unusable_at is not None,
                session_status=row.session_status,
                expires_at=row.expires_at,
                now=now,
                answered=bool(row.answered),
            )
            if why:
                self.outcomes.skip(db, row.id, now, why, report)
                continue
            lookup = row.id in recovered or row.error_code in UNCERTAIN
            if lookup and row.body:
                body = row.body  # the text as it may already have gone out
            else:
                try:
                    body = self.render(row)
                except TemplateError as exc:
                    # The catalogue is checked at start, so a template changed under a running
                    # worker. Keep the text (nothing is lost) and try again later.
                    log.error("message %s: cannot render: %s", row.id, exc)
                    report.count_error("template")
                    self.outcomes.retry_later(
                        db, row.id, now, TEMPLATE_RETRY, "template", str(exc), report
                    )
                    continue
                if body != row.body:
                    bodies.append((row.id, body))
            from_number, service_sid = sender_for(
                row.from_number, row.messaging_service_sid, self.default_from,
                self.default_service_sid,
            )  # fmt: skip
            sms = OutgoingSms(
                to=row.phone,
                body=body,
                from_number=from_number,
                messaging_service_sid=service_sid,
                message_id=row.id,
            )
            jobs.append(
                Job(row.id, row.patient_id, sms, row.due_at, row.expires_at, row.attempts, lookup)
            )
        set_bodies(db.connection(), bodies)
        return jobs

    def render(self, row: Any) -> str:
        """The text of one claimed row (columns of
        :data:`followup.store.outbox.sending.CLAIMED_TEXT`), from the catalogue. Names are
        folded to GSM-7 and the first name capped (:mod:`followup.texts.names`), so "Lucía"
        does not turn a one-segment text into two UCS-2 ones."""
        tz = ZoneInfo(row.patient_timezone or row.clinic_timezone)
        names = patient_names(row.first_name, row.clinic_name)
        context = {
            **names,
            "clinic_phone": display_phone(row.clinic_phone, row.country),
            "emergency_number": row.emergency_number,
            "appointment_time": (
                format_appointment(row.next_appointment_at, tz, row.locale, self.catalogue)
                if row.next_appointment_at
                else ""
            ),
        }
        text = self.catalogue.render(row.template_key, row.locale, context)
        return text if names["first_name"] else tidy_without_name(text)
