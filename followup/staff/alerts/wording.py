"""What a staff alert says: its title and body for a flag, and the link to the flag. Pure.

An alert names the clinic, says what the patient needs and links to the flag; it carries the
patient's first name and nothing else about them (no words, symptoms, score or number):
alerts go to phones and chat rooms staff do not control. The text for the on-call phone is
one GSM-7 segment, so a page is never split or re-encoded by a carrier.
"""

from __future__ import annotations

from dataclasses import dataclass

from followup.store.statuses import AlertPurpose, FlagKind, OutboxFlag
from followup.texts.names import CLINIC_NAME_BUDGET, FIRST_NAME_MAX, gsm_fold
from followup.texts.segments import analyze, is_gsm7

#: flag kinds that page staff when raised; review flags wait in the dashboard's inbox and
#: page staff only when nobody has read them in time (an ``overdue`` alert), except those
#: the outbox raises (:data:`PAGED_REVIEWS`), which page at once
ALERTED_KINDS = frozenset({FlagKind.EMERGENCY, FlagKind.CLINIC_TODAY, FlagKind.CALLBACK})
#: the flag kinds each purpose of alert is for
KINDS_BY_PURPOSE = {
    AlertPurpose.FLAG: ALERTED_KINDS,
    AlertPurpose.OVERDUE: frozenset({FlagKind.REVIEW}),
    AlertPurpose.SECOND_CONTACT: frozenset({FlagKind.EMERGENCY, FlagKind.CLINIC_TODAY}),
}

#: how the reason of a review flag the outbox raises begins, and what its alert says: a
#: safety text a limit held back (the planner), a safety check-in and its nudge unanswered or
#: a nudge that could not go (the nudges). Nothing about the patient's health: "a safety text"
#: and "a check-in" say what staff must do without saying why.
HELD_BACK = OutboxFlag.HELD_BACK
NO_ANSWER = OutboxFlag.NO_ANSWER
PAGED_REVIEWS = {
    HELD_BACK: "A safety text to {who} is delayed; please call.",
    NO_ANSWER: "{Who} has not answered a check-in or its follow-up; please call.",
}

_P = AlertPurpose
_TITLES = {
    (_P.FLAG, FlagKind.EMERGENCY): "URGENT: {clinic} patient reply",
    (_P.FLAG, FlagKind.CLINIC_TODAY): "Call today: {clinic} patient reply",
    (_P.FLAG, FlagKind.CALLBACK): "Call-back: {clinic} patient reply",
    (_P.FLAG, FlagKind.REVIEW): "Please call: {clinic} patient",
    (_P.OVERDUE, FlagKind.REVIEW): "Unread: {clinic} patient message",
    (_P.SECOND_CONTACT, FlagKind.EMERGENCY): "URGENT, not acknowledged: {clinic} patient reply",
    (_P.SECOND_CONTACT, FlagKind.CLINIC_TODAY): "Not acknowledged: {clinic} patient reply",
}
#: the SMS names the clinic first: one on-call phone may serve several clinics
_PREFIXES = {
    FlagKind.EMERGENCY: "URGENT {clinic}: ",
    FlagKind.CLINIC_TODAY: "{clinic}: ",
    FlagKind.CALLBACK: "{clinic}: ",
    FlagKind.REVIEW: "{clinic}: ",
}
#: said where a clinic's name would be, in an alert no clinic was given: an urgent reply
#: from a number no clinic behind the shared sender has on file
NO_CLINIC = "Shared number"
#: the longest names alert_text must still fit in one segment, with the link dropped
FIT_FIRST_NAME, FIT_CLINIC_NAME = FIRST_NAME_MAX, CLINIC_NAME_BUDGET


@dataclass(frozen=True)
class _Names:
    who: str
    clinic: str
    emergency_number: str | None


def paged_review(reason: str | None) -> str | None:
    """The :data:`PAGED_REVIEWS` topic a review flag's reason starts with, or None (a review
    flag raised by a reply, which waits in the inbox)."""
    return next((topic for topic in PAGED_REVIEWS if (reason or "").startswith(topic)), None)


def _sentence(
    kind: str, names: _Names, purpose: str = AlertPurpose.FLAG, topic: str | None = None
) -> str:
    who = names.who
    if kind == FlagKind.REVIEW and topic is not None and purpose == AlertPurpose.FLAG:
        return PAGED_REVIEWS[topic].format(who=who, Who=who[:1].upper() + who[1:])
    late = purpose == AlertPurpose.SECOND_CONTACT
    if kind == FlagKind.EMERGENCY:
        told = (
            f" They were told to call {names.emergency_number}." if names.emergency_number else ""
        )
        return f"Emergency reply from {who}{' not acknowledged' if late else ''}.{told}"
    # "An unknown number needs...", a name unchanged; never a capital outside GSM-7 ("è"
    # is GSM-7, "È" is not, and one such character makes the whole text UCS-2)
    first = who[:1].upper()
    subject = (first if is_gsm7(first) else who[:1]) + who[1:]
    if kind == FlagKind.CLINIC_TODAY:
        return f"{subject} needs a call today{', not acknowledged' if late else ''}."
    if kind == FlagKind.REVIEW:
        return f"Message from {who} still unread."
    return f"{subject} asks for a call-back."


