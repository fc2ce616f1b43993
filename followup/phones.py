"""Phone numbers: one normal form in the database, one masked form in every log line.

Why E.164 everywhere: the same patient arrives through CSV, the API and Twilio webhooks, each
spelling the number differently ("(201) 555-0123", "+1 201 555 0123"); an inbound reply can
only be matched to a patient if all of them are stored the same way. ``phonenumbers`` (Google's
libphonenumber) knows which ranges each country actually assigns, so a typo is caught at
import rather than as a failed send days later.

Only invalid numbers are rejected, not fixed-line ones: in the US most numbers are
FIXED_LINE_OR_MOBILE and libphonenumber cannot tell them apart; Twilio reports an undeliverable
landline as an error code, which the dispatcher records.
"""

from __future__ import annotations

import functools
import math

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat


class PhoneError(ValueError):
    """A number that cannot be stored; the message says why (it never repeats the number)."""


def normalize_phone(raw: str, country: str) -> str:
    """``raw`` in E.164 (``+12015550123``), read as a national number of ``country`` unless it
    starts with ``+``. A valid number of another country, written with ``+``, is accepted:
    patients travel and keep their numbers."""
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
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


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
