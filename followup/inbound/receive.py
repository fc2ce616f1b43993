"""A patient's text arrives: file it, read it, act on it, and say what to answer.

The edge between the webhook and the pure rules. One call, one transaction:

1. Who wrote to whom: the clinic by the number or messaging service texted (``To``), the
   patient by ``From`` within those clinics, and the check-in being answered (the patient's
   latest check-in sent before the reply).
2. :func:`followup.inbound.reading.classify` reads the text;
   :func:`followup.inbound.triage.decide` picks the actions.
3. The reply is stored, unique on Twilio's MessageSid: a webhook Twilio retries is not
   processed again (the stored answer is returned again instead, since Twilio only retries
   when our first answer did not reach it).
4. Opt-out or opt-in for the patient (every record of that number the sender texts, as
   Twilio's own opt-out is per sender), a flag for staff with its alerts queued, and the
   answer rendered from messages/ in the patient's language.

Unknown numbers are kept and flagged for review, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import JSON, Boolean, Connection, bindparam, text, update
from sqlalchemy.orm import Session

from followup.inbound.consent import mark_opted_in, mark_opted_out
from followup.inbound.reading import Classification, ReplyContext, classify
from followup.inbound.triage import Actions, TriageContext, decide
from followup.phones import display_phone
from followup.staff.alerts import queue_alerts
from followup.store.models import Flag, UTCDateTime
from followup.texts.catalogue import Catalogue

#: Twilio's Advanced Opt-Out names the keyword it acted on; we follow it and stay silent
OPT_OUT_TYPES = {"STOP": "opt_out", "START": "opt_in", "HELP": "help"}
ACK_INTERVAL = timedelta(hours=24)
_NEVER = datetime.min.replace(tzinfo=UTC)
CHECKIN_PREFIX = "checkin"


@dataclass(frozen=True)
class InboundSms:
    sid: str
    from_number: str
    to_number: str | None = None
    messaging_service_sid: str | None = None
    body: str = ""
    num_media: int = 0
    #: Twilio Advanced Opt-Out's OptOutType (STOP, START, HELP), when it handled a keyword
    opt_out_type: str | None = None


@dataclass(frozen=True)
class InboundResult:
    inbound_id: int
    duplicate: bool
    reply: str | None
    flag_id: int | None = None
    flag_kind: str | None = None
    alerts: int = 0
    classification: Classification | None = None


@dataclass(frozen=True)
class Senders:
    """The process-wide sender, used by clinics that have none of their own."""

    from_number: str | None = None
    messaging_service_sid: str | None = None


# The queries of a reply, built once: a webhook runs all of them for every text, and building
# a SQLAlchemy statement costs more CPU than running it (measured by bench/webhook.py: the
# first version, statements built per call, spent 5 ms of CPU per reply in the database code;
# these take about a third of that). Plain columns, no ORM objects.
_CLINIC_COLUMNS = (
    "id, slug, name, phone, country, emergency_number, default_locale, oncall_phone, alert_urls"
)
_CLINICS = text(
    f"SELECT {_CLINIC_COLUMNS} FROM clinics"
    " WHERE from_number = :to OR messaging_service_sid = :service"
    " OR (:uses_default AND from_number IS NULL AND messaging_service_sid IS NULL)"
    " ORDER BY id"
).columns(alert_urls=JSON)
_CLINIC = text(f"SELECT {_CLINIC_COLUMNS} FROM clinics WHERE id = :id").columns(alert_urls=JSON)
# A sender's reply history, for triage: their last score, and whether we told them "staff
# will read it" since :since. {who} picks the sender's rows of inbound_messages i.
_HISTORY = (
    "(SELECT i.score FROM inbound_messages i WHERE {who} AND i.score IS NOT NULL"
    " ORDER BY i.received_at DESC, i.id DESC LIMIT 1) AS previous,"
    " (SELECT 1 FROM inbound_messages i WHERE {who} AND i.reply_key = 'reply_received'"
    " AND i.received_at > :since LIMIT 1) AS acked"
)
# Every record of the sender's number, each with its latest check-in sent by ``now`` and its
# reply history: one statement, since nearly every reply comes from a known patient.
_PATIENTS = (
    text(
        "SELECT p.id, p.clinic_id, p.first_name, p.locale,"
        " c.id AS checkin_id, c.template_key, c.sent_at, "
        + _HISTORY.format(who="i.patient_id = p.id")
        + " FROM patients p LEFT JOIN outbound_messages c ON c.id = ("
        "  SELECT m.id FROM outbound_messages m WHERE m.patient_id = p.id"
        f"  AND m.template_key LIKE '{CHECKIN_PREFIX}%' AND m.sent_at <= :now"
        "  ORDER BY m.sent_at DESC, m.id DESC LIMIT 1)"
        " WHERE p.phone = :phone ORDER BY p.id"
    )
    .bindparams(bindparam("now", type_=UTCDateTime), bindparam("since", type_=UTCDateTime))
    .columns(sent_at=UTCDateTime)
)
# the same history for a number no patient has
_HISTORY_OF_NUMBER = text("SELECT " + _HISTORY.format(who="i.from_number = :who")).bindparams(
    bindparam("since", type_=UTCDateTime)
)
_INSERT_INBOUND = text(
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
_SEEN = text("SELECT id, reply_body FROM inbound_messages WHERE provider_sid = :sid")
_INSERT_FLAG = text(
    "INSERT INTO flags (clinic_id, patient_id, inbound_id, kind, reason, status, created_at)"
    " VALUES (:clinic_id, :patient_id, :inbound_id, :kind, :reason, 'open', :now) RETURNING id"
).bindparams(bindparam("now", type_=UTCDateTime))


def clinics_texted(conn: Connection, sms: InboundSms, defaults: Senders) -> list[Any]:
    """The clinics that send from the number or service the patient wrote to: their own
    sender, or the process-wide one for clinics without a sender of their own."""
    uses_default = bool(
        (sms.to_number and sms.to_number == defaults.from_number)
        or (
            sms.messaging_service_sid
            and sms.messaging_service_sid == defaults.messaging_service_sid
        )
    )
    return list(
        conn.execute(
            _CLINICS,
            {
                "to": sms.to_number,
                "service": sms.messaging_service_sid,
                "uses_default": uses_default,
            },
        )
    )


def _patients(conn: Connection, phone: str, clinic_ids: list[int], now: datetime) -> list[Any]:
    """The records of ``phone`` at those clinics (any clinic when none), most recently
    texted a check-in last."""
    rows = conn.execute(_PATIENTS, {"phone": phone, "now": now, "since": now - ACK_INTERVAL})
    found = [r for r in rows if not clinic_ids or r.clinic_id in clinic_ids]
    return sorted(found, key=lambda r: (r.sent_at or _NEVER, r.id))


def _unknown_sender_history(conn: Connection, sms: InboundSms, now: datetime) -> tuple:
    row = conn.execute(_HISTORY_OF_NUMBER, {"who": sms.from_number, "since": now - ACK_INTERVAL})
    return tuple(row.one())


def _classify(sms: InboundSms, ctx: ReplyContext) -> Classification:
    kind = OPT_OUT_TYPES.get((sms.opt_out_type or "").upper())
    if kind is not None:  # Twilio acted on it and answered; we record it the same way
        return Classification(
            kind=kind,
            urgency="none",
            score=None,
            worry=None,
            matched=(sms.opt_out_type.lower(),),
            negated=(),
            twilio_keyword=True,
        )
    return classify(sms.body, ctx)


_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")


def render_reply(
    catalogue: Catalogue, key: str, locale: str | None, clinic: Any, first_name: str | None
) -> str:
    """The answer text. Without a name (an unknown number) the greeting closes up neatly:
    "Thanks, Harbor Physio ..." rather than "Thanks , Harbor Physio ..."."""
    text = catalogue.render(
        key,
        locale,
        {
            "first_name": first_name or "",
            "clinic_name": clinic.name,
            "clinic_phone": display_phone(clinic.phone, clinic.country),
            "emergency_number": clinic.emergency_number,
        },
    )
    if not first_name:
        text = re.sub(r" {2,}", " ", _SPACE_BEFORE_PUNCT.sub(r"\1", text))
    return text


def receive(
    db: Session | Connection,
    sms: InboundSms,
    *,
    catalogue: Catalogue,
    now: datetime,
    senders: Senders = Senders(),
) -> InboundResult:
    """File, read and act on one inbound text (see the module docstring). The caller owns
    the transaction; alerts are queued in it and sent by the alert sender after commit."""
    conn = db.connection() if isinstance(db, Session) else db
    clinics = clinics_texted(conn, sms, senders)
    patients = _patients(conn, sms.from_number, [c.id for c in clinics], now)
    patient = patients[-1] if patients else None
    clinic = None
    if patient is not None:
        clinic = next((c for c in clinics if c.id == patient.clinic_id), None) or (
            conn.execute(_CLINIC, {"id": patient.clinic_id}).first()
        )
        previous, acked = patient.previous, patient.acked
    else:
        if len(clinics) == 1:
            clinic = clinics[0]
        previous, acked = _unknown_sender_history(conn, sms, now)
    locale = (patient.locale if patient else None) or (clinic.default_locale if clinic else None)

    last_step = patient.template_key if patient else None
    c = _classify(sms, ReplyContext(locale=locale, last_step=last_step))
    actions: Actions = decide(
        c,
        TriageContext(
            last_step=last_step,
            previous_score=previous,
            acknowledged_recently=acked is not None,
            known_patient=patient is not None,
        ),
    )
    reply = None
    if actions.reply_key and clinic is not None:
        reply = render_reply(
            catalogue, actions.reply_key, locale, clinic, patient.first_name if patient else None
        )
    inbound_id = conn.execute(
        _INSERT_INBOUND,
        {
            "provider_sid": sms.sid,
            "clinic_id": clinic.id if clinic else None,
            "patient_id": patient.id if patient else None,
            "in_reply_to": patient.checkin_id if patient else None,
            "from_number": sms.from_number,
            "to_number": sms.to_number,
            "messaging_service_sid": sms.messaging_service_sid,
            "body": sms.body,
            "num_media": sms.num_media,
            "received_at": now,
            "kind": c.kind,
            "urgency": c.urgency,
            "score": c.score,
            "worry": c.worry,
            "matched": list(c.matched),
            "reply_key": actions.reply_key if reply else None,
            "reply_body": reply,
        },
    ).scalar()
    if inbound_id is None:  # the same MessageSid committed by a concurrent request
        seen = conn.execute(_SEEN, {"sid": sms.sid}).one()
        return InboundResult(seen.id, True, seen.reply_body)

    if actions.consent:
        how = f"sms: {' '.join(sms.body.split())[:100] or sms.opt_out_type}"
        mark = mark_opted_out if actions.consent == "out" else mark_opted_in
        for p in patients or []:
            mark(conn, p.id, now, how)

    flag_id = None
    alerts = 0
    if actions.flag:
        flag_id = conn.execute(
            _INSERT_FLAG,
            {
                "clinic_id": clinic.id if clinic else None,
                "patient_id": patient.id if patient else None,
                "inbound_id": inbound_id,
                "kind": actions.flag,
                "reason": actions.flag_reason or actions.flag,
                "now": now,
            },
        ).scalar_one()
        alerts = queue_alerts(conn, flag_id=flag_id, flag_kind=actions.flag, clinic=clinic, now=now)
    return InboundResult(inbound_id, False, reply, flag_id, actions.flag, alerts, c)


def acknowledge_flag(
    db: Session, flag_id: int, *, by: str, now: datetime, clinic_id: int | None = None
) -> bool:
    """Mark an open flag acknowledged by a named person. False when it is not open (or not
    this clinic's). Used by the CLI now and the dashboard later."""
    q = update(Flag).where(Flag.id == flag_id, Flag.status == "open")
    if clinic_id is not None:
        q = q.where(Flag.clinic_id == clinic_id)
    result = db.execute(
        q.values(status="acknowledged", acknowledged_by=by[:120], acknowledged_at=now)
    )
    return result.rowcount == 1
