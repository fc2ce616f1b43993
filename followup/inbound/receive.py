"""A patient's text arrives: file it, read it, act on it, and say what to answer.

The edge between the webhook and the pure rules. One call, one transaction:

1. Who wrote to whom: the clinic by the number or messaging service texted (``To``), the
   patient by ``From`` within those clinics (at any clinic when none of them has the
   number), and the check-in being answered (the patient's latest check-in sent before the
   reply). Which record answers, and which clinics hear of a red flag, is
   :mod:`followup.inbound.routing`'s decision.
2. :func:`followup.inbound.reading.classify` reads the text;
   :func:`followup.inbound.triage.decide` picks the actions.
3. The reply is stored, unique on Twilio's MessageSid: a webhook Twilio retries is not
   processed again (the stored answer is returned again instead, since Twilio only retries
   when our first answer did not reach it).
4. A nudge waiting for the patient is skipped (they answered); opt-out or opt-in for the
   patient (every record of that number the sender texts, as
   Twilio's own opt-out is per sender), a flag for staff with its alerts queued, and the
   answer rendered from messages/ in the patient's language.

Unknown numbers are kept and flagged for review, never dropped.

The SQL is the store's (:mod:`followup.store.replies`, :mod:`followup.store.flags`); this
module keeps the decisions between the statements. Each step of :func:`receive` is a public
function called through its module at call time (``replies.records_of_number``,
``triage.decide``, :func:`read_reply`, :func:`render_reply`, ``alerts.queue_alerts`` ...),
so a profiler can wrap a step where it is defined and see every call: that is how
``bench/webhook.py --profile`` breaks a request down.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from followup import consent, hours
from followup.inbound import offline_answer, routing, triage
from followup.inbound.offline_answer import OfflineAnswer
from followup.inbound.reading import Classification, ReplyContext, classify
from followup.phones import display_phone
from followup.staff import alerts
from followup.store import flags, replies
from followup.store import wording as clinic_wording
from followup.store.flags import acknowledge_flag as acknowledge_flag
from followup.store.outbox import skip_waiting_nudges
from followup.store.statuses import ReplyKind
from followup.store.wording import Wording
from followup.texts.catalogue import Catalogue
from followup.texts.locales import callback_when
from followup.texts.names import patient_names, tidy_without_name

#: Twilio's Advanced Opt-Out names the keyword it acted on; we follow it and stay silent
OPT_OUT_TYPES = {"STOP": ReplyKind.OPT_OUT, "START": ReplyKind.OPT_IN, "HELP": ReplyKind.HELP}
#: why a waiting nudge is skipped when its patient replies
NUDGE_ANSWERED = "answered: the patient replied"
#: "staff will read your message" goes to a sender at most once in this long; free text
#: within it gets the short acknowledgement (never silence, see triage)
ACK_INTERVAL = timedelta(hours=24)
#: the answer when no clinic can be named (it gives only the emergency number)
UNKNOWN_ANSWER = "reply_emergency_unknown"
#: answers about a clinic's texts (consent, help, a wrong number): without a clinic there
#: is nothing to stop, start or explain, and nobody texted this number
NEEDS_A_CLINIC = frozenset({"reply_opt_out", "reply_opt_in", "reply_help", "reply_wrong_number"})


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
    #: the answering clinic's flag
    flag_id: int | None = None
    flag_kind: str | None = None
    alerts: int = 0
    classification: Classification | None = None
    #: every flag opened: an urgent reply is flagged at each recent clinic of the number
    flag_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class Senders:
    """The process-wide sender, used by clinics that have none of their own, and who hears
    of an urgent reply when no clinic can be told which patient wrote."""

    from_number: str | None = None
    messaging_service_sid: str | None = None
    #: told to a sender no clinic is known for, when neither the clinics behind the number
    #: they texted nor their own number's country say it (FOLLOWUP_EMERGENCY_NUMBER)
    emergency_number: str = "112"
    #: a phone that hears of an urgent reply no clinic can be given
    #: (FOLLOWUP_FALLBACK_ALERT_TO); None: the flag waits in ``followup replies``
    fallback_alert_to: str | None = None


def senders_of(settings: Any) -> Senders:
    """The :class:`Senders` of the settings (:class:`followup.config.Settings`): one place,
    so the web app, the worker's drain and ``followup spool --drain`` page the same phone."""
    return Senders(
        settings.twilio_from_number,
        settings.twilio_messaging_service_sid,
        emergency_number=settings.emergency_number,
        fallback_alert_to=settings.fallback_alert_to,
    )


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
    return replies.clinics_texted(
        conn,
        to_number=sms.to_number,
        messaging_service_sid=sms.messaging_service_sid,
        uses_default=uses_default,
    )


