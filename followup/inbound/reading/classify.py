"""Read a patient's SMS reply: keyword, red flag, soreness score, or free text.

Pure: no I/O, no database, no clock. The caller decides what to do with a
:class:`Classification` (reply, flag to staff, record an opt-out); this module only reads.
The words come from the lexicon (:mod:`.lexicon`, files in ``lexicon/``); the labelled
corpus in ``tests/inbound/data/replies_corpus.tsv`` is the yardstick.

Order of the decision, and why
------------------------------
1. Empty text (a photo with no body, whitespace, emoji only) is ``text``: a person looks at it.
2. The whole message is one of Twilio's default keywords (any case, surrounding whitespace
   and punctuation ignored: ``"Stop!!"``, ``" yes "``, full-width ``"ＳＴＯＰ"``):
   STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT -> ``opt_out``; START, YES,
   UNSTOP -> ``opt_in``; HELP, INFO -> ``help``. ``twilio_keyword`` is True only for the bare
   word (any case, surrounding whitespace ignored), the form Twilio answers itself; for
   ``"Stop!!"`` we cannot be sure Twilio answered, so the caller confirms it. A single word
   can never carry a red flag, so nothing is lost by deciding these first.
3. Red flags (:mod:`.flags`), before any other keyword or score, because a missed emergency
   is the one error that can hurt someone: ``emergency`` beats ``clinic_today``.
   ``matched`` lists every flag found; a score in the same reply is still reported. A
   message that has a red flag *and* asks to stop ("stop texting me, I can't breathe") is a
   red flag: staff must see it today, and they can still record the opt-out by hand.
4. Other opt-out wording ("opt out", "stop texting me", "dar de baja", "STOP please") ->
   ``opt_out`` with ``twilio_keyword=False``: Twilio did not act, so the caller must. It
   beats a score ("2, please stop texting me") because consent must be honoured at once;
   the score is still reported.
5. A soreness score (:mod:`.scores`) -> ``score`` (even with "yes" or "help" in it). A
   score reply that says more than a score (three or more words that are not score, polite
   or reassuring words) has urgency ``review``: a person reads the rest.
6. A negated or resolved red flag with no score -> ``text``: never silently dropped.
7. Opt-in or help wording that makes up the whole message ("start again", "who is this?")
   -> ``opt_in`` / ``help``. Inside a longer sentence these are ordinary words.
8. Anything else -> ``text`` (urgency ``review``): questions, thanks, "ok", "mejor". Those
   carry no number and we do not guess one: staff see them in the inbox.

Urgency: emergency -> ``emergency``, clinic_today -> ``today``, text -> ``review``, every
other kind -> ``none``.

Every language in the lexicon runs on every reply, whatever ``ReplyContext.locale`` says: a
wrong locale on file, or a bilingual patient, must never hide an emergency or an opt-out.
"""

from __future__ import annotations

from dataclasses import replace

from followup.inbound.reading import lexicon as lexicon_files
from followup.inbound.reading.flags import EMERGENCY, FlagResult, red_flags, triggered
from followup.inbound.reading.keywords import (
    TWILIO,
    help_wording,
    opt_in_wording,
    opt_out_wording,
    strip_polite,
    wrong_number,
)
from followup.inbound.reading.lexicon import Lexicon
from followup.inbound.reading.normalise import fold, words_of
from followup.inbound.reading.result import Classification, ReplyContext, make
from followup.inbound.reading.scores import pick_score, read_scores
from followup.inbound.reading.spelling import meant

_NO_FLAGS = FlagResult(0, (), ())


#: words beyond what a score needs, after which a score reply is read by a person too
MORE_THAN_A_SCORE = 3


def _says_more(lex: Lexicon, norm: str) -> bool:
    """Whether a score reply says more than a score: at least :data:`MORE_THAN_A_SCORE`
    words that are not score words, polite words or reassurance. "sore 3 today, thanks" is a
    score; "3, my husband says I look grey" is a score *and* something a person must read,
    because a reader of replies may lower urgency only when it is sure."""
    known = lex.score_words
    extra = [w for w in norm.split() if not w.isdigit() and w not in known]
    return len(extra) >= MORE_THAN_A_SCORE


def _union(a: FlagResult, b: FlagResult) -> FlagResult:
    matched = tuple(dict.fromkeys(a.matched + b.matched))
    negated = tuple(n for n in dict.fromkeys(a.negated + b.negated) if n not in matched)
    return FlagResult(max(a.severity, b.severity), matched, negated)


def _score_matched(score: int | None, worry: bool | None) -> tuple[str, ...]:
    if score is None:
        return ()
    if worry is None:
        return (f"score {score}",)
    return (f"score {score}", f"worry {int(worry)}")


_NO_CONTEXT = ReplyContext()


def classify(
    text: str, context: ReplyContext = _NO_CONTEXT, lexicon: Lexicon | None = None
) -> Classification:
    """Classify one SMS reply. Never raises for any string; see the module docstring.

    `lexicon` defaults to the one shipped in the package."""
    lex = lexicon if lexicon is not None else lexicon_files.default()
    folded = fold(text)
    norm = words_of(folded)
    if not norm:
        return make("text")
    twilio_kind = TWILIO.get(norm)
    if twilio_kind is not None:
        # Twilio acts on the bare word only; "Stop." is read the same here, but we answer it
        exact = text.strip().casefold() == norm
        return make(twilio_kind, matched=(norm,), twilio=exact)

    in_72h = context.last_step == "checkin_72h"
    cands, toks = read_scores(lex, folded, in_72h)
    score, worry = pick_score(lex, cands, toks, in_72h)

    flags = _NO_FLAGS
    if triggered(lex, norm.split()):
        flags = red_flags(lex, folded, norm)
    meant_folded = meant(lex, folded)
    if meant_folded != folded:
        # what the patient meant to type can only add to what they typed: a correction is a
        # guess, so it never takes a flag away
        meant_norm = words_of(meant_folded)
        if triggered(lex, meant_norm.split()):
            flags = _union(flags, red_flags(lex, meant_folded, meant_norm))
    if flags.severity:
        kind = "emergency" if flags.severity == EMERGENCY else "clinic_today"
        return make(kind, score, worry, flags.matched, flags.negated)

    # "wrong #": the sign is a word here
    stranger = wrong_number(lex, words_of(folded.replace("#", " number ")), context.first_names)
    if stranger is not None:
        return make("wrong_number", matched=(stranger,), negated=flags.negated)
    opt_out = opt_out_wording(lex, norm, folded)
    if opt_out is not None:
        return make("opt_out", score, worry, (opt_out,), flags.negated)
    if score is not None:
        reading = make("score", score, worry, _score_matched(score, worry), flags.negated)
        if _says_more(lex, norm):
            # a number and more words than a score needs: a person reads the rest
            return replace(reading, urgency="review")
        return reading
    if flags.negated:
        return make("text", negated=flags.negated)  # never drop a negated flag: review

    stripped = strip_polite(lex, norm)
    opt_in = opt_in_wording(lex, stripped, norm)
    if opt_in is not None:
        return make("opt_in", matched=(opt_in,))
    asked = help_wording(lex, stripped, folded, norm)
    if asked is not None:
        return make("help", matched=(asked,))
    return make("text")
