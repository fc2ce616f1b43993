"""Dispatcher: due outbox rows -> gateway, one text at a time, every outcome recorded.

Steps of one run (:meth:`Dispatcher.run_once`):

1. Claim due rows (``outbox.claim_due``): status ``sending`` with a lease, in a short transaction.
2. For each claimed row, re-check what may have changed since it was planned: the patient
   opted out or withdrew consent, the session was cancelled, the step's window has passed.
   Any of these: ``skipped`` with the reason. Nothing is sent to an opted-out patient.
3. Render the body now, from the current template catalogue (a template fix reaches texts
   already queued).
4. Hand it to the gateway outside any transaction (a slow provider never holds a lock).
5. Record the outcome: ``sent`` with the provider's SID; a permanent error ``failed`` with its
   code; a transient one back to ``scheduled`` with exponential backoff and jitter, ``failed``
   only after ``max_attempts``. The provider saying "opted out" (Twilio 21610) also marks the
   patient opted out and skips their pending texts.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import Gateway, OutgoingSms, SendResult
from followup.models import Clinic, OutboundMessage, Patient, TreatmentSession
from followup.outbox import claim_due, transition
from followup.phones import display_phone
from followup.templates import Catalogue, TemplateError, format_appointment

log = logging.getLogger(__name__)

TEMPLATE_RETRY = timedelta(minutes=15)


def backoff(
    attempts: int, *, base: float = 30.0, cap: float = 3600.0, rng: random.Random | None = None
) -> timedelta:
    """Delay before retry number ``attempts`` (1-based): exponential, capped, with jitter.

    "Equal jitter": half the exponential delay is fixed, half random, so retries spread out
    (no thundering herd after a provider outage) yet never come back immediately.
    """
    exp = min(cap, base * (2 ** max(0, attempts - 1)))
    r = (rng or random).random()
    return timedelta(seconds=exp / 2 + r * exp / 2)


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def count_error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


class Dispatcher:
    def __init__(
        self,
        factory: sessionmaker[Session],
        gateway: Gateway,
        catalogue: Catalogue,
        *,
        worker: str,
        default_from: str | None = None,
        default_service_sid: str | None = None,
        batch_size: int = 100,
        lease: timedelta = timedelta(minutes=5),
        max_attempts: int = 5,
    ) -> None:
        self.factory = factory
        self.gateway = gateway
        self.catalogue = catalogue
        self.worker = worker
        self.default_from = default_from
        self.default_service_sid = default_service_sid
        self.batch_size = batch_size
        self.lease = lease
        self.max_attempts = max_attempts

    def run_once(self, now: datetime) -> DispatchReport:
        """Send everything due at ``now``; returns counts. Loops until nothing is due."""
        report = DispatchReport()
        while True:
            with self.factory() as db, db.begin():
                ids = claim_due(
                    db, now=now, worker=self.worker, limit=self.batch_size, lease=self.lease
                )
            if not ids:
                return report
            report.claimed += len(ids)
            for message_id in ids:
                self._process(message_id, now, report)

    def _process(self, message_id: int, now: datetime, report: DispatchReport) -> None:
        with self.factory() as db, db.begin():
            sms = self._prepare(db, message_id, now, report)
        if sms is None:
            return
        result = self.gateway.send(sms)
        with self.factory() as db, db.begin():
            self._record(db, message_id, result, now, report)

    def _prepare(
        self, db: Session, message_id: int, now: datetime, report: DispatchReport
    ) -> OutgoingSms | None:
        row = db.execute(
            select(OutboundMessage, Patient, Clinic, TreatmentSession)
            .join(Patient, Patient.id == OutboundMessage.patient_id)
            .join(Clinic, Clinic.id == OutboundMessage.clinic_id)
            .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
            .where(OutboundMessage.id == message_id, OutboundMessage.status == "sending")
        ).one_or_none()
        if row is None:
            return None
        msg, patient, clinic, session = row
        why = None
        if patient.opted_out_at is not None:
            why = "opted out"
        elif not patient.consent:
            why = "no consent"
        elif session.status != "completed":
            why = "session cancelled"
        elif now > msg.expires_at:
            why = f"too late: window ended {msg.expires_at:%Y-%m-%d %H:%M} UTC"
        if why:
            transition(
                db,
                msg.id,
                "sending",
                "skipped",
                at=now,
                reason=why,
                actor=self.worker,
                lease_until=None,
            )
            report.skipped += 1
            return None
        try:
            body = self.render(msg, patient, clinic, session)
        except TemplateError as exc:
            # The catalogue is checked at start, so this means a template changed under a running
            # worker. Keep the text (nothing is lost) and try again later; its window still applies.
            self._retry_later(db, msg.id, now, TEMPLATE_RETRY, "template", str(exc), report)
            log.error("message %s: cannot render: %s", msg.id, exc)
            return None
        from_number, service_sid = sender_for(
            clinic.from_number, clinic.messaging_service_sid, self.default_from,
            self.default_service_sid,
        )  # fmt: skip
        sms = OutgoingSms(
            to=patient.phone,
            body=body,
            from_number=from_number,
            messaging_service_sid=service_sid,
            message_id=msg.id,
        )
        db.execute(update(OutboundMessage).where(OutboundMessage.id == msg.id).values(body=body))
        return sms

    def render(
        self, msg: OutboundMessage, patient: Patient, clinic: Clinic, session: TreatmentSession
    ) -> str:
        tz = ZoneInfo(patient.timezone or clinic.timezone)
        context = {
            "first_name": patient.first_name,
            "clinic_name": clinic.name,
            "clinic_phone": display_phone(clinic.phone, clinic.country),
            "emergency_number": clinic.emergency_number,
            "appointment_time": (
                format_appointment(session.next_appointment_at, tz, msg.locale, self.catalogue)
                if session.next_appointment_at
                else ""
            ),
        }
        return self.catalogue.render(msg.template_key, msg.locale, context)

    def _record(
        self,
        db: Session,
        message_id: int,
        result: SendResult,
        now: datetime,
        report: DispatchReport,
    ) -> None:
        msg = db.get(OutboundMessage, message_id)
        if msg is None or msg.status != "sending":
            log.warning(
                "message %s changed while it was being sent; outcome not recorded", message_id
            )
            return
        if result.ok:
            transition(
                db,
                message_id,
                "sending",
                "sent",
                at=now,
                reason="accepted by gateway",
                actor=self.worker,
                provider_sid=result.provider_sid,
                provider_status=result.provider_status,
                sent_at=now,
                lease_until=None,
                error_code=None,
                error_message=None,
            )
            report.sent += 1
            log.info("message %s sent (%s)", message_id, result.provider_sid)
            return
        err = result.error
        assert err is not None
        if not err.permanent and msg.attempts < self.max_attempts:
            delay = backoff(msg.attempts)
            self._retry_later(db, message_id, now, delay, err.code, err.message, report)
            return
        report.count_error(err.code)
        why = (
            f"error {err.code}: {err.message}"
            if err.permanent
            else f"gave up after {msg.attempts} attempts: {err.code}"
        )
        transition(
            db,
            message_id,
            "sending",
            "failed",
            at=now,
            reason=why,
            actor=self.worker,
            error_code=err.code,
            error_message=err.message[:500],
            lease_until=None,
        )
        report.failed += 1
        if err.opted_out:
            mark_opted_out(db, msg.patient_id, now, how=f"provider error {err.code}")

    def _retry_later(
        self,
        db: Session,
        message_id: int,
        now: datetime,
        delay: timedelta,
        code: str,
        message: str,
        report: DispatchReport,
    ) -> None:
        """Back to ``scheduled`` at ``now + delay``, the error kept on the row."""
        transition(
            db,
            message_id,
            "sending",
            "scheduled",
            at=now,
            reason=f"{code}: {message[:200]}; retry in {int(delay.total_seconds())} s",
            actor=self.worker,
            send_at=now + delay,
            lease_until=None,
            error_code=code,
            error_message=message[:500],
        )
        report.retried += 1
        report.count_error(code)


def sender_for(
    clinic_from: str | None,
    clinic_service: str | None,
    default_from: str | None,
    default_service: str | None,
) -> tuple[str | None, str | None]:
    """``(from_number, messaging_service_sid)`` for a clinic's texts, exactly one of them set
    when any sender is configured: the clinic's own sender wins (a messaging service over a
    number), else the process-wide default (likewise)."""
    if clinic_service:
        return None, clinic_service
    if clinic_from:
        return clinic_from, None
    if default_service:
        return None, default_service
    return default_from, None


def mark_opted_out(db: Session, patient_id: int, now: datetime, how: str) -> int:
    """Record an opt-out and skip every pending text of the patient. Returns texts skipped."""
    db.execute(
        update(Patient)
        .where(Patient.id == patient_id, Patient.opted_out_at.is_(None))
        .values(opted_out_at=now, updated_at=now)
    )
    pending = db.scalars(
        select(OutboundMessage.id).where(
            OutboundMessage.patient_id == patient_id, OutboundMessage.status == "scheduled"
        )
    ).all()
    skipped = 0
    for message_id in pending:
        if transition(
            db,
            message_id,
            "scheduled",
            "skipped",
            at=now,
            reason=f"opted out: {how}",  # "opted out" is the code a re-plan reads
            actor="opt-out",
        ):
            skipped += 1
    return skipped
