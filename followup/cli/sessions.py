"""Commands that let clinics and their sessions in: ``clinics add``, ``clinics list`` and
``import-sessions``. Registered by :mod:`followup.cli`.

Output rules: results on stdout, warnings and rejected rows on stderr as ``FILE:LINE: reason``
(so editors and CI annotate them), a progress bar only when stderr is a terminal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from followup.cli.support import fail, get_runtime
from followup.intake.clinic_fields import format_hhmm
from followup.intake.clinics import ClinicError, add_clinic, no_destination_warning
from followup.intake.csv_import import CsvFormatError, ImportReport, import_csv
from followup.store import clinics as stored_clinics


def _send_window(value: str) -> tuple[str, str]:
    start, sep, end = value.partition("-")
    if not sep:
        raise click.BadParameter(f"{value!r}: expected HH:MM-HH:MM such as 08:00-20:00")
    return start.strip(), end.strip()


@click.command("add")
@click.option("--slug", required=True, help="Short id used in CSV files and URLs (a-z, 0-9, -).")
@click.option("--name", required=True, help="Shown in every text; keep it under 30 characters.")
@click.option("--timezone", "timezone", required=True, help="IANA zone, e.g. America/New_York.")
@click.option("--phone", required=True, help="The clinic's phone number patients may call.")
@click.option("--country", default="US", show_default=True, help="ISO 3166 alpha-2 code.")
@click.option("--locale", default="en", show_default=True, help="Default language of texts.")
@click.option("--emergency-number", help="Default: the country's (911, 112, 999, ...).")
@click.option("--from-number", help="Twilio number to send from (E.164).")
@click.option("--messaging-service-sid", help="Twilio messaging service to send through (MG...).")
@click.option(
    "--send-window",
    default="08:00-20:00",
    show_default=True,
    help="Local hours in which texts may go out.",
)
@click.option(
    "--hours",
    "opening_hours",
    metavar="HOURS",
    help="Opening hours in the clinic's time zone, e.g. 'Mon-Fri 09:00-17:00; Sat "
    "09:00-12:00' (days not named are closed). Default: Mon-Fri 09:00-17:00.",
)
@click.option("--oncall-phone", help="Number texted for each staff alert.")
@click.option(
    "--alert-url",
    "alert_urls",
    multiple=True,
    help="Apprise URL for staff alerts (mailto://, slack://, json://...); repeatable.",
)
@click.pass_context
def clinics_add(
    ctx: click.Context, send_window: str, alert_urls: tuple[str, ...], **options: str | None
) -> None:
    """Add a clinic. Without an alert destination (--oncall-phone or --alert-url) its
    patients get no texts until one is set with `clinics set-alerts`."""
    from followup.store.engine import transaction

    window = _send_window(send_window)
    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as session:
            clinic, warnings = add_clinic(
                session,
                send_window=window,
                alert_urls=list(alert_urls),
                **options,  # type: ignore[arg-type]
            )
    except ClinicError as exc:
        fail(f"clinics add: {exc}")
        return
    warnings += _template_warnings(
        rt.settings.messages_dir, clinic.name, clinic.phone, clinic.country, clinic.emergency_number
    )
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(
        f"added clinic {clinic.slug} ({clinic.name}): {clinic.timezone}, {clinic.phone}, "
        f"texts {format_hhmm(clinic.send_window_start)}-{format_hhmm(clinic.send_window_end)}, "
        f"emergency {clinic.emergency_number}"
    )


def _hours_text(clinic) -> str:
    from followup.hours import format_hours, from_data

    return format_hours(from_data(clinic.opening_hours))


def contact_text(contact: str | None) -> str | None:
    """A second contact as staff may see it: a number as it is, an Apprise URL redacted."""
    from followup.staff.redact import redact

    if not contact:
        return None
    return redact(contact) if "://" in contact else contact


def _alerts_text(clinic) -> str:
    """Where the clinic's alerts go, as ``clinics list`` shows it (Apprise URLs redacted)."""
    from followup.staff.redact import redact

    parts = [clinic.oncall_phone] if clinic.oncall_phone else []
    parts += [redact(u) for u in clinic.alert_urls or [] if isinstance(u, str) and u.strip()]
    return ", ".join(parts) or "NONE (texts wait)"


