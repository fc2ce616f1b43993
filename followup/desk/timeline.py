"""A patient's timeline: their sessions, every text with its delivery status and the events
and receipts behind it, their replies with how each was read and what we answered, the flags
raised, and how their consent changed, with the soreness chart. Reading it is audited
(``patient.view``).

How consent changed is partly a reconstruction. The ``patients`` row keeps only the latest
consent change (``consent_at``, ``consent_method``) and the current opt-out; when an opt-out
is lifted by START its time and way are cleared from the row. So the history shown is built
from what else is kept: the row's current facts, the patient's own opt-out, opt-in and
wrong-number replies, the events the opt-out and opt-in left on the texts they skipped or
revived, and the audit log of staff changes. :data:`CONSENT_HISTORY_NOTE` says so on the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from followup.desk.charts import Chart, soreness_chart
from followup.desk.patients import PatientView, get_patient
from followup.store import patient_records
from followup.store.outbox import is_staff_text
from followup.store.session_records import clinic_facts
from followup.store.statuses import ReplyKind

CONSENT_HISTORY_NOTE = (
    "Only the latest consent change and the current opt-out are stored on the patient; a "
    "lifted opt-out is cleared there. Earlier changes are shown from the patient's replies, "
    "the texts' events and the audit log."
)
#: the actors of the consent module's moves on texts (followup.consent)
_CONSENT_ACTORS = ("opt-out", "opt-in", "carrier")
_CONSENT_REPLIES = (ReplyKind.OPT_OUT, ReplyKind.OPT_IN, ReplyKind.WRONG_NUMBER)


@dataclass(frozen=True)
class SessionItem:
    session_id: str
    completed_at: datetime
    status: str
    regions: str
    next_appointment_at: datetime | None
    plan_error: str | None


@dataclass(frozen=True)
class EventItem:
    at: datetime
    from_status: str | None
    to_status: str
    reason: str | None
    actor: str


@dataclass(frozen=True)
class ReceiptItem:
    received_at: datetime
    status: str
    error_code: str | None


@dataclass(frozen=True)
class TextItem:
    id: int
    session_id: str
    step: str
    template_key: str
    status: str
    reason: str | None
    send_at: datetime
    sent_at: datetime | None
    provider_status: str | None
    error_code: str | None
    body: str | None
    events: tuple[EventItem, ...]
    receipts: tuple[ReceiptItem, ...]
    #: a text staff wrote (not a step of the plan), and who wrote it
    staff: bool = False
    written_by: str | None = None


@dataclass(frozen=True)
class ReplyItem:
    id: int
    received_at: datetime
    body: str
    kind: str
    urgency: str
    score: int | None
    worry: bool | None
    matched: tuple[str, ...]
    answer_key: str | None
    answer: str | None


@dataclass(frozen=True)
class FlagItem:
    id: int
    kind: str
    reason: str
    status: str
    created_at: datetime
    acknowledged_at: datetime | None
    acknowledged_by: str | None


@dataclass(frozen=True)
class ConsentChange:
    """One change of whether the patient may be texted: when, what, and how it came."""

    at: datetime | None
    what: str
    how: str


@dataclass(frozen=True)
class Timeline:
    patient: PatientView
    zone: str
    sessions: tuple[SessionItem, ...]
    texts: tuple[TextItem, ...]
    replies: tuple[ReplyItem, ...]
    flags: tuple[FlagItem, ...]
    consent: tuple[ConsentChange, ...]
    consent_note: str
    chart: Chart


def patient_timeline(
    db: Session, clinic_id: int, patient_id: int, *, now: datetime, actor: str
) -> Timeline:
    """The timeline of the clinic's patient (row id); NotFound for another clinic's. Audited
    as a view of the patient's record."""
    patient = get_patient(db, clinic_id, patient_id, now=now, actor=actor)
    facts = clinic_facts(db, clinic_id)
    zone_name = patient.timezone or (facts.timezone if facts else "UTC")
    try:
        tz = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        tz, zone_name = ZoneInfo("UTC"), "UTC"
    sessions = tuple(
        SessionItem(s.external_id, s.completed_at, s.status, s.regions or "",
                    s.next_appointment_at, s.plan_error)
        for s in patient_records.sessions_of(db, clinic_id, patient_id)
    )  # fmt: skip
    texts = tuple(
        TextItem(
            id=m.id, session_id=session, step=m.step, template_key=m.template_key,
            status=m.status, reason=m.reason, send_at=m.send_at, sent_at=m.sent_at,
            provider_status=m.provider_status, error_code=m.error_code, body=m.body,
            events=tuple(EventItem(e.at, e.from_status, e.to_status, e.reason, e.actor)
                         for e in events),
            receipts=tuple(ReceiptItem(r.received_at, r.status, r.error_code) for r in receipts),
            staff=is_staff_text(m.template_key), written_by=_writer(m.template_key, events),
        )
        for m, session, events, receipts in patient_records.texts_of(db, clinic_id, patient_id)
    )  # fmt: skip
    replies = tuple(
        ReplyItem(
            id=r.id, received_at=r.received_at, body=r.body, kind=r.kind, urgency=r.urgency,
            score=r.score, worry=r.worry, matched=tuple(r.matched or ()),
            answer_key=r.reply_key, answer=r.reply_body,
        )
        for r in patient_records.replies_of(db, clinic_id, patient_id)
    )  # fmt: skip
    flags = tuple(
        FlagItem(f.id, f.kind, f.reason, f.status, f.created_at, f.acknowledged_at,
                 f.acknowledged_by)
        for f in patient_records.flags_of(db, clinic_id, patient_id)
    )  # fmt: skip
    consent = consent_history(db, clinic_id, patient, texts, replies)
    scores = [(at, score) for at, score in patient_records.scores_of(db, clinic_id, patient_id)]
    return Timeline(
        patient=patient, zone=zone_name, sessions=sessions, texts=texts, replies=replies,
        flags=flags, consent=consent, consent_note=CONSENT_HISTORY_NOTE,
        chart=soreness_chart(scores, tz, title=f"Soreness scores of {patient.first_name}"),
    )  # fmt: skip


