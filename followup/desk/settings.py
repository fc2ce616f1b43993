"""A clinic's settings as its admins change them: the sending window, opening hours, where
staff alerts go, how long flags may wait before escalating, the second contact,
the emergency number and how many days the patients' words are kept (retention).

The rules are those of the command line (``followup clinics add``, ``set-alerts``,
``set-hours``, ``set-escalation``, ``set-retention``): :mod:`followup.intake.clinic_fields` and
:mod:`followup.intake.clinics` check every value, so the dashboard cannot store what the CLI
would refuse. Two rules are stricter here, because a form is easier to get wrong than a
command: the on-call phone must be a number a text can reach (a mobile, not the clinic's
landline), and an alert URL must travel encrypted (``https://``, or an Apprise scheme over
TLS such as ``jsons://``). A clinic cannot remove its last alert destination from the
dashboard either: its patients' texts would wait, unsent, until one was set again.

Every field is checked before anything is written, and every problem is reported at once
(:class:`~followup.desk.errors.InvalidFields`). A save is audited as ``settings.change``
with each changed field's old and new value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from followup import hours
from followup.access import audit
from followup.desk.errors import InvalidFields, NotFound
from followup.intake.clinic_fields import (
    ClinicError,
    check_emergency_number,
    check_hours,
    check_send_window,
    format_delay,
    format_hhmm,
    parse_minutes,
    send_window_warnings,
)
from followup.intake.clinics import check_apprise_url, check_second_contact
from followup.phones import PhoneError, display_phone, patient_phone
from followup.retention import RetentionError, check_days
from followup.staff.redact import redact
from followup.store import clinics as clinic_rows
from followup.store import retention as retention_rows
from followup.texts.catalogue import Catalogue
from followup.texts.check import oversized

#: Apprise schemes that send in the clear: refused for alert URLs (an alert names a flag)
PLAIN_SCHEMES = frozenset({"http", "json", "xml", "form"})
DAY_FIELDS = tuple(f"hours_{day}" for day in hours.DAYS)
#: (day shown, form field) for each weekday, Monday first
DAYS = tuple(zip(hours.DAY_NAMES, DAY_FIELDS, strict=True))


@dataclass(frozen=True)
class ClinicSettings:
    """The settings form's fields, as text: what the page shows and what it posts."""

    send_window_start: str = ""
    send_window_end: str = ""
    hours_mon: str = ""
    hours_tue: str = ""
    hours_wed: str = ""
    hours_thu: str = ""
    hours_fri: str = ""
    hours_sat: str = ""
    hours_sun: str = ""
    oncall_phone: str = ""
    #: one Apprise URL a line
    alert_urls: str = ""
    review_after: str = ""
    emergency_after: str = ""
    clinic_today_after: str = ""
    second_contact: str = ""
    emergency_number: str = ""
    #: days the patients' words are kept (:mod:`followup.retention`)
    retention_days: str = ""

    @classmethod
    def from_form(cls, form: Any) -> ClinicSettings:
        """The fields of a posted form (missing ones empty, anything not text ignored)."""
        values = {}
        for f in fields(cls):
            value = form.get(f.name)
            values[f.name] = value.strip() if isinstance(value, str) else ""
        return cls(**values)

    def day(self, index: int) -> str:
        return getattr(self, DAY_FIELDS[index])


def current(db: Session, clinic_id: int) -> ClinicSettings:
    """The clinic's settings as the form shows them."""
    return _shown(_clinic(db, clinic_id))


def warnings(db: Session, clinic_id: int, catalogue: Catalogue) -> list[str]:
    """What is legal but risky in the clinic's settings, shown beside the form: a window
    reaching outside the hours US rules allow, and default texts that need a second
    segment with this clinic's name, phone and emergency number."""
    clinic = _clinic(db, clinic_id)
    values = {
        "clinic_name": clinic.name,
        "clinic_phone": display_phone(clinic.phone, clinic.country),
        "emergency_number": clinic.emergency_number,
    }
    return send_window_warnings(clinic.send_window_start, clinic.send_window_end) + [
        f"text {line} with this clinic's name, phone and emergency number: it costs two "
        "messages; word it shorter on the wording page"
        for line in oversized(catalogue, values)
    ]


def _clinic(db: Session, clinic_id: int) -> Any:
    clinic = clinic_rows.by_id(db, clinic_id)
    if clinic is None:
        raise NotFound("clinic")
    return clinic


def _shown(clinic: Any) -> ClinicSettings:
    try:
        week = hours.from_data(clinic.opening_hours)
    except hours.HoursError:
        week = hours.DEFAULT_HOURS  # what the escalations use for hours they cannot read
    return ClinicSettings(
        send_window_start=format_hhmm(clinic.send_window_start),
        send_window_end=format_hhmm(clinic.send_window_end),
        **{name: hours.format_day(day) for name, day in zip(DAY_FIELDS, week.days, strict=True)},
        oncall_phone=clinic.oncall_phone or "",
        alert_urls="\n".join(u for u in clinic.alert_urls or [] if isinstance(u, str)),
        review_after=format_delay(clinic.review_alert_minutes),
        emergency_after=format_delay(clinic.emergency_second_minutes),
        clinic_today_after=format_delay(clinic.clinic_today_second_minutes),
        second_contact=clinic.second_contact or "",
        emergency_number=clinic.emergency_number,
        retention_days=str(clinic.retention_days),
    )


@dataclass(frozen=True)
class Checked:
    """The values a valid form stores."""

    window: tuple[int, int]
    opening_hours: dict[str, list[list[int]]]
    oncall_phone: str | None
    alert_urls: list[str]
    review: int
    emergency: int
    clinic_today: int
    second_contact: str | None
    emergency_number: str
    retention_days: int


