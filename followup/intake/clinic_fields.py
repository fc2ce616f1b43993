"""What a clinic's settings may be: everything every later text depends on, checked once.

A clinic's time zone decides when each text goes out, its country how patients' numbers are
read, its name appears in every message. A mistake in any of them shows up days later as a
text at 3 a.m. or a doubled SMS bill, so they are validated when the clinic is added, and
costly-but-legal choices (a long name, a character outside GSM-7) come back as warnings.

Pure: plain values in, column values and warnings out. Storing them, and the one check that
needs the database (is the slug free?), is :mod:`followup.intake.clinics`.
"""

from __future__ import annotations

import re
import zoneinfo
from functools import lru_cache
from typing import Any

import phonenumbers

from followup.hours import HoursError, parse_hours, to_data
from followup.phones import PhoneError, emergency_number_for, normalize_phone
from followup.texts.names import CLINIC_NAME_BUDGET, clinic_name_for_sms
from followup.texts.segments import analyze

SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
LOCALE = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_EMERGENCY = re.compile(r"^[0-9]{2,15}$")
_HHMM = re.compile(r"^([01][0-9]|2[0-4]):([0-5][0-9])$")
#: templates are written so that a clinic name of this length still fits one segment
NAME_BUDGET = CLINIC_NAME_BUDGET
#: US rules (TCPA) allow such texts between 08:00 and 21:00 at the recipient's location
QUIET_START, QUIET_END = 8 * 60, 21 * 60


