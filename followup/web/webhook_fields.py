"""What a Twilio webhook's fields may hold, checked after the signature and before anything
is stored. Pure.

The signature proves Twilio sent the fields, not that their split is the one Twilio meant:
it signs names and values concatenated, so a field dropped and appended to the MessageSid
(``SMabc...NumMedia0``) keeps it valid and would defeat the MessageSid dedupe. So the SID
must have Twilio's shape (``SM``/``MM`` and 32 hex digits), the account must be ours, and
every other field is bounded: what a patient wrote is kept (control characters removed,
capped), never refused, because a refused reply is a lost reply.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Protocol

#: the largest request body read at all: an inbound SMS with every field is a few kB
MAX_REQUEST_BYTES = 64 * 1024
#: Twilio's longest message body is 1,600 characters; room to spare, then cut
MAX_BODY_CHARS = 2_000
#: Twilio sends at most 10 media per message
MAX_MEDIA = 10
MAX_NUMBER_CHARS = 64

_MESSAGE_SID = re.compile(r"(?:SM|MM)[0-9a-fA-F]{32}")
_ACCOUNT_SID = re.compile(r"AC[0-9a-fA-F]{32}")
_OPT_OUT_TYPES = frozenset({"STOP", "START", "HELP"})
_KEEP = frozenset("\n\t")


class Fields(Protocol):
    def get(self, key: str, default: str | None = None) -> str | None: ...


class BadRequest(ValueError):
    """A field Twilio would never send: 400, and nothing stored."""


class OtherAccount(ValueError):
    """Signed, but for another Twilio account than ours: 403."""


@dataclass(frozen=True)
class InboundFields:
    sid: str
    from_number: str
    to_number: str | None
    messaging_service_sid: str | None
    body: str
    num_media: int
    opt_out_type: str | None


def clean_text(value: str, limit: int) -> str:
    """``value`` without control characters (NUL breaks PostgreSQL text columns; others
    have no place in an SMS), new lines and tabs kept, cut at ``limit`` characters."""
    kept = "".join(
        ch for ch in value if ch in _KEEP or unicodedata.category(ch) not in {"Cc", "Cs"}
    )
    return kept[:limit]


def _count(value: str | None, top: int) -> int:
    """A small count: digits only, clamped to ``0..top`` ("99999999999999999999" -> top)."""
    digits = (value or "").strip()
    if not digits.isdigit():
        return 0
    return min(int(digits[:4]), top)


def inbound_fields(form: Fields, account_sid: str | None) -> InboundFields:
    """The checked fields of an inbound SMS webhook (see the module docstring)."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not _MESSAGE_SID.fullmatch(sid):
        raise BadRequest("MessageSid must be SM or MM and 32 hex digits")
    check_account(form, account_sid)
    sender = clean_text(form.get("From") or "", MAX_NUMBER_CHARS).strip()
    if not sender:
        raise BadRequest("From is required")
    opt_out = (form.get("OptOutType") or "").strip().upper() or None
    return InboundFields(
        sid=sid,
        from_number=sender,
        to_number=clean_text(form.get("To") or "", MAX_NUMBER_CHARS).strip() or None,
        messaging_service_sid=clean_text(form.get("MessagingServiceSid") or "", 34).strip() or None,
        body=clean_text(form.get("Body") or "", MAX_BODY_CHARS),
        num_media=_count(form.get("NumMedia"), MAX_MEDIA),
        opt_out_type=opt_out if opt_out in _OPT_OUT_TYPES else None,
    )


def check_account(form: Fields, account_sid: str | None) -> None:
    """The AccountSid, when sent, has Twilio's shape and, when we know ours, is ours."""
    sent = (form.get("AccountSid") or "").strip()
    if not sent:
        return
    if not _ACCOUNT_SID.fullmatch(sent):
        raise BadRequest("AccountSid must be AC and 32 hex digits")
    if account_sid and sent != account_sid:
        raise OtherAccount("signed for another Twilio account")
