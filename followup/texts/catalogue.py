"""The message catalogue: the texts clinics edit, loaded from ``messages/<locale>/<key>.txt``.

Why files and Jinja: clinic staff edit plain text with ``{{ placeholder }}`` slots, and a
sandboxed environment with ``StrictUndefined`` means a typo in a placeholder is an error at
load time (or at the latest at render time), never a message that says "Hi ," to a patient.
Only the placeholders in :data:`ALLOWED_PLACEHOLDERS` exist: the texts must carry no PHI, so
there is deliberately no slot for a diagnosis, body region or treatment.

Two levels of checking:

- :meth:`Catalogue.load` refuses what cannot work at all (unreadable file, syntax error,
  unknown placeholder, empty text, bad ``locale.json``) and raises on the first one.
- :func:`lint` (``followup templates check``) reports every such problem plus the policy rules
  (one GSM-7 segment with long sample values, STOP/HELP in the first text, the clinic named,
  no forbidden words, same keys as ``en``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from followup.texts.segments import analyze, is_gsm7

ALLOWED_PLACEHOLDERS = frozenset(
    {"first_name", "clinic_name", "clinic_phone", "emergency_number", "appointment_time"}
)
# The keys the default care plan sends, and the answers to a patient's reply (see
# followup/triage.py); every one must exist in ``en``, the last fallback.
PLAN_KEYS = ("aftercare", "checkin_24h", "checkin_24h_breathing", "checkin_72h", "reminder")
REPLY_KEYS = (
    "reply_emergency", "reply_clinic_today", "reply_callback", "reply_thanks", "reply_received",
    "reply_opt_out", "reply_opt_in", "reply_help",
)  # fmt: skip
TEMPLATE_KEYS = PLAN_KEYS + REPLY_KEYS
FIRST_MESSAGE_KEY = "aftercare"
DEFAULT_LOCALE = "en"
LOCALE_FILE = "locale.json"

# Long but realistic values: a text that fits one segment with these fits with real ones.
# 20-character first name, 30-character clinic name, a US phone number, 3-digit emergency number.
LONG_SAMPLE: Mapping[str, str] = {
    "first_name": "Maximiliana Fernanda",
    "clinic_name": "Harbor Physio and Sports Rehab",
    "clinic_phone": "(555) 555-0100",
    "emergency_number": "911",
}

_LOCALE_NAME = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_KEY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August")
_MONTHS += ("September", "October", "November", "December")
_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_ENGLISH_NAMES: dict[str, tuple[str, ...]] = {
    "month_names": _MONTHS,
    "month_abbr": tuple(m[:3] for m in _MONTHS),
    "day_names": _DAYS,
    "day_abbr": tuple(d[:3] for d in _DAYS),
    "am_pm": ("AM", "PM"),
}
_NAME_COUNTS = {"month_names": 12, "month_abbr": 12, "day_names": 7, "day_abbr": 7, "am_pm": 2}


class TemplateError(Exception):
    """A template or locale file that cannot be used; ``str()`` names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class Problem:
    """One finding of :func:`lint`."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


# --- appointment times -------------------------------------------------------------------
#
# A small strftime of our own instead of time.strftime: the process C locale must not decide
# the language of a patient's text, "%-d" is not portable, and Spanish names such as
# "sábado" would turn the message into UCS-2. Names come from locale.json (English default).

_DIRECTIVE = re.compile(r"%(-?)(.)", re.DOTALL)
_NUMERIC = {"d", "m", "H", "I", "M", "y", "Y"}
_NAMED = {"a": "day_abbr", "A": "day_names", "b": "month_abbr", "B": "month_names", "p": "am_pm"}


@dataclass(frozen=True)
class LocaleInfo:
    """Per-locale settings from ``locale.json``."""

    appointment_format: str = "%a %b %-d at %-I:%M %p"
    names: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: dict(_ENGLISH_NAMES))


def _expand(fmt: str, value: Callable[[str, bool], str]) -> str:
    """Replace each directive through ``value(letter, no_padding)``; raise ValueError if unknown."""
    out, pos = [], 0
    for match in _DIRECTIVE.finditer(fmt):
        out.append(fmt[pos : match.start()])
        pos = match.end()
        dash, letter = match.group(1) == "-", match.group(2)
        if letter == "%" and not dash:
            out.append("%")
        elif (letter in _NAMED and not dash) or letter in _NUMERIC:
            out.append(value(letter, dash))
        else:
            raise ValueError(f"unsupported directive %{match.group(1)}{letter}")
    rest = fmt[pos:]
    if "%" in rest:
        raise ValueError("a lone '%' at the end")
    return "".join(out) + rest


def _format_local(local: datetime, info: LocaleInfo) -> str:
    def value(letter: str, dash: bool) -> str:
        if letter in _NAMED:
            names = info.names[_NAMED[letter]]
            index = {"a": local.weekday(), "A": local.weekday(), "p": local.hour >= 12}.get(
                letter, local.month - 1
            )
            return names[int(index)]
        number = {
            "d": local.day,
            "m": local.month,
            "H": local.hour,
            "I": local.hour % 12 or 12,
            "M": local.minute,
            "y": local.year % 100,
            "Y": local.year,
        }[letter]
        return str(number) if dash or letter == "Y" else f"{number:02d}"

    return _expand(info.appointment_format, value)


def longest_appointment(info: LocaleInfo) -> str:
    """The longest text ``info``'s format can produce (for the one-segment check)."""

    def value(letter: str, dash: bool) -> str:
        if letter in _NAMED:
            return max(info.names[_NAMED[letter]], key=len)
        return "2099" if letter == "Y" else "12"

    return _expand(info.appointment_format, value)


