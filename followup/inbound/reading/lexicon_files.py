"""Read the lexicon's TOML files and check every entry, naming the file and entry on a mistake.

Checking is separate from compiling (:mod:`.lexicon`): this module knows what each file may
hold (``LANGUAGE_SCHEMA``, ``FLAG_KEYS``, ``RULE_KEYS``) and refuses anything else, so a typo in
a key is an error rather than a word list that silently does nothing.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from followup.inbound.reading.normalise import words_of

SEVERITIES = {"emergency": 2, "clinic_today": 1}
_FRAGMENT = re.compile(r"\{(\*?)([a-z_]+)\}")
_ESCAPE = re.compile(r"\\.")


class LexiconError(ValueError):
    """A lexicon file the reader cannot use; the message names the file and the entry."""


LANGUAGE_SCHEMA: dict[str, dict[str, str]] = {
    "opt_out": {
        "prefilter": "words",
        "whole": "map",
        "fillers": "words",
        "leading_stop": "words",
        "leading_if_only_fillers": "words",
        "negated": "patterns",
    },
    "opt_in": {"whole": "words", "anywhere": "patterns"},
    "help": {"first_clause": "words", "whole": "words", "anywhere": "patterns"},
    "wrong_number": {"anywhere": "patterns", "not_the_patient": "words"},
    "fuzzy": {"terms": "words", "keep": "words"},
    "polite": {"both_ends": "words", "leading": "words"},
    "negation": {
        "negators": "words",
        "gap": "words",
        "list_connectors": "words",
        "list_fillers": "words",
        "symptom_starts": "words",
        "minimizers": "words",
        "minimizers_after": "words",
        "reassurance": "words",
        "negated_after": "words",
    },
    "resolution": {"lead": "words", "ends": "patterns", "before": "words", "before_skip": "words"},
    "clauses": {"breaks": "words"},
    "contexts": {},  # name -> words, any names
    "shorthand": {},  # SMS shorthand -> what it stands for, any names
    "fragments": {},  # name -> pattern, any names
    "flags": {},  # flag id -> table, checked against flags.toml
    "scores": {
        "number_words": "numbers",
        "homophones": "numbers",
        "zero_words": "words",
        "zero_tail": "words",
        "zero_leads": "words",
        "zero_nouns": "words",
        "zero_phrases": "patterns",
        "zero_blockers": "patterns",
        "zero_subjects": "patterns",
        "units": "words",
        "unit_skip": "words",
        "pre_reject": "words",
        "past_before": "words",
        "past_after": "words",
        "at_cues": "words",
        "cues": "words",
        "strong_cues": "words",
        "now": "words",
        "one_words": "words",
        "one_block_before": "words",
        "one_block_after": "words",
        "articles": "words",
        "months": "words",
        "ordinals": "words",
        "range_words": "words",
        "scale_words": "words",
        "halves": "words",
        "from_to": "words",
        "time_context": "words",
        "pain_cues": "words",
        "digit_word_followers": "words",
    },
}
FLAG_KEYS = {
    "triggers": "words",
    "strong": "patterns",
    "bare": "patterns",
    "negated": "patterns",
    "resolved_before": "words",
}
RULE_KEYS = {
    "id", "name", "severity", "inner_negation", "resolvable", "unless_context", "fallback",
}  # fmt: skip


class _File:
    """One TOML file being read: every complaint names it and the entry."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise LexiconError(f"{path.name}: cannot be read: {exc}") from exc

    def fail(self, entry: str, problem: str) -> LexiconError:
        return LexiconError(f"{self.path.name}: {entry}: {problem}")


def _normalised(word: str) -> bool:
    """Whether a word or phrase is written the way the reader sees text (see normalise.py)."""
    spaced = words_of(word)
    return bool(word) and word == spaced and word.isascii() and word == word.casefold()


