"""The answer given from the spool, without a database: the emergency number always, one
GSM-7 segment, nothing of what the patient wrote."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from followup.config import load_settings
from followup.inbound.offline_answer import (
    KEPT_KEY,
    URGENT_KEY,
    answer_key,
    emergency_number,
    offline_answer,
)
from followup.texts.catalogue import Catalogue
from followup.texts.segments import analyze

CATALOGUE = Catalogue.load(load_settings({}).messages_dir)
SENDERS = ["+12015550201", "+447700900123", "+61412345678", "+34612345678", "+999", "", "x"]
WORDS = [
    "chest", "pain", "breathe", "can't", "bleeding", "fever", "red", "4", "ok", "thanks",
    "dolor", "pecho", "no", "STOP", "help", "😀", "é", "¿", "\n",
]  # fmt: skip
bodies = st.one_of(
    st.text(max_size=300),
    st.lists(st.sampled_from(WORDS), max_size=12).map(" ".join),
)


def answer(body: str, sender: str = "+12015550201", default: str = "112", **kw):
    return offline_answer(
        CATALOGUE, body=body, from_number=sender, default_emergency_number=default, **kw
    )


@given(body=bodies, sender=st.sampled_from(SENDERS), default=st.sampled_from(["112", "000"]))
def test_every_answer_gives_the_emergency_number_in_one_gsm7_segment(body, sender, default):
    got = answer(body, sender, default)
    assert got.key in (KEPT_KEY, URGENT_KEY) and got.body
    assert emergency_number(sender, default) in got.body
    info = analyze(got.body)
    assert (info.encoding, info.segments) == ("GSM-7", 1), got.body


@given(body=bodies)
def test_an_answer_never_echoes_what_the_patient_wrote(body):
    got = answer(body)
    # the text is the template's, whatever the body: only its urgency picks which
    assert got.body == answer("ok" if got.key == KEPT_KEY else "I can't breathe").body
    words = body.strip()
    assume(len(words) >= 6 and words not in got.body)
    assert words not in got.body


@pytest.mark.parametrize(
    "body", ["chest pain and I can't breathe", "I fainted", "me duele el pecho y no puedo respirar"]
)
def test_an_emergency_is_told_to_call_now(body):
    got = answer(body)
    assert got.key == URGENT_KEY and "Call 911 now" in got.body


def test_a_clinic_today_red_flag_is_urgent_too():
    assert answer_key("the bleeding won't stop") == URGENT_KEY


@pytest.mark.parametrize("body", ["3", "ok thanks", "", "when is my next visit?"])
def test_anything_else_is_told_staff_will_read_it(body):
    got = answer(body)
    assert got.key == KEPT_KEY and "staff will read it" in got.body and "911" in got.body


def test_the_number_follows_the_senders_country_else_the_setting():
    assert "999" in answer("I can't breathe", "+447700900123").body
    assert "000" in answer("I can't breathe", "+61412345678").body
    assert "112" in answer("I can't breathe", "not a number", "112").body


@pytest.mark.parametrize("keyword", ["STOP", "start", "HELP"])
def test_a_keyword_twilio_answered_itself_gets_no_answer(keyword):
    got = answer(keyword, opt_out_type=keyword)
    assert (got.key, got.body) == (None, None)