def records_answering(
    conn: Connection, phone: str, clinic_ids: list[int], now: datetime
) -> list[Any]:
    """The records of ``phone`` at those clinics, most recently texted a check-in last: the
    last one is the patient who is answering (:func:`routing.answering_order`). When none
    of those clinics has the number (or no clinic sends from the number texted), every
    record of it: a patient of a clinic with its own sender who writes to the shared number
    is still that clinic's patient."""
    rows = replies.records_of_number(conn, phone, now=now, acknowledged_since=now - ACK_INTERVAL)
    found = [r for r in rows if r.clinic_id in clinic_ids] or rows
    return routing.answering_order(found)


def emergency_number_without_clinic(sms: InboundSms, clinics: list[Any], senders: Senders) -> str:
    """The emergency number for a sender no clinic is known for: the one every clinic behind
    the number texted gives, else the one of the sender's own country, else the setting."""
    return routing.shared_value([c.emergency_number for c in clinics]) or (
        offline_answer.emergency_number(sms.from_number, senders.emergency_number)
    )


def read_reply(sms: InboundSms, ctx: ReplyContext) -> Classification:
    """What the text is: Twilio's verdict when it acted on a keyword, else :func:`classify`."""
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


def callback_time(
    catalogue: Catalogue,
    locale: str | None,
    clinic: Any,
    now: datetime,
    patient_timezone: str | None = None,
) -> str:
    """``{{ callback_when }}``: "today" while the clinic is open at ``now``, else when it
    opens ("during opening hours, from Mon 09:00"), in the patient's zone when known (as
    appointment times are), the clinic's otherwise."""
    clinic_tz = ZoneInfo(clinic.timezone)
    try:
        week = hours.from_data(getattr(clinic, "opening_hours", None))
    except hours.HoursError:
        week = hours.DEFAULT_HOURS  # written past the CLI; the default is the best guess
    opens = hours.next_open(now, week, clinic_tz)
    info = catalogue.locale_info(locale)
    if opens is None or opens <= now:
        return callback_when(info, None)
    try:
        shown = ZoneInfo(patient_timezone) if patient_timezone else clinic_tz
    except (ValueError, ZoneInfoNotFoundError):
        shown = clinic_tz
    return callback_when(info, opens.astimezone(shown))


def render_reply(
    catalogue: Catalogue,
    key: str,
    locale: str | None,
    clinic: Any,
    first_name: str | None,
    *,
    now: datetime | None = None,
    patient_timezone: str | None = None,
    wording: Wording | None = None,
) -> str:
    """The answer text, in the clinic's own ``wording`` when it has one for ``key``. Names
    are folded to GSM-7 and the first name capped (:mod:`followup.texts.names`), as in
    every text to a patient. Without a name (an unknown
    number, or a name with nothing GSM-7 can spell) the greeting closes up neatly:
    "Thanks, Harbor Physio ..." rather than "Thanks , Harbor Physio ...".

    Its promises are true: "we have told the clinic's staff" only when the clinic has an
    alert destination (``staff_alerted``), "will call you" with when, from the clinic's
    opening hours at ``now`` (``callback_when``)."""
    now = now or datetime.now(UTC)
    names = patient_names(first_name, clinic.name)
    text = catalogue.render(
        key,
        locale,
        {
            **names,
            "clinic_phone": display_phone(clinic.phone, clinic.country),
            "emergency_number": clinic.emergency_number,
            "staff_alerted": bool(alerts.destinations(clinic)),
            "callback_when": callback_time(catalogue, locale, clinic, now, patient_timezone),
        },
        wording,
    )
    return text if names["first_name"] else tidy_without_name(text)