class ClinicError(ValueError):
    """A clinic setting that cannot be stored; the message names the field and what is expected."""


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA zone this system knows (exact spelling), else ClinicError."""
    if name in _zones():
        return name
    near = [z for z in _zones() if z.lower() == name.strip().lower()]
    hint = f"; did you mean {near[0]!r}?" if near else " such as 'America/New_York'"
    raise ClinicError(f"timezone: {name!r} is not an IANA time zone name{hint}")


def parse_hhmm(value: str, field: str) -> int:
    """``"08:30"`` -> 510 minutes after midnight; ``"24:00"`` is allowed as an end."""
    m = _HHMM.match(value.strip())
    minutes = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    if not m or minutes > 24 * 60:
        raise ClinicError(f"{field}: {value!r} is not a time of day as HH:MM (e.g. 08:00)")
    return minutes


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


_DURATION = re.compile(r"^(?:(\d+)h)?\s*(?:(\d+)m)?$")
#: the longest escalation delay a clinic may set: a week
MAX_ESCALATION_MINUTES = 7 * 24 * 60


def check_hours(text: str) -> dict[str, list[list[int]]]:
    """Opening hours as written on the command line (``Mon-Fri 09:00-17:00; Sat
    09:00-12:00``), as the clinic row keeps them; ClinicError naming the field."""
    try:
        return to_data(parse_hours(text))
    except HoursError as exc:
        raise ClinicError(f"opening_hours: {exc}") from None


def parse_minutes(value: str, field: str) -> int:
    """``"15m"``, ``"2h"``, ``"1h30m"`` or bare minutes (``"90"``) -> minutes, 1 minute to a
    week; ClinicError naming ``field`` otherwise."""
    text = value.strip().lower()
    minutes = -1
    if text.isdigit():
        minutes = int(text)
    elif (m := _DURATION.match(text)) and any(m.groups()):
        minutes = int(m.group(1) or 0) * 60 + int(m.group(2) or 0)
    if not 1 <= minutes <= MAX_ESCALATION_MINUTES:
        raise ClinicError(
            f"{field}: {value!r} is not a delay between 1 minute and 7 days, such as "
            "'15m', '2h' or '1h30m'"
        )
    return minutes


def format_delay(minutes: int) -> str:
    """120 -> ``"2h"``, 90 -> ``"1h30m"``, 15 -> ``"15m"``."""
    h, m = divmod(minutes, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if m or not h else "")


def check_emergency_number(value: str) -> str:
    """The number patients are told to call in an emergency: digits only, as dialled."""
    value = value.strip()
    if not _EMERGENCY.match(value):
        raise ClinicError(f"emergency_number: {value!r} is not a number to dial, such as 911")
    return value


def check_send_window(start_text: str, end_text: str) -> tuple[int, int]:
    """The daily sending window as minutes after local midnight; its start must come
    before its end (a window cannot run across midnight: nobody is texted at night)."""
    start = parse_hhmm(start_text, "send_window start")
    end = parse_hhmm(end_text, "send_window end")
    if start >= end:
        raise ClinicError(
            f"send_window: start {format_hhmm(start)} must be before end {format_hhmm(end)}"
        )
    return start, end


def send_window_warnings(start: int, end: int) -> list[str]:
    """Legal but risky: a window reaching outside the hours US rules allow for such texts."""
    if start < QUIET_START or end > QUIET_END:
        return [
            f"send_window: {format_hhmm(start)}-{format_hhmm(end)} reaches outside 08:00-21:00, "
            "the hours US rules (TCPA) allow for such texts"
        ]
    return []


def name_warnings(name: str) -> list[str]:
    """How texts will show a clinic name, and why it may make them cost more (it appears in
    all of them). Texts fold it to GSM-7 (:func:`followup.texts.names.clinic_name_for_sms`),
    so the clinic is told the spelling patients will see."""
    warnings = []
    non_gsm = analyze(name).non_gsm
    if non_gsm:
        chars = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in non_gsm)
        warnings.append(
            f"name: {chars} not in the GSM-7 alphabet: texts spell it "
            f"{clinic_name_for_sms(name)!r}, since one such character would send every text "
            "naming this clinic as UCS-2 (70 characters a segment instead of 160)"
        )
    if len(name) > NAME_BUDGET:
        warnings.append(
            f"name: {len(name)} characters; templates are budgeted for {NAME_BUDGET}, so "
            "some texts may need a second segment"
        )
    return warnings


def validate_clinic(
    *,
    slug: str,
    name: str,
    timezone: str,
    phone: str,
    country: str = "US",
    locale: str = "en",
    emergency_number: str | None = None,
    from_number: str | None = None,
    messaging_service_sid: str | None = None,
    send_window: tuple[str, str] = ("08:00", "20:00"),
    opening_hours: str | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The clinic's column values, normalised, and warnings; ClinicError naming the first
    field that cannot be stored."""
    if not SLUG.match(slug):
        raise ClinicError(
            f"slug: {slug!r} must be 2-63 characters of a-z, 0-9 and '-', starting with a "
            "letter or digit"
        )
    name = name.strip()
    if not name or len(name) > 120:
        raise ClinicError("name: expected 1 to 120 characters")
    timezone = check_timezone(timezone)
    country = country.strip().upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ClinicError(f"country: {country!r} is not an ISO 3166 alpha-2 code such as 'US'")
    if not LOCALE.match(locale):
        raise ClinicError(f"locale: {locale!r} is not a language code such as 'en' or 'es-MX'")
    try:
        phone = normalize_phone(phone, country)
    except PhoneError as exc:
        raise ClinicError(f"phone: {exc}") from None
    if from_number:
        try:
            from_number = normalize_phone(from_number, country)
        except PhoneError as exc:
            raise ClinicError(f"from_number: {exc}") from None
    if messaging_service_sid and not _SERVICE_SID.match(messaging_service_sid):
        raise ClinicError("messaging_service_sid: expected 'MG' followed by 32 hex digits")
    if emergency_number is None:
        emergency_number = emergency_number_for(country)
    else:
        emergency_number = check_emergency_number(emergency_number)
    hours = check_hours(opening_hours) if opening_hours else None
    start, end = check_send_window(*send_window)

    warnings = name_warnings(name) + send_window_warnings(start, end)
    if from_number and messaging_service_sid:
        warnings.append(
            "from_number and messaging_service_sid both set: Twilio sends through the "
            "messaging service, and from_number must belong to its sender pool"
        )

    values = dict(
        slug=slug,
        name=name,
        timezone=timezone,
        phone=phone,
        country=country,
        default_locale=locale,
        emergency_number=emergency_number,
        from_number=from_number or None,
        messaging_service_sid=messaging_service_sid or None,
        send_window_start=start,
        send_window_end=end,
        opening_hours=hours,
    )
    return values, warnings
