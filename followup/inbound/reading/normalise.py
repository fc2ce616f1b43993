"""Turn a reply into the text the lexicon is written against.

Both steps are pure and cheap; every other reading module starts from their output.
:func:`fold` keeps punctuation (the score reader needs "/", ".", ":" and "-");
:func:`normalize` also turns punctuation into spaces, for keywords and red-flag phrases.
"""

from __future__ import annotations

import re
import unicodedata

# Before NFKD: characters that NFKD would not map the way a reader means them.
_PRE_MAP = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "`": "'",
        "\u00b4": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2044": "/",
        "\u2215": "/",
        "\U0001f51f": " 10 ",  # keycap ten
    }
)
_HALF = re.compile(r"\s*\u00bd")
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf"})  # accents, keycap enclosure, ZWJ, selectors
_APOSTROPHE_IN_WORD = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")
#: runs of punctuation, symbols and emoji: a space in normalised text
NON_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """Lower-case, accents and keycaps stripped, apostrophes inside words removed.

    Punctuation is kept: the score reader needs "/", ".", ":" and "-".
    """
    text = text.translate(_PRE_MAP)
    if "\u00bd" in text:
        text = _HALF.sub(".5", text)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _DROP_CATEGORIES)
    return _APOSTROPHE_IN_WORD.sub("", text.casefold())


def words_of(folded: str) -> str:
    """Folded text with punctuation as single spaces, trimmed."""
    return NON_WORD.sub(" ", folded).strip()


def normalize(text: str) -> str:
    """The text as the keyword and red-flag patterns see it.

    Lower-case (casefold), accents stripped (NFKD, combining marks dropped: "desmayé" ->
    "desmaye", "ñ" -> "n"), full-width characters and keycap emoji turned into plain ones
    ("７", "7️⃣" -> "7"), apostrophes inside words removed so "can't" and "cant" match the
    same way ("can't" -> "cant"), every other punctuation mark and emoji turned into a space,
    whitespace collapsed and trimmed. "7/10" becomes "7 10": scores are read from the text
    before this step.
    """
    return words_of(fold(text))
