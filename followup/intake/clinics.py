"""Adding a clinic and changing its settings: alert destinations and the care plan.

What each field may hold is :mod:`followup.intake.clinic_fields` (pure); this module adds
the checks that need the database (is the slug free, does the clinic exist) and hands the
values to :mod:`followup.store.clinics`. Every function works inside the caller's
transaction and raises :class:`ClinicError` with nothing written.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from followup.intake.clinic_fields import ClinicError, validate_clinic
from followup.phones import PhoneError, normalize_phone
from followup.store import clinics
from followup.store.models import Clinic

__all__ = ["ClinicError", "add_clinic", "set_alert_destinations", "set_care_plan"]


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
) -> tuple[Clinic, list[str]]:
    """Validate and add a clinic to ``session`` (flushed, not committed). Returns the clinic
    and warnings. On ClinicError nothing is added; the caller owns the transaction."""
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
    )
    if clinics.slug_taken(session, slug):
        raise ClinicError(f"slug: a clinic {slug!r} already exists")
    clinic = clinics.add(session, **values)
    if clinic is None:  # added concurrently between our check and the insert
        raise ClinicError(f"slug: a clinic {slug!r} already exists")
    return clinic, warnings


def set_alert_destinations(
    session: Session, slug: str, *, oncall_phone: str | None, alert_urls: list[str]
) -> Clinic:
    """Set where a clinic's staff alerts go: an on-call number (texted through the same
    gateway as patients) and Apprise URLs (email, Slack, Teams, webhooks). Both are checked
    here, so a typo shows when it is made rather than when a patient is in trouble."""
    import apprise

    clinic = clinics.by_slug(session, slug)
    if clinic is None:
        raise ClinicError(f"slug: no clinic {slug!r}")
    if oncall_phone:
        try:
            oncall_phone = normalize_phone(oncall_phone, clinic.country)
        except PhoneError as exc:
            raise ClinicError(f"oncall_phone: {exc}") from None
    for i, url in enumerate(alert_urls):
        if not apprise.Apprise().add(url):
            scheme = url.split("://", 1)[0] if "://" in url else "?"
            raise ClinicError(
                f"alert_urls[{i}]: not a URL Apprise can send to (scheme {scheme!r}); see "
                "https://github.com/caronc/apprise/wiki for the formats"
            )
    clinics.set_alert_destinations(
        session, clinic, oncall_phone=oncall_phone, alert_urls=alert_urls
    )
    return clinic


def set_care_plan(session: Session, slug: str, plan: dict | None) -> Clinic:
    """Replace a clinic's care plan with ``plan`` (validated data of
    :func:`followup.outbound.careplan.plan_to_data`; None resets it to the default). Texts
    not yet sent follow the new plan from the planner's next tick: their sessions are
    marked to be planned again."""
    clinic = clinics.by_slug(session, slug)
    if clinic is None:
        raise ClinicError(f"slug: no clinic {slug!r}")
    clinics.set_care_plan(session, clinic, plan)
    return clinic
