"""Signing and posting Twilio webhooks in tests, a gateway that records what it sends, and
the clinics the tests of replies and consent start from (:class:`Clinics`).

Signatures are computed by the SDK's own ``RequestValidator``, exactly as Twilio computes
them: HMAC-SHA1 of the public URL plus the sorted form fields, keyed with the auth token.
"""

from __future__ import annotations

import itertools
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from followup.gateways.base import OutgoingSms, SendResult
from followup.inbound.receive import InboundResult, InboundSms, Senders, receive
from followup.runtime import Runtime
from followup.store.models import Clinic, MessageEvent, OutboundMessage, Patient
from support.seeding import seed_treated

TOKEN = "test-auth-token-0123456789abcdef"
PUBLIC_URL = "https://followup.example.org"
ACCOUNT_SID = "AC" + "0" * 32
_sids = itertools.count(1)


def new_sid() -> str:
    return f"SM{next(_sids):032x}"


def sign(path: str, params: dict[str, str], token: str = TOKEN, base: str = PUBLIC_URL) -> str:
    return RequestValidator(token).compute_signature(base + path, params)


def inbound_params(body: str, sender: str, to: str = "+12015550111", **extra: str) -> dict:
    """The fields Twilio posts for an incoming SMS (a representative subset, plus extras)."""
    return {
        "MessageSid": extra.pop("MessageSid", None) or new_sid(),
        "AccountSid": ACCOUNT_SID,
        "From": sender,
        "To": to,
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
        **extra,
    }


def post_signed(
    client,
    path: str,
    params: dict[str, str],
    *,
    signature: str | None = "sign",
    body_params: dict[str, str] | None = None,
):
    """POST ``params`` form-encoded; signed over ``params`` unless ``signature`` is given
    (None: no header). ``body_params`` sends different fields than were signed (tampering)."""
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        signature = sign(path, params)
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return client.post(path, content=urlencode(body_params or params), headers=headers)


class RecordingGateway:
    """Sends nothing; remembers every SMS (staff alerts here) with a made-up SID."""

    name = "recording"

    def __init__(self) -> None:
        self.sent: list[OutgoingSms] = []
        self.lock = threading.Lock()

    def send(self, sms: OutgoingSms) -> SendResult:
        with self.lock:
            self.sent.append(sms)
        return SendResult(provider_sid=new_sid(), provider_status="queued")

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        return None


# -- the clinics of the reply and consent tests ------------------------------------

#: a weekday afternoon in New York; the texts of sessions completed then are all scheduled
DONE = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
NOW = DONE + timedelta(hours=1)
#: the shared number (two records at Harbor, one at Bay) and a number only Harbor knows
SHARED, OTHER = "+12015550301", "+12015550302"
HARBOR_NUMBER, BAY_NUMBER = "+12015550111", "+12015550112"


class Clinics:
    """Harbor (P0 and P1 share a number, P2 has its own) and Bay (P5, the shared number)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.sessions: sessionmaker[Session] = runtime.sessions
        seed_treated(self.sessions, [SHARED, SHARED, OTHER], DONE)
        seed_treated(
            self.sessions,
            [SHARED],
            DONE,
            first_id=5,
            slug="bay",
            name="Bay Physio",
            from_number=BAY_NUMBER,
            oncall_phone="+12015550999",
        )

    def patient_id(self, external_id: str) -> int:
        with self.sessions() as db:
            return db.scalar(select(Patient.id).where(Patient.external_id == external_id))

    def patient(self, external_id: str) -> Patient:
        with self.sessions() as db:
            return db.scalars(select(Patient).where(Patient.external_id == external_id)).one()

    def clinic_id(self, slug: str) -> int:
        with self.sessions() as db:
            return db.scalar(select(Clinic.id).where(Clinic.slug == slug))

    def texts(self, external_id: str) -> dict[str, tuple[str, str | None]]:
        """The patient's texts: step -> (status, reason)."""
        with self.sessions() as db:
            rows = db.execute(
                select(OutboundMessage.step, OutboundMessage.status, OutboundMessage.reason)
                .join(Patient, Patient.id == OutboundMessage.patient_id)
                .where(Patient.external_id == external_id)
            )
            return {step: (status, reason) for step, status, reason in rows}

    def text_id(self, external_id: str, step: str) -> int:
        with self.sessions() as db:
            return db.scalar(
                select(OutboundMessage.id)
                .join(Patient, Patient.id == OutboundMessage.patient_id)
                .where(Patient.external_id == external_id, OutboundMessage.step == step)
            )

    def events(self, external_id: str) -> list[tuple[str, str | None, str, str, str | None]]:
        """The patient's message events in order: (step, from, to, actor, reason)."""
        with self.sessions() as db:
            rows = db.execute(
                select(
                    OutboundMessage.step,
                    MessageEvent.from_status,
                    MessageEvent.to_status,
                    MessageEvent.actor,
                    MessageEvent.reason,
                )
                .join(OutboundMessage, OutboundMessage.id == MessageEvent.message_id)
                .join(Patient, Patient.id == OutboundMessage.patient_id)
                .where(Patient.external_id == external_id)
                .order_by(MessageEvent.id)
            )
            return [tuple(r) for r in rows]

    def update_text(self, external_id: str, step: str, **values: Any) -> None:
        """Set columns of one text directly (a test's shortcut past the dispatcher)."""
        message_id = self.text_id(external_id, step)
        with self.sessions() as db, db.begin():
            db.execute(
                update(OutboundMessage).where(OutboundMessage.id == message_id).values(**values)
            )

    def receive(
        self,
        body: str,
        sender: str = SHARED,
        to: str | None = HARBOR_NUMBER,
        *,
        sid: str,
        now: datetime = NOW,
        senders: Senders | None = None,
        **extra: Any,
    ) -> InboundResult:
        """One text through :func:`receive`, in a transaction of its own."""
        sms = InboundSms(sid=sid, from_number=sender, to_number=to, body=body, **extra)
        with self.runtime.engine.begin() as conn:
            return receive(
                conn, sms, catalogue=self.runtime.catalogue, now=now, senders=senders or Senders()
            )
