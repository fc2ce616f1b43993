"""The gateway interface: two small methods, errors as data.

A gateway sends one SMS and says what happened. It never raises for a provider's answer:
a failure comes back as :class:`SendError` saying whether it is permanent (do not retry: an
invalid number, an opted-out patient) or transient (retry later with backoff: rate limits,
timeouts, 5xx). The dispatcher decides what each means for the message; the gateway only knows
its provider. The console gateway and the Twilio gateway implement the same protocol.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    body: str
    #: a sender number (E.164) or None; with a messaging service SID the provider picks one
    from_number: str | None = None
    messaging_service_sid: str | None = None
    #: our outbox id, for logs and for finding the message again after a crash
    message_id: int | None = None


@dataclass(frozen=True)
class SendError:
    code: str
    message: str
    permanent: bool
    #: the provider says the recipient opted out (Twilio 21610): stop texting them
    opted_out: bool = False
    #: the next send would fail the same way (rate limited, credentials refused): stop the
    #: batch and put the rest back for later instead of spending their attempts
    pause: bool = False


@dataclass(frozen=True)
class SendResult:
    provider_sid: str | None = None
    provider_status: str | None = None
    error: SendError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Gateway(Protocol):
    name: str

    def send(self, sms: OutgoingSms) -> SendResult: ...

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """Look for ``sms`` among the texts the provider accepted since ``since``.

        Used before re-sending a text whose worker died mid-send. Returns the provider's
        record when found, None when the provider has no such text, or a result carrying a
        (transient) error when the provider could not be asked.
        """
        ...