def _words(file: _File, entry: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(w, str) for w in value):
        raise file.fail(entry, "expected a list of words")
    for word in value:
        if not _normalised(word):
            raise file.fail(
                entry,
                f"{word!r} is not normalised (lower case, no accents, no apostrophes or "
                "punctuation): it could never match",
            )
    seen = set()
    for word in value:
        if word in seen:
            raise file.fail(entry, f"{word!r} is listed twice")
        seen.add(word)
    return list(value)


def _patterns(
    file: _File,
    entry: str,
    value: Any,
    fragments: dict[str, str],
    shared: dict[str, str] | None = None,
) -> list[str]:
    """Check and expand patterns: ``{name}`` is this file's fragment, ``{*name}`` the union
    of that fragment over every language file (for code-switching: "mi pecho hurts")."""
    shared = shared or {}
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value or not all(isinstance(p, str) for p in value):
        raise file.fail(entry, "expected a pattern or a list of patterns")
    out = []
    for raw in value:
        plain = _ESCAPE.sub("", raw)
        if not plain.isascii() or plain != plain.casefold():
            raise file.fail(entry, f"'{raw}' has upper case or accents: it could never match")

        def fragment(m: re.Match[str], raw: str = raw) -> str:
            every, name = m.groups()
            table = shared if every else fragments
            if name not in table:
                where = "any language's [fragments]" if every else "[fragments]"
                raise file.fail(entry, f"'{raw}' uses {m.group()}, not in {where}")
            return table[name]

        pattern = _FRAGMENT.sub(fragment, raw)
        try:
            re.compile(pattern)
        except re.error as exc:
            raise file.fail(entry, f"'{raw}' is not a valid pattern: {exc}") from exc
        out.append(pattern)
    return out


