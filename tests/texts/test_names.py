"""Names going into texts (:mod:`followup.texts.names`): folded to GSM-7 the way Twilio's Smart
Encoding folds punctuation, invisible characters removed, the first name capped; and, for any
name at all, every shipped text one GSM-7 segment."""

from __future__ import annotations

import json
import shutil
import unicodedata
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.names import NAMES, TRICKY

from followup.texts import check
from followup.texts.catalogue import Catalogue
from followup.texts.check import LONG_SAMPLE, first_name_room, lint, long_context
from followup.texts.names import (
    CLINIC_NAME_BUDGET,
    FIRST_NAME_MAX,
    NAME_MAX_WORDS,
    clinic_name_for_sms,
    first_name_for_sms,
    gsm_fold,
    patient_names,
    screen_first_name,
    septets,
    tidy_without_name,
)
from followup.texts.segments import GSM7_BASIC, GSM7_EXTENSION, analyze, is_gsm7

SHIPPED = Path(__file__).resolve().parents[2] / "messages"


@cache
def shipped_catalogue() -> Catalogue:
    return Catalogue.load(SHIPPED)


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return shipped_catalogue()


def one_gsm7_segment(text: str) -> bool:
    info = analyze(text)
    return (info.encoding, info.segments) == ("GSM-7", 1)


# --- folding -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        # letters GSM-7 lacks lose their accent
        ("Lucía", "Lucia"),
        ("Ramón", "Ramon"),
        ("Zoë", "Zoe"),
        ("François", "Francois"),
        ("Ångström Núñez", "Ångström Nuñez"),
        ("Łukasz Đorđević", "Lukasz Dordevic"),
        ("Şebnem Ağaoğlu", "Sebnem Agaoglu"),
        ("Jiří Dvořák", "Jiri Dvorak"),
        ("Œdipe", "OEdipe"),
        ("ｍａｒｉａ", "maria"),  # full-width forms
        # letters GSM-7 has stay as they are
        ("José Peña Müller", "José Peña Müller"),
        ("Ärne Öberg", "Ärne Öberg"),
        ("Søren Åse Æbelø", "Søren Åse Æbelø"),
        ("Björn Straße", "Björn Straße"),
        ("Çelik", "Çelik"),  # capital Ç is GSM-7; small ç is not
        ("Françoise Çelik", "Francoise Çelik"),
        # a decomposed accent is composed first: "e" + U+0301 is the GSM-7 "é"
        ("Rene\u0301e", "Renée"),
        ("Luci\u0301a", "Lucia"),
        # punctuation as Twilio's Smart Encoding writes it
        ("O’Brien", "O'Brien"),
        ("Jean‐Luc", "Jean-Luc"),
        ("Anne–Marie", "Anne-Marie"),
        ("“Bob”", "Bob"),  # quotes are no part of a name: the word inside is kept
        ("Mary\u00a0Ann", "Mary Ann"),
        # invisible characters are removed: zero-width, bidi, controls, soft hyphen
        ("Ana\u200b", "Ana"),
        ("\u202eAna\u202c", "Ana"),
        ("\u2066Ana\u2069 \u200fMaria\u200e", "Ana Maria"),
        ("An\u00ada", "Ana"),
        ("\ufeffAna\x00\x07", "Ana"),
        ("Ana\r\nMaria\tJo", "Ana Maria Jo"),
        ("  Ana   Maria  ", "Ana Maria"),
        # what has no GSM-7 form is left out of a patient's text
        ("Anna 😀", "Anna"),
        ("Ana\u0301\u0301\u0301", "Ana"),  # stacked marks: the first composes, the rest go
        ("王芳", ""),
        ("-- ?", ""),  # no letter or digit left: no name
        ("", ""),
        (None, ""),
    ],
)
def test_a_first_name_is_folded_to_gsm7(name, sent):
    assert first_name_for_sms(name) == sent


def test_staff_alerts_see_a_question_mark_where_a_character_had_no_gsm7_form():
    assert gsm_fold("Anna 😀", missing="?") == "Anna ?"
    assert gsm_fold("王芳", missing="?") == "??"
    # invisible characters are removed, never shown as "?"
    assert gsm_fold("Ana\u200b\u202e", missing="?") == "Ana"


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("Maria del Carmen Fernandez", "Maria del Carmen"),  # whole words while they fit
        ("Maximiliana Fernanda", "Maximiliana Fernanda"),  # exactly the cap
        ("Maximiliana Fernandas", "Maximiliana"),
        ("Wolfeschlegelsteinhausen", "Wolfeschlegelsteinha"),  # one word: cut short
        ("Anne-Marie-Louise-Charlotte", "Anne-Marie-Louise-Ch"),
        ("María José Núñez Ríos", "Maria José Nuñez"),
    ],
)
def test_a_first_name_is_capped_at_whole_words(name, sent):
    assert first_name_for_sms(name) == sent
    assert septets(sent) <= FIRST_NAME_MAX


