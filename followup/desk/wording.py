"""A clinic's own wording of its texts: each text (template key) in each locale of the
catalogue, with the default and the clinic's version, checked before it is saved.

The check is the one ``followup templates check`` runs on the catalogue
(:func:`followup.texts.check.check_source`): known placeholders only, one GSM-7 segment with
long and accented names, the clinic named, no forbidden promises ("guaranteed", "cure") or
treatment names. A clinic's wording must also keep what its default says about safety and
consent: ``{{ emergency_number }}`` wherever the default gives it (every text but the
appointment reminder), and STOP, HELP and START wherever the default says them. And it
must fit one segment with the clinic's own name, phone and emergency number.

The answers given when no clinic is known (``reply_emergency_unknown``, ``reply_kept``,
``reply_kept_urgent``) cannot be worded by a clinic: they are said on a clinic's behalf only
when no clinic could be told apart.

Saved wording is used by the dispatcher and the reply renderer for that clinic, key and
locale (:meth:`followup.texts.catalogue.Catalogue.render`); one that fails to render there
falls back to the default text. Saves and reverts are audited (``wording.save``,
``wording.revert``).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import DeskError, InvalidFields, NotFound
from followup.phones import display_phone
from followup.store import clinics as clinic_rows
from followup.store import wording as store
from followup.texts.catalogue import (
    CLINIC_WORDING,
    NAMELESS_KEYS,
    TEMPLATE_KEYS,
    Catalogue,
    TemplateError,
    clinic_template,
)
from followup.texts.check import check_source, long_context
from followup.texts.names import clinic_name_for_sms
from followup.texts.segments import analyze

#: the texts a clinic may word for itself
EDITABLE_KEYS = tuple(k for k in TEMPLATE_KEYS if k not in NAMELESS_KEYS)
#: a text is one segment; this leaves room for pasting and mending
MAX_TEXT = 1000


@dataclass(frozen=True)
class Preview:
    """A text filled with sample data (the clinic's own name, phone and emergency number, a
    long first name), what it costs, and what the check says of it."""

    text: str
    segments: int
    encoding: str
    characters: int
    problems: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    key: str
    locale: str
    default: str
    own: str | None
    updated_at: datetime | None
    updated_by: str | None
    #: the text in use, filled with sample data (checked only when one entry is asked for:
    #: every text in use passed the check when it was saved or loaded)
    preview: Preview

    @property
    def source(self) -> str:
        """``"clinic"`` when the clinic's own wording is used, else ``"default"``."""
        return "clinic" if self.own is not None else "default"

    @property
    def text(self) -> str:
        return self.own if self.own is not None else self.default


def _clinic(db: Session, clinic_id: int) -> Any:
    clinic = clinic_rows.by_id(db, clinic_id)
    if clinic is None:
        raise NotFound("clinic")
    return clinic


def _known(catalogue: Catalogue, key: str, locale: str) -> None:
    if key not in EDITABLE_KEYS or locale not in catalogue.locales:
        raise NotFound("template")
    if key not in catalogue.keys(locale):
        raise NotFound("template")


def _values(clinic: Any) -> dict[str, str]:
    """The clinic's own values, as its texts carry them."""
    return {
        "clinic_name": clinic_name_for_sms(clinic.name),
        "clinic_phone": display_phone(clinic.phone, clinic.country),
        "emergency_number": clinic.emergency_number,
    }


def _sample(
    catalogue: Catalogue, clinic: Any, key: str, locale: str, text: str, *, check: bool = True
) -> Preview:
    """``text`` filled with sample data and checked (:func:`check_source`, plus: it fits
    one GSM-7 segment with this clinic's own values)."""
    default = catalogue.template(key, locale)
    info = catalogue.locale_info(locale)
    path = CLINIC_WORDING / locale / f"{key}.txt"
    problems = check_source(key, locale, text, info, path=path, default=default) if check else []
    rendered = ""
    with contextlib.suppress(TemplateError):  # the check says why
        rendered = clinic_template(key, locale, text).render(long_context(info, _values(clinic)))
    seg = analyze(rendered)
    if rendered and (seg.segments > 1 or seg.encoding != "GSM-7"):
        problems.append(
            f"{seg.segments} {seg.encoding} segment(s) ({seg.characters} characters) with this "
            "clinic's name, phone and emergency number; the limit is 1 segment of 160 GSM-7 "
            "characters"
        )
    problems = list(dict.fromkeys(problems))
    return Preview(rendered, seg.segments, seg.encoding, seg.characters, tuple(problems))


