"""``followup templates check`` and ``followup segments``: the message texts, without a database.

Why here: clinic staff edit ``messages/`` by hand, and a text that turns into UCS-2 or spills
into a second segment costs money and breaks the one-message rule silently. These commands
make that visible before a patient gets the text. Registered in ``followup/cli.py``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from followup.cli.support import json_string_lines
from followup.texts.check import count_templates, lint
from followup.texts.segments import analyze


def _default_dir() -> Path:
    from followup.config import ConfigError, load_settings

    try:
        return load_settings().messages_dir
    except ConfigError as exc:
        click.echo(f"configuration error: {exc}", err=True)
        sys.exit(1)


@click.group("templates")
def templates() -> None:
    """The message texts in messages/<locale>/<key>.txt."""


@templates.command("check")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    help="Messages folder (default: FOLLOWUP_MESSAGES_DIR or messages/).",
)
def check(directory: Path | None) -> None:
    """Check every text: syntax, placeholders, GSM-7, one segment, STOP/HELP, wording.

    Prints one line per problem and exits 1 if there is any.
    """
    directory = directory or _default_dir()
    problems = lint(directory)
    for problem in problems:
        click.echo(f"{problem.path}: {problem.reason}")
    if problems:
        files = len({p.path for p in problems})
        noun = "problem" if len(problems) == 1 else "problems"
        click.echo(f"templates not ok: {len(problems)} {noun} in {files} file(s)")
        sys.exit(1)
    count, locales = count_templates(directory)
    click.echo(f"templates ok: {count} templates in {locales} locales")


def _info_json(text: str) -> str:
    info = analyze(text)
    return json.dumps(
        {"encoding": info.encoding, "segments": info.segments, "characters": info.characters}
    )


@click.command("segments")
@click.argument("text", required=False)
def segments(text: str | None) -> None:
    """Encoding, segments and characters of TEXT as Twilio counts them.

    Without TEXT, reads standard input: one JSON string per line (e.g. "hello"), prints one
    JSON object per line. Blank lines are skipped; a line that is not a JSON string is
    reported on stderr with its number and the command exits 1 at the end.
    """
    if text is not None:
        click.echo(_info_json(text))
        return
    failed = False
    for number, value, why in json_string_lines(sys.stdin):
        if value is None:
            click.echo(f"line {number}: {why}", err=True)
            failed = True
            continue
        click.echo(_info_json(value))
    if failed:
        sys.exit(1)
