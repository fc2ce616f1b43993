"""``followup templates check``: every problem in a catalogue, and the policy texts follow.

:meth:`~followup.texts.catalogue.Catalogue.load` refuses what cannot work at all and stops at
the first error; :func:`lint` reports every such problem plus the policy rules (one GSM-7
segment with long sample values, STOP/HELP in the first text, the clinic named, no forbidden
words, same keys as ``en``), so a clinic sees all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from followup.texts.catalogue import (
    CONDITIONS,
    DEFAULT_LOCALE,
    FIRST_MESSAGE_KEY,
    LOCALE_FILE,
    NAMELESS_KEYS,
    PLAN_KEYS,
    STAFF_KEYS,
    TEMPLATE_KEYS,
    Catalogue,
    Template,
    TemplateError,
    compile_source,
    environment,
    read_source,
    scan,
)
from followup.texts.locales import (
    LocaleInfo,
    longest_appointment,
    longest_callback,
    parse_locale_file,
)
from followup.texts.names import clinic_name_for_sms, patient_names
from followup.texts.segments import SegmentInfo, analyze, is_gsm7

# Long but realistic values: a text that fits one segment with these fits with real ones.
# A first name as long as texts carry (FIRST_NAME_MAX, 20), a 30-character clinic name, a US
# phone number, a 3-digit emergency number.
LONG_SAMPLE: Mapping[str, str] = {
    "first_name": "Maximiliana Fernanda",
    "clinic_name": "Harbor Physio and Sports Rehab",
    "clinic_phone": "(555) 555-0100",
    "emergency_number": "911",
}
# Names as clinics' systems hold them, (first name, clinic name), put through
# followup.texts.names as the renderers do: accents GSM-7 lacks, a curly apostrophe, invisible
# characters, a first name longer than texts carry, a 30-character clinic name with accents.
NAME_SAMPLES: tuple[tuple[str, str], ...] = (
    ("Lucía", "Clínica Ramón"),
    ("María-José Núñez O’Connor", "Fisioterapia Ramón y Lucía SLP"),
    ("Zoë\u200b\u202e Çelik", "Physio\u00a0Łódź\u2066 Sports Rehab"),
    ("Bartholomew Alexander Montgomery", "Harbor Physio and Sports Rehab"),
)


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`lint`."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


#: a whole segment: the most room a name can have in a text
GSM7_ROOM = 160

# Words no template may contain (case-insensitive, whole words), with the reason shown.
# Absolute claims and treatment names come from clinical.md sections 1 and 4; "water" because
# there is no good evidence for drinking extra water; "yes" because a lone YES re-subscribes
# at Twilio, so patients are asked for numbers instead.
_ABSOLUTE = "an absolute claim; say what usually happens"
_TREATMENT = "names the treatment (PHI); say nothing about what was done"
_WATER = "no good evidence for drinking extra water; do not advise it"
FORBIDDEN_WORDS: Mapping[str, str] = {
    **dict.fromkeys(
        ["guarantee", "guaranteed", "guarantees", "cure", "cures", "cured", "proven",
         "safe for everyone", "will go away", "100%", "garantizado", "garantizada",
         "garantizamos", "cura", "curar", "comprobado", "probado", "seguro para todos"],
        _ABSOLUTE,
    ),
    **dict.fromkeys(
        ["dry needling", "needling", "needle", "needles", "acupuncture", "puncion", "punción",
         "aguja", "agujas", "acupuntura"],
        _TREATMENT,
    ),
    **dict.fromkeys(["water", "hydrate", "hydration", "agua", "hidratarse", "hidratar"], _WATER),
    "yes": "asks for a yes/no answer (YES is an opt-in keyword at Twilio); ask for a number",
}  # fmt: skip
# Upper-case answer words (case-sensitive, so Spanish "no" and "si" stay usable in sentences).
ANSWER_WORDS = ("NO", "SI", "SÍ")


def _position(source: str, index: int) -> str:
    line = source.count("\n", 0, index) + 1
    column = index - (source.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _has_word(text: str, word: str, *, ignore_case: bool = True) -> bool:
    flags = re.IGNORECASE if ignore_case else 0
    return re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text, flags) is not None


def long_context(
    info: LocaleInfo, values: Mapping[str, str] | None = None
) -> dict[str, str | bool]:
    """Long values to fill a template with: :data:`LONG_SAMPLE`, the longest appointment
    time and call-back time of the locale, or ``values`` where given (a clinic's own name
    and phone). Conditions are true; :func:`contexts` tries every combination."""
    return {
        **LONG_SAMPLE,
        "appointment_time": longest_appointment(info),
        "callback_when": longest_callback(info),
        **dict.fromkeys(CONDITIONS, True),
        **(values or {}),
    }


def contexts(
    t: Template, info: LocaleInfo, values: Mapping[str, str] | None = None
) -> Iterator[dict[str, str | bool]]:
    """:func:`long_context` with each combination of true and false for the conditions
    ``t`` uses (``{% if staff_alerted %}``): every text it can send is checked."""
    used = sorted(CONDITIONS & t.placeholders)
    base = long_context(info, values)
    for mask in range(2 ** len(used)):
        yield {**base, **{name: bool(mask >> i & 1) for i, name in enumerate(used)}}


def _combination(context: Mapping[str, str | bool]) -> str:
    """`` (with staff_alerted false)`` for a context whose conditions are not all true."""
    off = sorted(name for name in CONDITIONS if context.get(name) is False)
    return f" (with {' and '.join(off)} false)" if off else ""


def oversized(catalogue: Catalogue, values: Mapping[str, str]) -> list[str]:
    """The templates that no longer fit one segment with ``values`` (a clinic's real name,
    phone and emergency number), as ``locale/key: why`` lines. The clinic name as texts
    spell it (folded to GSM-7, :func:`followup.texts.names.clinic_name_for_sms`)."""
    if "clinic_name" in values:
        values = {**values, "clinic_name": clinic_name_for_sms(values["clinic_name"])}
    found = []
    for locale in catalogue.locales:
        info = catalogue.locale_info(locale)
        for key in sorted(catalogue.keys(locale)):
            template = catalogue.template(key, locale)
            for context in contexts(template, info, values):
                seg = analyze(template.render(context))
                if seg.segments > 1 or seg.encoding != "GSM-7":
                    found.append(
                        f"{locale}/{key}: {seg.segments} {seg.encoding} segment(s), "
                        f"{seg.characters} characters"
                    )
                    break
    return found


def _policy(t: Template, info: LocaleInfo) -> Iterator[str]:
    """The rules a loadable template must still follow (see messages/README.md)."""
    for char in dict.fromkeys(c for c in t.source if not is_gsm7(c)):
        where = _position(t.source, t.source.index(char))
        yield f"not GSM-7 because of {char!r} (U+{ord(char):04X}) at {where}"
    texts = [(t.render(context), _combination(context)) for context in contexts(t, info)]
    for rendered, which in texts:
        seg = analyze(rendered)
        if seg.segments > 1:
            yield (
                f"{seg.segments} {seg.encoding} segments ({seg.characters} characters) with "
                f"long sample values{which}; the limit is 1 segment of 160 GSM-7 characters"
            )
    if t.key in NAMELESS_KEYS:
        pass  # said when no clinic is known (compile_template checks what it may use)
    elif "clinic_name" not in t.placeholders:
        yield "does not name the clinic: add {{ clinic_name }}"
    else:
        for rendered, which in texts:
            if LONG_SAMPLE["clinic_name"] not in rendered:
                yield f"does not name the clinic{which}: add {{{{ clinic_name }}}} there too"
    if t.key == FIRST_MESSAGE_KEY:
        missing = [w for w in ("STOP", "HELP") if not _has_word(t.source, w, ignore_case=False)]
        if missing:
            words = " and ".join(missing)
            yield f"the first message must say how to opt out and get help: add {words}"
    every = " ".join(rendered for rendered, _ in texts)
    for word, reason in FORBIDDEN_WORDS.items():
        if _has_word(every, word):
            yield f"contains {word!r}: {reason}"
    for word in ANSWER_WORDS:
        if _has_word(every, word, ignore_case=False):
            yield f"contains {word!r}: asks for a yes/no answer; ask for a number"


def _names_policy(t: Template, info: LocaleInfo) -> Iterator[str]:
    """Every text still one GSM-7 segment with the names of :data:`NAME_SAMPLES`, filled in
    the way the renderers fill them (:func:`followup.texts.names.patient_names`). Said only
    of a text that fits with :data:`LONG_SAMPLE` (:func:`_policy` reports the others)."""
    for context in contexts(t, info):
        if not _fits(t.render(context)):
            continue
        for first_name, clinic_name in NAME_SAMPLES:
            seg = analyze(t.render({**context, **patient_names(first_name, clinic_name)}))
            if not _fits_info(seg):
                yield (
                    f"{seg.segments} {seg.encoding} segment(s) ({seg.characters} characters) "
                    f"with the names {first_name!r} and {clinic_name!r}"
                    f"{_combination(context)}; the limit is 1 segment of 160 GSM-7 characters"
                )
                return


def _fits_info(seg: SegmentInfo) -> bool:
    return seg.segments == 1 and seg.encoding == "GSM-7"


def _fits(text: str) -> bool:
    return _fits_info(analyze(text))


#: words a clinic's wording must keep wherever the default text says them: how to stop the
#: texts, get help, and start them again (carriers require them where they appear)
KEYWORDS = ("STOP", "HELP", "START")
#: placeholders a clinic's wording must keep wherever the default text gives them: the way
#: to emergency help is never worded away
KEPT_PLACEHOLDERS = ("emergency_number",)


def check_source(
    key: str,
    locale: str,
    source: str,
    info: LocaleInfo,
    *,
    path: Path = Path("<text>"),
    default: Template | None = None,
) -> list[str]:
    """Every problem of one template text for ``key`` in ``locale``: the load-time rules
    (syntax, known placeholders), then every policy rule of ``followup templates check``
    (one GSM-7 segment with long and accented names, STOP/HELP in the first text, the
    clinic named, no forbidden words). With ``default`` (the catalogue's text, when this is
    a clinic's own wording): the words and placeholders of :data:`KEYWORDS` and
    :data:`KEPT_PLACEHOLDERS` the default has must stay."""
    try:
        t = compile_source(environment(), key, locale, source, path)
    except TemplateError as exc:
        return [exc.reason]
    problems = list(_policy(t, info)) + list(_names_policy(t, info))
    if default is not None:
        for name in KEPT_PLACEHOLDERS:
            if name in default.placeholders and name not in t.placeholders:
                problems.append(
                    f"must keep {{{{ {name} }}}}: the default text gives it, and patients "
                    "must always be told how to reach emergency help"
                )
        for name in CONDITIONS & default.placeholders - t.placeholders:
            problems.append(
                f"must keep {{% if {name} %}} around what depends on it: the default says "
                "staff were told only when they were, and patients must not be told so "
                "when nobody was"
            )
        for word in KEYWORDS:
            if _has_word(default.source, word, ignore_case=False) and not _has_word(
                t.source, word, ignore_case=False
            ):
                problems.append(f"must keep {word}: the default text tells patients about it")
    return problems


def first_name_room(catalogue: Catalogue) -> int:
    """The longest first name (GSM-7 septets) every text of ``catalogue`` that names the
    patient has room for in one segment, with the other long sample values (each condition
    true and false): what :data:`followup.texts.names.FIRST_NAME_MAX` is measured against."""
    room = GSM7_ROOM
    for locale in catalogue.locales:
        info = catalogue.locale_info(locale)
        for key in catalogue.keys(locale):
            template = catalogue.template(key, locale)
            if "first_name" not in template.placeholders:
                continue
            for context in contexts(template, info):
                fits = 0
                while fits < room:
                    name = "x" * (fits + 1)
                    if analyze(template.render({**context, "first_name": name})).segments > 1:
                        break
                    fits += 1
                room = fits
    return room


def lint(directory: Path) -> list[Problem]:
    """Every problem in the catalogue at ``directory``: load errors and policy, sorted by file."""
    directory = Path(directory)
    entries, errors = scan(directory)
    problems = [Problem(e.path, e.reason) for e in errors]
    sources: dict[str, dict[str, tuple[Path, str]]] = {}
    infos: dict[str, LocaleInfo] = {}
    present: dict[str, set[str]] = {}  # keys with a file, broken or not
    for locale, key, path in entries:
        sources.setdefault(locale, {})
        present.setdefault(locale, set())
        if key is not None:
            present[locale].add(key)
        try:
            if key is None and path.name == LOCALE_FILE:
                infos[locale] = parse_locale_file(path)
            elif key is not None:
                sources[locale][key] = (path, read_source(path))
        except TemplateError as exc:
            problems.append(Problem(exc.path, exc.reason))
    for locale, by_key in sources.items():
        folder = directory / locale
        if not (folder / LOCALE_FILE).exists():
            problems.append(Problem(folder / LOCALE_FILE, "missing (sets appointment_format)"))
        info = infos.get(locale) or infos.get(DEFAULT_LOCALE) or LocaleInfo()
        for key, (path, source) in by_key.items():
            found = check_source(key, locale, source, info, path=path)
            problems += [Problem(path, reason) for reason in found]
    if DEFAULT_LOCALE not in sources:
        problems.append(Problem(directory / DEFAULT_LOCALE, "missing: en is the last fallback"))
    else:
        for key in TEMPLATE_KEYS:
            if key not in present[DEFAULT_LOCALE]:
                path = directory / DEFAULT_LOCALE / f"{key}.txt"
                why = (
                    "the default care plan sends it" if key in PLAN_KEYS
                    else "ends staff texts" if key in STAFF_KEYS else "answers replies"
                )  # fmt: skip
                problems.append(Problem(path, f"missing: {why}"))
        for locale, keys in present.items():
            for key in sorted(present[DEFAULT_LOCALE] - keys):
                path = directory / locale / f"{key}.txt"
                problems.append(Problem(path, "missing: en has it (patients would get English)"))
    return sorted(problems, key=lambda p: (str(p.path), p.reason))


def count_templates(directory: Path) -> tuple[int, int]:
    """(templates, locales) in a catalogue that loads; for the ``check`` summary line."""
    catalogue = Catalogue.load(directory)
    return sum(len(catalogue.keys(loc)) for loc in catalogue.locales), len(catalogue.locales)
