"""Commands for the web app and for staff: ``web``, ``flags``, ``alerts``, ``replies`` and
``clinics set-alerts``. Registered by :mod:`followup.cli`.

The dashboard (a later issue) shows the same things; these let a clinic run followup and act
on flags today, and let operators see failed alerts from a shell.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import click

from followup.cli.support import fail, get_runtime, setup_logging
from followup.store.statuses import AlertStatus, FlagStatus, values

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def web_options(fn):
    """``--host`` and ``--port``, defaulting to FOLLOWUP_HOST / FOLLOWUP_PORT."""
    fn = click.option(
        "--port",
        type=click.IntRange(0, 65535),
        default=lambda: int(os.environ.get("FOLLOWUP_PORT") or DEFAULT_PORT),
        show_default=f"FOLLOWUP_PORT or {DEFAULT_PORT}",
    )(fn)
    return click.option(
        "--host",
        default=lambda: os.environ.get("FOLLOWUP_HOST") or DEFAULT_HOST,
        show_default=f"FOLLOWUP_HOST or {DEFAULT_HOST}",
        help="Address to listen on (0.0.0.0 for all interfaces, e.g. in a container).",
    )(fn)


@click.command("web")
@web_options
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def web(ctx: click.Context, host: str, port: int, verbose: bool) -> None:
    """Serve the web app alone (Twilio webhooks); staff alerts are sent from here too."""
    from followup.config import ConfigError
    from followup.inbound.reading import LexiconError
    from followup.texts.catalogue import TemplateError
    from followup.web.server import serve_app

    setup_logging(verbose)
    rt = get_runtime(ctx)
    try:
        serve_app(rt, host, port)
    except (ConfigError, TemplateError, LexiconError) as exc:
        fail(f"cannot start: {exc}")


@click.group("flags", invoke_without_command=True)
@click.option(
    "--status",
    type=click.Choice(values(FlagStatus)),
    default=FlagStatus.OPEN.value,
    show_default=True,
)
@click.option("--clinic", "clinic_slug", help="Only this clinic (slug).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def flags(ctx: click.Context, status: str, clinic_slug: str | None, as_json: bool) -> None:
    """Replies staff must act on (open by default), newest first. No message text is shown:
    open the reply with ``followup replies`` when you need it."""
    if ctx.invoked_subcommand:
        return
    from followup.staff.reports import flag_rows

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        rows = flag_rows(db, status=status, clinic_slug=clinic_slug)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            who = f"{row['clinic'] or '?'}/{row['patient'] or 'unknown number'}"
            click.echo(
                f"#{row['id']:<6} {row['created_at'][:16]}Z  {row['kind']:12} {who}  "
                f"{row['reason']}"
            )


@flags.command("ack")
@click.argument("flag_id", type=int)
@click.option("--by", "by", required=True, help="Who acknowledges it (name or initials).")
@click.pass_context
def flags_ack(ctx: click.Context, flag_id: int, by: str) -> None:
    """Acknowledge an open flag: someone has it in hand."""
    from followup.inbound.receive import acknowledge_flag
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    with transaction(rt.sessions) as db:
        done = acknowledge_flag(db, flag_id, by=by, now=datetime.now(UTC))
    if not done:
        fail(f"flag {flag_id}: no open flag with that id")
    click.echo(f"flag {flag_id} acknowledged by {by}")


@click.command("alerts")
@click.option("--status", type=click.Choice(values(AlertStatus)))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def alerts(ctx: click.Context, status: str | None, as_json: bool) -> None:
    """Staff alerts and how their delivery went (failed ones keep their last error)."""
    from followup.staff.reports import alert_rows

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        rows = alert_rows(db, status=status)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            click.echo(
                f"#{row['id']:<6} flag {row['flag_id']:<6} {row['channel']:7} "
                f"{row['destination']:30} {row['status']:8} attempts={row['attempts']}"
                + (f"  {row['last_error']}" if row["last_error"] else "")
            )


@click.command("replies")
@click.option("--clinic", "clinic_slug", help="Only this clinic (slug).")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def replies(ctx: click.Context, clinic_slug: str | None, limit: int, as_json: bool) -> None:
    """Texts patients sent, newest first, with how each was read and what we answered."""
    from followup.staff.reports import reply_rows

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        rows = reply_rows(db, clinic_slug=clinic_slug, limit=limit)
    for row in rows:
        if as_json:
            click.echo(json.dumps(row, ensure_ascii=False))
        else:
            who = f"{row['clinic'] or '?'}/{row['patient'] or row['from']}"
            click.echo(
                f"#{row['id']:<6} {row['received_at'][:16]}Z  {row['kind']:12} {who}: "
                f"{row['body']!r}"
            )


@click.command("set-alerts")
@click.argument("slug")
@click.option("--oncall-phone", help="Number texted for each alert (the clinic's country format).")
@click.option(
    "--alert-url",
    "alert_urls",
    multiple=True,
    help="Apprise URL (mailto://, slack://, msteams://, json://...); repeatable.",
)
@click.pass_context
def clinics_set_alerts(
    ctx: click.Context, slug: str, oncall_phone: str | None, alert_urls: tuple[str, ...]
) -> None:
    """Set where a clinic's staff alerts go (replaces the current destinations). None given
    turns alerts off, and then the clinic's patients get no texts (they wait in the outbox)
    until a destination is set again: flags still show in ``followup flags``."""
    from followup.intake.clinics import ClinicError, no_destination_warning, set_alert_destinations
    from followup.store.engine import transaction

    rt = get_runtime(ctx)
    try:
        with transaction(rt.sessions) as db:
            clinic = set_alert_destinations(
                db, slug, oncall_phone=oncall_phone, alert_urls=list(alert_urls)
            )
            phone, urls = clinic.oncall_phone, len(clinic.alert_urls or [])
            warning = no_destination_warning(clinic)
    except ClinicError as exc:
        fail(f"clinics set-alerts: {exc}")
    if warning:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"{slug}: alerts to {phone or 'no on-call phone'} and {urls} Apprise URL(s)")
