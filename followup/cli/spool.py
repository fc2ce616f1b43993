"""``followup spool``: what the inbound spool holds, and filing it by hand.

Why a command: after an outage someone wants to know whether replies are still waiting
(and how old the oldest is) without reading files that hold patients' words, and to file
them now rather than at the next tick. It prints counts and times only.
"""

from __future__ import annotations

import click

from followup.cli.support import fail, get_runtime
from followup.spool import BadFile, Spool, SpooledReply


def _oldest(spool: Spool) -> str | None:
    """When the oldest waiting reply arrived (UTC), if one can be read."""
    for path in spool.waiting():
        try:
            return SpooledReply.from_json(path.read_bytes()).received_at.isoformat()
        except (OSError, BadFile):
            continue
    return None


@click.command("spool")
@click.option("--drain", "drain_now", is_flag=True, help="file the waiting replies now, once")
@click.pass_context
def spool(ctx: click.Context, drain_now: bool) -> None:
    """Replies kept in FOLLOWUP_SPOOL_DIR while the database was out of reach: how many
    wait, since when, and how many were set aside as unreadable (*.bad, for a person).
    With --drain, file them through the normal reply handling (flags and staff alerts
    included); exits 1 when the database could not take them all."""
    rt = get_runtime(ctx, need_schema=drain_now)
    box = Spool(rt.settings.spool_dir)
    if drain_now:
        from followup.inbound.drain import drain
        from followup.inbound.receive import senders_of

        report = drain(box, rt.engine, rt.catalogue, senders=senders_of(rt.settings))
        click.echo(
            f"filed {report.filed}, already stored {report.duplicates}, set aside "
            f"{report.set_aside}, left {report.left}; {report.alerts} staff alerts queued"
        )
        if report.left:
            fail("the database could not take every reply: they wait for the next drain")
        return
    waiting = box.waiting()
    oldest = _oldest(box)
    click.echo(
        f"{box.directory}: {len(waiting)} waiting"
        + (f", oldest arrived {oldest}" if oldest else "")
        + f"; {len(box.set_aside_files())} set aside"
    )