def test_extension_characters_count_two_septets():
    assert septets("Jo{}") == 6 and septets("Jo") == 2


def test_a_clinic_name_is_folded_but_never_cut():
    long = "Clínica de Fisioterapia y Rehabilitación Deportiva Ramón"
    assert clinic_name_for_sms(long) == "Clinica de Fisioterapia y Rehabilitacion Deportiva Ramon"
    assert clinic_name_for_sms("Physio\u00a0Łódź\u200b") == "Physio Lodz"
    # the provider must be named: a name GSM-7 cannot spell at all is kept as it is
    assert clinic_name_for_sms("王芳\n诊所") == "王芳 诊所"


def test_patient_names_are_the_two_placeholders():
    assert patient_names("Lucía", "Clínica Ramón") == {
        "first_name": "Lucia",
        "clinic_name": "Clinica Ramon",
    }


@pytest.mark.parametrize(
    ("text", "tidy"),
    [
        ("Thanks , Harbor Physio got it.", "Thanks, Harbor Physio got it."),
        ("Hi , Harbor here.", "Hi, Harbor here."),
        ("Gracias . Harbor le va a llamar.", "Gracias. Harbor le va a llamar."),
        ("Hola  , de Harbor:", "Hola, de Harbor:"),
    ],
)
def test_a_text_without_a_name_closes_up(text, tidy):
    assert tidy_without_name(text) == tidy


# --- what is more than a name ------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "María José",
        "Jean-Luc",
        "O'Brien",
        "O’Brien",
        "N'Diaye",
        "Nguyễn",
        "Anne Marie",
        "Anne Marie Louise",
        "Maria del Carmen",
        "María-José Núñez O’Connor",
        "Gal·la",
        "Zoë",
        "王芳",
        "Νίκος",
        "Анна-Мария",
    ],
)
def test_a_real_name_is_kept_as_it_is(name):
    assert screen_first_name(name) == (name, None)


@pytest.mark.parametrize(
    ("name", "kept", "problem"),
    [
        ("Ana. Your account is locked, call +1 900 555 0100", "Ana", "digits"),
        ("Ana, visit evil.com", "Ana", "a web address"),
        ("Ana https://x.example/pay", "Ana", "a web address"),
        ("Ana www.clinic-refunds.net", "Ana", "a web address"),
        ("Ana ana@mail.example", "Ana", "an e-mail address"),
        ("Ana 2015550123", "Ana", "digits"),
        ("Ana!", "Ana", "sentence punctuation"),
        ("Ana: call us now", "Ana", "sentence punctuation"),
        ("Ana your account is locked", "Ana", f"more than {NAME_MAX_WORDS} words"),
        ("María José Núñez del Río", "María", f"more than {NAME_MAX_WORDS} words"),
        ("(Ana) 😀", "Ana", "characters a name does not have"),
        # the first word is no name: nothing is kept
        ("https://evil.example", "", "a web address"),
        ("ana@mail.example", "", "an e-mail address"),
        ("+1 900 555 0100", "", "digits"),
        ("Ana2 Maria", "", "digits"),
        ("Ana--Maria Lopez!", "", "sentence punctuation"),
        ("Ａｎａ１２３", "", "digits"),  # full-width digits are digits
    ],
)
def test_more_than_a_name_is_cut_to_the_first_name_or_dropped(name, kept, problem):
    assert screen_first_name(name) == (kept, problem)


def test_invisible_characters_neither_hide_a_message_nor_spoil_a_name():
    assert screen_first_name("Zoë\u200b\u202e Çelik") == ("Zoë Çelik", None)
    assert screen_first_name("Ana\u200b.\u200bcall 555 0100").name == ""
    # a bidi override that shows digits backwards: removed, the digits are seen
    assert screen_first_name("Ana\u202e0010 555 009 1+ llac") == ("", "digits")


@pytest.mark.parametrize(
    ("name", "sent"),
    [
        ("Ana. Your account is locked, call +1 900 555 0100", "Ana"),
        ("http://evil.example", ""),
        ("Ana ＠ evil", "Ana"),  # a full-width @ is folded to the one GSM-7 has, then seen
        ("Lucía, call 0800 123", "Lucia"),
    ],
)
def test_a_text_never_carries_more_than_a_name(name, sent):
    """Rows written straight into the database never pass the import: the renderers screen
    the name too (patient_names, which both renderers use)."""
    assert first_name_for_sms(name) == sent
    assert patient_names(name, "Harbor Physio")["first_name"] == sent


_MESSAGE_BITS = st.sampled_from(
    ["http://", "www.", ".com", "@", "0", "555 0100", ". ", "!", ", call", "?"]
)


