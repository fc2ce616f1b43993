"""Load the reply reader's lexicon from its TOML files, check it, and compile it once.

The words live in ``lexicon/`` beside this module so a clinician can change wording and
review it in a diff: ``flags.toml`` says which red flags exist and how urgent each is, and
one file per language (``en.toml``, ``es.toml`` ...) holds that language's keywords, red-flag
patterns, negations and score words. All languages are merged: a reply is always read with
every language's words, because a wrong locale on file must never hide an emergency.

A mistake in a file is refused when the lexicon loads (at process start, see
:mod:`followup.runtime`) with the file and entry named: a pattern that does not compile, a
fragment or flag that does not exist, a word written with upper case or an accent (matching
runs on normalised text, so it could never match), a missing or misspelt key. A lexicon that
loads is one the reader can use; what it *means* is checked by the labelled corpus tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from followup.inbound.reading.lexicon_files import (
    FLAG_KEYS,
    LANGUAGE_SCHEMA,
    SEVERITIES,
    LexiconError,
    read_fragments,
    read_language,
    read_rules,
)

DEFAULT_DIR = Path(__file__).with_name("lexicon")


@dataclass(frozen=True, slots=True)
class FlagSpec:
    """One red flag: its clinical rule (flags.toml) and its compiled words (all languages)."""

    name: str
    severity: int
    triggers: tuple[str, ...]  # word prefixes: every match has a word starting with one
    strong: re.Pattern[str]
    bare: re.Pattern[str] | None  # plain forms that "a little" makes harmless
    negated: re.Pattern[str] | None  # forms that carry their own negation
    inner_negation: bool
    resolvable: bool
    resolved_before: frozenset[str]
    unless: re.Pattern[str] | None  # message words that explain the term away
    fallback: bool  # a mention of a body system: counts only when nothing more exact did


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Every word list and pattern the reader uses, merged over languages and compiled."""

    languages: tuple[str, ...]
    flags: tuple[FlagSpec, ...]
    #: word prefix -> indexes of the flags it triggers, and the prefix lengths to try
    triggers: dict[str, frozenset[int]]
    trigger_lengths: tuple[int, ...]
    # keywords
    opt_out_anywhere: tuple[tuple[str, re.Pattern[str]], ...]
    opt_out_any: re.Pattern[str]
    opt_out_prefilter: re.Pattern[str]
    opt_out_whole: dict[str, str]
    stop_fillers: frozenset[str]
    leading_stop: frozenset[str]
    leading_opt_out: frozenset[str]
    opt_in_whole: frozenset[str]
    help_first_clause: frozenset[str]
    help_whole: frozenset[str]
    polite: re.Pattern[str]
    opt_out_negated: re.Pattern[str] | None  # "don't stop sending these": not an opt-out
    opt_in_anywhere: re.Pattern[str] | None
    help_anywhere: re.Pattern[str] | None
    wrong_number: re.Pattern[str] | None
    not_the_patient: tuple[str, ...]  # "im not", "no soy": followed by the patient's name
    shorthand: dict[str, str]
    shorthand_re: re.Pattern[str] | None
    fuzzy_terms: tuple[str, ...]
    fuzzy_keep: tuple[str, ...]
    fuzzy_known: frozenset[str]
    # negation and resolution
    negators: frozenset[str]
    neg_gap: frozenset[str]
    list_connectors: frozenset[str]
    list_fillers: frozenset[str]
    symptom_starts: frozenset[str]
    minimizers: frozenset[str]
    minimizers_after: frozenset[str]
    reassurance: frozenset[str]
    negated_after: frozenset[str]
    resolved_after: re.Pattern[str]
    resolved_before: frozenset[str]
    resolved_before_skip: frozenset[str]
    clause_split: re.Pattern[str]
    # scores
    number_words: dict[str, int]
    homophones: dict[str, int]  # "about a for": a number word as voice-to-text writes it
    maybe_number: re.Pattern[str]
    zero_words: frozenset[str]
    zero_tail: frozenset[str]
    zero_phrase: re.Pattern[str]
    zero_blockers: re.Pattern[str]
    zero_subject: re.Pattern[str]
    units: frozenset[str]
    unit_skip: frozenset[str]
    pre_reject: frozenset[str]
    past_before: frozenset[str]
    past_after: frozenset[str]
    at_cues: frozenset[str]
    cues: frozenset[str]
    strong_cues: frozenset[str]
    now: frozenset[str]
    one_words: frozenset[str]
    one_block_before: frozenset[str]
    one_block_after: frozenset[str]
    articles: frozenset[str]
    months: frozenset[str]
    ordinals: frozenset[str]
    range_words: frozenset[str]
    scale_words: tuple[tuple[str, ...], ...]
    halves: tuple[tuple[str, ...], ...]
    from_to: frozenset[tuple[str, ...]]
    phrase_starts: frozenset[str]  # first words of scale_words and halves: a quick check
    #: words a plain score reply is made of ("about a 6 today, thanks"): anything else in a
    #: score reply is more for a person to read
    score_words: frozenset[str]
    time_context: frozenset[str]
    pain_cues: frozenset[str]
    digit_word_followers: frozenset[str]


