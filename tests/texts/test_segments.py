"""Segment counting as Twilio bills it (clinical.md section 5, design.md pitfalls)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.texts.segments import GSM7_BASIC, GSM7_EXTENSION, SegmentInfo, analyze

BASIC = sorted(GSM7_BASIC)
EXTENSION = sorted(GSM7_EXTENSION)


def test_it_counts_an_empty_body_as_one_segment():
    assert analyze("") == SegmentInfo("GSM-7", 1, 0, ())


def test_it_counts_a_short_text():
    assert analyze("hello") == SegmentInfo("GSM-7", 1, 5, ())


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4)],
)
def test_it_splits_gsm7_at_160_then_153(length, segments):
    info = analyze("a" * length)
    assert (info.encoding, info.segments, info.characters) == ("GSM-7", segments, length)


@pytest.mark.parametrize(
    ("length", "segments"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_it_splits_ucs2_at_70_then_67(length, segments):
    info = analyze("á" + "a" * (length - 1))
    assert (info.encoding, info.segments, info.characters) == ("UCS-2", segments, length)


@pytest.mark.parametrize("char", EXTENSION)
def test_it_counts_extension_characters_twice(char):
    assert analyze(char) == SegmentInfo("GSM-7", 1, 2, ())
    assert analyze(char * 80).segments == 1
    assert analyze(char * 80 + "a").segments == 2


def test_it_counts_the_euro_sign_and_form_feed_as_extension():
    assert analyze("€").characters == 2
    assert analyze("\f").characters == 2


def test_it_does_not_split_an_escape_pair_across_parts():
    # 152 septets, then an extension character: it cannot start at septet 153 of part one.
    text = "a" * 152 + "[" + "a" * 10
    assert analyze(text).characters == 164
    # Naive ceil(164 / 153) would be 2; the pair moves whole to part two: 152 | 2 + 10.
    assert analyze(text).segments == 2
    # 152 + 2 + 152 = 306 septets would fit 2 * 153 if the pair could be split; it cannot.
    text = "a" * 152 + "[" + "a" * 152
    assert analyze(text).characters == 306
    assert analyze(text).segments == 3
    # The same text with the pair at the start of part one fits two parts exactly.
    assert analyze("[" + "a" * 304).segments == 2


def test_it_fits_an_extension_character_ending_exactly_at_160():
    assert analyze("a" * 158 + "{").segments == 1
    assert analyze("a" * 159 + "{").segments == 2


@pytest.mark.parametrize("char", list("éèñü¿¡ÑÜÉÇàäöøåæßΔΩ£¥§@_"))
def test_it_keeps_gsm7_letters_in_gsm7(char):
    assert analyze(f"Hola {char}").encoding == "GSM-7"


@pytest.mark.parametrize(
    "char",
    ["á", "í", "ó", "ú", "ç", "‘", "’", "“", "”", "–", "—", "\u00a0", "`", "\t", "…", "😀"],
)
def test_it_switches_to_ucs2_for_one_foreign_character(char):
    info = analyze(f"Soreness is common{char}")
    assert info.encoding == "UCS-2"
    assert info.non_gsm == (char,)


def test_it_lists_distinct_non_gsm_characters_in_order():
    info = analyze("Días de “dolor”: sí, días")
    assert info.non_gsm == ("í", "“", "”")


def test_it_counts_extension_characters_once_in_ucs2():
    assert analyze("á{").characters == 2


def test_it_counts_an_emoji_outside_the_bmp_as_two_code_units():
    assert analyze("😀") == SegmentInfo("UCS-2", 1, 2, ("😀",))
    assert analyze("😀" * 35).segments == 1
    assert analyze("😀" * 35 + "a").segments == 2


def test_it_does_not_split_a_surrogate_pair_across_parts():
    # 66 units then an emoji: units 67-68 would straddle the first part.
    text = "á" + "a" * 65 + "😀" + "a" * 66
    assert analyze(text).characters == 134
    assert analyze(text).segments == 3
    assert analyze("😀" + "á" + "a" * 131).segments == 2


def test_it_counts_newlines_as_one_septet():
    assert analyze("a\nb\r\nc").characters == 6


def test_it_counts_the_shipped_example_of_a_curly_quote():
    # design.md: a curly quote pasted from a word processor turns a short text into UCS-2.
    plain = "Harbor Physio: it's common to feel sore. Reply 0-10." * 2
    assert analyze(plain) == SegmentInfo("GSM-7", 1, len(plain), ())
    curly = plain.replace("'", "’")
    assert analyze(curly).encoding == "UCS-2"
    assert analyze(curly).segments == 2


gsm_text = st.text(alphabet=st.sampled_from(BASIC + EXTENSION), max_size=700)
any_text = st.text(max_size=400)


@given(st.text(alphabet=st.sampled_from(BASIC), max_size=700))
def test_it_matches_the_ceil_formula_for_basic_gsm(text):
    n = len(text)
    expected = 1 if n <= 160 else math.ceil(n / 153)
    assert analyze(text) == SegmentInfo("GSM-7", expected, n, ())


@given(gsm_text)
def test_it_counts_gsm_septets(text):
    info = analyze(text)
    assert info.encoding == "GSM-7"
    assert info.characters == len(text) + sum(c in GSM7_EXTENSION for c in text)
    lower = 1 if info.characters <= 160 else math.ceil(info.characters / 153)
    # Moving escape pairs whole can add parts, never more than one per part.
    assert lower <= info.segments <= max(lower, math.ceil(info.characters / 152))


@given(any_text, any_text)
def test_it_never_needs_fewer_segments_for_a_longer_text(text, more):
    before, after = analyze(text), analyze(text + more)
    assert after.segments >= before.segments
    if after.encoding == before.encoding:
        assert after.characters >= before.characters


@given(any_text)
def test_it_counts_utf16_units_in_ucs2(text):
    info = analyze(text)
    if info.encoding == "UCS-2":
        assert info.characters == len(text.encode("utf-16-le")) // 2
        assert info.non_gsm
        assert set(info.non_gsm) <= set(text)
        assert len(set(info.non_gsm)) == len(info.non_gsm)
        assert info.segments == 1 if info.characters <= 70 else info.segments >= 2
    else:
        assert info.non_gsm == ()
