"""What to do about a reply: a pure function from its classification and context to actions.

:func:`followup.inbound.reading.classify` says what a reply *is*; this module decides what followup
*does* (clinical.md section 3): which flag staff get, which template answers the patient,
and whether the patient opts out or in. No I/O here, so every rule is a table test.

Decisions worth knowing:

- Twilio answers its own default keywords (STOP, START, HELP...), so we stay silent for those
  and answer only other wording ("stop texting me", "ayuda"), once.
- A score raises a call-back flag when it is 7 or more, higher than the patient's last score,
  or 4 or more at the 72 h check-in; or when the 72 h "worry" number is 1. Otherwise a thanks.
- A score that comes with more words than a score needs goes to a person too (a review
  flag) besides the thanks: the reader is sure of the number, not of the rest.
- A red-flag term the patient negated ("no chest pain") never triggers the safety reply (that
  would tell a patient without symptoms to call 911), but it is not ignored either: the reply
  gets a "review" flag so a person reads it.
- Free text goes to the staff inbox as a "review" flag, and every such reply is answered: no
  reply is ever met with silence, since the patient cannot tell silence from "nobody got
  it", and every answer carries the emergency number. What is rate-limited is the wording:
  the full "staff will read your message" (with the clinic's number) at most once a day,
  later ones a short acknowledgement (``reply_received_again``), so a chatty patient is not
  sent the same paragraph every time.
- "Wrong number" stops every text to that number at once (the patient's name, the clinic and
  an appointment time would keep going to a stranger) and flags staff to correct it; a
  reimport with a new number clears it.
- A reply from a number we do not know is still filed and flagged; safety replies still go out
  when we know which clinic was texted (its emergency number), since someone wrote to us
  about an emergency.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from followup.inbound.reading import Classification
from followup.store.statuses import FlagKind, ReplyKind

K, F = ReplyKind, FlagKind

HIGH_SCORE = 7
#: at 72 h soreness should be easing; this much still is worth a call (clinical.md section 3)
LATE_SCORE = 4
LATE_STEP = "checkin_72h"
#: the answer to free text: the full one, then (within a day of it) the short one
ACK, ACK_AGAIN = "reply_received", "reply_received_again"


@dataclass(frozen=True)
class TriageContext:
    """What the reply is read against, gathered by the caller from the database."""

    #: template key of the check-in being answered ("checkin_24h", "checkin_72h") or None
    last_step: str | None = None
    #: the patient's previous soreness score, if any
    previous_score: int | None = None
    #: we already told this patient "staff will read your message" within the last day: a
    #: later free-text reply gets the short acknowledgement instead
    acknowledged_recently: bool = False
    #: the sender is a known patient
    known_patient: bool = True


class ConsentChange(StrEnum):
    """What a reply does to the patient's consent: an opt-out, or an opt-in (consent given by
    the patient themselves). Not stored as such: :mod:`followup.consent` records either."""

    OUT = "out"
    IN = "in"
    #: someone who is not the patient has this number: no more texts to it
    WRONG_NUMBER = "wrong_number"


@dataclass(frozen=True)
class Actions:
    flag: FlagKind | None = None
    #: staff words, never the patient's own text: "red flag: chest pain", "score 8 (7+)"
    flag_reason: str | None = None
    reply_key: str | None = None  # a template in messages/<locale>/
    consent: ConsentChange | None = None


def _flag_terms(c: Classification) -> str:
    return ", ".join(c.matched) or str(c.kind)


def _score_reasons(c: Classification, ctx: TriageContext) -> list[str]:
    reasons = []
    score = c.score
    assert score is not None
    if score >= HIGH_SCORE:
        reasons.append(f"score {score} ({HIGH_SCORE}+)")
    elif ctx.previous_score is not None and score > ctx.previous_score:
        reasons.append(f"score {score}, up from {ctx.previous_score}")
    elif ctx.last_step == LATE_STEP and score >= LATE_SCORE:
        reasons.append(f"score {score} at 72 h ({LATE_SCORE}+)")
    if c.worry:
        reasons.append("bruise or bleeding worries the patient")
    return reasons


def decide(c: Classification, ctx: TriageContext = TriageContext()) -> Actions:
    """The actions for reply ``c`` in context ``ctx`` (see the module docstring)."""
    if c.kind == K.EMERGENCY:
        return Actions(F.EMERGENCY, f"red flag: {_flag_terms(c)}", "reply_emergency")
    if c.kind == K.CLINIC_TODAY:
        return Actions(
            F.CLINIC_TODAY, f"needs the clinic today: {_flag_terms(c)}", "reply_clinic_today"
        )
    if c.kind == K.OPT_OUT:
        return Actions(
            reply_key=None if c.twilio_keyword else "reply_opt_out", consent=ConsentChange.OUT
        )
    if c.kind == K.OPT_IN:
        return Actions(
            reply_key=None if c.twilio_keyword else "reply_opt_in", consent=ConsentChange.IN
        )
    if c.kind == K.HELP:
        return Actions(reply_key=None if c.twilio_keyword else "reply_help")
    if c.kind == K.WRONG_NUMBER:
        # texts carrying a patient's name, clinic and appointment must stop at once
        return Actions(
            F.REVIEW,
            "says this is the wrong number: texts to it stopped; please check the number",
            "reply_wrong_number",
            consent=ConsentChange.WRONG_NUMBER,
        )
    negated = f"mentions {', '.join(c.negated)} (negated): please read" if c.negated else None
    if c.kind == K.SCORE and c.score is not None:
        reasons = _score_reasons(c, ctx)
        if reasons:
            return Actions(
                F.CALLBACK, "; ".join([*reasons, *filter(None, [negated])]), "reply_callback"
            )
        if negated:
            return Actions(F.REVIEW, negated, "reply_thanks")
        if c.urgency == "review":  # a score and more words: a person reads the rest
            return Actions(F.REVIEW, f"score {c.score} and more: please read", "reply_thanks")
        return Actions(reply_key="reply_thanks")
    # free text, photos, anything unclear: a person reads it
    reason = negated or ("reply from an unknown number" if not ctx.known_patient else "free text")
    return Actions(F.REVIEW, reason, ACK_AGAIN if ctx.acknowledged_recently else ACK)
