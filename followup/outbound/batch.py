"""The state the parts of a dispatcher run share: the counts of the run, one claimed text
ready to go (:class:`Job`), and one claimed batch (which texts have started, whether the
batch is paused, the accepted texts waiting to be written as sent).

The sending threads of a batch touch all of it at once, so every change is under a lock.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from followup.gateways.base import OutgoingSms
from followup.outbound.timing import SendWindow
from followup.store.outbox import Accepted


@dataclass
class DispatchReport:
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    skipped: int = 0
    recovered: int = 0
    released: int = 0
    #: due outside their sending hours (a backlog, a worker down overnight): they wait
    deferred: int = 0
    #: due texts newly held back: their clinic has no staff alert destination
    waiting: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, name: str, n: int = 1) -> None:
        with self._lock:
            setattr(self, name, getattr(self, name) + n)

    def count_error(self, code: str) -> None:
        with self._lock:
            self.errors[code] = self.errors.get(code, 0) + 1


@dataclass(frozen=True)
class Job:
    """One claimed text, ready to go: what to send and what to check first."""

    message_id: int
    patient_id: int
    sms: OutgoingSms
    due_at: datetime
    expires_at: datetime
    attempts: int
    #: the previous attempt may have reached the provider: look it up before sending
    lookup: bool
    session_id: int
    #: the recipient's zone and the text's sending hours (its step's, else the clinic's):
    #: checked again right before the send, and where a retry lands
    tz: ZoneInfo
    window: SendWindow
    #: a text staff wrote (:mod:`followup.store.outbox.staff_texts`): its session's state is
    #: not checked before the send
    staff: bool = False
    #: when it was to go (the claim's ``send_at``): how late it went is measured from it
    send_at: datetime | None = None


class Batch:
    """Shared state of one claimed batch: which jobs have started, and whether to pause."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.started: set[int] = set()
        self.pause_until: datetime | None = None
        self.pause_reason = ""
        self._accepted: list[Accepted] = []
        self._accepted_since = 0.0

    def add_accepted(self, accepted: Accepted, size: int, wait: float) -> list[Accepted]:
        """Queue one; returns the queue to write now (taken out) when it is due, else []."""
        with self.lock:
            if not self._accepted:
                self._accepted_since = time.monotonic()
            self._accepted.append(accepted)
            if len(self._accepted) < size and time.monotonic() - self._accepted_since < wait:
                return []
            taken, self._accepted = self._accepted, []
            return taken

    def take_accepted(self) -> list[Accepted]:
        with self.lock:
            taken, self._accepted = self._accepted, []
            return taken

    def start(self, message_id: int, stopping: bool) -> bool:
        with self.lock:
            if stopping or self.pause_until is not None:
                return False
            self.started.add(message_id)
            return True

    def pause(self, until: datetime, reason: str) -> None:
        with self.lock:
            if self.pause_until is None:
                self.pause_until, self.pause_reason = until, reason