def _parse_locale_file(path: Path) -> LocaleInfo:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TemplateError(path, f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise TemplateError(path, "expected a JSON object")
    unknown = sorted(set(data) - {"appointment_format", *_NAME_COUNTS})
    if unknown:
        raise TemplateError(path, f"unknown setting(s) {', '.join(unknown)}")
    fmt = data.get("appointment_format")
    if not isinstance(fmt, str) or not fmt.strip():
        raise TemplateError(path, "appointment_format: expected a non-empty string")
    names = dict(_ENGLISH_NAMES)
    for name, count in _NAME_COUNTS.items():
        if name not in data:
            continue
        values = data[name]
        if not (isinstance(values, list) and len(values) == count):
            raise TemplateError(path, f"{name}: expected a list of {count} strings")
        if not all(isinstance(v, str) and v.strip() for v in values):
            raise TemplateError(path, f"{name}: expected a list of {count} non-empty strings")
        names[name] = tuple(values)
    info = LocaleInfo(fmt, names)
    try:
        sample = longest_appointment(info)
    except ValueError as exc:
        raise TemplateError(path, f"appointment_format: {exc}") from None
    bad = [c for c in sample + fmt if not is_gsm7(c)]
    if bad:
        raise TemplateError(
            path, f"not GSM-7 because of {bad[0]!r} (U+{ord(bad[0]):04X}) in a date name or format"
        )
    return info


# --- loading -------------------------------------------------------------------------------


def _environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


@dataclass(frozen=True)
class Template:
    key: str
    locale: str
    path: Path
    source: str
    placeholders: frozenset[str]
    compiled: jinja2.Template = field(repr=False, compare=False)

    def render(self, context: Mapping[str, str]) -> str:
        """Render with ``context``; a missing placeholder value raises TemplateError."""
        missing = sorted(self.placeholders - set(context))
        if missing:
            raise TemplateError(self.path, f"no value for placeholder(s) {', '.join(missing)}")
        try:
            return self.compiled.render(dict(context)).strip()
        except jinja2.TemplateError as exc:  # e.g. UndefinedError in a conditional branch
            raise TemplateError(self.path, f"cannot render: {exc}") from None


def read_source(path: Path) -> str:
    """A template file's text: UTF-8 (a BOM is dropped), CRLF as LF, trailing newline stripped."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise TemplateError(path, f"not UTF-8 (byte {exc.start})") from None
    except OSError as exc:
        raise TemplateError(path, f"cannot read: {exc.strerror}") from None
    return text.replace("\r\n", "\n").removesuffix("\n")


def compile_template(env: jinja2.Environment, key: str, locale: str, path: Path) -> Template:
    source = read_source(path)
    if not source.strip():
        raise TemplateError(path, "empty template")
    try:
        used = frozenset(jinja2.meta.find_undeclared_variables(env.parse(source)))
        compiled = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(path, f"syntax error at line {exc.lineno}: {exc.message}") from None
    unknown = sorted(used - ALLOWED_PLACEHOLDERS)
    if unknown:
        raise TemplateError(
            path,
            f"unknown placeholder(s) {', '.join(unknown)}; allowed: "
            + ", ".join(sorted(ALLOWED_PLACEHOLDERS)),
        )
    return Template(key, locale, path, source, used, compiled)


def _scan(directory: Path) -> tuple[list[tuple[str, str | None, Path]], list[TemplateError]]:
    """Find (locale, key, path) for every template file and (locale, None, path) for each
    locale.json, plus the errors of layout (missing directory, a folder or file name that
    cannot be a locale or key). ``load`` raises the first error; ``lint`` reports them all."""
    if not directory.is_dir():
        return [], [TemplateError(directory, "not a directory")]
    folders = sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        return [], [TemplateError(directory, "no locale folders (expected e.g. en/, es/)")]
    entries: list[tuple[str, str | None, Path]] = []
    errors: list[TemplateError] = []
    for folder in folders:
        if not _LOCALE_NAME.match(folder.name):
            errors.append(TemplateError(folder, "not a locale name (expected e.g. en, es, es-MX)"))
            continue
        entries.append((folder.name, None, folder))  # the locale exists even when empty
        for path in sorted(folder.iterdir()):
            if path.name == LOCALE_FILE:
                entries.append((folder.name, None, path))
            elif path.suffix == ".txt" and path.is_file():
                if _KEY_NAME.match(path.stem):
                    entries.append((folder.name, path.stem, path))
                else:
                    errors.append(
                        TemplateError(path, "file name must be a key such as checkin_24h.txt")
                    )
    return entries, errors


class Catalogue:
    """Every template of every locale, parsed and validated; see :meth:`load`."""

    def __init__(
        self,
        directory: Path,
        templates: Mapping[str, Mapping[str, Template]],
        infos: Mapping[str, LocaleInfo],
    ) -> None:
        self.directory = directory
        self._templates = {loc: dict(keys) for loc, keys in templates.items()}
        self._infos = dict(infos)

    @classmethod
    def load(cls, directory: Path) -> Catalogue:
        """Parse every template and locale.json under ``directory``; raise on the first error."""
        directory = Path(directory)
        env = _environment()
        templates: dict[str, dict[str, Template]] = {}
        infos: dict[str, LocaleInfo] = {}
        entries, errors = _scan(directory)
        if errors:
            raise errors[0]
        for locale, key, path in entries:
            templates.setdefault(locale, {})
            if key is None:
                if path.name == LOCALE_FILE:
                    infos[locale] = _parse_locale_file(path)
            else:
                templates[locale][key] = compile_template(env, key, locale, path)
        return cls(directory, templates, infos)

    @property
    def locales(self) -> list[str]:
        return sorted(self._templates)

    def keys(self, locale: str) -> set[str]:
        return set(self._templates.get(locale, {}))

    def template(self, key: str, locale: str) -> Template:
        """The template for ``key`` in the locale :meth:`resolve_locale` picks."""
        return self._templates[self.resolve_locale(key, locale)][key]

    def _find(self, wanted: str) -> str | None:
        """The catalogue's spelling of locale ``wanted`` ("es_mx" finds "es-MX"), if present."""
        norm = wanted.strip().replace("_", "-").lower()
        return next((loc for loc in self._templates if loc.lower() == norm), None)

    def resolve_locale(self, key: str, wanted: str | None, fallback: str = DEFAULT_LOCALE) -> str:
        """The locale to use for ``key``: ``wanted``, its base language, ``fallback``, ``en``.

        Raises TemplateError when none of those has the key.
        """
        candidates = []
        if wanted:
            candidates += [wanted, wanted.replace("_", "-").split("-")[0]]
        candidates += [fallback, DEFAULT_LOCALE]
        for candidate in candidates:
            locale = self._find(candidate)
            if locale is not None and key in self._templates[locale]:
                return locale
        tried = ", ".join(dict.fromkeys(c for c in candidates if c))
        raise TemplateError(self.directory / "*" / f"{key}.txt", f"no template (tried {tried})")

    def render(self, key: str, locale: str | None, context: Mapping[str, str]) -> str:
        """Render ``key`` for ``locale`` (resolved with fallbacks), surrounding space stripped."""
        return self.template(key, locale or DEFAULT_LOCALE).render(context)

    def locale_info(self, locale: str | None) -> LocaleInfo:
        """locale.json of ``locale``, its base language, or ``en``; English defaults otherwise."""
        for candidate in ([locale, locale.replace("_", "-").split("-")[0]] if locale else []) + [
            DEFAULT_LOCALE
        ]:
            found = self._find(candidate)
            if found in self._infos:
                return self._infos[found]
        return LocaleInfo()


def format_appointment(
    when_utc: datetime, tz: ZoneInfo, locale: str | None, catalogue: Catalogue
) -> str:
    """``when_utc`` shown in the patient's zone with the locale's ``appointment_format``.

    A naive datetime is taken as UTC (times are stored in UTC; SQLite returns them naive).
    """
    if when_utc.tzinfo is None:
        when_utc = when_utc.replace(tzinfo=UTC)
    return _format_local(when_utc.astimezone(tz), catalogue.locale_info(locale))


# --- lint ------------------------------------------------------------------------------------

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


def long_context(info: LocaleInfo, values: Mapping[str, str] | None = None) -> dict[str, str]:
    """Long values to fill a template with: :data:`LONG_SAMPLE` and the longest appointment
    time of the locale, or ``values`` where given (a clinic's own name and phone)."""
    return {**LONG_SAMPLE, "appointment_time": longest_appointment(info), **(values or {})}


def oversized(catalogue: Catalogue, values: Mapping[str, str]) -> list[str]:
    """The templates that no longer fit one segment with ``values`` (a clinic's real name,
    phone and emergency number), as ``locale/key: why`` lines."""
    found = []
    for locale in catalogue.locales:
        info = catalogue.locale_info(locale)
        for key in sorted(catalogue.keys(locale)):
            seg = analyze(catalogue.template(key, locale).render(long_context(info, values)))
            if seg.segments > 1 or seg.encoding != "GSM-7":
                found.append(
                    f"{locale}/{key}: {seg.segments} {seg.encoding} segment(s), "
                    f"{seg.characters} characters"
                )
    return found


def _policy(t: Template, info: LocaleInfo) -> Iterator[str]:
    """The rules a loadable template must still follow (see messages/README.md)."""
    for char in dict.fromkeys(c for c in t.source if not is_gsm7(c)):
        where = _position(t.source, t.source.index(char))
        yield f"not GSM-7 because of {char!r} (U+{ord(char):04X}) at {where}"
    text = t.render(long_context(info))
    seg = analyze(text)
    if seg.segments > 1:
        yield (
            f"{seg.segments} {seg.encoding} segments ({seg.characters} characters) with long "
            f"sample values; the limit is 1 segment of 160 GSM-7 characters"
        )
    if "clinic_name" not in t.placeholders:
        yield "does not name the clinic: add {{ clinic_name }}"
    if t.key == FIRST_MESSAGE_KEY:
        missing = [w for w in ("STOP", "HELP") if not _has_word(t.source, w, ignore_case=False)]
        if missing:
            words = " and ".join(missing)
            yield f"the first message must say how to opt out and get help: add {words}"
    for word, reason in FORBIDDEN_WORDS.items():
        if _has_word(text, word):
            yield f"contains {word!r}: {reason}"
    for word in ANSWER_WORDS:
        if _has_word(text, word, ignore_case=False):
            yield f"contains {word!r}: asks for a yes/no answer; ask for a number"


def lint(directory: Path) -> list[Problem]:
    """Every problem in the catalogue at ``directory``: load errors and policy, sorted by file."""
    directory = Path(directory)
    entries, errors = _scan(directory)
    problems = [Problem(e.path, e.reason) for e in errors]
    env = _environment()
    templates: dict[str, dict[str, Template]] = {}
    infos: dict[str, LocaleInfo] = {}
    present: dict[str, set[str]] = {}  # keys with a file, broken or not
    for locale, key, path in entries:
        templates.setdefault(locale, {})
        present.setdefault(locale, set())
        if key is not None:
            present[locale].add(key)
        try:
            if key is None and path.name == LOCALE_FILE:
                infos[locale] = _parse_locale_file(path)
            elif key is not None:
                templates[locale][key] = compile_template(env, key, locale, path)
        except TemplateError as exc:
            problems.append(Problem(exc.path, exc.reason))
    for locale, by_key in templates.items():
        folder = directory / locale
        if not (folder / LOCALE_FILE).exists():
            problems.append(Problem(folder / LOCALE_FILE, "missing (sets appointment_format)"))
        info = infos.get(locale) or infos.get(DEFAULT_LOCALE) or LocaleInfo()
        for t in by_key.values():
            problems += [Problem(t.path, reason) for reason in _policy(t, info)]
    if DEFAULT_LOCALE not in templates:
        problems.append(Problem(directory / DEFAULT_LOCALE, "missing: en is the last fallback"))
    else:
        for key in TEMPLATE_KEYS:
            if key not in present[DEFAULT_LOCALE]:
                path = directory / DEFAULT_LOCALE / f"{key}.txt"
                why = "the default care plan sends it" if key in PLAN_KEYS else "answers replies"
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