def _one_line(value: str) -> str:
    """Names come from clinics' systems: no newlines or runs of spaces in a text."""
    return " ".join(value.split())


def _fold(value: str) -> str:
    """``value`` in GSM-7 (:func:`followup.texts.names.gsm_fold`, as in patients' texts), with
    "?" for what has no GSM-7 form: staff see that the name held something more."""
    return gsm_fold(value, missing="?")


def _cut(value: str, size: int) -> str:
    return value if len(value) <= size else value[: size - 3].rstrip() + "..."


def _fits(text: str) -> bool:
    info = analyze(text)
    return info.encoding == "GSM-7" and info.segments == 1


def alert_text(
    *,
    kind: str,
    first_name: str | None,
    clinic_name: str,
    link: str | None,
    emergency_number: str | None = None,
    fit_sms: bool = True,
    purpose: str = AlertPurpose.FLAG,
    reason: str | None = None,
) -> tuple[str, str]:
    """``(title, body)`` of the alert for a flag of ``kind``, sent for ``purpose``: the flag
    was raised, a review flag is still unread (``overdue``), or an urgent flag was not
    acknowledged in time (``second_contact``: the sentence says so). Pure.

    The body names the clinic, says what the patient needs and links to the flag, e.g.
    ``"URGENT Harbor Physio: Emergency reply from Maria. They were told to call 911. Open:
    <link>"``. It carries the patient's first name and nothing else about them (no words,
    symptoms, score or number): alerts go to phones and chat rooms staff do not control.
    An unknown sender (``first_name`` None) is "an unknown number".

    With ``fit_sms`` (the default; what is texted to the on-call phone) the body is one GSM-7
    segment, 160 characters, so a page is never split or re-encoded by a carrier. When the
    whole text does not fit, in this order: names are folded to GSM-7 ("Zoë" -> "Zoe"), the
    link is dropped (staff find the flag in the dashboard), names are cut to 20 / 30
    characters. Without ``fit_sms`` (Apprise: chat and email have room) nothing is dropped.

    A review flag has an alert only when the outbox raised it: its ``reason`` starts with a
    topic of :data:`PAGED_REVIEWS`, and the alert says what staff must do, not why.
    """
    topic = paged_review(reason) if kind == FlagKind.REVIEW else None
    allowed = KINDS_BY_PURPOSE.get(purpose, frozenset())
    if purpose == AlertPurpose.FLAG and topic is not None:
        allowed = allowed | {FlagKind.REVIEW}
    if kind not in allowed:
        raise ValueError(f"no {purpose} alert for flag kind {kind!r}")
    clinic = _one_line(clinic_name)
    who = _one_line(first_name) if first_name and first_name.strip() else "an unknown number"
    number = _one_line(emergency_number) if emergency_number else None
    title = _TITLES[(AlertPurpose(purpose), FlagKind(kind))].format(clinic=clinic)

    def body(names: _Names, with_link: bool) -> str:
        text = _PREFIXES[kind].format(clinic=names.clinic) + _sentence(kind, names, purpose, topic)
        return f"{text} Open: {link}" if with_link and link else text

    names = _Names(who, clinic, number)
    if not fit_sms:
        return title, body(names, True)
    folded = _Names(_fold(who), _fold(clinic), _fold(number) if number is not None else None)
    for candidate in (
        body(names, True),
        body(folded, True),
        body(names, False),
        body(folded, False),
    ):
        if _fits(candidate):
            return title, candidate
    # Names longer than any real one (or full of 2-septet characters such as "{"): cut them.
    # The last sizes fit whatever the characters (every one of them counting 2).
    text = ""
    for name_size, clinic_size in ((FIT_FIRST_NAME, FIT_CLINIC_NAME), (12, 20), (8, 12)):
        cut = _Names(
            _cut(folded.who, name_size),
            _cut(folded.clinic, clinic_size),
            _cut(folded.emergency_number, 16) if folded.emergency_number else None,
        )
        text = body(cut, False)
        if _fits(text):
            break
    return title, text


def flag_link(public_url: str | None, clinic_slug: str | None, flag_id: int) -> str | None:
    """The flag's page in the dashboard, or None when there is no public URL (or no clinic):
    an alert without a link still says everything staff need to start."""
    if not public_url or not clinic_slug:
        return None
    return f"{public_url.rstrip('/')}/clinics/{clinic_slug}/flags/{flag_id}"
