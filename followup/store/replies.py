"""Patients' replies (``inbound_messages``) and the lookups a reply needs: which clinics
were texted, which patient wrote, the check-in being answered and the sender's reply
history.

The webhook runs these for every text, and building a SQLAlchemy statement costs more CPU
than running it (bench/webhook.py: the first version, statements built per call, spent 5 ms
of CPU per reply in the database code; prebuilt ones take about a third of that). So every
statement here is built once, at import, and returns plain columns, no ORM objects. The
patient, their latest check-in and their reply history come back in one statement, since
nearly every reply comes from a known patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, Row, bindparam, text

from followup.store.models import UTCDateTime

#: template keys of the check-ins a reply can answer ("checkin_24h", "checkin_72h", ...)
CHECKIN_PREFIX = "checkin"
#: the answer that tells a sender "staff will read your message" (at most once a day)
ACKNOWLEDGEMENT_KEY = "reply_received"

_CLINIC_COLUMNS = (
    "id, slug, name, phone, country, emergency_number, default_locale, oncall_phone, alert_urls,"
    " timezone, opening_hours"
)
_CLINICS = text(
    f"SELECT {_CLINIC_COLUMNS} FROM clinics"
    " WHERE from_number = :to OR messaging_service_sid = :service"
    " OR (:uses_default AND from_number IS NULL AND messaging_service_sid IS NULL)"
    " ORDER BY id"
).columns(alert_urls=JSON, opening_hours=JSON)
_CLINIC = text(f"SELECT {_CLINIC_COLUMNS} FROM clinics WHERE id = :id").columns(
    alert_urls=JSON, opening_hours=JSON
)
# A sender's reply history, for triage: their last score, and whether we told them "staff
# will read it" since :since. {who} picks the sender's rows of inbound_messages i.
_HISTORY = (
    "(SELECT i.score FROM inbound_messages i WHERE {who} AND i.score IS NOT NULL"
    " ORDER BY i.received_at DESC, i.id DESC LIMIT 1) AS previous,"
    f" (SELECT 1 FROM inbound_messages i WHERE {{who}} AND i.reply_key = '{ACKNOWLEDGEMENT_KEY}'"
    " AND i.received_at > :since LIMIT 1) AS acked"
)
_RECORDS = (
    text(
        "SELECT p.id, p.clinic_id, p.first_name, p.locale, p.timezone,"
        " c.id AS checkin_id, c.template_key, c.sent_at,"
        # when the clinic last had this patient: a treatment, or a text it sent them
        " (SELECT MAX(s.completed_at) FROM treatment_sessions s WHERE s.patient_id = p.id)"
        " AS last_treated,"
        " (SELECT MAX(o.sent_at) FROM outbound_messages o WHERE o.patient_id = p.id)"
        " AS last_texted, "
        + _HISTORY.format(who="i.patient_id = p.id")
        + " FROM patients p LEFT JOIN outbound_messages c ON c.id = ("
        "  SELECT m.id FROM outbound_messages m WHERE m.patient_id = p.id"
        f"  AND m.template_key LIKE '{CHECKIN_PREFIX}%' AND m.sent_at <= :now"
        "  ORDER BY m.sent_at DESC, m.id DESC LIMIT 1)"
        " WHERE p.phone = :phone ORDER BY p.id"
    )
    .bindparams(bindparam("now", type_=UTCDateTime), bindparam("since", type_=UTCDateTime))
    .columns(sent_at=UTCDateTime, last_treated=UTCDateTime, last_texted=UTCDateTime)
)
_HISTORY_OF_NUMBER = text("SELECT " + _HISTORY.format(who="i.from_number = :who")).bindparams(
    bindparam("since", type_=UTCDateTime)
)
_INSERT = text(
    "INSERT INTO inbound_messages (provider_sid, clinic_id, patient_id, in_reply_to,"
    " from_number, to_number, messaging_service_sid, body, num_media, received_at, kind,"
    " urgency, score, worry, matched, reply_key, reply_body)"
    " VALUES (:provider_sid, :clinic_id, :patient_id, :in_reply_to, :from_number, :to_number,"
    " :messaging_service_sid, :body, :num_media, :received_at, :kind, :urgency, :score,"
    " :worry, :matched, :reply_key, :reply_body)"
    " ON CONFLICT (provider_sid) DO NOTHING RETURNING id"
).bindparams(
    bindparam("received_at", type_=UTCDateTime),
    bindparam("worry", type_=Boolean),
    bindparam("matched", type_=JSON),
)
_BY_SID = text("SELECT id, reply_body FROM inbound_messages WHERE provider_sid = :sid")


def clinics_texted(
    conn: Connection,
    *,
    to_number: str | None,
    messaging_service_sid: str | None,
    uses_default: bool,
) -> list[Row[Any]]:
    """The clinics that send from ``to_number`` or ``messaging_service_sid``, and, when
    ``uses_default``, those without a sender of their own; by id. Columns: id, slug, name,
    phone, country, emergency_number, default_locale, oncall_phone, alert_urls, timezone,
    opening_hours."""
    params = {"to": to_number, "service": messaging_service_sid, "uses_default": uses_default}
    return list(conn.execute(_CLINICS, params))


def clinic_by_id(conn: Connection, clinic_id: int) -> Row[Any] | None:
    """One clinic, with the columns of :func:`clinics_texted`."""
    return conn.execute(_CLINIC, {"id": clinic_id}).first()


def records_of_number(
    conn: Connection, phone: str, *, now: datetime, acknowledged_since: datetime
) -> list[Row[Any]]:
    """Every patient record with ``phone``, by id, each with its latest check-in sent by
    ``now`` and its reply history, in one statement. Columns: id, clinic_id, first_name,
    locale, timezone; checkin_id, template_key, sent_at (None without a check-in);
    last_treated and last_texted (the latest session, the latest text sent, or None);
    previous (the last score) and acked (1 when acknowledged after ``acknowledged_since``,
    else None)."""
    return list(conn.execute(_RECORDS, {"phone": phone, "now": now, "since": acknowledged_since}))


def history_of_number(
    conn: Connection, from_number: str, *, acknowledged_since: datetime
) -> Row[Any]:
    """The reply history of a number no patient has: previous and acked, as in
    :func:`records_of_number`."""
    params = {"who": from_number, "since": acknowledged_since}
    return conn.execute(_HISTORY_OF_NUMBER, params).one()


def file_reply(
    conn: Connection,
    *,
    provider_sid: str,
    clinic_id: int | None,
    patient_id: int | None,
    in_reply_to: int | None,
    from_number: str,
    to_number: str | None,
    messaging_service_sid: str | None,
    body: str,
    num_media: int,
    received_at: datetime,
    kind: str,
    urgency: str,
    score: int | None,
    worry: bool | None,
    matched: Sequence[str],
    reply_key: str | None,
    reply_body: str | None,
) -> int | None:
    """Store one reply; its id, or None when its MessageSid is already stored (a webhook
    Twilio retried, or a concurrent request that committed first): the unique key decides,
    inside the database."""
    return conn.execute(
        _INSERT,
        {
            "provider_sid": provider_sid,
            "clinic_id": clinic_id,
            "patient_id": patient_id,
            "in_reply_to": in_reply_to,
            "from_number": from_number,
            "to_number": to_number,
            "messaging_service_sid": messaging_service_sid,
            "body": body,
            "num_media": num_media,
            "received_at": received_at,
            "kind": kind,
            "urgency": urgency,
            "score": score,
            "worry": worry,
            "matched": list(matched),
            "reply_key": reply_key,
            "reply_body": reply_body,
        },
    ).scalar()


def stored_answer(conn: Connection, provider_sid: str) -> Row[Any]:
    """The stored reply with this MessageSid: id and reply_body (what we answered)."""
    return conn.execute(_BY_SID, {"sid": provider_sid}).one()
