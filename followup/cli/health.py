"""``followup health``: ``/readyz``'s checks from a shell, where no web process answers
(a cron job, a deploy script before the web starts, a person after an outage)."""

from __future__ import annotations

import click

from followup.cli.support import get_runtime
from followup.ops.health import readiness
from followup.spool import Spool


@click.command("health")
@click.pass_context
def health(ctx: click.Context) -> None:
    """Check what /readyz checks: the database answers, its schema is at the migrations'
    head, no reply waits in the spool. One line per check; exits 1 when one fails."""
    rt = get_runtime(ctx, need_schema=False)  # a schema behind head is a check's answer here
    checks = readiness(rt.engine, Spool(rt.settings.spool_dir))
    for check in checks:
        click.echo(f"{check.name}: {'ok' if check.ok else 'FAILED'} ({check.detail})")
    if not all(c.ok for c in checks):
        ctx.exit(1)
