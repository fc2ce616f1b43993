"""Commands for a clinic's opening hours, escalations and retention: ``clinics set-hours``,
``clinics set-escalation`` and ``clinics set-retention``. Registered by :mod:`followup.cli`.

Opening hours decide what a patient is promised ("the clinic will call you during opening
hours, from Mon 09:00") and when an unread review flag pages staff; the escalation
settings say how long flags may wait unacknowledged and who the second contact is; the
retention how many days the patients' words are kept (:mod:`followup.retention`).
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from followup.cli.support import fail, get_runtime


@click.command("set-hours")
@click.argument("slug")
@click.argument("hours")
@click.pass_context
def clinics_set_hours(ctx: click.Context, slug: str, hours: str) -> None:
    """Set a clinic's opening hours in its own time zone, e.g. 'Mon-Fri 09:00-17:00; Sat
    09:00-12:00' (several intervals a day as '09:00-12:00,13:00-17:00'; days not named are
    closed); 'default' resets them to Mon-Fri 09:00-17:00."""
    from followup.hours import format_hours, from_data
    from followup.intake.clinics import ClinicError, set_opening_hours
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            clinic = set_opening_hours(db, slug, None if hours == "default" else hours)
            shown = format_hours(from_data(clinic.opening_hours))
            zone = clinic.timezone
    except ClinicError as exc:
        fail(f"clinics set-hours: {exc}")
    click.echo(f"{slug}: open {shown} ({zone})")


@click.command("set-escalation")
@click.argument("slug")
@click.option(
    "--review-after",
    metavar="DELAY",
    help="Open time a review flag may wait unacknowledged before staff are alerted (2h).",
)
@click.option(
    "--emergency-after",
    metavar="DELAY",
    help="Time an emergency flag may wait unacknowledged before the second contact is "
    "alerted (15m).",
)
@click.option(
    "--clinic-today-after",
    metavar="DELAY",
    help="The same for a clinic-today flag (60m).",
)
@click.option(
    "--second-contact",
    metavar="PHONE|APPRISE_URL",
    help="Who is alerted when nobody acknowledges an urgent flag in time; '' removes it.",
)
@click.pass_context
def clinics_set_escalation(
    ctx: click.Context,
    slug: str,
    review_after: str | None,
    emergency_after: str | None,
    clinic_today_after: str | None,
    second_contact: str | None,
) -> None:
    """Set how long flags may wait unacknowledged before they escalate, and the second
    contact. Delays are '15m', '2h', '1h30m'; options not given keep their value."""
    from followup.cli.sessions import contact_text
    from followup.intake.clinic_fields import format_delay
    from followup.intake.clinics import ClinicError, set_escalation
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            c = set_escalation(
                db,
                slug,
                review_after=review_after,
                emergency_after=emergency_after,
                clinic_today_after=clinic_today_after,
                second_contact=second_contact,
            )
            line = (
                f"{slug}: review flags alert staff after {format_delay(c.review_alert_minutes)}"
                f" of opening hours; emergencies go to the second contact after "
                f"{format_delay(c.emergency_second_minutes)}, clinic-today flags after "
                f"{format_delay(c.clinic_today_second_minutes)}; second contact: "
                + (contact_text(c.second_contact) or "none")
            )
    except ClinicError as exc:
        fail(f"clinics set-escalation: {exc}")
    click.echo(line)


@click.command("set-retention")
@click.argument("slug")
@click.argument("days", type=int)
@click.pass_context
def clinics_set_retention(ctx: click.Context, slug: str, days: int) -> None:
    """Keep the clinic's patients' words (text bodies, reply texts) DAYS days after a text is
    finished or a reply received (365 by default, at least 30); then the daily retention run
    clears them. Events, statuses and counts stay."""
    from followup.access.audit import CLI
    from followup.retention import RetentionError, set_days
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            before = set_days(db, slug, days, now=datetime.now(UTC), actor=CLI)
    except RetentionError as exc:
        fail(f"clinics set-retention: {exc}")
    click.echo(f"{slug}: patients' words kept {days} days (was {before})")
