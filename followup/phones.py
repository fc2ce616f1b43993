"""Phone numbers: one normal form in the database, one masked form in every log line.

Why E.164 everywhere: the same patient arrives through CSV, the API and Twilio webhooks, each
spelling the number differently ("(201) 555-0123", "+1 201 555 0123"); an inbound reply can
only be matched to a patient if all of them are stored the same way. ``phonenumbers`` (Google's
libphonenumber) knows which ranges each country actually assigns, so a typo is caught at
import rather than as a failed send days later.

:func:`normalize_phone` refuses only invalid numbers: it also reads a clinic's own numbers,
which are often landlines. A *patient's* number must also be one a text can reach
(:func:`patient_phone`): libphonenumber's number type tells a mobile (or, in the US and Canada,
FIXED_LINE_OR_MOBILE: most numbers there, which it cannot tell apart) or VoIP number from a
landline, a premium-rate, toll-free or shared-cost line, a pager, a voicemail access number, a
personal (forwarding) number or a company's universal access number; a short code (22395, 911)
is a service, not a person. A premium-rate number is the worst of them: every text to it costs
the clinic money. Twilio would report most of them as an error days later, after the patient's
aftercare advice had gone nowhere; refusing them at import puts the mistake in front of the
clinic while it can still fix it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType, shortnumberinfo


class PhoneError(ValueError):
    """A number that cannot be stored; the message says why (it never repeats the number)."""


def normalize_phone(raw: str, country: str) -> str:
    """``raw`` in E.164 (``+12015550123``), read as a national number of ``country`` unless it
    starts with ``+``. A valid number of another country, written with ``+``, is accepted:
    patients travel and keep their numbers."""
    return phonenumbers.format_number(_valid_number(raw, country), PhoneNumberFormat.E164)


def _valid_number(raw: str, country: str) -> phonenumbers.PhoneNumber:
    """``raw`` parsed; PhoneError unless it is a valid number (see :func:`normalize_phone`)."""
    text = (raw or "").strip()
    if not text:
        raise PhoneError("no phone number given")
    region = country.upper()
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise PhoneError("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        where = phonenumbers.region_code_for_country_code(number.country_code)
        if where in ("ZZ", "001") or number.country_code == phonenumbers.country_code_for_region(
            region
        ):
            where = region
        raise PhoneError(f"not a valid number for {where}")
    return number


#: the number types a text can reach
TEXTABLE_TYPES = frozenset(
    {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE, PhoneNumberType.VOIP}
)
#: why a number of each other type cannot be a patient's phone
_NOT_TEXTABLE = {
    PhoneNumberType.FIXED_LINE: "a landline; cannot receive texts",
    PhoneNumberType.PREMIUM_RATE: "a premium-rate number; cannot be texted",
    PhoneNumberType.TOLL_FREE: "a toll-free number; cannot be texted",
    PhoneNumberType.SHARED_COST: "a shared-cost number; cannot be texted",
    PhoneNumberType.UAN: "a company's universal access number; cannot be texted",
    PhoneNumberType.PAGER: "a pager number; cannot be texted",
    PhoneNumberType.VOICEMAIL: "a voicemail access number; cannot be texted",
    PhoneNumberType.PERSONAL_NUMBER: "a personal (forwarding) number; cannot be texted",
}
_SHORT_CODE = "a short code or service number, not a patient's phone"


def patient_phone(raw: str, country: str, not_these: Mapping[str, str] | None = None) -> str:
    """``raw`` in E.164 if a text to a patient can go to it; PhoneError saying why not.

    Besides :func:`normalize_phone`'s checks: a short code, and any number whose type is not
    in :data:`TEXTABLE_TYPES`, is refused (see the module docstring). ``not_these`` maps
    numbers in E.164 that are never a patient's to what they are ("the clinic's phone"): a
    clinic's own number or a sender of this service, where a text would loop back to us.
    Messages never repeat the number (they end up in reports and logs)."""
    try:
        number = _valid_number(raw, country)
    except PhoneError:
        if _is_short_code(raw, country):
            raise PhoneError(_SHORT_CODE) from None
        raise
    kind = phonenumbers.number_type(number)
    if kind not in TEXTABLE_TYPES:
        raise PhoneError(_NOT_TEXTABLE.get(kind, "a number of unknown type; cannot be texted"))
    e164 = phonenumbers.format_number(number, PhoneNumberFormat.E164)
    if not_these and e164 in not_these:
        raise PhoneError(f"{not_these[e164]}, not a patient's")
    return e164


def _is_short_code(raw: str, country: str) -> bool:
    try:
        number = phonenumbers.parse(raw.strip(), country.upper())
    except NumberParseException:
        return False
    return shortnumberinfo.is_valid_short_number_for_region(number, country.upper())


def _country_code_length(e164: str) -> int:
    try:
        return len(str(phonenumbers.parse(e164, None).country_code))
    except NumberParseException:
        return 1


def mask_phone(e164: str | None) -> str:
    """A number safe for logs: ``+15555550006`` -> ``+1555***0006``.

    Keeps the country code, up to 3 leading and 4 trailing national digits, and always hides
    at least 3 digits (30% of a long number), so short numbers lose their head before their
    middle shows. Never raises: a log line must not fail because a number is malformed.
    """
    if not e164:
        return "***"
    digits = "".join(c for c in e164 if c.isdigit())
    if not e164.startswith("+"):
        return "***" + digits[-2:] if len(digits) > 4 else "***"
    cc_len = _country_code_length("+" + digits)
    cc, national = digits[:cc_len], digits[cc_len:]
    n = len(national)
    hidden = min(n, max(3, math.ceil(n * 0.3)))
    tail = min(4, n - hidden)
    head = min(3, n - hidden - tail)
    return f"+{cc}{national[:head]}***{national[n - tail :] if tail else ''}"


_EU = (
    "AT",
    "BE",
    "BG",
    "HR",
    "CY",
    "CZ",
    "DK",
    "EE",
    "FI",
    "FR",
    "DE",
    "GR",
    "IE",
    "IT",
    "LV",
    "LT",
    "LU",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SK",
    "SI",
    "ES",
    "SE",
)
_EU_EEA_CH = frozenset((*_EU, "IS", "LI", "NO", "CH"))  # EEA outside the EU, and Switzerland
_EMERGENCY = {"US": "911", "CA": "911", "GB": "999", "AU": "000", "NZ": "111"}


def emergency_number_for(country: str) -> str:
    """The number a patient with a red-flag symptom is told to call. 112 works across the EU
    and on GSM phones in most other countries, hence the default."""
    code = country.upper()
    if code in _EU_EEA_CH:
        return "112"
    return _EMERGENCY.get(code, "112")


def region_of(e164: str | None) -> str | None:
    """The country (ISO 3166 code) a number belongs to, or None when libphonenumber cannot
    place it: the one thing known about a sender no clinic has on file."""
    if not e164:
        return None
    try:
        parsed = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    # the number's own region when it is in an assigned range, else its country code's main
    # region (+44 7700 900..., set aside for fiction, is still British)
    region = phonenumbers.region_code_for_number(parsed) or (
        phonenumbers.region_code_for_country_code(parsed.country_code)
    )
    return region if region and region != phonenumbers.UNKNOWN_REGION else None


def emergency_number_of(e164: str | None) -> str | None:
    """The emergency number of the country ``e164`` belongs to (:func:`emergency_number_for`),
    or None when the number's country is unknown: for answering a red flag from a number no
    clinic has on file, where the clinic's own emergency number is not known."""
    region = region_of(e164)
    return emergency_number_for(region) if region else None


@functools.lru_cache(maxsize=1024)
def display_phone(e164: str, country: str) -> str:
    """The clinic's number as patients there write it, e.g. ``(201) 555-0123``.

    Cached: every text renders its clinic's number, and formatting one costs about as much
    as rendering the rest of the text (a clinic has one number, so the cache stays small)."""
    try:
        parsed = phonenumbers.parse(e164, country)
    except phonenumbers.NumberParseException:
        return e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
