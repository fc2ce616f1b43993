"""Soreness scores: every number in a reply that reads as a 0-10 score, and the one to keep.

0-10 in digits ("7", "7/10", "7 out of 10", "siete de 10", "about a 6"), words ("eight",
"ocho") or keycap emoji and full-width digits. "no pain", "sin dolor", "ya no me duele" -> 0,
and "none", "nada" when they are the whole answer. "my chest doesn't hurt" is about a red
flag, not soreness, and gives no 0.

- Two numbers, a range or an alternative ("2 maybe 3", "3-4", "dos o tres"): the higher.
  Under-reading a high score would skip a call-back; over-reading costs one call.
- A decimal rounds up ("6.5", "6,5", "6½" -> 7), for the same reason.
- 11-20 clamps to 10, but only in a score position (whole message, "/10", "pain is 12").
- A number that is clearly something else is not a score: a phone number, a time ("at 3pm",
  "3:30"), a date ("3/4", "March 3", "3rd"), a quantity ("2 days", "2 advil"), a
  temperature, money, "day 2". The scale itself ("0-10", "1 to 10") is skipped.
- "yesterday 8, today 3", "was 8 now 3", "de 8 a 3": the current number wins.
- Number words need a score-like setting (a short message, "/10", or a cue word) so that "one
  more question" is not a 1.

72 h check-in: the question asks "soreness 0-10, then 1 if a bruise or bleeding worries you,
else 0". The first two numbers are that pair when the second is 0 or 1 and they are not
joined by "or"/"maybe"/"to" ("2 0" -> 2, worry False; "3 1", "5, 1" -> worry True). In any
other context a second number is never a worry answer.

The words (units, months, cues, number words ...) are the lexicon's; the number grammar
(digits, "/", ":", decimals) is here.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from followup.inbound.reading.lexicon import Lexicon

_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+|[^\w\s]")
# the scale the check-in question names, "0-10" or "de 1 a 10": not an answer
_SCALE_RE = re.compile(
    r"\b(?:(?:on )?(?:a |the )?scale (?:of |from )?)?(?:del? |from |entre |between )?"
    r"(?:0|1|cero|uno|zero|one) ?(?:-|to|a|al|y|and) ?(?:10|ten|diez)\b"
)
_BREAKS = frozenset(",.;!?")


class Candidate(NamedTuple):
    value: int
    first: int  # token index
    last: int  # token index (inclusive)
    numeric: bool  # digits or a number word (not a "no pain" phrase)
    past: bool


class Token(NamedTuple):
    text: str
    start: int
    end: int
    digit: bool
    word: bool


def _tokens(folded: str) -> list[Token]:
    out = []
    for m in _TOKEN_RE.finditer(folded):
        text = m.group()
        out.append(Token(text, m.start(), m.end(), text[0].isdecimal(), text[0].isalpha()))
    return out


def _adjacent(a: Token, b: Token) -> bool:
    return a.end == b.start


def _num_value(lex: Lexicon, tok: Token) -> int | None:
    if tok.digit:
        return int(tok.text)
    return lex.number_words.get(tok.text)


def _prev_word(toks: list[Token], i: int, skip: int = 0, clause: bool = False) -> str:
    """The word before token i (punctuation skipped), after skipping `skip` words.

    With `clause`, stop at a clause break: "yesterday 8, today 3" keeps "today 3" apart.
    """
    j = i - 1
    while j >= 0:
        if clause and toks[j].text in _BREAKS:
            return ""
        if toks[j].word or toks[j].digit:
            if skip == 0:
                return toks[j].text
            skip -= 1
        j -= 1
    return ""


def _next_word(toks: list[Token], i: int) -> tuple[str, int]:
    j = i + 1
    while j < len(toks):
        if toks[j].word or toks[j].digit:
            return toks[j].text, j
        if toks[j].text not in {"-", "+", "~"}:
            return "", j
        j += 1
    return "", j


def _phrase_at(toks: list[Token], j: int, phrase: tuple[str, ...]) -> bool:
    return j + len(phrase) <= len(toks) and [t.text for t in toks[j : j + len(phrase)]] == list(
        phrase
    )


def read_scores(lex: Lexicon, folded: str, in_72h: bool) -> tuple[list[Candidate], list[Token]]:
    """Every number in the text that reads as a soreness score, in text order."""
    if not lex.maybe_number.search(folded) and not lex.zero_phrase.search(folded):
        return [], []  # "my chest hurts": nothing to read, skip the tokenizer
    masked = folded
    if "10" in folded or "ten" in folded or "diez" in folded:
        masked = _SCALE_RE.sub(lambda m: " " * len(m.group()), folded)
    toks = _tokens(masked)
    n = len(toks)
    letter_words = [t.text for t in toks if t.word]
    short = len(letter_words) <= 4
    # the number is the whole answer, give or take "please"/"thanks"
    alone = sum(1 for t in toks if t.digit) == 1 and all(
        w in lex.stop_fillers for w in letter_words
    )
    long_groups = {k for k, t in enumerate(toks) if t.digit and len(t.text) >= 3}
    cands: list[Candidate] = []
    rejected_tail: int | None = None  # last token of the previous rejected number
    i = 0
    while i < n:
        tok = toks[i]
        value = _num_value(lex, tok)
        if (
            value is None
            and tok.text in lex.homophones
            and _prev_word(toks, i) in lex.articles  # "I'm about a for today": only after
            and _prev_word(toks, i, 1) in lex.cues  # an article that follows a cue word
        ):
            value = lex.homophones[tok.text]
        if value is None or (tok.word and not tok.text.isascii()):
            i += 1
            continue
        is_word = tok.word
        first, j = i, i + 1  # j: first token after the number
        frac = 0.0
        reject = False
        if tok.digit:
            if len(tok.text) >= 3:
                i += 1
                continue
            # decimal ("6.5", "6,5"), time ("3:30"), ordinal ("3rd"), date ("3/4", "3.4.24")
            if j + 1 < n and toks[j].text in {".", ","} and _adjacent(tok, toks[j]):
                nxt = toks[j + 1]
                if nxt.digit and _adjacent(toks[j], nxt):
                    # at 72 h "5,1" is the answer pair, not 5.1
                    pair_comma = toks[j].text == "," and in_72h and nxt.text in {"0", "1"}
                    more = j + 2 < n and toks[j + 2].text in {".", "/", ":"}
                    if not pair_comma:
                        if len(nxt.text) == 1 and not more:
                            frac = int(nxt.text) / 10
                        else:
                            reject = True  # "3.15", "12.3.24": a time, a date, a price
                        j += 2
            if j < n and toks[j].text == ":" and j + 1 < n and toks[j + 1].digit:
                reject, j = True, j + 2
            if j < n and toks[j].text in lex.ordinals and _adjacent(toks[j - 1], toks[j]):
                reject = True  # "3rd", "2nd", "1ro"
        # "and a half", "y medio"
        if j < n and toks[j].text in lex.phrase_starts:
            for half in lex.halves:
                if _phrase_at(toks, j, half):
                    frac, j = 0.5, j + len(half)
                    break
        # scale: "/10", "out of 10", "de 10"
        scaled = False
        if not reject and j < n and toks[j].text == "/":
            if j + 1 < n and _num_value(lex, toks[j + 1]) == 10:
                if j + 2 < n and toks[j + 2].text == "/":
                    reject = True
                else:
                    scaled = True
                j += 2
            elif j + 1 < n and toks[j + 1].digit:
                reject, j = True, j + 2  # a date: "3/4"
        elif not reject and j < n and toks[j].text in lex.phrase_starts:
            for words in lex.scale_words:
                k = j + len(words)
                if k < n and _phrase_at(toks, j, words) and _num_value(lex, toks[k]) == 10:
                    scaled, j = True, k + 1
                    break
        last = j - 1
        while j < n and toks[j].text in {"+", "!"}:
            j += 1
        prev = _prev_word(toks, first)
        prev2 = _prev_word(toks, first, 1)
        nxt_word, nxt_at = _next_word(toks, last)
        if not reject:
            reject = _context_rejects(
                lex, toks, first, last, prev, prev2, nxt_word, nxt_at, long_groups
            )
        if not reject and not scaled:
            reject = _not_a_score(lex, toks, first, last, prev, nxt_word, nxt_at)
        if reject:
            # "2-3 days": the unit rejects the first number of a range too
            if cands and rejected_tail is None and _joined(lex, toks, cands[-1].last, first):
                cands.pop()
            rejected_tail = last
            i = max(j, i + 1)
            continue
        rejected_tail = None
        raw = value + frac
        accept = True
        if value > 10:
            # "11", "12/10", "pain is 15": yes; "mi cita es el 12", "hasta el 15": no
            accept = scaled or alone or prev in lex.strong_cues
            if value > 20 and not scaled:
                accept = False
        elif is_word:
            accept = (
                scaled
                or short
                or (first == 0 and nxt_at < n and toks[nxt_at].text in _BREAKS)  # "cero, ..."
                or prev in lex.cues
                or nxt_word in lex.now
                or (prev in lex.articles and prev2 in lex.cues)
            )
            if tok.text in lex.one_words and (
                prev in lex.one_block_before or (nxt_word in lex.one_block_after and not scaled)
            ):
                accept = False
        if accept:
            near = (_prev_word(toks, first, 0, True), _prev_word(toks, first, 1, True))
            past = not (near[0] in lex.now or nxt_word in lex.now) and (
                near[0] in lex.past_before
                or near[1] in lex.past_before
                or nxt_word in lex.past_after
                or (prev, nxt_word) in lex.from_to
            )
            score = min(10, math.ceil(raw - 1e-9))
            cands.append(Candidate(score, first, last, True, past))
        i = max(j, i + 1)
    for m in lex.zero_phrase.finditer(masked):
        if lex.zero_blockers.match(masked, m.end()):
            continue  # "no pain when I breathe" is about breathing, not soreness
        if lex.zero_subject.search(masked, max(0, m.start() - 25), m.start()):
            continue  # "my chest doesn't hurt", "el pecho no me duele"
        pos = _token_index(toks, m.start())
        cands.append(Candidate(0, pos, pos, False, False))
    if short and not cands:
        # "none", "nada", "nothing today": only as the whole answer ("nada grave" is not 0)
        words = [t.text for t in toks if t.word]
        if words and words[0] in lex.zero_words and all(w in lex.zero_tail for w in words[1:]):
            cands.append(Candidate(0, 0, 0, False, False))
    cands.sort(key=lambda c: c.first)
    return cands, toks


def _clause_words(toks: list[Token], i: int) -> list[str]:
    """The words of the clause token i is in (clauses end at , . ; ! ?)."""
    a = i
    while a > 0 and toks[a - 1].text not in _BREAKS and toks[a - 1].text != "?":
        a -= 1
    b = i
    while b + 1 < len(toks) and toks[b + 1].text not in _BREAKS and toks[b + 1].text != "?":
        b += 1
    return [t.text for t in toks[a : b + 1] if t.word]


def _not_a_score(
    lex: Lexicon, toks: list[Token], first: int, last: int, prev: str, nxt_word: str, nxt_at: int
) -> bool:
    """Numbers that are words, counts or times rather than a soreness score.

    - glued to letters before it: "gr8", "b4";
    - a 2 or 4 standing for "to"/"for" between words: "hard 2 breathe", "ill be there 4 sure";
    - a count: "appt 2 of 6";
    - in a clause about an appointment or a time with no word about pain: "my appt is at 4",
      "can i reschedule to 9?". Reading these as scores raised call-backs and thanked
      patients for a pain they never reported; read as free text, a person sees them.
    """
    tok = toks[first]
    if first and toks[first - 1].word and _adjacent(toks[first - 1], tok):
        return True
    if (
        tok.text in {"2", "4"}
        and first
        and toks[first - 1].word
        and prev not in lex.strong_cues
        and nxt_word in lex.digit_word_followers
    ):
        return True
    if (nxt_word,) in lex.scale_words and nxt_at + 1 < len(toks) and toks[nxt_at + 1].digit:
        return True  # "2 of 6" (a scale "of 10" was taken before this is asked)
    clause = _clause_words(toks, first)
    return any(w in lex.time_context for w in clause) and not any(
        w in lex.pain_cues for w in clause
    )


def _token_index(toks: list[Token], char_pos: int) -> int:
    for k, t in enumerate(toks):
        if t.start >= char_pos:
            return k
    return len(toks)


def _joined(lex: Lexicon, toks: list[Token], a_last: int, b_first: int) -> bool:
    """Whether two numbers are joined as a range or alternative ("2-3", "2 or 3")."""
    between = toks[a_last + 1 : b_first]
    return bool(between) and all(t.text in lex.range_words or t.text == "-" for t in between)


def _context_rejects(
    lex: Lexicon,
    toks: list[Token],
    first: int,
    last: int,
    prev: str,
    prev2: str,
    nxt_word: str,
    nxt_at: int,
    long_groups: set[int],
) -> bool:
    """Whether the words around a number say it is a time, date, quantity or phone number."""
    before = toks[first - 1].text if first else ""
    if before in {"$", "#", "€"}:
        return True
    if prev in lex.pre_reject and _prev_word(toks, first, 0, True) == prev:
        return True  # "day 2", but not "like after leg day, 6"
    if prev == "at" and prev2 not in lex.at_cues:
        return True
    if prev in lex.months or nxt_word in lex.months:
        return True
    # a unit after the number, maybe past an adjective: "2 more days", "2 small bruises"
    k, word = nxt_at, nxt_word
    hops = 0
    while word in lex.unit_skip and hops < 2:
        word, k = _next_word(toks, k)
        hops += 1
    if word in lex.units:
        return True
    if nxt_word == "de" and _next_word(toks, nxt_at)[0] in lex.months:
        return True  # "3 de marzo"
    # glued to a long digit group: a phone number ("+1 555 123 4567", "555-1234")
    for k in (first - 1, first - 2, last + 1, last + 2):
        if k in long_groups:
            between = toks[min(k, first) + 1 : max(k, last)]
            if all(t.text in {"-", ".", "(", ")", "+", " "} or t.digit for t in between):
                return True
    return False


def pick_score(
    lex: Lexicon, cands: list[Candidate], toks: list[Token], in_72h: bool
) -> tuple[int | None, bool | None]:
    """The score to keep (the current one, the higher of several) and the 72 h worry answer."""
    if not cands:
        return None, None
    current = [c for c in cands if not c.past] or cands
    if in_72h:
        numeric = [c for c in current if c.numeric]
        if len(numeric) >= 2:
            a, b = numeric[0], numeric[1]
            between = toks[a.last + 1 : b.first]
            alternative = any(t.text in lex.range_words for t in between)
            if b.value in (0, 1) and not alternative:
                return a.value, b.value == 1
    return max(c.value for c in current), None
