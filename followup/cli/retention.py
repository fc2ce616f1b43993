"""``followup retention run``: clear the patients' words older than each clinic's retention
period now, rather than waiting for the worker's daily run (:mod:`followup.retention`).
Registered by :mod:`followup.cli`.

Operators run it after lowering a clinic's period, or with ``--dry-run`` to see what the
next run will clear before it does. The counts are printed; never a word of the texts.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from followup.cli.support import fail, get_runtime, parse_now


@click.group()
def retention() -> None:
    """Retention of the patients' words (text bodies, reply texts)."""


@retention.command("run")
@click.option("--clinic", "slug", metavar="SLUG", help="Only this clinic.")
@click.option("--dry-run", is_flag=True, help="Count what would be cleared; write nothing.")
@click.option("--now", "now_text", metavar="ISO8601", help="Run as at this instant (UTC).")
@click.pass_context
def retention_run(
    ctx: click.Context, slug: str | None, dry_run: bool, now_text: str | None
) -> None:
    """Clear the text bodies and reply texts older than each clinic's retention period
    (``clinics set-retention``), except those of patients with a flag not yet closed. Each
    clinic's run is audited as retention.purge."""
    from followup.access.audit import CLI
    from followup.retention import RetentionError, purge

    rt = get_runtime(ctx)
    now = parse_now(now_text) or datetime.now(UTC)
    try:
        report = purge(rt.sessions, now, actor=CLI, slug=slug, dry_run=dry_run)
    except RetentionError as exc:
        fail(f"retention run: {exc}")
    for done in report.clinics:
        click.echo(done.line(dry=dry_run))
    if dry_run:
        click.echo("dry run: nothing was changed")
