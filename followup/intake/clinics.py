"""Adding a clinic and changing its settings: alert destinations, opening hours and
escalations, and the care plan.

What each field may hold is :mod:`followup.intake.clinic_fields` (pure); this module adds
the checks that need the database (is the slug free, does the clinic exist) and hands the
values to :mod:`followup.store.clinics`. Every function works inside the caller's
transaction and raises :class:`ClinicError` with nothing written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.orm import Session

from followup.intake.clinic_fields import (
    ClinicError,
    check_hours,
    parse_minutes,
    validate_clinic,
)
from followup.outbound.careplan import CarePlan
from followup.phones import PhoneError, normalize_phone
from followup.store import clinics
from followup.store.models import Clinic
from followup.texts.catalogue import Catalogue

__all__ = [
    "ClinicError",
    "add_clinic",
    "check_apprise_url",
    "check_second_contact",
    "no_destination_warning",
    "plan_template_problems",
    "set_alert_destinations",
    "set_care_plan",
    "set_escalation",
    "set_opening_hours",
]


def no_destination_warning(clinic: Any) -> str | None:
    """The warning for a clinic nobody can alert (None when somebody can): its patients get
    no texts until it has a destination, since a patient's emergency reply would reach
    nobody."""
    if clinics.alert_destinations(clinic.oncall_phone, clinic.alert_urls):
        return None
    return (
        f"{clinic.slug} has no staff alert destination: its patients get no texts (they wait "
        "in the outbox) until one is set, because a reply about an emergency would reach "
        f"nobody; set one with `followup clinics set-alerts {clinic.slug} --oncall-phone ... "
        "--alert-url ...`"
    )


def add_clinic(
    session: Session,
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
    oncall_phone: str | None = None,
    alert_urls: Sequence[str] = (),
) -> tuple[Clinic, list[str]]:
    """Validate and add a clinic to ``session`` (flushed, not committed). Returns the clinic
    and warnings (one when nobody can be alerted). On ClinicError nothing is added; the
    caller owns the transaction."""
    values, warnings = validate_clinic(
        slug=slug,
        name=name,
        timezone=timezone,
        phone=phone,
        country=country,
        locale=locale,
        emergency_number=emergency_number,
        from_number=from_number,
        messaging_service_sid=messaging_service_sid,
        send_window=send_window,
        opening_hours=opening_hours,
    )
    oncall, urls = _destinations(oncall_phone, list(alert_urls), values["country"])
    if clinics.slug_taken(session, slug):
        raise ClinicError(f"slug: a clinic {slug!r} already exists")
    clinic = clinics.add(session, **values, oncall_phone=oncall, alert_urls=urls or None)
    if clinic is None:  # added concurrently between our check and the insert
        raise ClinicError(f"slug: a clinic {slug!r} already exists")
    warning = no_destination_warning(clinic)
    return clinic, warnings + ([warning] if warning else [])


def _find(session: Session, slug: str) -> Clinic:
    clinic = clinics.by_slug(session, slug)
    if clinic is None:
        raise ClinicError(f"slug: no clinic {slug!r}")
    return clinic


def check_apprise_url(url: str, field: str) -> str:
    """``url`` if Apprise can send to it, else ClinicError naming ``field``."""
    import apprise

    if not apprise.Apprise().add(url):
        scheme = url.split("://", 1)[0] if "://" in url else "?"
        raise ClinicError(
            f"{field}: not a URL Apprise can send to (scheme {scheme!r}); see "
            "https://github.com/caronc/apprise/wiki for the formats"
        )
    return url


def _destinations(
    oncall_phone: str | None, alert_urls: list[str], country: str
) -> tuple[str | None, list[str]]:
    if oncall_phone:
        try:
            oncall_phone = normalize_phone(oncall_phone, country)
        except PhoneError as exc:
            raise ClinicError(f"oncall_phone: {exc}") from None
    for i, url in enumerate(alert_urls):
        check_apprise_url(url, f"alert_urls[{i}]")
    return oncall_phone or None, alert_urls


def set_alert_destinations(
    session: Session, slug: str, *, oncall_phone: str | None, alert_urls: list[str]
) -> Clinic:
    """Set where a clinic's staff alerts go: an on-call number (texted through the same
    gateway as patients) and Apprise URLs (email, Slack, Teams, webhooks). Both are checked
    here, so a typo shows when it is made rather than when a patient is in trouble. With a
    destination, the clinic's texts that waited for one go with the dispatcher's next run
    (those still inside their window); without any, its texts wait."""
    clinic = _find(session, slug)
    oncall, urls = _destinations(oncall_phone, alert_urls, clinic.country)
    clinics.set_alert_destinations(session, clinic, oncall_phone=oncall, alert_urls=urls)
    return clinic


def set_opening_hours(session: Session, slug: str, hours: str | None) -> Clinic:
    """Replace a clinic's opening hours (``Mon-Fri 09:00-17:00; Sat 09:00-12:00``; None
    resets them to the default). They decide what a patient is told about a call-back and
    when an unread review flag pages staff."""
    clinic = _find(session, slug)
    clinics.set_opening_hours(session, clinic, check_hours(hours) if hours else None)
    return clinic


def check_second_contact(value: str, country: str) -> str:
    """A phone number (stored E.164, texted) or an Apprise URL (checked)."""
    value = value.strip()
    if "://" in value:
        return check_apprise_url(value, "second_contact")
    try:
        return normalize_phone(value, country)
    except PhoneError as exc:
        raise ClinicError(
            f"second_contact: neither a phone number ({exc}) nor an Apprise URL such as "
            "mailto://... or slack://..."
        ) from None


def set_escalation(
    session: Session,
    slug: str,
    *,
    review_after: str | None = None,
    emergency_after: str | None = None,
    clinic_today_after: str | None = None,
    second_contact: str | None = None,
) -> Clinic:
    """Change how long flags may wait unacknowledged before escalating (``"2h"``,
    ``"15m"``...; None leaves a setting as it is) and the second contact (a phone number or
    an Apprise URL; ``""`` removes it)."""
    clinic = _find(session, slug)
    review = (
        parse_minutes(review_after, "review_after")
        if review_after is not None
        else clinic.review_alert_minutes
    )
    emergency = (
        parse_minutes(emergency_after, "emergency_after")
        if emergency_after is not None
        else clinic.emergency_second_minutes
    )
    today = (
        parse_minutes(clinic_today_after, "clinic_today_after")
        if clinic_today_after is not None
        else clinic.clinic_today_second_minutes
    )
    if second_contact is None:
        contact = clinic.second_contact
    else:
        contact = (
            check_second_contact(second_contact, clinic.country) if second_contact.strip() else None
        )
    clinics.set_escalation(
        session,
        clinic,
        review_minutes=review,
        emergency_minutes=emergency,
        clinic_today_minutes=today,
        second_contact=contact,
    )
    return clinic


def plan_template_problems(plan: CarePlan, catalogue: Catalogue, source: str) -> list[str]:
    """The plan's steps that name a template no locale of ``catalogue`` has: such a step
    could never be sent, so a plan with one is refused before it is stored."""
    problems = []
    for step in plan.steps:
        for key in filter(None, (step.template, step.regions_template)):
            if not any(key in catalogue.keys(loc) for loc in catalogue.locales):
                problems.append(
                    f"{source}: steps ({step.key}): no template {key!r} in {catalogue.directory}"
                )
    return problems


def set_care_plan(session: Session, slug: str, plan: dict | None) -> Clinic:
    """Replace a clinic's care plan with ``plan`` (validated data of
    :func:`followup.outbound.careplan.plan_to_data`; None resets it to the default). Texts
    not yet sent follow the new plan from the planner's next tick: their sessions are
    marked to be planned again."""
    clinic = _find(session, slug)
    clinics.set_care_plan(session, clinic, plan)
    return clinic
