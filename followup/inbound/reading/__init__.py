"""Reading a patient's reply: what it is (keyword, red flag, score, free text), never what to do.

The words are data, in ``lexicon/`` (one TOML file per language, plus ``flags.toml`` for the
clinical rules); the code is small modules: :mod:`.normalise` (text as the lexicon sees it),
:mod:`.lexicon` (load and check the files), :mod:`.keywords`, :mod:`.flags`, :mod:`.scores`
and :mod:`.classify`, which puts them in order. docs/replies.md explains the rules.
"""

from followup.inbound.reading.classify import classify
from followup.inbound.reading.lexicon import Lexicon, LexiconError, default, load
from followup.inbound.reading.normalise import normalize
from followup.inbound.reading.result import KINDS, URGENCY, Classification, ReplyContext, make

__all__ = [
    "KINDS",
    "URGENCY",
    "Classification",
    "Lexicon",
    "LexiconError",
    "ReplyContext",
    "classify",
    "default",
    "load",
    "make",
    "normalize",
]
