"""The ``followup`` command. Exit codes: 0 success, 1 input rejected or an operation failed,
2 usage error (click's own).

Commands are thin: they parse options, build a :class:`~followup.runtime.Runtime` and call
the package that does the work. Commands for one area live beside this file and are
registered at the bottom of it; what they share is in ``support.py``.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from followup.cli.access import audit_log, keys, users
from followup.cli.clinics import clinics_set_escalation, clinics_set_hours, clinics_set_retention
from followup.cli.fhir import import_fhir_command
from followup.cli.health import health
from followup.cli.messages import segments, templates
from followup.cli.replies import classify_command
from followup.cli.retention import retention
from followup.cli.sessions import clinics_add, clinics_list, import_sessions
from followup.cli.spool import spool
from followup.cli.staff import alerts, clinics_set_alerts, flags, replies, web, web_options
from followup.cli.support import fail, get_runtime, parse_now, setup_logging
from followup.config import ConfigError
from followup.store.statuses import MessageStatus, values

if TYPE_CHECKING:
    from followup.worker import Worker


@click.group()
@click.version_option(package_name="followup")
def main() -> None:
    """Aftercare text messages for clinics: plan, send, listen."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Apply the migrations in migrations/ to FOLLOWUP_DATABASE_URL. Only forward: a
    revision older than the database's is refused (nothing here goes down)."""
    from alembic.util import CommandError

    from followup.store.engine import current_revision, head_revision, upgrade

    rt = get_runtime(ctx, need_schema=False)
    url = rt.settings.database_url
    try:
        upgrade(url, revision)
    except CommandError as exc:
        fail(f"cannot upgrade: {exc} (migrations known: up to {head_revision(url)})")
    now = current_revision(rt.engine)
    wanted = head_revision(url) if revision == "head" else revision
    if now != wanted:
        fail(f"the database is at {now}, past {revision}: db upgrade only goes forward")
    click.echo(f"database at {now}")


@main.group()
def clinics() -> None:
    """Clinics: add them, list them, set their care plan, alerts, hours and escalations."""


def _start_worker(ctx: click.Context) -> Worker:
    """The worker, with every template and the reply lexicon loaded (and so checked): a
    mistake stops the command here, naming the file; then a warning per clinic that cannot
    text its patients because nobody could be alerted."""
    from followup import log_privacy
    from followup.inbound.reading import LexiconError
    from followup.texts.catalogue import TemplateError
    from followup.worker import Worker

    log_privacy.install()  # whatever the worker logs, tracebacks included, names no patient
    try:
        worker = Worker(get_runtime(ctx))
    except (ConfigError, TemplateError, LexiconError) as exc:
        fail(f"cannot start: {exc}")
    _warn_silent_clinics(worker)
    return worker


@main.command("send-due")
@click.option("--once", is_flag=True, required=True, help="Plan and send what is due, then exit.")
@click.option("--now", "now_text", metavar="ISO8601", help="The clock for this run (default: now).")
@click.pass_context
def send_due(ctx: click.Context, once: bool, now_text: str | None) -> None:
    """Plan every completed session and send everything due at NOW, then exit.

    --now lets staff and tests see what goes out when: the run's clock starts there (due
    checks, quiet hours, caps, sent_at, events) and runs on from it. SIGTERM or Ctrl-C stops
    the run cleanly: sends in flight finish, texts claimed but not sent are released.
    """
    now = parse_now(now_text) or datetime.now(UTC)
    worker = _start_worker(ctx)
    worker.stop_on_signals()
    try:
        report = worker.tick(now)
    finally:
        worker.close()
    click.echo(f"{now.isoformat()}: {report.summary()}")
    if report.dispatch.failed:
        sys.exit(1)


@main.command("run")
@click.option("-v", "--verbose", is_flag=True)
@web_options
@click.option("--no-web", is_flag=True, help="Only the worker (the web app runs elsewhere).")
@click.pass_context
def run(ctx: click.Context, verbose: bool, host: str, port: int, no_web: bool) -> None:
    """Run the worker (plan and send every few seconds) and serve the web app beside it,
    until SIGTERM or Ctrl-C."""
    if no_web:
        _run_worker(ctx, verbose)
        return
    setup_logging(verbose)
    rt = get_runtime(ctx)
    worker = _start_worker(ctx)
    from followup.web.server import serve_app

    # the web app shares this worker's alert sender and template catalogue
    worker.run(serve=lambda: serve_app(rt, host, port, alerts=worker.alerts))


@main.command("worker")
@click.option("-v", "--verbose", is_flag=True)
@click.pass_context
def worker_command(ctx: click.Context, verbose: bool) -> None:
    """Run the worker alone (plan and send every few seconds, file spooled replies, send
    staff alerts), no web app, until SIGTERM or Ctrl-C: beside ``followup web`` processes,
    as many workers as you like on one PostgreSQL database (their claims never overlap).
    SIGTERM stops it cleanly: sends in flight finish, texts claimed but not sent are
    released for the other workers."""
    _run_worker(ctx, verbose)