def _writer(template_key: str, events) -> str | None:
    """Who wrote a staff text: the actor of its birth event (no status before it)."""
    if not is_staff_text(template_key):
        return None
    actor = next((e.actor for e in events if e.from_status is None), None)
    return actor.removeprefix("user:") if actor else None


def consent_history(
    db: Session,
    clinic_id: int,
    patient: PatientView,
    texts: tuple[TextItem, ...],
    replies: tuple[ReplyItem, ...],
) -> tuple[ConsentChange, ...]:
    """Every consent change that can be found, oldest first (see the module's docstring)."""
    found: list[ConsentChange] = []
    if patient.consent_at is not None or patient.consent_method:
        found.append(
            ConsentChange(
                patient.consent_at,
                "consent given" if patient.consent else "consent recorded as no",
                f"latest consent change, by {patient.consent_method or 'unknown'}",
            )
        )
    for r in replies:
        if r.kind in _CONSENT_REPLIES:
            what = {
                ReplyKind.OPT_OUT: "opted out",
                ReplyKind.OPT_IN: "opted in again",
                ReplyKind.WRONG_NUMBER: "wrong number reported",
            }[ReplyKind(r.kind)]
            found.append(ConsentChange(r.received_at, what, "the patient's reply"))
    seen: set[tuple[datetime, str]] = set()
    for t in texts:
        for e in t.events:
            if e.actor in _CONSENT_ACTORS and e.reason and (e.at, e.reason) not in seen:
                seen.add((e.at, e.reason))
                found.append(ConsentChange(e.at, e.reason, f"texts moved by {e.actor}"))
    if patient.opted_out:
        found.append(
            ConsentChange(patient.opted_out_at, "opted out (current)", patient.opted_out_how or "")
        )
    if patient.phone_unusable:
        found.append(
            ConsentChange(
                patient.phone_unusable_at,
                "number cannot receive texts (current)",
                patient.phone_unusable_reason or "",
            )
        )
    for a in patient_records.audit_of(
        db, clinic_id, f"patient:{patient.id}", actions=("patient.update",)
    ):
        found.append(ConsentChange(a.at, a.detail or "changed", f"staff: {a.actor}"))
    far_past = datetime.min.replace(tzinfo=ZoneInfo("UTC"))
    return tuple(sorted(found, key=lambda c: c.at or far_past))
