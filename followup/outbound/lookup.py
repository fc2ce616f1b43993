"""Crash recovery by lookup: before a text whose previous attempt may have reached the
provider is sent again, ask the provider whether it went out.

Such a text is one whose worker died mid-send (its lease ran out and another worker took it
over), or whose request went unanswered (timed out, connection dropped). Found: its SID is
recorded as sent and it is not sent again. Not found: it is sent. The provider cannot be
asked: the text waits and is looked up again later; it is never sent on a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from followup.gateways.base import Gateway
from followup.outbound.batch import Batch, DispatchReport, Job
from followup.outbound.outcomes import Outcomes

log = logging.getLogger(__name__)

#: error codes after which the text may have reached the provider: look before sending again
UNCERTAIN = frozenset({"timeout", "connection lost", "interrupted"})


class Lookup:
    """Asks the gateway about texts that may already have gone out."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        gateway: Gateway,
        outcomes: Outcomes,
        now: Callable[[], datetime],
    ) -> None:
        self.factory = factory
        self.gateway = gateway
        self.outcomes = outcomes
        self.now = now

    def settle(self, job: Job, batch: Batch, report: DispatchReport) -> bool:
        """True when the lookup settled the text (found: recorded as sent; the provider could
        not be asked: to be retried); False when it is not there and must be sent."""
        found = self.gateway.find_sent(job.sms, since=job.due_at)
        if found is None:
            return False
        if found.ok:
            log.warning("message %s: found at the provider (%s); not sent again",
                        job.message_id, found.provider_sid)  # fmt: skip
            self.outcomes.accept(batch, report, job, found, "found at provider")
            return True
        # Cannot tell whether it went out: wait and ask again, never guess.
        assert found.error is not None
        err = found.error
        now = self.now()
        with self.factory() as db, db.begin():
            self.outcomes.retry_or_fail(db, job, err, now, report, code="interrupted",
                                        what=f"lookup failed: {err.code}")  # fmt: skip
        if err.pause:
            self.outcomes.pause_batch(batch, err, now)
        return True