def _alternation(parts: list[str]) -> str:
    return "|".join(f"(?:{p})" for p in parts)


def _word_pattern(words: list[str]) -> str:
    """Words or phrases as one alternation, longest first (so "thank you" beats "thank")."""
    return "|".join(re.escape(w) for w in sorted(set(words), key=lambda w: (-len(w), w)))


def load(directory: Path = DEFAULT_DIR) -> Lexicon:
    """Read, check and compile the lexicon in `directory`. Raises :class:`LexiconError`."""
    rules_file = directory / "flags.toml"
    if not rules_file.is_file():
        raise LexiconError(f"flags.toml: missing from {directory}")
    rules = read_rules(rules_file)
    ids = {r["id"] for r in rules}
    paths = sorted(p for p in directory.glob("*.toml") if p.name != "flags.toml")
    if not paths:
        raise LexiconError(f"{directory}: no language files (en.toml, es.toml ...)")
    own = [read_fragments(p) for p in paths]
    shared = {
        name: "(?:" + "|".join(f"(?:{f[name]})" for f in own if name in f) + ")"
        for name in dict.fromkeys(n for f in own for n in f)
    }
    langs = [read_language(p, ids, shared) for p in paths]

    def merged(entry: str) -> list[str]:
        return [w for lang in langs for w in lang[entry]]

    def words(entry: str) -> frozenset[str]:
        return frozenset(merged(entry))

    def word_set(entry: str) -> frozenset[str]:
        """The single words of a list that may hold phrases ("thank you" -> thank, you)."""
        return frozenset(w for phrase in merged(entry) for w in phrase.split())

    flags = []
    for rule in rules:
        per = [lang["flags"].get(rule["id"]) for lang in langs]
        parts = {key: [p for f in per if f for p in f[key]] for key in FLAG_KEYS}
        if not parts["strong"]:
            raise LexiconError(f"flags.toml: flag {rule['id']}: no language has patterns for it")
        unless = None
        if "unless_context" in rule:
            context = [
                w for lang in langs for w in lang["contexts"].get(rule["unless_context"], [])
            ]
            if not context:
                raise LexiconError(
                    f"flags.toml: flag {rule['id']}: unless_context "
                    f"{rule['unless_context']!r} is not a [contexts] list in any language"
                )
            unless = re.compile(rf"\b(?:{_word_pattern(context)})\b")

        flags.append(
            FlagSpec(
                name=rule["name"],
                severity=SEVERITIES[rule["severity"]],
                triggers=tuple(dict.fromkeys(parts["triggers"])),
                strong=_whole_words(parts["strong"]),
                bare=_whole_words(parts["bare"]) if parts["bare"] else None,
                negated=_whole_words(parts["negated"]) if parts["negated"] else None,
                inner_negation=bool(rule.get("inner_negation")),
                resolvable=bool(rule.get("resolvable")),
                resolved_before=frozenset(parts["resolved_before"]),
                unless=unless,
                fallback=bool(rule.get("fallback")),
            )
        )

    opt_out_anywhere = tuple(
        (name, re.compile("|".join(_anywhere(p) for p in patterns)))
        for lang in langs
        for name, patterns in lang["opt_out.anywhere"]
    )
    polite = merged("polite.both_ends")
    leading = _word_pattern(polite + merged("polite.leading"))
    numbers: dict[str, int] = {}
    for path, lang in zip(paths, langs, strict=True):
        for word, value in lang["scores.number_words"].items():
            if numbers.setdefault(word, value) != value:
                raise LexiconError(
                    f"{path.name}: scores.number_words.{word!r}: {value} here, "
                    f"{numbers[word]} in another language file"
                )
    zero_words = words("scores.zero_words")
    lang_homophones = {k: v for lang in langs for k, v in lang["scores.homophones"].items()}
    shorthand: dict[str, str] = {}
    for lang in langs:
        shorthand.update(lang["shorthand"])
    owners: dict[str, set[int]] = {}
    for index, spec in enumerate(flags):
        for prefix in spec.triggers:
            owners.setdefault(prefix, set()).add(index)
    return Lexicon(
        languages=tuple(p.stem for p in paths),
        flags=tuple(flags),
        triggers={prefix: frozenset(found) for prefix, found in owners.items()},
        trigger_lengths=tuple(sorted({len(prefix) for prefix in owners})),
        opt_out_anywhere=opt_out_anywhere,
        opt_out_any=re.compile("|".join(f"(?:{p.pattern})" for _, p in opt_out_anywhere)),
        opt_out_prefilter=re.compile(_word_pattern(merged("opt_out.prefilter"))),
        opt_out_whole={k: v for lang in langs for k, v in lang["opt_out.whole"].items()},
        stop_fillers=word_set("opt_out.fillers"),
        leading_stop=words("opt_out.leading_stop"),
        leading_opt_out=words("opt_out.leading_stop") | words("opt_out.leading_if_only_fillers"),
        opt_in_whole=words("opt_in.whole"),
        help_first_clause=words("help.first_clause"),
        help_whole=words("help.first_clause") | words("help.whole"),
        opt_out_negated=_any_of(merged("opt_out.negated")),
        opt_in_anywhere=_any_of(merged("opt_in.anywhere")),
        help_anywhere=_any_of(merged("help.anywhere")),
        wrong_number=_any_of(merged("wrong_number.anywhere")),
        not_the_patient=tuple(dict.fromkeys(merged("wrong_number.not_the_patient"))),
        shorthand=shorthand,
        shorthand_re=_shorthand_re(shorthand),
        fuzzy_terms=tuple(dict.fromkeys(merged("fuzzy.terms"))),
        fuzzy_keep=tuple(dict.fromkeys(merged("fuzzy.keep"))),
        fuzzy_known=frozenset(merged("fuzzy.terms") + merged("fuzzy.keep")) | _known_words(langs),
        polite=re.compile(rf"^(?:(?:{leading})(?: |$))+|(?:(?:^| )(?:{_word_pattern(polite)}))+$"),
        negators=words("negation.negators"),
        neg_gap=words("negation.gap"),
        list_connectors=words("negation.list_connectors"),
        list_fillers=words("negation.list_fillers"),
        symptom_starts=words("negation.symptom_starts"),
        minimizers=words("negation.minimizers"),
        minimizers_after=words("negation.minimizers_after"),
        reassurance=words("negation.reassurance"),
        negated_after=words("negation.negated_after"),
        resolved_after=re.compile(
            rf"(?:(?:{_word_pattern(merged('resolution.lead'))}) )*"
            rf"(?:{_alternation(merged('resolution.ends'))})\b"
        ),
        resolved_before=words("resolution.before"),
        resolved_before_skip=words("resolution.before_skip"),
        clause_split=re.compile(
            rf"(,|[.!?;\n\r]+|\b(?:{_word_pattern(merged('clauses.breaks'))})\b)"
        ),
        number_words=numbers,
        homophones=lang_homophones,
        maybe_number=re.compile(
            r"\d|\b(?:"
            + "|".join(sorted(numbers.keys() | zero_words))
            + r")\b"
            + _homophone_hint(words("scores.articles"), lang_homophones)
        ),
        zero_words=zero_words,
        zero_tail=word_set("scores.zero_tail"),
        zero_phrase=re.compile(
            "|".join(
                [
                    rf"\b(?:{_word_pattern(merged('scores.zero_leads'))}) "
                    rf"(?:{_word_pattern(merged('scores.zero_nouns'))})\b"
                ]
                + [rf"\b(?:{p})\b" for p in merged("scores.zero_phrases")]
            )
        ),
        zero_blockers=re.compile(rf"\s*(?:{_alternation(merged('scores.zero_blockers'))})\b"),
        zero_subject=re.compile(rf"\b(?:{_alternation(merged('scores.zero_subjects'))})\b"),
        units=words("scores.units"),
        unit_skip=words("scores.unit_skip"),
        pre_reject=words("scores.pre_reject"),
        past_before=words("scores.past_before"),
        past_after=words("scores.past_after"),
        at_cues=words("scores.at_cues"),
        cues=word_set("scores.cues"),
        strong_cues=words("scores.strong_cues"),
        now=words("scores.now"),
        one_words=words("scores.one_words"),
        one_block_before=words("scores.one_block_before"),
        one_block_after=words("scores.one_block_after"),
        articles=words("scores.articles"),
        months=words("scores.months"),
        ordinals=words("scores.ordinals"),
        range_words=word_set("scores.range_words"),
        scale_words=tuple(dict.fromkeys(tuple(p.split()) for p in merged("scores.scale_words"))),
        halves=tuple(dict.fromkeys(tuple(p.split()) for p in merged("scores.halves"))),
        from_to=frozenset(tuple(p.split()) for p in merged("scores.from_to")),
        time_context=words("scores.time_context"),
        pain_cues=words("scores.pain_cues"),
        digit_word_followers=words("scores.digit_word_followers"),
        score_words=frozenset().union(
            word_set("scores.cues"),
            words("scores.strong_cues"),
            words("scores.pain_cues"),
            word_set("opt_out.fillers"),
            words("scores.now"),
            word_set("scores.zero_tail"),
            numbers,
            zero_words,
            words("negation.reassurance"),
            words("scores.articles"),
            word_set("polite.both_ends"),
            word_set("polite.leading"),
            word_set("scores.range_words"),
            words("scores.past_before"),
            words("scores.past_after"),
            (w for p in merged("scores.scale_words") for w in p.split()),
        ),
        phrase_starts=frozenset(
            p.split()[0] for p in merged("scores.scale_words") + merged("scores.halves")
        ),
    )