def receive(
    db: Session | Connection,
    sms: InboundSms,
    *,
    catalogue: Catalogue,
    now: datetime,
    senders: Senders = Senders(),
    answered: OfflineAnswer | None = None,
) -> InboundResult:
    """File, read and act on one inbound text (see the module docstring). The caller owns
    the transaction; alerts are queued in it and sent by the alert sender after commit.

    ``answered``: the patient was answered already, when the reply was kept in the spool
    (:mod:`followup.inbound.drain`); that answer is stored as the reply's, none is rendered,
    and the result's ``reply`` is it (the caller must not send it again). Flags, alerts and
    consent are as for a live reply."""
    conn = db.connection() if isinstance(db, Session) else db
    clinics = clinics_texted(conn, sms, senders)
    patients = records_answering(conn, sms.from_number, [c.id for c in clinics], now)
    patient = patients[-1] if patients else None
    clinic = None
    if patient is not None:
        clinic = next((c for c in clinics if c.id == patient.clinic_id), None) or (
            replies.clinic_by_id(conn, patient.clinic_id)
        )
        previous, acked = patient.previous, patient.acked
    else:
        if len(clinics) == 1:
            clinic = clinics[0]
        history = replies.history_of_number(
            conn, sms.from_number, acknowledged_since=now - ACK_INTERVAL
        )
        previous, acked = history.previous, history.acked
    locale = (patient.locale if patient else None) or (clinic.default_locale if clinic else None)

    last_step = patient.template_key if patient else None
    names = tuple(p.first_name for p in patients if p.first_name)
    c = read_reply(sms, ReplyContext(locale=locale, last_step=last_step, first_names=names))
    actions = triage.decide(
        c,
        triage.TriageContext(
            last_step=last_step,
            previous_score=previous,
            acknowledged_recently=acked is not None,
            known_patient=patient is not None,
        ),
    )
    reply, reply_key = None, actions.reply_key
    if answered is not None:
        # kept in the spool and answered then: what was sent is what is stored
        reply, reply_key = answered.body, answered.key
    elif reply_key and clinic is not None:
        reply = render_reply(
            catalogue,
            reply_key,
            locale,
            clinic,
            patient.first_name if patient else None,
            now=now,
            patient_timezone=patient.timezone if patient else None,
            wording=clinic_wording.for_clinics(conn, [clinic.id]).get(clinic.id),
        )
    elif reply_key and reply_key not in NEEDS_A_CLINIC:
        # no clinic to speak for (a number none has on file, on a number several send from):
        # never silence, and always the way to emergency help
        reply_key = UNKNOWN_ANSWER
        locale = locale or routing.shared_value([k.default_locale for k in clinics])
        emergency = emergency_number_without_clinic(sms, clinics, senders)
        reply = catalogue.render(reply_key, locale, {"emergency_number": emergency})
    inbound_id = replies.file_reply(
        conn,
        provider_sid=sms.sid,
        clinic_id=clinic.id if clinic else None,
        patient_id=patient.id if patient else None,
        in_reply_to=patient.checkin_id if patient else None,
        from_number=sms.from_number,
        to_number=sms.to_number,
        messaging_service_sid=sms.messaging_service_sid,
        body=sms.body,
        num_media=sms.num_media,
        received_at=now,
        kind=c.kind,
        urgency=c.urgency,
        score=c.score,
        worry=c.worry,
        matched=c.matched,
        reply_key=reply_key if reply else None,
        reply_body=reply,
    )
    if inbound_id is None:  # the same MessageSid committed by a concurrent request
        seen = replies.stored_answer(conn, sms.sid)
        return InboundResult(seen.id, True, seen.reply_body)

    if patient is not None:
        # any reply answers the check-in: its nudge, if one is waiting, is not needed
        skip_waiting_nudges(conn, patient.id, now=now, reason=NUDGE_ANSWERED, actor="reply")
    if actions.consent:
        how = f"sms: {' '.join(sms.body.split())[:100] or sms.opt_out_type}"
        mark = {
            triage.ConsentChange.OUT: consent.mark_opted_out,
            triage.ConsentChange.IN: consent.mark_opted_in,
            triage.ConsentChange.WRONG_NUMBER: consent.mark_wrong_number,
        }[actions.consent]
        texted = {c.id for c in clinics}
        if actions.consent == triage.ConsentChange.IN:
            # an opt-in reaches only the records of the clinics whose sender received it;
            # from a number no clinic's sender knows, it opts in nothing
            targets = [p for p in patients if p.clinic_id in texted]
        else:
            # stopping is the safe side: where no sender tells the clinic (or the patient
            # wrote to a number none of their clinics sends from), every record found stops
            targets = [p for p in patients if p.clinic_id in texted] or patients
        for p in targets:
            mark(conn, p.id, now, how)

    flag_ids: list[int] = []
    queued = 0
    if actions.flag and patient is None:
        flag_id = flags.open_flag(
            conn,
            clinic_id=clinic.id if clinic else None,
            patient_id=None,
            inbound_id=inbound_id,
            kind=actions.flag,
            reason=actions.flag_reason or actions.flag,
            now=now,
        )
        flag_ids.append(flag_id)
        if clinic is not None:
            queued = alerts.queue_alerts(
                conn, flag_id=flag_id, flag_kind=actions.flag, clinic=clinic, now=now
            )
        elif senders.fallback_alert_to:
            queued = alerts.queue_fallback_alert(
                conn,
                flag_id=flag_id,
                flag_kind=actions.flag,
                destination=senders.fallback_alert_to,
                now=now,
            )
    elif actions.flag:
        by_id = {c.id: c for c in clinics}
        for record in routing.records_to_flag(patients, patient, actions.flag, now):
            at = by_id.get(record.clinic_id) or replies.clinic_by_id(conn, record.clinic_id)
            flag_id = flags.open_flag(
                conn,
                clinic_id=record.clinic_id,
                patient_id=record.id,
                inbound_id=inbound_id,
                kind=actions.flag,
                reason=actions.flag_reason or actions.flag,
                now=now,
            )
            flag_ids.append(flag_id)
            queued += alerts.queue_alerts(
                conn, flag_id=flag_id, flag_kind=actions.flag, clinic=at, now=now
            )
    first = flag_ids[0] if flag_ids else None
    return InboundResult(inbound_id, False, reply, first, actions.flag, queued, c, tuple(flag_ids))
