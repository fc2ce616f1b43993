"""Count SMS segments the way Twilio bills them.

Why this exists: the FCC health-care exemption expects concise messages, and every default
template must fit one GSM-7 segment. One character outside GSM-7 (a curly quote pasted from a
word processor, "á", an emoji) silently turns a message into UCS-2 and cuts the room from 160
to 70, so the linter and the dispatcher need an exact count, not ``len(text)``.

The rules mirror Twilio's reference counter (TwilioDevEd/message-segment-calculator):

- GSM-7 when every character is in the GSM 03.38 basic set or its extension table. Extension
  characters (form feed ``^ { } \\ [ ~ ] | €``) are an escape plus a septet: they count 2.
  One segment holds 160 septets; a split message holds 153 per part (the user data header
  takes the rest). An escape pair is never split across parts: it moves whole to the next one.
- Otherwise UCS-2: UTF-16 code units, so a character outside the Basic Multilingual Plane
  (most emoji) counts 2. One segment holds 70 units, a split message 67 per part, and a
  surrogate pair is never split. (Twilio's calculator keeps whole grapheme clusters together;
  multi-code-point emoji sequences at a part boundary may therefore count one part fewer here.)
- An empty body is 0 characters and 1 segment, as Twilio's calculator reports it: a message
  is never free.

``characters`` is what Twilio's counter shows as the message length in its own encoding: the
septet count for GSM-7 (an extension character counts 2) and UTF-16 code units for UCS-2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# GSM 03.38 basic character set as Unicode, in the order Twilio maps it (Ç upper case only:
# lower-case ç is not GSM-7).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Reached through the escape septet, so each costs two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

GSM7_SINGLE, GSM7_PART = 160, 153
UCS2_SINGLE, UCS2_PART = 70, 67

Encoding = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class SegmentInfo:
    encoding: Encoding
    segments: int
    characters: int
    non_gsm: tuple[str, ...] = ()


def is_gsm7(char: str) -> bool:
    """True if ``char`` (one code point) can be sent in GSM-7."""
    return char in GSM7_BASIC or char in GSM7_EXTENSION


def non_gsm_characters(text: str) -> tuple[str, ...]:
    """The distinct characters of ``text`` outside GSM-7, in order of first appearance."""
    return tuple(dict.fromkeys(c for c in text if not is_gsm7(c)))


def _pack(units: list[int], single: int, part: int) -> int:
    """Number of segments for atoms of the given sizes; an atom never straddles two parts."""
    total = sum(units)
    if total <= single:
        return 1
    segments, used = 1, 0
    for size in units:
        if used + size > part:
            segments, used = segments + 1, 0
        used += size
    return segments


def analyze(text: str) -> SegmentInfo:
    """Encoding, segment count and billed length of an SMS body (see the module docstring)."""
    non_gsm = non_gsm_characters(text)
    if not non_gsm:
        units = [2 if c in GSM7_EXTENSION else 1 for c in text]
        return SegmentInfo("GSM-7", _pack(units, GSM7_SINGLE, GSM7_PART), sum(units))
    units = [2 if ord(c) > 0xFFFF else 1 for c in text]
    return SegmentInfo("UCS-2", _pack(units, UCS2_SINGLE, UCS2_PART), sum(units), non_gsm)
