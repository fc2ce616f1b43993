"""Red flags: find the lexicon's red-flag terms in a reply, then drop the negated ones.

Matching runs on normalised clauses, so case, accents, punctuation, emoji and missing
apostrophes ("cant breath") do not matter; common misspellings are spelled out in the
lexicon. Every language's patterns always run, whatever the patient's locale says.

Negation: "no chest pain", "sin fiebre", "don't have any swelling", "no fever or chills":
the term goes to ``negated`` and does not make the reply a red flag. The negator must come
before the term, within about three gap words, inside the same clause: clauses break at
``. , ; ! ?``, new lines and the lexicon's clause words ("but", "pero" ...). So "no chest
pain but I can't breathe" is an emergency. Lists joined by "or" / "ni" carry the negation; a
comma list carries it only when it ends in "or"/"ni" ("no fever, chills or swelling"), so
"no fever, chest hurts" stays an emergency. A negator after the term ("chest pain? no") is
ambiguous and escalates. A term that itself starts with a negator ("no puedo respirar")
cannot be negated again.

Resolved and played-down terms: "bleeding stopped", "swelling went down" are *resolved* and
reported as negated (someone may want to look); "a little bleeding" is *minimized* and
ignored, as clinical notes call it expected. Emergencies are never resolvable.

Speed: a message with none of the flags' trigger prefixes skips the scan, and a clause runs
only the flags its words trigger (tests check this never loses a match).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from typing import NamedTuple

from followup.inbound.reading.lexicon import FlagSpec, Lexicon
from followup.inbound.reading.normalise import NON_WORD

EMERGENCY, TODAY = 2, 1
_QUESTION_STARTS = frozenset({"is", "are", "does", "do", "will", "should", "can", "could", "es"})


class Hit(NamedTuple):
    """One red-flag term in a clause, by word positions."""

    spec: FlagSpec
    start: int  # word index
    end: int  # word index, exclusive
    form: str  # "strong", "bare", "negated"


class FlagResult(NamedTuple):
    severity: int  # 0, TODAY or EMERGENCY
    matched: tuple[str, ...]
    negated: tuple[str, ...]


def triggered(lex: Lexicon, words: list[str]) -> set[int]:
    """Indexes of the flags that some word in `words` triggers."""
    found: set[int] = set()
    table = lex.triggers
    for word in words:
        size = len(word)
        for length in lex.trigger_lengths:
            if length > size:
                break
            owners = table.get(word[:length])
            if owners:
                found |= owners
    return found


def find_hits(
    lex: Lexicon, words: list[str], message: str = "", triggers: bool = True
) -> list[Hit]:
    """Every red-flag term in one clause, with word positions.

    `message` is the whole normalized message, for flags with an ``unless_context``.
    `triggers=False` runs every pattern (the tests check the triggers never lose a hit).
    """
    text = " ".join(words)
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    hits: list[Hit] = []

    def span(m: re.Match[str]) -> tuple[int, int]:
        return bisect_right(starts, m.start()) - 1, bisect_right(starts, m.end() - 1)

    wanted = triggered(lex, words) if triggers else None
    for index, spec in enumerate(lex.flags):
        if wanted is not None and index not in wanted:
            continue
        if spec.unless is not None and spec.unless.search(message or text):
            continue
        taken: list[tuple[int, int]] = []
        if spec.negated is not None:
            for m in spec.negated.finditer(text):
                a, b = span(m)
                taken.append((a, b))
                hits.append(Hit(spec, a, b, "negated"))
        for m in spec.strong.finditer(text):
            a, b = span(m)
            if any(a < tb and ta < b for ta, tb in taken):
                continue
            taken.append((a, b))
            hits.append(Hit(spec, a, b, "strong"))
        if spec.bare is not None:
            for m in spec.bare.finditer(text):
                a, b = span(m)
                if any(a < tb and ta < b for ta, tb in taken):
                    continue
                hits.append(Hit(spec, a, b, "bare"))
    return hits


def _negated_before(lex: Lexicon, words: list[str], hit: Hit, hits: list[Hit]) -> bool:
    """A negator within about three gap words before the term, through "or"-lists."""
    if words[hit.start] in lex.negators or words[hit.start] in lex.symptom_starts:
        return False  # "no puedo respirar", "sin fuerza": the negation is the symptom
    ends = {h.end: h for h in hits}
    i, gaps, seen = hit.start - 1, 0, 0
    while i >= 0 and seen < 12:
        seen += 1
        word = words[i]
        if word in lex.negators:
            return True
        if word in lex.list_connectors and gaps == 0:
            if i in ends:
                i = ends[i].start - 1  # "no fever or chills": jump over "fever"
                continue
            # "no dizziness or fainting": a plain word or two as the earlier list item
            return any(k >= 0 and words[k] in lex.negators for k in (i - 2, i - 3))
        if word in lex.neg_gap and gaps < 3:
            gaps += 1
            i -= 1
            continue
        return False
    return False


def _resolved(lex: Lexicon, words: list[str], hit: Hit) -> bool:
    """Whether the term is over: "bleeding stopped", "swelling went down", "se quitó..."."""
    if lex.resolved_after.match(" ".join(words[hit.end :])):
        return True
    before = hit.spec.resolved_before | lex.resolved_before
    i, skipped = hit.start - 1, 0
    while i >= 0 and skipped <= 2:
        if words[i] in before:
            return True
        if words[i] not in lex.resolved_before_skip:
            return False
        i -= 1
        skipped += 1
    return False


def _minimized(lex: Lexicon, words: list[str], hit: Hit) -> bool:
    """Whether the term is played down: "a little bleeding", "sangrado leve"."""
    if any(w in lex.minimizers for w in words[max(0, hit.start - 3) : hit.start]):
        return True
    return any(w in lex.minimizers_after for w in words[hit.end : hit.end + 3])


def _covered_by_list(lex: Lexicon, words: list[str], hits: list[Hit]) -> tuple[bool, bool]:
    """Whether a clause is only red-flag terms and list words; and whether it has "or"/"ni"."""
    covered = [False] * len(words)
    for h in hits:
        for k in range(h.start, h.end):
            covered[k] = True
    ok = all(
        c or w in lex.list_connectors or w in lex.list_fillers
        for w, c in zip(words, covered, strict=True)
    )
    return ok and bool(hits), any(w in lex.list_connectors for w in words)


def clauses(lex: Lexicon, folded: str, message: str) -> list[tuple[list[str], list[Hit]]]:
    """Clauses as word lists with their red-flag hits, each clause scanned once.

    A comma list that ends in "or"/"ni" ("no fever, chills or swelling") is joined into one
    clause with "or" for the comma, so the negation reaches every item.
    """
    parts = lex.clause_split.split(folded)
    segments: list[tuple[str, list[str], list[Hit]]] = []  # (separator before, words, hits)
    sep = ""
    for k, part in enumerate(parts):
        if k % 2:
            sep = part
            continue
        words = NON_WORD.sub(" ", part).split()
        if words:
            segments.append((sep, words, find_hits(lex, words, message)))
            sep = ""
    out: list[tuple[list[str], list[Hit]]] = []
    i = 0
    while i < len(segments):
        _, words, hits = segments[i]
        j = i + 1
        if j < len(segments) and segments[j][0] == "," and any(h.end == len(words) for h in hits):
            k, merged = j, list(words)
            while k < len(segments) and segments[k][0] == ",":
                ok, has_connector = _covered_by_list(lex, segments[k][1], segments[k][2])
                if not ok:
                    break
                merged += ["or", *segments[k][1]]
                if has_connector:
                    words, j = merged, k + 1
                    hits = find_hits(lex, words, message)
                    break
                k += 1
        out.append((words, hits))
        i = j
    return out


def _denied_after(lex: Lexicon, words: list[str], hit: Hit) -> bool:
    """A denial right after the term: "bleeding: 0", "fever none" (never for emergencies: a
    "chest pain? no" is ambiguous, and ambiguity escalates); "breathing is fine" for a mere
    mention of a body system."""
    after = words[hit.end : hit.end + 3]
    if hit.spec.severity < EMERGENCY and after and after[0] in lex.negated_after:
        return True
    return hit.spec.fallback and any(w in lex.reassurance for w in after)


def _is_negated(lex: Lexicon, words: list[str], hit: Hit, hits: list[Hit]) -> bool:
    """Negated ("no fever", "chest doesn't hurt") or resolved ("swelling went down")."""
    if hit.form == "negated" or _denied_after(lex, words, hit):
        return True
    if hit.spec.inner_negation and any(w in lex.negators for w in words[hit.start + 1 : hit.end]):
        return True
    if _negated_before(lex, words, hit, hits):
        return True
    return hit.spec.resolvable and _resolved(lex, words, hit)


def _resolves(lex: Lexicon, words: list[str]) -> bool:
    """Whether a whole clause says that what came before is over ("thats gone now")."""
    if words and words[0] in _QUESTION_STARTS:
        return False  # "is that normal?" asks; it does not say anything is over
    m = lex.resolved_after.match(" ".join(words))
    return (
        bool(m)
        and len(" ".join(words)[m.end() :].split()) <= 2
        and not any(h for h in find_hits(lex, words))
    )


def red_flags(lex: Lexicon, folded: str, message: str) -> FlagResult:
    """The red flags a reply raises, their worst severity, and the ones it negates."""
    active: list[tuple[int, str, bool]] = []
    negated: list[str] = []
    read = clauses(lex, folded, message)
    for i, (words, hits) in enumerate(read):
        exact = [h for h in hits if not h.spec.fallback]
        # "a bit of dizziness yesterday, but that's gone now": the next clause resolves it
        over_next = i + 1 < len(read) and _resolves(lex, read[i + 1][0])
        for hit in sorted(hits, key=lambda h: h.start):
            name = hit.spec.name
            if hit.spec.fallback and any(h.start < hit.end and hit.start < h.end for h in exact):
                continue  # "no shortness of breath": the exact term speaks for the mention
            if _is_negated(lex, words, hit, hits) or (hit.spec.resolvable and over_next):
                negated.append(name)  # negated, or resolved: staff still see it
            elif hit.form == "bare" and _minimized(lex, words, hit):
                continue  # "a little bleeding": expected, not a flag
            else:
                active.append((hit.spec.severity, name, hit.spec.fallback))
    # a mention of a body system counts only where nothing as urgent was read more exactly
    exact = max((s for s, _, fallback in active if not fallback), default=0)
    active = [(s, name, fb) for s, name, fb in active if not fb or s > exact]
    severity = max((s for s, _, _ in active), default=0)
    matched = tuple(dict.fromkeys(name for _, name, _ in active))
    neg = tuple(n for n in dict.fromkeys(negated) if n not in matched)
    return FlagResult(severity, matched, neg)