def entries(
    db: Session, clinic_id: int, catalogue: Catalogue, *, only: tuple[str, str] | None = None
) -> list[Entry]:
    """Every text the clinic may word, in each locale of the catalogue, key order first
    (``only``: just that (key, locale))."""
    clinic = _clinic(db, clinic_id)
    own = {(w.template_key, w.locale): w for w in store.of_clinic(db, clinic_id)}
    found = []
    for key in EDITABLE_KEYS:
        for locale in catalogue.locales:
            if key not in catalogue.keys(locale) or (only and only != (key, locale)):
                continue
            default = catalogue.template(key, locale).source
            mine = own.get((key, locale))
            text = mine.source if mine else default
            found.append(
                Entry(key, locale, default, mine.source if mine else None,
                      mine.updated_at if mine else None, mine.updated_by if mine else None,
                      _sample(catalogue, clinic, key, locale, text, check=only is not None))
            )  # fmt: skip
    return found


def entry(db: Session, clinic_id: int, catalogue: Catalogue, key: str, locale: str) -> Entry:
    """One text of :func:`entries`; NotFound for a key or locale the clinic cannot word."""
    _known(catalogue, key, locale)
    return entries(db, clinic_id, catalogue, only=(key, locale))[0]


def _tidy(text: str | None) -> str:
    text = (text or "").replace("\r\n", "\n").strip()
    if not text:
        raise DeskError("text", "empty: write the text, or revert to the default")
    if len(text) > MAX_TEXT:
        raise DeskError("text", f"longer than {MAX_TEXT} characters")
    return text


def preview(
    db: Session, clinic_id: int, catalogue: Catalogue, key: str, locale: str,
    text: str | None = None,
) -> Preview:  # fmt: skip
    """``text`` (None: the text in use) filled with sample data, its segments and the
    check's problems. Writes nothing."""
    _known(catalogue, key, locale)
    if text is None:
        return entry(db, clinic_id, catalogue, key, locale).preview
    return _sample(catalogue, _clinic(db, clinic_id), key, locale, _tidy(text))


def save(
    db: Session, clinic_id: int, catalogue: Catalogue, key: str, locale: str, text: str,
    *, now: datetime, actor: str,
) -> Preview:  # fmt: skip
    """Store the clinic's wording of ``key`` in ``locale`` once it passes the check;
    InvalidFields (each problem on ``text``) and nothing written otherwise."""
    _known(catalogue, key, locale)
    text = _tidy(text)
    checked = _sample(catalogue, _clinic(db, clinic_id), key, locale, text)
    if checked.problems:
        raise InvalidFields([("text", p) for p in checked.problems])
    previous = store.save(db, clinic_id, key, locale, text, now=now, by=actor)
    was = "the default text" if previous is None else "the clinic's earlier text"
    audit.record(db, actor=actor, action="wording.save", now=now, clinic_id=clinic_id,
                 subject=f"wording:{locale}/{key}",
                 detail=f"replaces {was}; now: {text}")  # fmt: skip
    return checked


def revert(
    db: Session, clinic_id: int, catalogue: Catalogue, key: str, locale: str,
    *, now: datetime, actor: str,
) -> None:  # fmt: skip
    """Go back to the default text; DeskError when the clinic uses it already."""
    _known(catalogue, key, locale)
    if not store.remove(db, clinic_id, key, locale):
        raise DeskError("text", "this text is the default already")
    audit.record(db, actor=actor, action="wording.revert", now=now, clinic_id=clinic_id,
                 subject=f"wording:{locale}/{key}", detail="back to the default text")  # fmt: skip
