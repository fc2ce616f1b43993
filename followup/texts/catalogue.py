"""The message catalogue: the texts clinics edit, loaded from ``messages/<locale>/<key>.txt``.

Why files and Jinja: clinic staff edit plain text with ``{{ placeholder }}`` slots, and a
sandboxed environment with ``StrictUndefined`` means a typo in a placeholder is an error at
load time (or at the latest at render time), never a message that says "Hi ," to a patient.
Only the placeholders in :data:`ALLOWED_PLACEHOLDERS` exist: the texts must carry no PHI, so
there is deliberately no slot for a diagnosis, body region or treatment.

Two levels of checking:

- :meth:`Catalogue.load` refuses what cannot work at all (unreadable file, syntax error,
  unknown placeholder, empty text, bad ``locale.json``) and raises on the first one.
- :func:`followup.texts.check.lint` (``followup templates check``) reports every such
  problem plus the policy rules (one GSM-7 segment with long sample values, STOP/HELP in
  the first text, the clinic named, no forbidden words, same keys as ``en``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from followup.texts.errors import TemplateError
from followup.texts.locales import LocaleInfo, format_local, parse_locale_file

__all__ = [
    "ALLOWED_PLACEHOLDERS",
    "CLINIC_WORDING",
    "CONDITIONS",
    "DEFAULT_LOCALE",
    "FIRST_MESSAGE_KEY",
    "LOCALE_FILE",
    "NAMELESS_KEYS",
    "NAMELESS_PLACEHOLDERS",
    "PLAN_KEYS",
    "REPLY_KEYS",
    "REPLY_PLACEHOLDERS",
    "REPLY_PREFIX",
    "STAFF_EMERGENCY_KEY",
    "STAFF_KEYS",
    "TEMPLATE_KEYS",
    "Catalogue",
    "LocaleInfo",
    "Template",
    "TemplateError",
    "clinic_template",
    "compile_source",
    "compile_template",
    "environment",
    "format_appointment",
    "read_source",
    "scan",
]

ALLOWED_PLACEHOLDERS = frozenset(
    {
        "first_name", "clinic_name", "clinic_phone", "emergency_number", "appointment_time",
        "callback_when", "staff_alerted",
    }
)  # fmt: skip
#: filled only when answering a reply (``reply_*`` templates): when the clinic will call
#: (from its opening hours), and whether its staff were alerted (``{% if staff_alerted %}``)
REPLY_PLACEHOLDERS = frozenset({"callback_when", "staff_alerted"})
#: placeholders that are true or false, for ``{% if %}``; the checker tries both
CONDITIONS = frozenset({"staff_alerted"})
REPLY_PREFIX = "reply_"
# The keys the default care plan sends, and the answers to a patient's reply (see
# followup/inbound/triage.py); every one must exist in ``en``, the last fallback.
PLAN_KEYS = (
    "aftercare", "checkin_24h", "checkin_24h_breathing", "checkin_72h", "reminder", "nudge",
)  # fmt: skip
REPLY_KEYS = (
    "reply_emergency", "reply_clinic_today", "reply_callback", "reply_thanks", "reply_received",
    "reply_received_again", "reply_opt_out", "reply_opt_in", "reply_help", "reply_wrong_number",
    "reply_emergency_unknown", "reply_kept", "reply_kept_urgent",
)  # fmt: skip
#: the line a text staff write ends with unless it gives the emergency number itself
#: (:mod:`followup.desk.staff_texts`): nameless, since it follows the staff's own words
STAFF_EMERGENCY_KEY = "staff_emergency"
STAFF_KEYS = (STAFF_EMERGENCY_KEY,)
#: answers given when no clinic is known (a number no clinic has on file, on a sender several
#: clinics share; or any reply while the database is out of reach, answered from the spool):
#: they cannot name a clinic or its phone, and must still say whom to call
NAMELESS_KEYS = frozenset(
    {"reply_emergency_unknown", "reply_kept", "reply_kept_urgent", STAFF_EMERGENCY_KEY}
)
#: the placeholders a nameless answer may use: nothing about a clinic or a patient
NAMELESS_PLACEHOLDERS = frozenset({"emergency_number"})
TEMPLATE_KEYS = PLAN_KEYS + REPLY_KEYS + STAFF_KEYS
FIRST_MESSAGE_KEY = "aftercare"
DEFAULT_LOCALE = "en"
LOCALE_FILE = "locale.json"

log = logging.getLogger(__name__)

_LOCALE_NAME = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_KEY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# --- loading -------------------------------------------------------------------------------


def environment() -> SandboxedEnvironment:
    return SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False
    )


_ENV = environment()


@dataclass(frozen=True)
class Template:
    key: str
    locale: str
    path: Path
    source: str
    placeholders: frozenset[str]
    compiled: jinja2.Template = field(repr=False, compare=False)

    def render(self, context: Mapping[str, str | bool]) -> str:
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
    return compile_source(env, key, locale, read_source(path), path)


def compile_source(
    env: jinja2.Environment, key: str, locale: str, source: str, path: Path
) -> Template:
    """``source`` as the template ``key`` of ``locale``, with every load-time rule (syntax,
    known placeholders, what a nameless answer may say); ``path`` names it in errors (a
    file, or a clinic's own wording)."""
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
    if key in NAMELESS_KEYS:
        # said when no clinic is known: a clinic or patient placeholder would render empty
        outside = sorted(used - NAMELESS_PLACEHOLDERS)
        if outside:
            raise TemplateError(
                path,
                f"{', '.join(outside)}: an answer given when no clinic is known may use only "
                + ", ".join(sorted(NAMELESS_PLACEHOLDERS)),
            )
        if "emergency_number" not in used:
            raise TemplateError(path, "must give {{ emergency_number }}: it answers a red flag")
    reply_only = sorted(used & REPLY_PLACEHOLDERS)
    if reply_only and not key.startswith(REPLY_PREFIX):
        raise TemplateError(
            path,
            f"placeholder(s) {', '.join(reply_only)} are only filled in answers to replies "
            f"({REPLY_PREFIX}*.txt)",
        )
    return Template(key, locale, path, source, used, compiled)


#: where a clinic's own wording is said to be in errors and logs
CLINIC_WORDING = Path("clinic wording")


@lru_cache(maxsize=1024)
def clinic_template(key: str, locale: str, source: str) -> Template:
    """A clinic's own wording of ``key`` compiled once per text (texts are rendered in every
    dispatcher batch); TemplateError as for a file."""
    return compile_source(_ENV, key, locale, source, CLINIC_WORDING / locale / f"{key}.txt")


def scan(directory: Path) -> tuple[list[tuple[str, str | None, Path]], list[TemplateError]]:
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
        env = environment()
        templates: dict[str, dict[str, Template]] = {}
        infos: dict[str, LocaleInfo] = {}
        entries, errors = scan(directory)
        if errors:
            raise errors[0]
        for locale, key, path in entries:
            templates.setdefault(locale, {})
            if key is None:
                if path.name == LOCALE_FILE:
                    infos[locale] = parse_locale_file(path)
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

    def render(
        self,
        key: str,
        locale: str | None,
        context: Mapping[str, str | bool],
        wording: Mapping[tuple[str, str], str] | None = None,
    ) -> str:
        """Render ``key`` for ``locale`` (resolved with fallbacks), surrounding space stripped.

        ``wording``: a clinic's own texts, source by (key, locale of this catalogue), used
        in place of the catalogue's for the locale the key resolves to. They were checked
        when saved; one that still cannot be rendered (a catalogue changed since) is logged
        and the catalogue's text is sent instead, so a clinic's mistake never costs a
        patient a text, least of all a safety one."""
        template = self.template(key, locale or DEFAULT_LOCALE)
        source = wording.get((key, template.locale)) if wording else None
        if source is not None:
            try:
                return clinic_template(key, template.locale, source).render(context)
            except TemplateError as exc:
                log.error("clinic wording of %s/%s not used, the default text is: %s",
                          template.locale, key, exc.reason)  # fmt: skip
        return template.render(context)

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
    return format_local(when_utc.astimezone(tz), catalogue.locale_info(locale))
