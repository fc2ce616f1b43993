"""What a patient's fields may be, whichever way the patient comes in (a CSV file today; an
API or a FHIR ``Encounter`` tomorrow): the phone a text can reach, the name a text can carry,
and what to say when one file gives one patient two phones.

Pure: plain values in, values and messages out. No message repeats a phone number or a name:
reports are printed, mailed from cron and pasted into tickets. The rules themselves live
where every text goes by them: phone types in :func:`followup.phones.patient_phone`, names in
:func:`followup.texts.names.screen_first_name` (the renderers apply that one again, for rows
written straight into the database).
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from followup.phones import PhoneError, normalize_phone, patient_phone
from followup.texts.names import screen_first_name

__all__ = [
    "PhoneChanges",
    "check_first_name",
    "check_phone",
    "own_numbers",
]


def own_numbers(
    clinic_phone: str | None,
    clinic_sender: str | None,
    service_senders: Iterable[str | None] = (),
    country: str = "US",
) -> dict[str, str]:
    """Numbers that are never a patient's, in E.164, each with what it is: the clinic's phone
    (the patient's texts would go to the front desk), the clinic's sender and every other
    sender of this service (a text to a sender comes back in as a reply and may be answered:
    a loop between two of our own numbers). A number that does not read is left out: it can
    match no patient's anyway."""
    named = [(n, "one of this service's sender numbers") for n in service_senders]
    named += [(clinic_sender, "the clinic's sender number"), (clinic_phone, "the clinic's phone")]
    found: dict[str, str] = {}
    for number, what in named:  # the clinic's own names win over the generic one
        if not number:
            continue
        try:
            found[normalize_phone(number, country)] = what
        except PhoneError:
            continue
    return found


def check_phone(raw: str, country: str, not_these: Mapping[str, str]) -> tuple[str | None, str]:
    """``(e164, "")`` for a number a patient's texts can go to, else ``(None, why)``: see
    :func:`followup.phones.patient_phone`. ``not_these`` is :func:`own_numbers`."""
    try:
        return patient_phone(raw, country, not_these), ""
    except PhoneError as exc:
        return None, str(exc)


def check_first_name(raw: str) -> tuple[str, str | None]:
    """The first name to store, and a warning when it was cut or dropped (naming the reason,
    never the name): see :func:`followup.texts.names.screen_first_name`."""
    screened = screen_first_name(raw)
    if screened.problem is None:
        return screened.name, None
    what = f"first_name: more than a name ({screened.problem})"
    if screened.name:
        return screened.name, f"{what}; only its first word is kept"
    return "", f"{what}; imported without a name, so its texts greet no one by name"


class PhoneChanges:
    """One patient with two phones in one file: the later row wins (the file's order is the
    clinic's latest word), and the clinic is told, with both lines. The same phone in
    several rows (several sessions of one patient) is the normal case and says nothing.

    Holds one entry per patient seen: (line, phone) of the row that last set it."""

    def __init__(self) -> None:
        self._seen: dict[Hashable, tuple[int, str]] = {}

    def note(self, patient: Hashable, patient_id: str, phone: str, line: int) -> str | None:
        """Record ``phone`` for ``patient`` (a clinic and its patient id) on ``line``; a
        warning for this line if an earlier line gave the patient another phone."""
        before = self._seen.get(patient)
        self._seen[patient] = (line, phone)
        if before is None or before[1] == phone:
            return None
        return (
            f"patient_id {patient_id!r} has another phone on line {before[0]}; the phone of "
            f"this line (the later row) is kept"
        )