def _template_warnings(
    messages_dir: Path, name: str, phone: str, country: str, emergency_number: str
) -> list[str]:
    """Texts that would need a second segment with this clinic's own name, phone and
    emergency number (the catalogue is only checked with sample values)."""
    from followup.phones import display_phone
    from followup.texts.catalogue import Catalogue, TemplateError
    from followup.texts.check import oversized

    try:
        catalogue = Catalogue.load(messages_dir)
    except TemplateError as exc:
        return [f"templates: {exc} (run `followup templates check`)"]
    values = {
        "clinic_name": name,
        "clinic_phone": display_phone(phone, country),
        "emergency_number": emergency_number,
    }
    return [
        f"template {line} with this clinic's name and phone; shorten the name or the text"
        for line in oversized(catalogue, values)
    ]


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def clinics_list(ctx: click.Context, as_json: bool) -> None:
    """List clinics: slug, name, time zone, phone, opening hours, where alerts go."""
    from followup.intake.clinic_fields import format_delay
    from followup.staff.redact import redact

    rt = get_runtime(ctx)
    with rt.sessions() as session:
        clinics = stored_clinics.listed(session)
    if as_json:
        for c in clinics:
            click.echo(
                json.dumps(
                    {
                        "slug": c.slug,
                        "name": c.name,
                        "timezone": c.timezone,
                        "phone": c.phone,
                        "country": c.country,
                        "locale": c.default_locale,
                        "emergency_number": c.emergency_number,
                        "from_number": c.from_number,
                        "messaging_service_sid": c.messaging_service_sid,
                        "send_window": f"{format_hhmm(c.send_window_start)}-"
                        f"{format_hhmm(c.send_window_end)}",
                        "opening_hours": _hours_text(c),
                        "oncall_phone": c.oncall_phone,
                        "alert_urls": [redact(u) for u in c.alert_urls or []],
                        "alerts_configured": no_destination_warning(c) is None,
                        "review_alert_after": format_delay(c.review_alert_minutes),
                        "emergency_second_after": format_delay(c.emergency_second_minutes),
                        "clinic_today_second_after": format_delay(c.clinic_today_second_minutes),
                        "second_contact": contact_text(c.second_contact),
                    },
                    ensure_ascii=False,
                )
            )
        return
    rows = [
        (c.slug, c.name, c.timezone, c.phone, _hours_text(c), "alerts: " + _alerts_text(c))
        for c in clinics
    ]
    widths = [max((len(r[i]) for r in rows), default=0) for i in range(5)]
    for r in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=False)) + "  " + r[5])


@click.command("import-sessions")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def import_sessions(ctx: click.Context, file: Path) -> None:
    """Import completed sessions from a CSV FILE (re-importing a file is safe).

    Columns: clinic, session_id, patient_id, first_name, phone, consent (yes/no),
    completed_at; optional: locale, regions (a;b), next_appointment_at, status
    (completed/cancelled). Times without an offset are in the clinic's time zone.
    Exit code 1 when any row was rejected.
    """
    rt = get_runtime(ctx)
    try:
        size = file.stat().st_size
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror}")
        return
    report: ImportReport | None = None
    # the install's own sender is never a patient's phone (nor is any clinic's phone or sender)
    senders = (rt.settings.twilio_from_number,)
    try:
        if _stderr_is_terminal():
            with click.progressbar(length=size, label="importing", file=sys.stderr) as bar:
                done = [0]

                def advance(read: int) -> None:
                    bar.update(read - done[0])
                    done[0] = read

                report = import_csv(rt.sessions, file, progress=advance, senders=senders)
        else:
            report = import_csv(rt.sessions, file, senders=senders)
    except CsvFormatError as exc:
        where = f"{file}:{exc.line}" if exc.line else str(file)
        if exc.report:
            _print_rejected(file, exc.report)
        fail(f"{where}: {exc.reason}")
        return
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror or exc}")
        return
    _print_rejected(file, report)
    click.echo(
        f"imported {report.imported} sessions ({report.created} new, {report.updated} updated), "
        f"rejected {len(report.rejected)} of {report.rows} rows"
        + (f", {len(report.warnings)} warnings" if report.warnings else "")
    )
    if report.rejected:
        sys.exit(1)


def _stderr_is_terminal() -> bool:
    """A progress bar only for a person watching; never in cron mail or a CI log."""
    return sys.stderr.isatty()


def _print_rejected(file: Path, report: ImportReport) -> None:
    for error in report.rejected:
        click.echo(f"{file}:{error.line}: {error.reason}", err=True)
    for warning in report.warnings:
        click.echo(f"{file}:{warning.line}: warning: {warning.reason}", err=True)