def _homophone_hint(articles: frozenset[str], homophones: dict[str, int]) -> str:
    """ "a for", "an ate": cheap to look for, so the score reader is not run on every "for"."""
    if not articles or not homophones:
        return ""
    return rf"|\b(?:{_word_pattern(list(articles))}) (?:{_word_pattern(list(homophones))})\b"


def _any_of(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(rf"\b(?:{p})\b" for p in patterns)) if patterns else None


def _shorthand_re(shorthand: dict[str, str]) -> re.Pattern[str] | None:
    """One pattern for every shorthand token. A digit stands for a word ("hard 2 breathe")
    only between two words; a letter token anywhere it stands alone ("sob", "u")."""
    if not shorthand:
        return None
    words = [w for w in shorthand if not w.isdigit()]
    digits = [d for d in shorthand if d.isdigit()]
    parts = []
    if words:
        parts.append(rf"\b(?:{_word_pattern(words)})\b")
    if digits:
        parts.append(rf"(?<=[^\W\d_] )(?:{_word_pattern(digits)})(?= [^\W\d_])")
    return re.compile("|".join(parts))


def _known_words(langs: list[dict]) -> frozenset[str]:
    """Every single word the lexicon lists: never "corrected" into an alarm word."""
    entries = [
        f"{section}.{key}"
        for section, keys in LANGUAGE_SCHEMA.items()
        for key, kind in keys.items()
        if kind == "words"
    ]
    return frozenset(w for lang in langs for e in entries for p in lang[e] for w in p.split())


def _whole_words(patterns: list[str]) -> re.Pattern[str]:
    """Each pattern an alternative that starts and ends at a word boundary."""
    return re.compile("|".join(rf"\b(?:{p})\b" for p in patterns))


def _anywhere(pattern: str) -> str:
    """An opt-out pattern matches whole words, or runs to the end of the message (``$``)."""
    return rf"\b(?:{pattern})" + ("" if pattern.endswith("$") else r"\b")


@cache
def default() -> Lexicon:
    """The lexicon shipped in the package, loaded once per process."""
    return load(DEFAULT_DIR)