def _table(file: _File, entry: str, value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise file.fail(entry, "expected a table")
    return value


def read_rules(path: Path) -> list[dict[str, Any]]:
    """flags.toml: the red flags, in order, each checked."""
    file = _File(path)
    extra = set(file.data) - {"flag"}
    if extra:
        raise file.fail(sorted(extra)[0], "unknown entry (only [[flag]] tables belong here)")
    rules = file.data.get("flag")
    if not isinstance(rules, list) or not rules:
        raise file.fail("flag", "expected at least one [[flag]] table")
    ids = set()
    for n, rule in enumerate(rules, 1):
        if not isinstance(rule, dict):
            raise file.fail(f"flag #{n}", "expected a [[flag]] table")
        where = f"flag {rule.get('id', f'#{n}')!s}"
        unknown = set(rule) - RULE_KEYS
        if unknown:
            raise file.fail(where, f"unknown key {sorted(unknown)[0]!r}")
        for key in ("id", "name", "severity"):
            if not isinstance(rule.get(key), str) or not rule[key]:
                raise file.fail(where, f"{key!r} is required")
        for key in ("inner_negation", "resolvable", "fallback"):
            if not isinstance(rule.get(key, False), bool):
                raise file.fail(where, f"{key!r} must be true or false")
        if not isinstance(rule.get("unless_context", ""), str):
            raise file.fail(where, "'unless_context' must be the name of a [contexts] list")
        if rule["severity"] not in SEVERITIES:
            raise file.fail(where, f"severity must be one of {sorted(SEVERITIES)}")
        if rule["severity"] == "emergency" and rule.get("resolvable"):
            raise file.fail(
                where, "an emergency is never resolvable: pain that went away still needs a person"
            )
        if rule["id"] in ids:
            raise file.fail(where, "id is listed twice")
        ids.add(rule["id"])
    return rules


def read_fragments(path: Path) -> dict[str, str]:
    """A language file's [fragments], checked (a fragment may not use other fragments)."""
    file = _File(path)
    fragments = {}
    for name, raw in _table(file, "fragments", file.data.get("fragments", {})).items():
        fragments[name] = _patterns(file, f"fragments.{name}", raw, {})[0]
    return fragments


def read_language(path: Path, rule_ids: set[str], shared: dict[str, str]) -> dict[str, Any]:
    """A language file's entries (keyed "section.key"), every word checked and every pattern
    expanded; `rule_ids` are the flags flags.toml defines, `shared` the ``{*name}`` unions."""
    file = _File(path)
    data = file.data
    for section in data:
        if section not in LANGUAGE_SCHEMA:
            raise file.fail(section, "unknown section")
    fragments = read_fragments(path)
    out: dict[str, Any] = {"fragments": fragments}
    for section, keys in LANGUAGE_SCHEMA.items():
        if not keys:
            continue
        table = _table(file, section, data.get(section, {}))
        for key in table:
            if key not in keys and not (section == "opt_out" and key == "anywhere"):
                raise file.fail(f"{section}.{key}", "unknown key")
        for key, kind in keys.items():
            entry = f"{section}.{key}"
            value = table.get(key, {} if kind in {"map", "numbers"} else [])
            if kind == "words":
                out[entry] = _words(file, entry, value)
            elif kind == "patterns":
                out[entry] = _patterns(file, entry, value, fragments, shared) if value else []
            elif kind == "map":
                out[entry] = {
                    w: _names(file, entry, w, n) for w, n in _table(file, entry, value).items()
                }
            else:
                out[entry] = {
                    w: _number(file, entry, w, n) for w, n in _table(file, entry, value).items()
                }
    anywhere = _table(file, "opt_out.anywhere", data.get("opt_out", {}).get("anywhere", {}))
    out["opt_out.anywhere"] = [
        (name, _patterns(file, f"opt_out.anywhere.{name!r}", p, fragments, shared))
        for name, p in anywhere.items()
    ]
    shorthand = _table(file, "shorthand", data.get("shorthand", {}))
    out["shorthand"] = {
        short: _names(file, "shorthand", short, meaning) for short, meaning in shorthand.items()
    }
    for short, meaning in out["shorthand"].items():
        if not _normalised(meaning):
            raise file.fail(f"shorthand.{short!r}", f"{meaning!r} is not normalised")
    contexts = _table(file, "contexts", data.get("contexts", {}))
    out["contexts"] = {name: _words(file, f"contexts.{name}", v) for name, v in contexts.items()}
    flags = {}
    for flag_id, table in _table(file, "flags", data.get("flags", {})).items():
        where = f"flags.{flag_id}"
        if flag_id not in rule_ids:
            raise file.fail(where, "no such flag in flags.toml")
        table = _table(file, where, table)
        for key in table:
            if key not in FLAG_KEYS:
                raise file.fail(f"{where}.{key}", "unknown key")
        if table.get("strong") and not table.get("triggers"):
            raise file.fail(f"{where}.triggers", "a flag with patterns needs trigger prefixes")
        for trigger in table.get("triggers", []):
            if isinstance(trigger, str) and " " in trigger:
                raise file.fail(f"{where}.triggers", f"{trigger!r}: a trigger is one word prefix")
        checked: dict[str, list[str]] = {}
        for key, kind in FLAG_KEYS.items():
            if kind == "words":
                checked[key] = _words(file, f"{where}.{key}", table.get(key, []))
            else:
                value = table.get(key)
                checked[key] = (
                    _patterns(file, f"{where}.{key}", value, fragments, shared) if value else []
                )
        flags[flag_id] = checked
    out["flags"] = flags
    return out


def _names(file: _File, entry: str, phrase: str, name: Any) -> str:
    if not _normalised(phrase) or not isinstance(name, str) or not name:
        raise file.fail(f"{entry}.{phrase!r}", "expected a normalised phrase = a name")
    return name


def _number(file: _File, entry: str, word: str, value: Any) -> int:
    if not _normalised(word) or not isinstance(value, int) or not 0 <= value <= 20:
        raise file.fail(f"{entry}.{word!r}", "expected a normalised word = a number 0-20")
    return value
