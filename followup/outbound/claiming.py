"""Claiming a batch and making it ready to send, in one short transaction.

First texts whose worker died mid-send (lease expired: taken over, to be looked up at the
provider before any resend; failed instead once their worker has died on them
``max_attempts`` times), then due texts, each ``sending`` under a lease, except those of a
clinic without a staff alert destination: they wait, saying why
(:mod:`followup.store.outbox.waiting`). For each, check what
may have changed since planning (opt-out, consent, cancelled session, step window:
``skipped`` with the reason), render the body from the current catalogue and store it on the
row, so a text that is interrupted can be recognised at the provider later. A text staff
wrote (:mod:`followup.store.outbox.staff_texts`) is not rendered: its stored body is what
goes, with every other step of a send the same.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import OutgoingSms
from followup.gateways.policy import sender_for
from followup.outbound.batch import DispatchReport, Job
from followup.outbound.careplan import CarePlan, plan_for
from followup.outbound.lookup import UNCERTAIN
from followup.outbound.outcomes import Outcomes
from followup.outbound.send_checks import skip_reason, waiting_reason, window_wait
from followup.outbound.timing import SendWindow
from followup.phones import display_phone
from followup.store.clinics import without_alert_destination_ids
from followup.store.engine import database_unavailable
from followup.store.outbox import (
    claim_due,
    claimed_texts,
    clinic_plans,
    hold_due,
    is_staff_text,
    reclaim_expired,
    set_bodies,
)
from followup.store.planning import plan_again
from followup.store.wording import Wording, for_clinics
from followup.texts.catalogue import Catalogue, TemplateError, format_appointment
from followup.texts.names import patient_names, tidy_without_name

log = logging.getLogger(__name__)

#: a text whose template cannot be rendered is tried again this much later
TEMPLATE_RETRY = timedelta(minutes=15)


@lru_cache(maxsize=256)
def _parsed(canonical: str) -> CarePlan:
    return plan_for(json.loads(canonical))


def _plan(stored: Any) -> CarePlan:
    """A clinic's stored plan, parsed once per version of it (claims run every tick)."""
    if not stored:
        return plan_for(None)
    return _parsed(json.dumps(stored, sort_keys=True))


@lru_cache(maxsize=64)
def _window(start: int, end: int) -> SendWindow:
    return SendWindow(start, end)


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
        plans = clinic_plans(db.connection()) if by_id else {}
        # the clinics' own wording, read once for the batch
        wording = for_clinics(db.connection(), {row.clinic_id for row in by_id.values()})
        jobs: list[Job] = []
        bodies: list[tuple[int, str]] = []
        waiting: list[int] = []
        for message_id in ids:
            row = by_id.get(message_id)
            if row is None:
                continue
            try:
                job = self._prepare_one(
                    db, row, recovered, plans, now, report, bodies, waiting,
                    wording.get(row.clinic_id),
                )  # fmt: skip
            except Exception as exc:
                if database_unavailable(exc):
                    raise
                # One text's data that cannot be read (a zone no database knows, a plan that
                # no longer parses) never holds up the batch: it waits, its error on the row,
                # and fails once its attempts are spent.
                self._set_aside(db, row, now, exc, report)
                continue
            if job is not None:
                jobs.append(job)
        set_bodies(db.connection(), bodies)
        plan_again(db.connection(), waiting)
        return jobs

    def _prepare_one(
        self,
        db: Session,
        row: Any,
        recovered: set[int],
        plans: dict[int, Any],
        now: datetime,
        report: DispatchReport,
        bodies: list[tuple[int, str]],
        waiting: list[int],
        wording: Wording | None = None,
    ) -> Job | None:
        tz, window = self.hours(row, plans)
        staff = is_staff_text(row.template_key)
        why = skip_reason(
            opted_out=row.opted_out_at is not None,
            consent=row.consent,
            phone_unusable=row.phone_unusable_at is not None,
            session_status=row.session_status,
            expires_at=row.expires_at,
            now=now,
            answered=bool(row.answered),
            staff=staff,
        )
        if why:
            self.outcomes.skip(db, row.id, now, why, report)
            return None
        lookup = row.id in recovered or row.error_code in UNCERTAIN
        later = window_wait(now, tz, window)
        if later is not None and not lookup:
            # due outside its hours (a backlog, a worker down overnight): it waits for them,
            # and the planner places it again with every rule (caps, expiry, safety holds)
            self.outcomes.defer(db, row.id, now, later, waiting_reason(later, tz), report)
            waiting.append(row.session_id)
            return None
        if (lookup or staff) and row.body:
            body = row.body  # the text as it may already have gone out, or as staff wrote it
        else:
            try:
                body = self.render(row, wording)
            except TemplateError as exc:
                # The catalogue is checked at start, so a template changed under a running
                # worker. Keep the text (nothing is lost) and try again later.
                log.error("message %s: cannot render: %s", row.id, exc)
                report.count_error("template")
                self.outcomes.retry_later(
                    db, row.id, now, TEMPLATE_RETRY, "template", str(exc), report
                )
                return None
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
        return Job(
            row.id, row.patient_id, sms, row.due_at, row.expires_at, row.attempts, lookup,
            session_id=row.session_id, tz=tz, window=window, staff=staff, send_at=row.send_at,
        )  # fmt: skip

    def hours(self, row: Any, plans: dict[int, Any]) -> tuple[ZoneInfo, SendWindow]:
        """The recipient's zone and the text's sending hours: its step's own (the aftercare
        may go until 21:00), else the clinic's."""
        tz = ZoneInfo(row.patient_timezone or row.clinic_timezone)
        step = _plan(plans.get(row.clinic_id)).by_key.get(row.step)
        if step is not None and step.send_window is not None:
            return tz, step.send_window
        return tz, _window(row.send_window_start, row.send_window_end)

    def _set_aside(
        self, db: Session, row: Any, now: datetime, exc: Exception, report: DispatchReport
    ) -> None:
        what = f"{type(exc).__name__}: {str(exc).strip()[:200]}"
        log.error("message %s: cannot be prepared: %s", row.id, what)
        report.count_error("prepare")
        if row.attempts >= self.max_attempts:
            self.outcomes.fail(db, row.id, now, "prepare", f"cannot be prepared: {what}", report)
        else:
            self.outcomes.retry_later(db, row.id, now, TEMPLATE_RETRY, "prepare", what, report)

    def render(self, row: Any, wording: Wording | None = None) -> str:
        """The text of one claimed row (columns of
        :data:`followup.store.outbox.sending.CLAIMED_TEXT`), from the catalogue, or from the
        clinic's own ``wording`` of it when it has one (the default text when that cannot be
        rendered: :meth:`~followup.texts.catalogue.Catalogue.render`). Names are
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
        text = self.catalogue.render(row.template_key, row.locale, context, wording)
        return text if names["first_name"] else tidy_without_name(text)