@settings(max_examples=300, deadline=None)
@given(
    before=st.text(alphabet=TRICKY + "abcdefghij ", max_size=20),
    bit=_MESSAGE_BITS,
    after=st.text(max_size=20),
)
def test_a_name_with_a_link_digits_or_a_sentence_never_reaches_a_text_whole(before, bit, after):
    sent = first_name_for_sms(before + bit + after)
    assert not any(c.isdigit() for c in sent)
    assert not set(sent) & set("@.,;:!?/")
    assert len(sent.split()) <= 1  # cut to its first word, or dropped


# --- the cap, measured ---------------------------------------------------------------------


def test_the_cap_is_what_the_shipped_texts_have_room_for(shipped):
    """The cap is measured, not guessed: every shipped text that names the patient still fits
    one segment with a first name that long (and the other long sample values), and the
    checker holds edited texts to it with a sample name exactly that long."""
    assert first_name_room(shipped) >= FIRST_NAME_MAX
    assert septets(LONG_SAMPLE["first_name"]) == FIRST_NAME_MAX
    assert septets(LONG_SAMPLE["clinic_name"]) == CLINIC_NAME_BUDGET


def test_the_room_is_the_tightest_text(tmp_path):
    en = tmp_path / "en"
    en.mkdir()
    (en / "locale.json").write_text(json.dumps({"appointment_format": "%b %-d"}))
    # 30 (clinic) + 2 spaces + 100 x's: 28 left for the name; twice the name: 14 each
    (en / "checkin_24h.txt").write_text("{{ clinic_name }} {{ first_name }} " + "x" * 100)
    (en / "reminder.txt").write_text("{{ clinic_name }} " + "x" * 120)  # no name: no limit
    assert first_name_room(Catalogue.load(tmp_path)) == 28
    (en / "checkin_72h.txt").write_text(
        "{{ clinic_name }} {{ first_name }} {{ first_name }} " + "x" * 100
    )
    assert first_name_room(Catalogue.load(tmp_path)) == 13


# --- templates check tries accented and long names -----------------------------------------


def test_templates_check_fills_the_texts_with_names_as_the_renderers_do(tmp_path, monkeypatch):
    """The check renders with accented and long names through the same function the
    renderers use: were names not folded, "Lucía" would make texts UCS-2."""
    shutil.copytree(SHIPPED, tmp_path / "messages")
    tmp_path = tmp_path / "messages"
    assert lint(tmp_path) == []
    monkeypatch.setattr(
        check, "patient_names", lambda first, clinic: {"first_name": first, "clinic_name": clinic}
    )
    problems = [str(p) for p in lint(tmp_path)]
    assert problems, "an unfolded 'Lucía' must make some text UCS-2"
    assert any("UCS-2" in p and "'Lucía'" in p for p in problems), problems


# --- any name ------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=NAMES)
def test_any_first_name_is_one_line_of_gsm7_within_the_cap(name):
    sent = first_name_for_sms(name)
    assert all(is_gsm7(c) for c in sent)
    assert not set(sent) & set("\n\r\f")
    assert sent == sent.strip() and "  " not in sent
    assert septets(sent) <= FIRST_NAME_MAX
    assert first_name_for_sms(sent) == sent  # folding twice changes nothing


@given(name=st.text(max_size=40))
def test_canonically_equal_names_are_sent_alike(name):
    nfc, nfd = unicodedata.normalize("NFC", name), unicodedata.normalize("NFD", name)
    assert first_name_for_sms(nfc) == first_name_for_sms(nfd)


_GSM_LETTERS = sorted(c for c in GSM7_BASIC | GSM7_EXTENSION if c.isalpha())


@given(words=st.lists(st.text(alphabet=_GSM_LETTERS, min_size=1, max_size=8), max_size=3))
def test_a_gsm7_name_that_fits_is_sent_as_it_is(words):
    name = " ".join(words)
    assume(septets(name) <= FIRST_NAME_MAX and any(c.isalnum() for c in name))
    assert first_name_for_sms(name) == name


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=NAMES, clinic=st.one_of(st.text(max_size=40), st.text(alphabet=TRICKY, max_size=40)))
def test_any_name_renders_every_shipped_text_into_one_gsm7_segment(first, clinic):
    shipped = shipped_catalogue()
    # Clinic names are not cut: one longer than the texts' budget is warned about when the
    # clinic is added (so is one GSM-7 cannot spell at all). Within it, any characters.
    assume(gsm_fold(clinic) and septets(gsm_fold(clinic)) <= CLINIC_NAME_BUDGET)
    for locale in shipped.locales:
        info = shipped.locale_info(locale)
        context = {**long_context(info), **patient_names(first, clinic)}
        for key in shipped.keys(locale):
            text = shipped.render(key, locale, context)
            assert one_gsm7_segment(text), (locale, key, text, analyze(text))