def _alert_url(url: str, field: str) -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme in PLAIN_SCHEMES:
        raise ClinicError(
            f"{field}: {scheme}:// sends alerts unencrypted; use https:// (or {scheme}s://)"
        )
    if scheme == "https":
        try:
            return check_apprise_url(url, field)
        except ClinicError:
            raise ClinicError(
                f"{field}: not a service Apprise knows at this address; for a plain webhook "
                f"write it as jsons://{url.split('://', 1)[1]}"
            ) from None
    return check_apprise_url(url, field)


def _oncall(value: str, country: str) -> str | None:
    if not value:
        return None
    try:
        return patient_phone(value, country)
    except PhoneError as exc:
        raise ClinicError(f"oncall_phone: {exc}; the on-call phone must receive texts") from None


def _retention_days(value: str) -> int:
    try:
        return check_days(int(value))
    except ValueError as exc:
        reason = str(exc) if isinstance(exc, RetentionError) else "a whole number of days"
        raise ClinicError(f"retention_days: {reason}") from None


def check(given: ClinicSettings, country: str) -> Checked:
    """Every field of ``given`` checked; InvalidFields with each problem, by field."""
    problems: list[tuple[str, str]] = []

    def attempt(field: str, fn: Callable[..., Any], *args: Any) -> Any:
        try:
            return fn(*args)
        except ClinicError as exc:
            problems.append((field, str(exc).split(": ", 1)[-1]))
            return None

    try:
        window = check_send_window(given.send_window_start, given.send_window_end)
    except ClinicError as exc:
        prefix, _, reason = str(exc).partition(": ")
        # "start must be before end" is said beside the end, where it is usually mended
        field = "send_window_start" if prefix.endswith("start") else "send_window_end"
        problems.append((field, reason))
        window = None
    open_days = []
    for i, name in enumerate(hours.DAY_NAMES):
        text = given.day(i)
        closed = not text or text.lower() == "closed"
        if not closed and attempt(DAY_FIELDS[i], check_hours, f"{name} {text}") is not None:
            open_days.append(f"{name} {text}")
    week = None
    if not any(field in DAY_FIELDS for field, _ in problems):
        week = attempt("hours_mon", check_hours, "; ".join(open_days) or "Mon closed")
    oncall = attempt("oncall_phone", _oncall, given.oncall_phone, country)
    urls = [u.strip() for u in given.alert_urls.splitlines() if u.strip()]
    for i, url in enumerate(urls, start=1):
        try:
            _alert_url(url, "alert_urls")
        except ClinicError as exc:  # which line, when there are several
            problems.append(("alert_urls", f"line {i}: {str(exc).split(': ', 1)[-1]}"))
    if not oncall and not urls and not any(f == "oncall_phone" for f, _ in problems):
        problems.append(("oncall_phone", "give an on-call phone or an alert URL: without one, "
                         "nobody hears of an emergency and the clinic's texts wait"))  # fmt: skip
    delays = [
        attempt(name, parse_minutes, getattr(given, name), name)
        for name in ("review_after", "emergency_after", "clinic_today_after")
    ]
    contact = None
    if "://" in given.second_contact:  # an Apprise URL: encrypted, as the alert URLs
        contact = attempt("second_contact", _alert_url, given.second_contact, "second_contact")
    elif given.second_contact:
        contact = attempt("second_contact", check_second_contact, given.second_contact, country)
    emergency = attempt("emergency_number", check_emergency_number, given.emergency_number)
    kept = attempt("retention_days", _retention_days, given.retention_days)
    if problems:
        raise InvalidFields(problems)
    return Checked(window, week, oncall, urls, *delays, contact, emergency, kept)


def save(
    db: Session, clinic_id: int, given: ClinicSettings, *, now: datetime, actor: str
) -> list[str]:
    """Store ``given`` when every field is valid (InvalidFields, nothing written, when
    not); returns the fields changed. Audited with each changed field's old and new value."""
    clinic = _clinic(db, clinic_id)
    before = _shown(clinic)
    ok = check(given, clinic.country)
    clinic_rows.set_send_window(db, clinic, *ok.window)
    clinic_rows.set_opening_hours(db, clinic, ok.opening_hours)
    clinic_rows.set_alert_destinations(db, clinic, oncall_phone=ok.oncall_phone,
                                       alert_urls=ok.alert_urls)  # fmt: skip
    clinic_rows.set_escalation(
        db, clinic, review_minutes=ok.review, emergency_minutes=ok.emergency,
        clinic_today_minutes=ok.clinic_today, second_contact=ok.second_contact,
    )  # fmt: skip
    clinic_rows.set_emergency_number(db, clinic, ok.emergency_number)
    retention_rows.set_retention_days(db, clinic, ok.retention_days)
    after = _shown(clinic)
    changed = [f.name for f in fields(ClinicSettings)
               if getattr(before, f.name) != getattr(after, f.name)]  # fmt: skip
    if changed:
        detail = "; ".join(
            f"{name}: {_audited(name, getattr(before, name))} -> "
            f"{_audited(name, getattr(after, name))}"
            for name in changed
        )
        audit.record(db, actor=actor, action="settings.change", now=now, clinic_id=clinic_id,
                     subject=f"clinic:{clinic_id}", detail=detail)  # fmt: skip
    return changed


def _audited(name: str, value: str) -> str:
    """A setting as the audit log keeps it: Apprise URLs redacted (they hold tokens)."""
    if not value:
        return "(none)"
    if name in ("alert_urls", "second_contact") and "://" in value:
        value = "\n".join(redact(url) for url in value.splitlines())
    return repr(value.replace("\n", ", "))
