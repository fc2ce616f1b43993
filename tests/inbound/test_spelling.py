"""``followup.inbound.reading.spelling``: the second reading, of what the patient meant to type.

It can only add flags, so the tests check both directions: misspelt alarm words and SMS
shorthand are read as meant, and ordinary words near an alarm word are left alone."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.inbound.reading import ReplyContext, classify, default
from followup.inbound.reading.normalise import fold
from followup.inbound.reading.spelling import correct, expand_shorthand, meant


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("chest pian", "chest pain"),  # two letters swapped, four letters
        ("hard to brethe", "hard to breathe"),  # one letter dropped
        ("cant breeeathe", "cant breathe"),  # a letter held down
        ("no puedo respiar", "no puedo respirar"),
        ("mi pecjo", "mi pecho"),
        ("breathign is hard", "breathing is hard"),
    ],
)
def test_misspelt_alarm_words_are_corrected(typed, read):
    assert correct(default(), fold(typed)) == read


@pytest.mark.parametrize(
    "ordinary",
    ["i paint houses", "chess club", "lunges hurt", "wrong numbr", "lo hecho", "nunca", "never"],
)
def test_ordinary_words_near_an_alarm_word_are_left_alone(ordinary):
    assert correct(default(), fold(ordinary)) == fold(ordinary)


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("hard 2 breathe", "hard to breathe"),
        ("sob since last nite", "short of breath since last night"),
        ("ill be there 4 sure", "ill be there for sure"),
        ("2 0", "2 0"),  # digits between digits are the 72 h answer, not words
        ("its a 2", "its a 2"),  # a digit at the end is a number
    ],
)
def test_shorthand_is_spelt_out_and_digits_only_between_words(typed, read):
    assert expand_shorthand(default(), typed) == read


def test_a_correction_never_takes_a_flag_away(tmp_path):
    """Without "dropping" (and "dripping") on the keep list it is one edit from "drooping",
    and the corrected text loses the weakness pattern; the reading as typed still counts."""
    import shutil

    from followup.inbound.reading import load
    from followup.inbound.reading.lexicon import DEFAULT_DIR

    shutil.copytree(DEFAULT_DIR, tmp_path / "lexicon")
    en = tmp_path / "lexicon" / "en.toml"
    en.write_text(
        en.read_text(encoding="utf-8").replace('"dropping", "dripping", ', ""), encoding="utf-8"
    )
    lex = load(tmp_path / "lexicon")
    assert meant(lex, "dropping things") == "drooping things"
    result = classify("dropping things with my right hand", ReplyContext(), lex)
    assert (result.kind, result.matched) == ("clinic_today", ("weakness",))


_WORDS = st.sampled_from(
    ["chest", "pian", "brethe", "no", "not", "fine", "paint", "2", "sob", "hurts", "pecho",
     "me", "duele", "respiro", "bleading", "wont", "stop", "a", "little", "3", "the"]
)  # fmt: skip


@given(st.lists(_WORDS, min_size=1, max_size=7).map(" ".join))
def test_reading_what_was_meant_never_lowers_urgency(text):
    """Whatever the words, the reply is read at least as urgently as its flags as typed."""
    lex = default()
    from followup.inbound.reading.flags import red_flags
    from followup.inbound.reading.normalise import words_of

    folded = fold(text)
    as_typed = red_flags(lex, folded, words_of(folded)).severity
    rank = {"emergency": 2, "clinic_today": 1}
    assert rank.get(classify(text, ReplyContext()).kind, 0) >= as_typed
