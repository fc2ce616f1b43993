"""``followup classify``: how the reply reader sees a patient's SMS, without a database.

Why here: clinic staff and developers need to check a wording ("does 'me cuesta respirar'
escalate?") or replay a batch of real replies before trusting a change to
:mod:`followup.inbound.reading`. Registered in ``followup/cli.py``.
"""

from __future__ import annotations

import json
import sys

import click

from followup.cli.support import json_string_lines
from followup.inbound.reading import ReplyContext, classify


def _result_json(text: str, context: ReplyContext) -> str:
    result = classify(text, context).to_json()
    result["text"] = text
    return json.dumps(result, ensure_ascii=False, separators=(",", ":"))


@click.command("classify")
@click.argument("text", required=False)
@click.option("--locale", default=None, help="the patient's locale, e.g. en or es-MX")
@click.option(
    "--step", "last_step", default=None, help="the check-in being answered, e.g. checkin_72h"
)
def classify_command(text: str | None, locale: str | None, last_step: str | None) -> None:
    """Classify TEXT as a reply: kind, urgency, score, 72 h worry, matched and negated terms.

    Without TEXT, reads standard input: one JSON string per line (e.g. "my chest hurts"),
    prints one JSON object per line, in order. Blank lines are skipped. A line that is not a
    JSON string prints {"error": ...} in its place (so output lines still match input lines)
    and the command exits 1 at the end.
    """
    context = ReplyContext(locale=locale, last_step=last_step)
    if text is not None:
        click.echo(_result_json(text, context))
        return
    failed = False
    for number, value, why in json_string_lines(sys.stdin):
        if value is None:
            error = {"error": f"line {number}: {why}"}
            click.echo(json.dumps(error, ensure_ascii=False, separators=(",", ":")))
            failed = True
            continue
        click.echo(_result_json(value, context))
    if failed:
        sys.exit(1)
