"""What the patient meant to type: SMS shorthand spelt out and misspelt alarm words corrected.

Only the red-flag reader sees this text, and it can only *add* a flag, never remove one: a
reader may lower urgency only when it is sure, and a correction is a guess. So "hard 2
breathe" is read as "hard to breathe" and "chest pian" as "chest pain", while the score
reader keeps the patient's own digits.

Corrections: a word the lexicon does not list (``fuzzy_known``) is replaced by the nearest
alarm word (``[fuzzy] terms``) when it is close enough for its length: 4 letters, two
letters swapped ("pian"); 5-9 letters, one edit (Damerau-Levenshtein: a letter added,
dropped, changed or two swapped: "brethe", "pecjo"); 10 and more, two edits. Fewer letters
with two edits was too loose: "sleeping" read as "bleeding", "pincharon" as "hinchazon".
Runs of three or more of a letter count as one ("breeeathe"). Ordinary words near an alarm word
("paint", "hecho", "number") are listed in ``[fuzzy] keep``: they are never corrected, and a
misspelling nearer to one of them than to an alarm word ("numbr") is left alone.
"""

from __future__ import annotations

import re
from functools import lru_cache

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein

from followup.inbound.reading.lexicon import Lexicon

_WORD = re.compile(r"[^\W\d_]{4,}")
_RUNS = re.compile(r"([^\W\d_])\1{2,}")


def expand_shorthand(lex: Lexicon, folded: str) -> str:
    """ "hard 2 breathe", "sob since yesterday" -> "hard to breathe", "short of breath ..."."""
    if lex.shorthand_re is None:
        return folded
    return lex.shorthand_re.sub(lambda m: lex.shorthand[m.group()], folded)


def _allowed_edits(size: int) -> int:
    return 0 if size < 4 else 1 if size < 10 else 2


@lru_cache(maxsize=8192)
def _nearest(word: str, terms: tuple[str, ...], keep: tuple[str, ...]) -> str | None:
    squeezed = _RUNS.sub(r"\1", word)
    if squeezed in terms:
        return squeezed
    edits = _allowed_edits(len(squeezed))
    if not edits:
        return None
    # ordinary words compete too, and win ties: "numbr" is nearer "number" than "numb"
    found = process.extractOne(
        squeezed, keep + terms, scorer=DamerauLevenshtein.distance, score_cutoff=edits
    )
    if found is None or found[2] < len(keep):
        return None
    term = found[0]
    if len(squeezed) == 4 and sorted(term) != sorted(squeezed):
        return None  # four letters: only two swapped ("pian"), not "pain" from "paid"
    return term


def correct(lex: Lexicon, folded: str) -> str:
    """The text with every unknown word close to an alarm word replaced by that word."""
    if not lex.fuzzy_terms:
        return folded
    known, terms, keep = lex.fuzzy_known, lex.fuzzy_terms, lex.fuzzy_keep

    def fix(m: re.Match[str]) -> str:
        word = m.group()
        if word in known:
            return word
        return _nearest(word, terms, keep) or word

    return _WORD.sub(fix, folded)


def meant(lex: Lexicon, folded: str) -> str:
    """Shorthand spelt out, then misspellings corrected: the text red flags are read from."""
    return correct(lex, expand_shorthand(lex, folded))
