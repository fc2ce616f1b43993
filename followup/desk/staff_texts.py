"""A text staff write to one of the clinic's patients: an answer from the replies inbox, or a
text a clinic's system sends through the API.

It is not sent from here. It becomes an outbox row with its body stored
(:mod:`followup.store.outbox.staff_texts`), and the dispatcher sends it as it sends every
text: claimed under a lease, checked again right before the send, looked up at the provider
after a crash, retried with backoff, every move in ``message_events``. So a staff answer is
never lost to a crash and never sent twice, and its trail is the same as any text's.

What holds for every text holds for it, and is refused here with the reason (nothing is
written): the patient opted out, gave no consent, or has a number that cannot take texts
(a landline, a wrong number). The dispatcher checks the same again at the send, so an
opt-out that arrives meanwhile still stops it. What comes from the care plan does not apply
to it (the session it is filed under being cancelled, the daily and weekly caps): an answer
to a patient is not a step of their plan, and dropping it for the plan's reasons would leave
staff believing a patient was answered who was not.

Quiet hours hold, as for the dispatcher: a text written outside the clinic's sending hours
waits for them, and the answer says when it will go. It stays useful for
:data:`VALID_FOR` after that; past it, the dispatcher skips it as too late, visibly.

Every answer to a patient carries the way to emergency help: unless the staff text already
gives the clinic's emergency number, the line of ``staff_emergency`` (``messages/<locale>/``)
is added at its end, and the segment count shown and limited includes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import DeskError, NotFound
from followup.outbound.send_checks import window_wait
from followup.outbound.timing import SendWindow
from followup.store.outbox import staff_texts
from followup.texts.catalogue import STAFF_EMERGENCY_KEY, Catalogue
from followup.texts.segments import analyze

#: the most segments a staff text may take, its emergency line included
MAX_SEGMENTS = 3
#: the most characters read from a form or a request before anything else is checked
MAX_INPUT = 2000
#: how long after its sending time a staff text is still worth sending
VALID_FOR = timedelta(hours=24)


@dataclass(frozen=True)
class Draft:
    """A staff text as it would go: the body with its emergency line, and how it counts."""

    written: str
    body: str
    emergency_line_added: bool
    encoding: str
    segments: int
    characters: int
    #: characters that make it UCS-2 (a curly quote, an emoji), for staff to fix
    non_gsm: tuple[str, ...]

    @property
    def too_long(self) -> bool:
        return self.segments > MAX_SEGMENTS


@dataclass(frozen=True)
class StaffText:
    """A staff text written to the outbox: its row id, how it counts, and when it goes."""

    message_id: int
    draft: Draft
    send_at: datetime
    #: in staff words: with the dispatcher's next tick, or why it waits and until when
    note: str


def tidy(written: str | None) -> str:
    """The text as staff typed it, without surrounding blanks and with plain line breaks."""
    return (written or "")[:MAX_INPUT].replace("\r\n", "\n").replace("\r", "\n").strip()


def names_number(body: str, number: str) -> bool:
    """Whether ``body`` gives the emergency ``number`` as a number of its own ("call 911",
    not "9115")."""
    return bool(number) and re.search(rf"(?<!\d){re.escape(number)}(?!\d)", body) is not None


def draft(
    catalogue: Catalogue, written: str | None, *, emergency_number: str, locale: str
) -> Draft:
    """What ``written`` becomes as a text: with the emergency line unless it names the
    number, and its GSM-7 / UCS-2 segment count (:func:`followup.texts.segments.analyze`)."""
    text = tidy(written)
    added = bool(text) and not names_number(text, emergency_number)
    body = text
    if added:
        line = catalogue.render(STAFF_EMERGENCY_KEY, locale, {"emergency_number": emergency_number})
        body = f"{text} {line}"
    info = analyze(body)
    return Draft(text, body, added, info.encoding, info.segments, info.characters, info.non_gsm)


def _zone(*names: str | None) -> ZoneInfo:
    for name in names:
        try:
            if name:
                return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            continue
    return ZoneInfo("UTC")


def _recipient(db: Session, clinic_id: int, patient_id: int):
    row = staff_texts.recipient(db, clinic_id, patient_id)
    if row is None:
        raise NotFound("patient")
    return row


def _locale(row) -> str:
    return row.locale or row.default_locale or "en"


@dataclass(frozen=True)
class AnswerForm:
    """What the page that writes a staff text shows: whom it goes to (first name and the
    clinic's id only, as the inbox shows them), why it cannot go if it cannot, the
    emergency line it gets, and the draft as it stands."""

    patient_id: int
    external_id: str
    first_name: str
    refusal: str | None
    emergency_number: str
    emergency_line: str
    draft: Draft


def preview(
    db: Session, clinic_id: int, patient_id: int, written: str | None, *, catalogue: Catalogue
) -> AnswerForm:
    """The form for a text to the clinic's patient, with the draft of ``written`` (the
    page's "Check length"); writes nothing. NotFound for another clinic's patient."""
    row = _recipient(db, clinic_id, patient_id)
    number, locale = row.emergency_number, _locale(row)
    line = catalogue.render(STAFF_EMERGENCY_KEY, locale, {"emergency_number": number})
    return AnswerForm(
        row.id, row.external_id, row.first_name, refusal(row), number, line,
        draft(catalogue, written, emergency_number=number, locale=locale),
    )  # fmt: skip


def refusal(row) -> str | None:
    """Why no text may go to this patient at all, or None (the rules every text follows)."""
    if row.opted_out_at is not None:
        return "the patient has opted out of texts (they can text START to resume)"
    if row.phone_unusable_at is not None:
        return "the patient's number cannot receive texts (marked wrong or unusable)"
    if not row.consent:
        return "the patient has not consented to texts"
    return None


def send_text(
    db: Session,
    clinic_id: int,
    patient_id: int,
    written: str | None,
    *,
    catalogue: Catalogue,
    now: datetime,
    actor: str,
) -> StaffText:
    """Write a staff text to the clinic's patient into the outbox, audited (``text.staff``,
    its segment count; never its words). Refused with a DeskError, nothing written, when
    the patient may not be texted, the text is empty or longer than :data:`MAX_SEGMENTS`."""
    row = _recipient(db, clinic_id, patient_id)
    why = refusal(row)
    if why:
        raise DeskError("patient", why)
    found = draft(catalogue, written, emergency_number=row.emergency_number, locale=_locale(row))
    if not found.written:
        raise DeskError("body", "write the text to send")
    if found.too_long:
        raise DeskError(
            "body",
            f"{found.segments} segments ({found.encoding}, {found.characters} characters, the "
            f"emergency line included): the limit is {MAX_SEGMENTS}",
        )
    if row.session_id is None:
        raise DeskError("patient", "the patient has no session to file the text under")
    tz = _zone(row.patient_timezone, row.clinic_timezone)
    wait = window_wait(now, tz, SendWindow(row.send_window_start, row.send_window_end))
    send_at = wait or now
    message_id = staff_texts.add_staff_text(
        db, clinic_id=clinic_id, patient_id=row.id, session_id=row.session_id,
        body=found.body, locale=_locale(row), send_at=send_at, expires_at=send_at + VALID_FOR,
        now=now, actor=actor,
    )  # fmt: skip
    if wait is not None:
        local = wait.astimezone(tz)
        note = f"outside sending hours: it goes when they open, {local:%Y-%m-%d %H:%M %Z}"
    elif not (row.oncall_phone or row.alert_urls):
        note = "waits: the clinic has no staff alert destination, so no text goes out"
    else:
        note = "goes with the dispatcher's next tick (a few seconds)"
    audit.record(
        db, actor=actor, action="text.staff", now=now, clinic_id=clinic_id,
        subject=f"message:{message_id}",
        detail=f"{found.segments} segment(s), {found.encoding}"
        + ("; emergency line added" if found.emergency_line_added else ""),
    )  # fmt: skip
    return StaffText(message_id, found, send_at, note)
