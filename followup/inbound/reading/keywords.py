"""Keywords: Twilio's own, other opt-out wording, and whole-message opt-in and help.

Twilio's default keywords are Twilio's behaviour, not wording we choose, so they are here in
code; everything a clinic might reword is in the lexicon. See :mod:`.classify` for where
each check sits in the order of the decision, and docs/replies.md for the reasons.
"""

from __future__ import annotations

from followup.inbound.reading.lexicon import Lexicon
from followup.inbound.reading.normalise import fold, words_of

#: Twilio's default keywords, which Twilio answers itself when one is the whole message
TWILIO = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"),
        "opt_out",
    ),
    **dict.fromkeys(("start", "yes", "unstop"), "opt_in"),
    **dict.fromkeys(("help", "info"), "help"),
}


def strip_polite(lex: Lexicon, norm: str) -> str:
    """The message without greetings and thanks at its ends ("ok stop thanks" -> "stop")."""
    return lex.polite.sub("", norm).strip()


def first_clause(lex: Lexicon, folded: str) -> str:
    """The words of the message up to its first clause break."""
    return words_of(lex.clause_split.split(folded.strip(), maxsplit=1)[0])


def opt_out_wording(lex: Lexicon, norm: str, folded: str) -> str | None:
    """The reported name of opt-out wording in the message, if any.

    "stop" counts only as the first word of a short request, as a clause of its own, or at
    the very end ("you can stop now"), so "the bleeding won't stop" never opts out. Wording
    that asks for the texts to go on ("don't stop sending these") is never an opt-out: a
    person reads it."""
    if lex.opt_out_negated is not None and lex.opt_out_negated.search(norm):
        return None
    if lex.opt_out_prefilter.search(norm) and lex.opt_out_any.search(norm):
        for name, pattern in lex.opt_out_anywhere:
            if pattern.search(norm):
                return name
    stripped = strip_polite(lex, norm)
    if stripped in lex.opt_out_whole:
        return lex.opt_out_whole[stripped]
    if TWILIO.get(stripped) == "opt_out":
        return stripped  # "Please stop", "cancel thanks": Twilio wants the word alone
    words = norm.split()
    fillers = lex.stop_fillers
    if words and words[0] in lex.leading_opt_out and all(w in fillers for w in words[1:]):
        return words[0]  # "STOP please", "stop texting me now", "end texts"
    # "Stop. My pain is 2", "please quit, I'm done", "enough with the texts already, stop":
    # a clause of its own that asks to stop
    for clause in (strip_polite(lex, first_clause(lex, folded)), last_clause(lex, folded)):
        said = clause.split()
        if said and said[0] in lex.leading_stop and all(w in fillers for w in said[1:]):
            return said[0]
    return None


def last_clause(lex: Lexicon, folded: str) -> str:
    """The words of the message after its last clause break."""
    parts = [p for p in lex.clause_split.split(folded.strip())[::2] if words_of(p)]
    return words_of(parts[-1]) if len(parts) > 1 else ""


def wrong_number(lex: Lexicon, norm: str, first_names: tuple[str, ...]) -> str | None:
    """ "wrong number", "not a patient", or "I'm not <a first name on file for this number>"."""
    if lex.wrong_number is not None:
        m = lex.wrong_number.search(norm)
        if m:
            return m.group()
    padded = f" {norm} "
    for first_name in first_names:
        name = words_of(fold(first_name))
        for phrase in lex.not_the_patient if name else ():
            if f" {phrase} {name} " in padded:
                return f"{phrase} {name}"
    return None


def opt_in_wording(lex: Lexicon, stripped: str, norm: str) -> str | None:
    """Opt-in wording: the whole message ("start again", "reanudar"), or a request for the
    texts back anywhere in it ("I texted stop by mistake, can I get the messages again?").

    `stripped` is the message after :func:`strip_polite`."""
    if stripped in lex.opt_in_whole:
        return stripped
    m = lex.opt_in_anywhere.search(norm) if lex.opt_in_anywhere is not None else None
    return m.group() if m else None


def help_wording(lex: Lexicon, stripped: str, folded: str, norm: str) -> str | None:
    """A request for help as the whole message, "who is this?" as its first clause, or a
    question about the texts themselves anywhere ("what number do i reply with?")."""
    if stripped in lex.help_whole:
        return stripped
    first = strip_polite(lex, first_clause(lex, folded))
    if first in lex.help_first_clause:
        return first
    m = lex.help_anywhere.search(norm) if lex.help_anywhere is not None else None
    return m.group() if m else None
