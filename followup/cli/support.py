"""What every command shares: the runtime, the schema check, failing with exit code 1,
logging, the ``--now`` clock and reading JSON-lines input.

Kept apart from ``main.py`` so the command modules beside it can use it without importing
the command group that registers them.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import NoReturn

import click

from followup import log_privacy
from followup.config import ConfigError
from followup.runtime import Runtime


def fail(message: str) -> NoReturn:
    """Print a user-fixable error on stderr and exit 1."""
    click.echo(message, err=True)
    sys.exit(1)


def get_runtime(ctx: click.Context, *, need_schema: bool = True) -> Runtime:
    """The runtime of this invocation, built on first use, so commands without a database
    (``segments``, ``templates check``) never need one.

    A bad setting exits 1 naming the variable; so does a database whose schema is not the
    one this code was written for (``need_schema``), with the command that fixes it.
    """
    root = ctx.find_root()
    if root.obj is None:
        try:
            root.obj = Runtime.from_env()
        except ConfigError as exc:
            fail(f"configuration error: {exc}")
        root.call_on_close(root.obj.close)
    runtime: Runtime = root.obj
    if need_schema and not root.meta.get("followup.schema_checked"):
        from followup.store.engine import current_revision, head_revision

        current = current_revision(runtime.engine)
        head = head_revision(runtime.settings.database_url)
        if current != head:
            fail(
                f"database schema is at {current or 'nothing'}, code needs {head}: "
                "run `followup db upgrade`"
            )
        root.meta["followup.schema_checked"] = True
    return runtime


def json_string_lines(stream: Iterable[str]) -> Iterator[tuple[int, str | None, str]]:
    """``(line number, value, why)`` for each non-blank line of a JSON-lines input whose lines
    should be JSON strings; ``value`` is None (and ``why`` says why) for a line that is not.
    The commands that read texts from stdin (``segments``, ``classify``) share this."""
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, None, f"not JSON ({exc.msg})"
            continue
        if isinstance(value, str):
            yield number, value, ""
        else:
            yield number, None, f"expected a JSON string, got {type(value).__name__}"


def parse_now(value: str | None) -> datetime | None:
    """``--now``: ISO 8601; without an offset it means UTC."""
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"expected ISO 8601 such as 2026-03-09T14:00:00-05:00, got {value!r}"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


#: how log lines are written (``FOLLOWUP_LOG_FORMAT``): for people, or JSON lines
LOG_FORMATS = ("text", "json")


def setup_logging(verbose: bool) -> None:
    log_privacy.install()  # no patient's number in any line, tracebacks included
    kind = os.environ.get("FOLLOWUP_LOG_FORMAT", "text").strip().lower() or "text"
    if kind not in LOG_FORMATS:
        fail(f"FOLLOWUP_LOG_FORMAT: {kind!r} is not one of {', '.join(LOG_FORMATS)}")
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if kind == "json":
        for handler in logging.getLogger().handlers:
            handler.setFormatter(log_privacy.JsonLines())
    if not verbose:
        # every tick and every schema check would otherwise fill the log; a tick that runs
        # longer than the interval is normal here (the next one is skipped, by design)
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("apscheduler").setLevel(logging.ERROR)
        # the SDK logs every request's URL and headers at INFO
        logging.getLogger("twilio").setLevel(logging.WARNING)
        # Apprise logs every notification it sends
        logging.getLogger("apprise").setLevel(logging.WARNING)
