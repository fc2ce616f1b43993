"""Names as they go into an SMS: GSM-7 only, nothing invisible, and short enough. Pure.

Why: names come from clinics' systems and CSV exports, and one character outside GSM-7 ("Lucía",
"Ramón", a curly apostrophe in "O’Brien") switches the *whole* text to UCS-2, which holds 70
characters a segment instead of 160: every default text would cost two or three segments. A
name pasted from a web page may also carry characters nobody sees (zero-width spaces, bidi
marks that reorder the text around them, control characters). So every name put into a text
(to a patient, or a staff alert) goes through :func:`gsm_fold` first, and a patient's first
name is capped at :data:`FIRST_NAME_MAX`.

Folding follows what Twilio's Smart Encoding does for punctuation (curly quotes to ``'`` and
``"``, dashes to ``-``, odd spaces to a space, full-width forms to ASCII) and extends it to
letters: a letter GSM-7 lacks loses its accent ("í" -> "i", "ó" -> "o", "ë" -> "e", "ç" -> "c",
"Ł" -> "L"); letters GSM-7 has stay as they are ("é", "ñ", "ü", "Ä", "ö", "ø", "å", "ß"). A
character with no GSM-7 form (an emoji, a letter of another script) is left out of a patient's
text; staff alerts show it as "?".

The cap: with the shipped texts filled with the catalogue's long sample values (a 30-character
clinic name, the longest appointment time, a US phone number), the tightest text leaves room
for a first name of :data:`FIRST_NAME_MAX` characters; ``followup templates check`` holds every
text to that (``LONG_SAMPLE`` in :mod:`followup.texts.check` has a first name exactly that
long), so a capped name never costs a second segment. Clinic names are not cut (the clinic
chose its name and was warned when it was added, see
:func:`followup.intake.clinic_fields.name_warnings`): they are folded and cleaned only.

A first name must also *be* a name (:func:`screen_first_name`). Whatever a clinic's system
holds in that field goes into a text sent in the clinic's name: "Ana. Your account is locked,
call +1 900 555 0100" would greet the patient and then deliver a stranger's message, with the
clinic's credibility. So a first name carrying a web or e-mail address, digits, sentence
punctuation or more than :data:`NAME_MAX_WORDS` words is cut to its first word when that word
is a plausible given name (letters of any script, accents, inner hyphens and apostrophes), and
otherwise dropped: the text then goes out without a name (:func:`tidy_without_name`), which
costs a greeting, never the advice. The import applies the rule and warns the clinic; the
renderers apply it again, because rows written straight into the database never pass the
import.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

from followup.texts.segments import GSM7_EXTENSION, is_gsm7

__all__ = [
    "CLINIC_NAME_BUDGET",
    "FIRST_NAME_MAX",
    "NAME_MAX_WORDS",
    "ScreenedName",
    "clinic_name_for_sms",
    "first_name_for_sms",
    "gsm_fold",
    "patient_names",
    "screen_first_name",
    "septets",
    "tidy_without_name",
]

#: the longest first name (in GSM-7 septets) a text to a patient carries; see the docstring
FIRST_NAME_MAX = 20
#: the clinic name length (septets) the default texts are written for; longer names are
#: kept whole, and the clinic is warned that some texts may need a second segment
CLINIC_NAME_BUDGET = 30

# Punctuation and spaces Twilio's Smart Encoding replaces, grouped by what they become.
# (Full-width letters, digits and signs need no entry: their compatibility decomposition is
# the ASCII character.)
_PUNCTUATION = {
    **dict.fromkeys("‘’‚‛′‵ʹʻʼʽˈˊˋ´`❛❜＇", "'"),
    **dict.fromkeys("“”„‟″‶«»ʺˮ❝❞〝〞＂", '"'),
    **dict.fromkeys("‐‑‒–—―−⁃﹣－•", "-"),
    **dict.fromkeys("\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009", " "),
    **dict.fromkeys("\u200a\u202f\u205f\u3000\u2028\u2029\u0085\t\n\r\f\v", " "),
    "…": "...",
    "‹": "<",
    "›": ">",
}
# Letters without a decomposition to strip an accent from: their usual Latin spelling.
_LETTERS = {
    "Ł": "L", "ł": "l", "Đ": "D", "đ": "d", "Ð": "D", "ð": "d", "Ħ": "H", "ħ": "h",
    "ı": "i", "Ŧ": "T", "ŧ": "t", "Þ": "Th", "þ": "th", "Œ": "OE", "œ": "oe", "ĸ": "k",
    "Ŋ": "N", "ŋ": "n", "ſ": "s", "ƒ": "f", "Ɛ": "E", "ɛ": "e", "Ə": "E", "ə": "e",
}  # fmt: skip
_SPACES = re.compile(r" {2,}")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.!?;:])")


def _invisible(char: str) -> bool:
    """Control, format (zero-width, bidi, soft hyphen), private-use, unassigned characters,
    and combining marks left on their own: nothing a patient should get, or could see."""
    category = unicodedata.category(char)
    return category[0] == "C" or category[0] == "M"


def _fold_char(char: str, missing: str) -> str:
    if is_gsm7(char) and char not in "\n\r\f":
        return char
    if char in _PUNCTUATION:
        return _PUNCTUATION[char]
    if char in _LETTERS:
        return _LETTERS[char]
    if _invisible(char):
        return ""
    base = "".join(c for c in unicodedata.normalize("NFKD", char) if not _invisible(c))
    if base and all(is_gsm7(c) for c in base):
        return base
    return missing


def gsm_fold(value: str, *, missing: str = "") -> str:
    """``value`` on one line in GSM-7 characters only (see the module docstring).

    Composed first (NFC), so "e" followed by a combining acute is the GSM-7 "é", not an "e"
    with a stray mark; then each character kept, folded, or dropped (invisible ones), and a
    character with no GSM-7 form becomes ``missing``. Runs of spaces become one.
    """
    folded = "".join(_fold_char(c, missing) for c in unicodedata.normalize("NFC", value))
    return _SPACES.sub(" ", folded).strip()


def septets(value: str) -> int:
    """How many GSM-7 septets ``value`` (already GSM-7) costs: extension characters cost 2."""
    return sum(2 if c in GSM7_EXTENSION else 1 for c in value)


def _cap(value: str, limit: int) -> str:
    """``value`` cut to ``limit`` septets: whole words while they fit ("Maria del Carmen
    Fernandez" -> "Maria del Carmen"), else the first word cut short."""
    if septets(value) <= limit:
        return value
    kept = ""
    for word in value.split(" "):
        candidate = f"{kept} {word}" if kept else word
        if septets(candidate) > limit:
            break
        kept = candidate
    if not kept:
        for char in value:
            if septets(kept + char) > limit:
                break
            kept += char
    return kept.rstrip(" -'.,")


#: a first name of more words than this is more than a given name (see the module docstring);
#: "Maria del Carmen" and "Anne Marie Louise" are not
NAME_MAX_WORDS = 4
#: what may join the letters of one name: hyphens, apostrophes ("Jean-Luc", "O'Brien",
#: "N'Diaye") and the Catalan middle dot ("Gal·la"), as written or as folding writes them
_JOINERS = frozenset("-'·") | {c for c, folded in _PUNCTUATION.items() if folded in ("-", "'")}
_SENTENCE = frozenset(".,;:!?")
_URL = re.compile(
    r"://|\bwww\.|\.(?:com|net|org|info|biz|io|co|ly|me|app|link|xyz|us|uk|ca|de|es|fr|to)\b",
    re.IGNORECASE,
)
#: what may wrap a first word and be taken off it: "Ana." "Ana," "(Ana)" "“Bob”"
_WRAPPING = "\"'()[]{}<>«»“”‘’„‚.,;:!?"


class ScreenedName(NamedTuple):
    """A first name as a text may carry it, and why it was cut or dropped (None: kept)."""

    name: str
    problem: str | None


def _letter(char: str) -> bool:
    return unicodedata.category(char)[0] in "LM"


def _plausible(word: str) -> bool:
    """A word of a given name: letters (and their marks) of any script, joined by single
    hyphens or apostrophes, starting and ending with a letter."""
    if not word or not _letter(word[0]) or not _letter(word[-1]):
        return False
    joined = False
    for char in word:
        if _letter(char):
            joined = False
        elif char in _JOINERS and not joined:
            joined = True
        else:
            return False
    return True


def _why_not_a_name(text: str, words: list[str]) -> str:
    """What makes ``text`` more than a name, for the clinic's warning (never the name)."""
    if "@" in text:
        return "an e-mail address"
    if _URL.search(text):
        return "a web address"
    if any(c.isdigit() for c in text):
        return "digits"
    if _SENTENCE & set(text):
        return "sentence punctuation"
    if len(words) > NAME_MAX_WORDS:
        return f"more than {NAME_MAX_WORDS} words"
    return "characters a name does not have"


def screen_first_name(value: str | None) -> ScreenedName:
    """``value`` if it is a given name, else its first word if that is one, else ``""``;
    with the reason when it was cut or dropped (see the module docstring). Pure, and the one
    rule every way a name comes in (an import, a direct write, an API) and every text
    goes by.

    The name comes back composed (NFC), on one line, without invisible characters; accents,
    scripts and spelling are left as they are (folding to GSM-7 is :func:`gsm_fold`'s job).
    """
    text = " ".join(
        "".join(c for c in unicodedata.normalize("NFC", value or "") if not _control(c)).split()
    )
    words = text.split(" ") if text else []
    if len(words) <= NAME_MAX_WORDS and all(_plausible(w) for w in words):
        return ScreenedName(text, None)
    problem = _why_not_a_name(text, words)
    first = words[0].strip(_WRAPPING)
    return ScreenedName(first if _plausible(first) else "", problem)


def _control(char: str) -> bool:
    """Invisible characters that are not whitespace (zero-width, bidi, controls): removed
    before a name is judged, so they can neither hide a message nor spoil a real name."""
    return unicodedata.category(char)[0] == "C" and not char.isspace()


def first_name_for_sms(value: str | None) -> str:
    """A patient's first name for a text: folded to GSM-7, screened
    (:func:`screen_first_name`: what is more than a name is cut or dropped), capped at
    :data:`FIRST_NAME_MAX` septets. Empty when nothing of it can be sent (the text is then
    worded without a name, see :func:`tidy_without_name`), and when what is left has no
    letter or digit ("?", "-"): a greeting "Hi -," is worse than none.

    Screened after folding, so a look-alike (full-width digits, a dash GSM-7 lacks) is judged
    as what the patient would read."""
    name = _cap(screen_first_name(gsm_fold(value or "")).name, FIRST_NAME_MAX)
    return name if any(c.isalnum() for c in name) else ""


def clinic_name_for_sms(value: str) -> str:
    """A clinic's name for a text: folded to GSM-7 and cleaned, never cut (the provider must
    be named; a long name is the clinic's choice, warned about when it is added). A name
    GSM-7 cannot spell at all is sent as it is, on one line: a text in UCS-2 that names the
    provider beats a cheaper one that names nobody."""
    return gsm_fold(value) or " ".join(value.split())


def patient_names(first_name: str | None, clinic_name: str) -> dict[str, str]:
    """The ``first_name`` and ``clinic_name`` placeholders of a text to a patient. The one
    place both renderers (the dispatcher's and the reply's) and ``templates check`` get them."""
    return {
        "first_name": first_name_for_sms(first_name),
        "clinic_name": clinic_name_for_sms(clinic_name),
    }


def tidy_without_name(text: str) -> str:
    """A text rendered with an empty first name, closed up: "Thanks, Harbor Physio ..."
    rather than "Thanks , Harbor Physio ...", "Hi, Harbor ..." rather than "Hi , Harbor ..."."""
    return _SPACES.sub(" ", _SPACE_BEFORE_PUNCT.sub(r"\1", text))
