"""Signing and posting Twilio webhooks in tests, and a gateway that records what it sends.

Signatures are computed by the SDK's own ``RequestValidator``, exactly as Twilio computes
them: HMAC-SHA1 of the public URL plus the sorted form fields, keyed with the auth token.
"""

from __future__ import annotations

import itertools
import threading
from datetime import datetime
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

from followup.gateways.base import OutgoingSms, SendResult

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
