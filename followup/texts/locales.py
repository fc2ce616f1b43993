"""Per-locale settings (``messages/<locale>/locale.json``): appointment times, and when the
clinic will call back (``callback_open`` while it is open, ``callback_closed`` with the time
it opens).

A small strftime of our own instead of time.strftime: the process C locale must not decide
the language of a patient's text, "%-d" is not portable, and Spanish names such as "sábado"
would turn the message into UCS-2. Names come from locale.json (English by default).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from followup.texts.errors import TemplateError
from followup.texts.segments import is_gsm7

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")
_MONTHS += ("September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ENGLISH_NAMES: dict[str, tuple[str, ...]] = {
    "month_names": _MONTHS,
    "month_abbr": tuple(m[:3] for m in _MONTHS),
    "day_names": _DAYS,
    "day_abbr": tuple(d[:3] for d in _DAYS),
    "am_pm": ("AM", "PM"),
}
_CALLBACK = ("callback_open", "callback_closed")
_NAME_COUNTS = {"month_names": 12, "month_abbr": 12, "day_names": 7, "day_abbr": 7, "am_pm": 2}

_DIRECTIVE = re.compile(r"%(-?)(.)", re.DOTALL)
_NUMERIC = {"d", "m", "H", "I", "M", "y", "Y"}
_NAMED = {"a": "day_abbr", "A": "day_names", "b": "month_abbr", "B": "month_names", "p": "am_pm"}


@dataclass(frozen=True)
class LocaleInfo:
    """Per-locale settings from ``locale.json``."""

    appointment_format: str = "%a %b %-d at %-I:%M %p"
    names: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(_ENGLISH_NAMES))
    #: ``{{ callback_when }}`` while the clinic is open ("we will call you today")
    callback_open: str = "today"
    #: ``{{ callback_when }}`` while it is closed, a format of the time it opens
    callback_closed: str = "during opening hours, from %a %H:%M"


def _expand(fmt: str, value: Callable[[str, bool], str]) -> str:
    """Replace each directive through ``value(letter, no_padding)``; raise ValueError if unknown."""
    out, pos = [], 0
    for match in _DIRECTIVE.finditer(fmt):
        out.append(fmt[pos : match.start()])
        pos = match.end()
        dash, letter = match.group(1) == "-", match.group(2)
        if letter == "%" and not dash:
            out.append("%")
        elif (letter in _NAMED and not dash) or letter in _NUMERIC:
            out.append(value(letter, dash))
        else:
            raise ValueError(f"unsupported directive %{match.group(1)}{letter}")
    rest = fmt[pos:]
    if "%" in rest:
        raise ValueError("a lone '%' at the end")
    return "".join(out) + rest


def format_local(local: datetime, info: LocaleInfo, fmt: str | None = None) -> str:
    """``local`` written with ``fmt`` (default: the appointment format) and the names of
    ``info``."""

    def value(letter: str, dash: bool) -> str:
        if letter in _NAMED:
            names = info.names[_NAMED[letter]]
            index = {"a": local.weekday(), "A": local.weekday(), "p": local.hour >= 12}.get(
                letter, local.month - 1
            )
            return names[int(index)]
        number = {
            "d": local.day,
            "m": local.month,
            "H": local.hour,
            "I": local.hour % 12 or 12,
            "M": local.minute,
            "y": local.year % 100,
            "Y": local.year,
        }[letter]
        return str(number) if dash or letter == "Y" else f"{number:02d}"

    return _expand(info.appointment_format if fmt is None else fmt, value)


def callback_when(info: LocaleInfo, opens_local: datetime | None) -> str:
    """When the clinic will call: ``callback_open`` while it is open (``opens_local`` None),
    else ``callback_closed`` with the local time it opens ("during opening hours, from Mon
    09:00")."""
    if opens_local is None:
        return info.callback_open
    return format_local(opens_local, info, info.callback_closed)


def longest_callback(info: LocaleInfo) -> str:
    """The longest text ``{{ callback_when }}`` can be (for the one-segment check)."""
    return max(info.callback_open, longest_appointment(info, info.callback_closed), key=len)


def longest_appointment(info: LocaleInfo, fmt: str | None = None) -> str:
    """The longest text ``info``'s format (or ``fmt``) can produce (for the one-segment
    check)."""

    def value(letter: str, dash: bool) -> str:
        if letter in _NAMED:
            return max(info.names[_NAMED[letter]], key=len)
        return "2099" if letter == "Y" else "12"

    return _expand(info.appointment_format if fmt is None else fmt, value)


def parse_locale_file(path: Path) -> LocaleInfo:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TemplateError(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(path, "expected a JSON object")
    unknown = sorted(set(data) - {"appointment_format", *_CALLBACK, *_NAME_COUNTS})
    if unknown:
        raise TemplateError(path, f"unknown setting(s) {', '.join(unknown)}")
    fmt = data.get("appointment_format")
    if not isinstance(fmt, str) or not fmt.strip():
        raise TemplateError(path, "appointment_format: expected a non-empty string")
    names = dict(_ENGLISH_NAMES)
    for name, count in _NAME_COUNTS.items():
        if name not in data:
            continue
        values = data[name]
        if not (isinstance(values, list) and len(values) == count):
            raise TemplateError(path, f"{name}: expected a list of {count} strings")
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise TemplateError(path, f"{name}: expected a list of {count} non-empty strings")
        names[name] = tuple(values)
    callback = {}
    for name in _CALLBACK:
        if name in data:
            value = data[name]
            if not isinstance(value, str) or not value.strip():
                raise TemplateError(path, f"{name}: expected a non-empty string")
            callback[name] = value
    info = LocaleInfo(fmt, names, **callback)
    samples = ""
    for name, what in (("appointment_format", fmt), ("callback_closed", info.callback_closed)):
        try:
            samples += longest_appointment(info, what) + what
        except ValueError as exc:
            raise TemplateError(path, f"{name}: {exc}") from None
    bad = [c for c in samples + info.callback_open if not is_gsm7(c)]
    if bad:
        raise TemplateError(
            path, f"not GSM-7 because of {bad[0]!r} (U+{ord(bad[0]):04X}) in a date name or format"
        )
    return info
