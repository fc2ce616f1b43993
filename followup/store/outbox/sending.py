"""What the dispatcher reads around a send: everything a claimed text needs to be checked,
rendered and addressed, and the last look at the row, patient and session right before it
goes out.

Both run for every text sent, so neither goes through the ORM: the first is one prebuilt
join for a whole claimed batch, the second one prepared statement per text on a connection
of the sending thread's own, in autocommit (a plain read, no lock taken, no pool round trip).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Row, and_, bindparam, case, exists, func, select
from sqlalchemy.orm import Session, aliased

from followup.store.models import (
    Clinic,
    InboundMessage,
    OutboundMessage,
    Patient,
    TreatmentSession,
)
from followup.store.outbox.staff_texts import STAFF_TEMPLATE
from followup.store.statuses import MessageStatus

log = logging.getLogger(__name__)


def claimed_texts(db: Session | Connection, ids: Sequence[int]) -> list[Row]:
    """The texts ``ids`` still ``sending``, with their patient, clinic and session: the
    columns of :data:`CLAIMED_TEXT` (plain rows, in no particular order)."""
    conn = db.connection() if isinstance(db, Session) else db
    return conn.execute(_CLAIMED_TEXTS, {"ids": ids}).all()


class LastLook(NamedTuple):
    """A text, its patient and its session as they are right before the send."""

    status: str
    claimed_by: str | None
    opted_out: bool
    consent: bool
    session_status: str
    phone_unusable: bool


class LastLookReader:
    """Reads :class:`LastLook` for one text at a time, from any number of sending threads.

    Each thread gets a connection of its own, taken from the engine's pool and detached (the
    pool neither resets nor shares it) until :meth:`close`; a connection that fails is
    dropped, never reused.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
        self._sql = _LAST_LOOK_SQL.format(mark)
        self._local = threading.local()
        self._conns: list[Any] = []
        self._lock = threading.Lock()

    def read(self, message_id: int) -> LastLook | None:
        """The text as it is now, or None when it is gone."""
        conn = self._connection()
        try:
            cur = conn.cursor()
            try:
                cur.execute(self._sql, (message_id,))
                row = cur.fetchone()
            finally:
                cur.close()
        except Exception:
            self._drop_connection()  # a broken connection is not reused
            raise
        if row is None:
            return None
        status, claimed_by, opted_out_at, consent, session_status, unusable_at = row
        return LastLook(
            status,
            claimed_by,
            opted_out_at is not None,
            bool(consent),
            session_status,
            unusable_at is not None,
        )

    def close(self) -> None:
        """Close every thread's connection (the threads must be done with them)."""
        with self._lock:
            conns, self._conns = self._conns, []
        for proxied in conns:
            proxied.close()
        self._local = threading.local()

    def _connection(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            proxied = self.engine.raw_connection()
            conn = proxied.driver_connection
            proxied.detach()  # ours until close(); the pool neither resets nor shares it
            if self.engine.dialect.name == "postgresql":
                conn.autocommit = True
            with self._lock:
                self._conns.append(proxied)
            self._local.conn, self._local.proxied = conn, proxied
        return conn

    def _drop_connection(self) -> None:
        proxied = getattr(self._local, "proxied", None)
        self._local.conn = self._local.proxied = None
        if proxied is not None:
            with self._lock:
                if proxied in self._conns:
                    self._conns.remove(proxied)
            try:
                proxied.close()
            except Exception:
                log.debug("closing a broken connection failed", exc_info=True)


_LAST_LOOK_SQL = (
    "SELECT m.status, m.claimed_by, p.opted_out_at, p.consent, s.status, p.phone_unusable_at"
    " FROM outbound_messages m"
    " JOIN patients p ON p.id = m.patient_id"
    " JOIN treatment_sessions s ON s.id = m.session_id"
    " WHERE m.id = {}"
)

_earlier = aliased(OutboundMessage)
#: for a nudge: the patient replied after the session's other texts of its plan went out
#: (the check-in it follows), so it must not go; False for every other text. A staff text
#: filed under the session is not the check-in: its sending time is left out
_ANSWERED = case(
    (
        OutboundMessage.step == "nudge",
        exists().where(
            InboundMessage.patient_id == OutboundMessage.patient_id,
            InboundMessage.received_at
            > select(func.max(_earlier.sent_at))
            .where(
                and_(
                    _earlier.session_id == OutboundMessage.session_id,
                    _earlier.step != "nudge",
                    _earlier.template_key != STAFF_TEMPLATE,
                )
            )
            .correlate(OutboundMessage)
            .scalar_subquery(),
        ),
    ),
    else_=False,
).label("answered")

#: what a claimed text needs to be checked, rendered and addressed
CLAIMED_TEXT = (
    OutboundMessage.id,
    OutboundMessage.patient_id,
    OutboundMessage.session_id,
    OutboundMessage.clinic_id,
    OutboundMessage.step,
    OutboundMessage.template_key,
    OutboundMessage.locale,
    OutboundMessage.due_at,
    OutboundMessage.send_at,
    OutboundMessage.expires_at,
    OutboundMessage.attempts,
    OutboundMessage.error_code,
    OutboundMessage.body,
    Patient.first_name,
    Patient.phone,
    Patient.timezone.label("patient_timezone"),
    Patient.opted_out_at,
    Patient.consent,
    Patient.phone_unusable_at,
    Clinic.name.label("clinic_name"),
    Clinic.phone.label("clinic_phone"),
    Clinic.country,
    Clinic.timezone.label("clinic_timezone"),
    Clinic.send_window_start,
    Clinic.send_window_end,
    Clinic.emergency_number,
    Clinic.from_number,
    Clinic.messaging_service_sid,
    TreatmentSession.status.label("session_status"),
    TreatmentSession.next_appointment_at,
    _ANSWERED,
)
_CLAIMED_TEXTS = (
    select(*CLAIMED_TEXT)
    .join(Patient, Patient.id == OutboundMessage.patient_id)
    .join(Clinic, Clinic.id == OutboundMessage.clinic_id)
    .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
    .where(
        OutboundMessage.status == MessageStatus.SENDING,
        OutboundMessage.id.in_(bindparam("ids", expanding=True)),
    )
)
