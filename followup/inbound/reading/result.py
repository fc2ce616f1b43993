"""What the reader returns: the kinds of reply, their urgency, and the question's context."""

from __future__ import annotations

from dataclasses import dataclass

KINDS = (
    "opt_out", "opt_in", "help", "emergency", "clinic_today", "score", "wrong_number", "text",
)  # fmt: skip
URGENCY = {"emergency": "emergency", "clinic_today": "today"}  # others: "none" or "review"
#: kinds a person must read, though not urgently
REVIEW = frozenset({"text", "wrong_number"})


@dataclass(frozen=True)
class ReplyContext:
    """What we know about the message being answered."""

    locale: str | None = None  # patient's locale: "en", "es", "es-MX" ... (None: both)
    last_step: str | None = None  # "checkin_24h", "checkin_72h", or None
    #: the first names on file for this number, to hear "I'm not Ana" as a wrong number
    first_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Classification:
    """What a reply means. See :mod:`followup.inbound.reading.classify` for each field."""

    kind: str
    urgency: str
    score: int | None
    worry: bool | None
    matched: tuple[str, ...]
    negated: tuple[str, ...]
    twilio_keyword: bool

    def to_json(self) -> dict:
        """A plain dict for JSON (tuples become lists)."""
        return {
            "kind": self.kind,
            "urgency": self.urgency,
            "score": self.score,
            "worry": self.worry,
            "matched": list(self.matched),
            "negated": list(self.negated),
            "twilio_keyword": self.twilio_keyword,
        }


def make(
    kind: str,
    score: int | None = None,
    worry: bool | None = None,
    matched: tuple[str, ...] = (),
    negated: tuple[str, ...] = (),
    twilio: bool = False,
) -> Classification:
    """A classification with the urgency its kind implies: ``text`` is for review."""
    if kind in URGENCY:
        urgency = URGENCY[kind]
    elif kind in REVIEW:
        urgency = "review"
    else:
        urgency = "none"
    return Classification(kind, urgency, score, worry, matched, negated, twilio)
