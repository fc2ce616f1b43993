"""No patient's number in any log line, tracebacks included.

Log statements of our own never name a patient's number or words (they use masked numbers
and ids); what they cannot control is what an exception says. So every log record, of any
logger, is rewritten when it is made: digit runs that look like a phone number become
``[number]`` in the message and its arguments, and a traceback keeps its frames but not the
exception's message, which may quote what a patient wrote. SQL errors carry
no parameters at all (``hide_parameters`` in :func:`followup.store.engine.make_engine`), so
a failed INSERT of a reply does not print its body.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from datetime import UTC, datetime
from typing import Any

#: seven or more digits, maybe with a leading + and the usual separators: a phone number
PHONE_LIKE = re.compile(r"\+?\d(?:[\s().-]*\d){6,}")
MASK = "[number]"
_installed = False


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}(?::\d{2})*)?")


#: a Twilio SID (two capitals, 32 hex digits: SM..., AC..., MG...) or the console gateway's
#: stand-in (CONSOLE and 32 hex digits): not a number, and the one thing an operator greps
#: the logs for, so it stays whole
TWILIO_SID = re.compile(r"\b(?:[A-Z]{2}|CONSOLE)[0-9a-fA-F]{32}\b")
_SID_OR_PHONE = re.compile(f"(?P<sid>{TWILIO_SID.pattern})|{PHONE_LIKE.pattern}")


def _mask(m: re.Match[str]) -> str:
    # dates and times ("2026-03-10", "2026-03-10 15:30") and SIDs stay: logs need them
    return m.group() if m.group("sid") or _DATE.fullmatch(m.group()) else MASK


def scrub(text: str) -> str:
    """``text`` with everything that looks like a phone number masked (SIDs and dates
    kept)."""
    return _SID_OR_PHONE.sub(_mask, text)


def _scrubbed(value: Any) -> Any:
    return scrub(value) if isinstance(value, str) else value


def withheld_traceback(kind: type[BaseException], error: BaseException, tb: Any) -> str:
    """Where it failed (every frame: file, line, function), not what it said: an exception's
    message may quote a patient's words ("invalid byte in 'I cant breathe'"), and no pattern
    can tell words apart. The type stays, and what follows it is replaced."""
    frames = "".join(
        f'  File "{f.filename}", line {f.lineno}, in {f.name}\n' for f in traceback.extract_tb(tb)
    )
    name = f"{kind.__module__}.{kind.__qualname__}"
    return scrub(f"Traceback (most recent call last):\n{frames}{name}: [message withheld]")


def install() -> None:
    """Rewrite every log record from now on (idempotent). Called where logging is set up."""
    global _installed
    if _installed:
        return
    make = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep what can be kept
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        if record.exc_info and record.exc_info[0] is not None:
            record.exc_text = withheld_traceback(*record.exc_info)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = scrub(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True


class JsonLines(logging.Formatter):
    """One JSON object a line (``FOLLOWUP_LOG_FORMAT=json``), for a log collector: time
    (UTC, ISO 8601), level, logger, message and, for an error, its withheld traceback. The
    record was already rewritten by :func:`install`, so a number is masked here as in the
    text format; nothing else of the record (its arguments, extra fields) is written."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            line["traceback"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)
