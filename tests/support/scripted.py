"""A gateway that answers from a script, and a dispatcher whose clock stands still."""

from __future__ import annotations

from datetime import UTC, datetime

from followup.gateways.base import OutgoingSms, SendError, SendResult
from followup.outbound.dispatcher import Dispatcher
from followup.texts.catalogue import Catalogue

T0 = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # 10:00 in New York


class ScriptedGateway:
    """Answers each send with the next scripted result and remembers what it was given."""

    name = "scripted"

    def __init__(self, *results: SendResult, lookups: tuple = ()) -> None:
        self.results = list(results)
        self.lookups = list(lookups)
        self.sent: list[OutgoingSms] = []
        self.looked_up: list[tuple[OutgoingSms, datetime]] = []
        self.on_send = None  # optional hook run inside send(), e.g. to change the database

    def send(self, sms: OutgoingSms) -> SendResult:
        self.sent.append(sms)
        if self.on_send:
            self.on_send(sms)
        return (
            self.results.pop(0)
            if self.results
            else SendResult(provider_sid=f"SM{len(self.sent)}", provider_status="queued")
        )

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        self.looked_up.append((sms, since))
        return self.lookups.pop(0) if self.lookups else None


TRANSIENT = SendResult(error=SendError("20429", "Too Many Requests", permanent=False))
INVALID = SendResult(error=SendError("21211", "Invalid 'To' Phone Number", permanent=True))
OPTED_OUT = SendResult(
    error=SendError(
        "21610", "Attempt to send to unsubscribed recipient", permanent=True, opted_out=True
    )
)


def dispatcher(sessions, runtime, gateway, **kw) -> Dispatcher:
    """A dispatcher whose clock stands still (at the ``now`` each run is given)."""
    kw.setdefault("wall_clock", lambda: T0)
    kw.setdefault("worker", "test")
    return Dispatcher(sessions, gateway, Catalogue.load(runtime.settings.messages_dir), **kw)
