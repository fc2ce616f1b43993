"""A per-sender pace: at most N texts a second from one number or messaging service.

Why: a US long code is allowed about one text a second; Twilio queues the excess and a long
queue delays the whole batch (and a queue overflow is an error). Pacing here keeps each sender
at the rate its clinic bought, while other senders go on at full speed.

The pace is a virtual schedule (GCRA without burst): each sender has the time its next text
may go; a caller takes that slot, moves it on by ``1 / rate`` and sleeps until its slot. Slots
are handed out under a lock, the sleeping happens outside it, so concurrent senders keep order
and never hold each other up beyond their own pace.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SenderPace:
    def __init__(
        self,
        rate: float | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / rate if rate else 0.0
        self._clock = clock
        self._next: dict[str, float] = {}
        self._lock = threading.Lock()

    def reserve(self, sender: str) -> float:
        """Take the sender's next slot; returns how many seconds to wait for it (0: go now)."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = self._clock()
            slot = max(now, self._next.get(sender, now))
            self._next[sender] = slot + self.interval
            return slot - now

    def wait(self, sender: str, stop: threading.Event | None = None) -> bool:
        """Block until the sender may send. False when ``stop`` was set while waiting."""
        delay = self.reserve(sender)
        if delay <= 0:
            return not (stop and stop.is_set())
        if stop is None:
            time.sleep(delay)
            return True
        return not stop.wait(delay)