def _run_worker(ctx: click.Context, verbose: bool) -> None:
    """``followup worker`` and ``followup run --no-web``: one worker, ticking until a signal."""
    setup_logging(verbose)
    _start_worker(ctx).run()


def _warn_silent_clinics(worker) -> None:
    """At every start: name each clinic whose texts wait for a staff alert destination."""
    for line in worker.silent_clinics():
        click.echo(f"warning: {line}", err=True)


@main.command("outbox")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.option(
    "--status", type=click.Choice(values(MessageStatus)), help="Only texts in this state."
)
@click.option("--clinic", "clinic_slug", help="Only this clinic (slug).")
@click.option("--limit", type=click.IntRange(min=1), default=None)
@click.pass_context
def outbox(
    ctx: click.Context,
    as_json: bool,
    status: str | None,
    clinic_slug: str | None,
    limit: int | None,
) -> None:
    """List texts in the outbox with their state, and why they were skipped or failed."""
    from followup.staff.reports import outbox_rows, unplannable_sessions

    rt = get_runtime(ctx)
    with rt.sessions() as db:
        rows = outbox_rows(db, status=status, clinic_slug=clinic_slug, limit=limit)
        for row in rows:
            if as_json:
                click.echo(json.dumps(row, ensure_ascii=False))
            else:
                click.echo(
                    f"{row['send_at'][:16].replace('T', ' ')}Z  {row['status']:11} "
                    f"{row['clinic']}/{row['session_id']}"
                    f"/{row['step']:12} attempts={row['attempts']}"
                    + (f"  {row['reason']}" if row["reason"] else "")
                )
        count, aside = unplannable_sessions(db, clinic_slug=clinic_slug)
    # sessions the planner set aside have no texts to list: say so, never stay silent
    if count and not as_json:
        click.echo(f"{count} sessions could not be planned (fix the row and write it again):")
    for row in aside:
        if as_json:
            click.echo(json.dumps({**row, "status": "unplannable"}, ensure_ascii=False))
        else:
            click.echo(f"  {row['clinic']}/{row['session_id']}  {row['error']}")


@main.command("demo")
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Create a demo clinic, patients and today's sessions (idempotent)."""
    from followup.cli.demo import demo_account, demo_replies
    from followup.intake.demo import create_demo

    rt = get_runtime(ctx)
    now = datetime.now(UTC)
    lines = create_demo(rt.sessions, now)
    run_hint = lines.pop() if lines and lines[-1].startswith("now run") else None
    lines += demo_replies(rt, now) + demo_account(rt, now)
    for line in lines:
        click.echo(line)
    if run_hint:
        click.echo(f"{run_hint}; the dashboard is then at http://127.0.0.1:8000/")


@clinics.command("set-plan")
@click.argument("slug")
@click.argument("plan_file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_context
def clinics_set_plan(ctx: click.Context, slug: str, plan_file: Path) -> None:
    """Replace a clinic's care plan with PLAN_FILE (.toml or .json); 'default' resets it."""
    from followup.intake.clinics import ClinicError, plan_template_problems, set_care_plan
    from followup.outbound.careplan import CarePlanError, load_plan_file, plan_to_data
    from followup.store.engine import transaction
    from followup.texts.catalogue import Catalogue, TemplateError

    rt = get_runtime(ctx)
    data = None
    if str(plan_file) != "default":
        try:
            plan = load_plan_file(plan_file)
            catalogue = Catalogue.load(rt.settings.messages_dir)
        except (CarePlanError, TemplateError) as exc:
            fail(str(exc))
        problems = plan_template_problems(plan, catalogue, str(plan_file))
        if problems:
            fail(problems[0])
        data = plan_to_data(plan)
    try:
        with transaction(rt.sessions) as db:
            set_care_plan(db, slug, data)
    except ClinicError:
        fail(f"no clinic with slug {slug!r}")
    click.echo(
        f"{slug}: care plan {'reset to default' if data is None else f'set from {plan_file}'}"
    )


clinics.add_command(clinics_add)
clinics.add_command(clinics_list)
clinics.add_command(clinics_set_alerts)
clinics.add_command(clinics_set_hours)
clinics.add_command(clinics_set_escalation)
clinics.add_command(clinics_set_retention)
main.add_command(web)
main.add_command(flags)
main.add_command(alerts)
main.add_command(replies)
main.add_command(classify_command)
main.add_command(import_sessions)
main.add_command(import_fhir_command)
main.add_command(templates)
main.add_command(segments)
main.add_command(spool)
main.add_command(retention)
main.add_command(health)


if __name__ == "__main__":
    main()
main.add_command(users)
main.add_command(keys)
main.add_command(audit_log)
