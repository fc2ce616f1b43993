"""Filing the replies the spool kept while the database was out of reach.

Each spooled reply goes through the normal :func:`followup.inbound.receive.receive`, oldest
first, one transaction each, with the time it arrived as its clock: it is linked, read,
flagged and its staff alerts queued exactly as it would have been live (an emergency in the
spool pages staff as soon as the database is back). The patient was answered when the reply
was spooled, so that answer is what is stored as the reply's, and nothing is sent again.

A file is deleted only after its transaction commits; a crash in between leaves it to be
drained again, and the MessageSid's unique key in ``replies.file_reply`` makes the second
time a no-op. Claims (:meth:`followup.spool.Spool.claim`) keep two drainers (the worker's
tick and the web app, or two workers) off the same file. A file that cannot be read, or
whose reply cannot be filed for a reason other than the database's own trouble, is set
aside as ``.bad`` and logged; the rest are drained. While the database is unavailable the
drain stops and leaves every file for the next time.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine

from followup.inbound import receive
from followup.inbound.offline_answer import OfflineAnswer
from followup.spool import Spool, SpooledReply
from followup.store.engine import bounded_transaction, database_unavailable
from followup.texts.catalogue import Catalogue

log = logging.getLogger(__name__)


@dataclass
class DrainReport:
    #: replies filed now
    filed: int = 0
    #: replies the database had already (same MessageSid): their files were removed
    duplicates: int = 0
    #: files set aside as ``.bad``
    set_aside: int = 0
    #: files left for a later drain (database unavailable, or past the limit)
    left: int = 0
    #: staff alerts queued by the replies filed
    alerts: int = 0

    @property
    def drained(self) -> int:
        """Files taken out of the spool because their reply is in the database."""
        return self.filed + self.duplicates


#: what a spool file shares with the reply it keeps: every field of ``InboundSms``
_SMS_FIELDS = tuple(f.name for f in fields(receive.InboundSms))


def spooled_reply(
    sms: receive.InboundSms, arrived: datetime, answer: OfflineAnswer
) -> SpooledReply:
    """The spool file of ``sms``, which arrived at ``arrived`` and was given ``answer``."""
    return SpooledReply(
        **asdict(sms), received_at=arrived, reply_key=answer.key, reply_body=answer.body
    )


def inbound_sms(reply: SpooledReply) -> receive.InboundSms:
    """The reply a spool file keeps, as :func:`receive.receive` takes it."""
    return receive.InboundSms(**{name: getattr(reply, name) for name in _SMS_FIELDS})


@contextlib.contextmanager
def _transaction(engine: Engine, timeout: float | None) -> Iterator[Connection]:
    if timeout is None:
        with engine.begin() as conn:
            yield conn
    else:
        with bounded_transaction(engine, timeout) as conn:
            yield conn


def drain(
    spool: Spool,
    engine: Engine,
    catalogue: Catalogue,
    *,
    senders: receive.Senders | None = None,
    timeout: float | None = None,
    limit: int | None = None,
) -> DrainReport:
    """File the spooled replies, oldest first, at most ``limit`` of them; each transaction
    waits for the database at most ``timeout`` seconds when given (the web app's, which
    shares its database threads with the webhook)."""
    senders = senders or receive.Senders()
    report = DrainReport()
    paths = spool.waiting()
    for i, path in enumerate(paths):
        if limit is not None and report.drained + report.set_aside >= limit:
            report.left += len(paths) - i
            break
        with spool.claim(path) as claim:
            if claim is None:  # another drainer has it, or filed it just now
                continue
            if claim.reply is None:
                claim.set_aside(claim.problem or "unreadable")
                report.set_aside += 1
                continue
            reply = claim.reply
            try:
                with _transaction(engine, timeout) as conn:
                    result = receive.receive(
                        conn,
                        inbound_sms(reply),
                        catalogue=catalogue,
                        now=reply.received_at.astimezone(UTC),
                        senders=senders,
                        answered=OfflineAnswer(reply.reply_key, reply.reply_body),
                    )
            except Exception as exc:
                if database_unavailable(exc):
                    log.warning(
                        "spool: database unavailable (%s); %d replies left for later",
                        type(exc).__name__,
                        len(paths) - i,
                    )
                    report.left += len(paths) - i
                    break
                log.exception("spooled reply %s could not be filed", reply.sid)
                claim.set_aside(f"could not be filed: {type(exc).__name__}")
                report.set_aside += 1
                continue
            claim.done()  # committed: the file may go
            if result.duplicate:
                report.duplicates += 1
            else:
                report.filed += 1
                report.alerts += result.alerts
    if report.drained or report.set_aside:
        log.info(
            "spool: filed %d replies (%d already stored), %d set aside, %d left",
            report.filed,
            report.duplicates,
            report.set_aside,
            report.left,
        )
    return report
