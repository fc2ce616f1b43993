"""``followup.inbound.reading``: the reply reader, its corpus, and ``followup classify``.

The table tests pin each documented rule; the corpus test checks the whole reader against
labels a clinician would give (100% recall for red flags is a hard requirement: a missed
emergency is the one error that can hurt someone); the property test checks it never
raises, whatever a phone sends.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from support.corpus import BLIND, HOLDOUT, corpus_report, load_corpus

from followup.cli.replies import classify_command
from followup.inbound.reading import (
    KINDS,
    URGENCY,
    Classification,
    ReplyContext,
    classify,
    normalize,
)
from followup.inbound.reading import flags as red_flags
from followup.inbound.reading.lexicon import default as default_lexicon
from followup.inbound.reading.normalise import fold

AT_24H = ReplyContext(last_step="checkin_24h")
AT_72H = ReplyContext(last_step="checkin_72h")


# --------------------------------------------------------------------------- normalize


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("STOP", "stop"),
        ("  Stop!!  ", "stop"),
        ("Me desmayé", "me desmaye"),
        ("¿Quién es?", "quien es"),
        ("mañana", "manana"),
        ("can't breathe", "cant breathe"),
        ("can\u2019t breathe", "cant breathe"),
        ("7/10", "7 10"),
        ("7\ufe0f\u20e3", "7"),
        ("\U0001f51f", "10"),
        ("\uff17", "7"),
        ("\uff33\uff34\uff2f\uff30", "stop"),
        ("chest   hurts 😢\n", "chest hurts"),
        ("opt-out", "opt out"),
        ("", ""),
        ("👍", ""),
    ],
)
def test_normalize(raw, expected):
    assert normalize(raw) == expected


# --------------------------------------------------------------------------- keywords


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", "opt_out"),
        ("stopall", "opt_out"),
        ("Unsubscribe", "opt_out"),
        ("CANCEL", "opt_out"),
        ("end", "opt_out"),
        ("Quit", "opt_out"),
        ("revoke", "opt_out"),
        ("OptOut", "opt_out"),
        ("START", "opt_in"),
        ("yes", "opt_in"),
        ("UnStop", "opt_in"),
        ("help", "help"),
        ("INFO", "help"),
        ("sToP", "opt_out"),
        ("  stop \n", "opt_out"),
    ],
)
def test_twilio_keywords_set_the_flag(text, kind):
    result = classify(text)
    assert (result.kind, result.twilio_keyword, result.urgency) == (kind, True, "none")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("Stop.", "opt_out"),
        ("stop!!", "opt_out"),
        ("Yes!", "opt_in"),
        ("help?", "help"),
        ("\uff33\uff34\uff2f\uff30", "opt_out"),
    ],
)
def test_a_keyword_with_punctuation_is_read_alike_but_answered_by_us(text, kind):
    result = classify(text)
    assert (result.kind, result.twilio_keyword, result.urgency) == (kind, False, "none")


@pytest.mark.parametrize(
    "text",
    [
        "STOP please",
        "Stop. Thanks",
        "Please stop",
        "stop texting me",
        "Stop texting",
        "stop messaging me",
        "stop sending me these",
        "opt out",
        "opt-out",
        "unsubscribe me",
        "remove me",
        "take me off your list",
        "no more texts",
        "don't text me",
        "dont text me",
        "leave me alone",
        "Stop. My pain is 2",
        "I'm fine, you can stop now",
        "STOP STOP",
        "end texts",
        "baja",
        "dar de baja",
        "quiero darme de baja",
        "no me escriban",
        "no mas mensajes",
        "no más mensajes",
        "parar",
        "Alto",
        "cancelar",
        "dejen de mandarme mensajes",
        "no quiero que me escriban",
    ],
)
def test_other_opt_out_wording(text):
    result = classify(text)
    assert result.kind == "opt_out"
    assert result.twilio_keyword is False


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("the bleeding won't stop", "clinic_today"),
        ("can't stop coughing", "text"),
        ("the needle spot won't stop itching", "text"),
        ("I need to cancel my appointment", "text"),
        ("quiero cancelar mi cita", "text"),
        ("end of the day it was a 4", "score"),
        ("el dolor es alto, 8", "score"),
        ("Stop. The bleeding won't stop", "clinic_today"),
        ("stop texting me I can't breathe", "emergency"),
    ],
)
def test_stop_inside_a_sentence_is_not_an_opt_out(text, kind):
    assert classify(text).kind == kind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("start again", "opt_in"),
        ("resume", "opt_in"),
        ("restart please", "opt_in"),
        ("subscribe", "opt_in"),
        ("alta", "opt_in"),
        ("reanudar", "opt_in"),
        ("si quiero mensajes", "opt_in"),
        ("who is this?", "help"),
        ("What is this", "help"),
        ("Who is this? I don't know this number", "help"),
        ("ayuda", "help"),
        ("Ayuda por favor", "help"),
        ("quien es", "help"),
        ("¿Quién es?", "help"),
        ("info please", "help"),
    ],
)
def test_opt_in_and_help_wording(text, kind):
    result = classify(text)
    assert result.kind == kind
    assert result.twilio_keyword is False


@pytest.mark.parametrize(
    ("text", "kind", "score"),
    [
        ("yes it hurts 6", "score", 6),
        ("yes please", "text", None),
        ("Help! I can't breathe", "emergency", None),
        ("help, my arm hurts so much", "text", None),
        ("HELP ME", "text", None),
        ("please start the exercises again tomorrow?", "text", None),
        ("who is my physio tomorrow?", "text", None),
        ("it started hurting again, 5", "score", 5),
    ],
)
def test_keywords_inside_sentences_are_ordinary_words(text, kind, score):
    result = classify(text)
    assert (result.kind, result.score) == (kind, score)
    assert result.twilio_keyword is False


# --------------------------------------------------------------------------- scores


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("7", 7),
        ("0", 0),
        ("10", 10),
        ("7/10", 7),
        ("7 / 10", 7),
        ("0/10", 0),
        ("7 out of 10", 7),
        ("seven out of ten", 7),
        ("about a 6", 6),
        ("like a 5", 5),
        ("eight", 8),
        ("Eight!!", 8),
        ("a 3 today", 3),
        ("2 maybe 3", 3),
        ("3-4", 4),
        ("3 to 4", 4),
        ("6 or 7", 7),
        ("6.5", 7),
        ("6,5", 7),
        ("6½", 7),
        ("3 and a half", 4),
        ("10+", 10),
        ("11", 10),
        ("pain 12", 10),
        ("ocho", 8),
        ("siete de 10", 7),
        ("8 sobre 10", 8),
        ("un 5", 5),
        ("como un 4", 4),
        ("dos o tres", 3),
        ("cero", 0),
        ("diez", 10),
        ("zero", 0),
        ("none", 0),
        ("nada", 0),
        ("nothing today", 0),
        ("no pain", 0),
        ("no pain at all", 0),
        ("sin dolor", 0),
        ("no tengo dolor", 0),
        ("ya no me duele", 0),
        ("7\ufe0f\u20e3", 7),
        ("\U0001f51f", 10),
        ("\uff17", 7),
        ("4ish", 4),
        ("I'm at a 6", 6),
        ("0-10: 4", 4),
        ("on a scale of 1 to 10 I'm a 6", 6),
        ("was 8 yesterday, now 3", 3),
        ("yesterday 8, today 3", 3),
        ("8 yesterday, 3 today", 3),
        ("from 8 to 3", 3),
        ("bajó de 8 a 4", 4),
        ("hoy 3, ayer era 7", 3),
        ("took 2 advil, pain is 5", 5),
        ("2 bruises but pain 3", 3),
    ],
)
def test_scores(text, score):
    result = classify(text, AT_24H)
    assert (result.kind, result.score, result.urgency) == ("score", score, "none")
    assert result.matched == (f"score {score}",)


@pytest.mark.parametrize(
    "text",
    [
        "call me at 555-123-4567",
        "+1 555 123 4567",
        "my number is 555 201 3344",
        "at 3pm",
        "see you at 3",
        "3:30",
        "a las 3",
        "3/4",
        "March 3",
        "el 5 de marzo",
        "on the 3rd",
        "12.3.24",
        "2 days",
        "3 hours",
        "2 weeks ago",
        "dolió 2 días",
        "100",
        "25",
        "2024",
        "$5",
        "day 2",
        "Can I take 2 Tylenol?",
        "I have 2 questions",
        "one more question",
        "no one told me",
        "mi cita es el 12",
        "nada grave, gracias",
        "4/5",
    ],
)
def test_numbers_that_are_not_scores(text):
    result = classify(text, AT_24H)
    assert result.score is None
    assert result.kind == "text"


@pytest.mark.parametrize(
    "text",
    ["better", "fine", "ok", "mejor", "bien", "thanks!", "👍", "😊😊", "", "   ", "??", "a"],
)
def test_words_without_a_number_go_to_staff(text):
    result = classify(text)
    assert (result.kind, result.urgency, result.score) == ("text", "review", None)


# --------------------------------------------------------------------------- 72 h


@pytest.mark.parametrize(
    ("text", "score", "worry"),
    [
        ("2 0", 2, False),
        ("3 1", 3, True),
        ("5, 1", 5, True),
        ("5,1", 5, True),
        ("2,0", 2, False),
        ("0 1", 0, True),
        ("1 1", 1, True),
        ("10 0", 10, False),
        ("3-1", 3, True),
        ("3 and 1", 3, True),
        ("2 y 0", 2, False),
        ("7/10 1", 7, True),
        ("2 0 thanks", 2, False),
        ("1\ufe0f\u20e3 0\ufe0f\u20e3", 1, False),
        ("2 maybe 3", 3, None),
        ("2 maybe 1", 2, None),
        ("dos o tres", 3, None),
        ("4", 4, None),
        ("no pain", 0, None),
    ],
)
def test_72h_two_numbers(text, score, worry):
    result = classify(text, AT_72H)
    assert (result.kind, result.score, result.worry) == ("score", score, worry)


@pytest.mark.parametrize(
    ("text", "score"),
    [("2 0", 2), ("3 1", 3), ("5, 1", 5), ("0 1", 1), ("2 maybe 3", 3)],
)
@pytest.mark.parametrize("context", [ReplyContext(), AT_24H, ReplyContext(locale="es")])
def test_outside_72h_a_second_number_is_never_a_worry(text, score, context):
    result = classify(text, context)
    assert (result.score, result.worry) == (score, None)


def test_72h_worry_is_reported_alongside_a_red_flag():
    result = classify("3 1 and the bruise is getting bigger", AT_72H)
    assert (result.kind, result.score, result.worry) == ("clinic_today", 3, True)
    assert result.matched == ("growing bruise",)


def test_72h_matched_names_the_worry():
    assert classify("3 1", AT_72H).matched == ("score 3", "worry 1")


# --------------------------------------------------------------------------- red flags

EMERGENCIES = [
    ("cant breath", "trouble breathing"),
    ("can't breathe", "trouble breathing"),
    ("hard to breathe", "trouble breathing"),
    ("short of breath", "trouble breathing"),
    ("shortness of breath", "trouble breathing"),
    ("breathless", "trouble breathing"),
    ("trouble breathing", "trouble breathing"),
    ("difficulty breathing", "trouble breathing"),
    ("pain when I breathe in", "pain when breathing"),
    ("it hurts to take a deep breath", "pain when breathing"),
    ("chest pain", "chest pain"),
    ("my chest hurts", "chest pain"),
    ("chest is tight", "chest pain"),
    ("tight chest", "chest pain"),
    ("pain in the middle of my chest", "chest pain"),
    ("fainted", "fainting"),
    ("passed out", "fainting"),
    ("blacked out", "fainting"),
    ("fainting", "fainting"),
    ("feel faint", "fainting"),
    ("me desmayé", "fainting"),
    ("desmayo", "fainting"),
    ("no puedo respirar", "trouble breathing"),
    ("me cuesta respirar", "trouble breathing"),
    ("falta de aire", "trouble breathing"),
    ("ahogo", "trouble breathing"),
    ("me ahogo", "trouble breathing"),
    ("dolor en el pecho", "chest pain"),
    ("dolor de pecho", "chest pain"),
    ("pecho apretado", "chest pain"),
    ("me duele al respirar", "pain when breathing"),
    ("CHEST PAIN!!! 😱", "chest pain"),
    ("Chest pain? no", "chest pain"),
]


@pytest.mark.parametrize(("text", "name"), EMERGENCIES)
def test_emergencies(text, name):
    result = classify(text, AT_24H)
    assert (result.kind, result.urgency) == ("emergency", "emergency")
    assert name in result.matched


CLINIC_TODAY = [
    ("won't stop bleeding", "bleeding"),
    ("the bleeding won't stop", "bleeding"),
    ("still bleeding", "bleeding"),
    ("keeps bleeding", "bleeding"),
    ("bleeding a lot", "bleeding"),
    ("sangra mucho", "bleeding"),
    ("no para de sangrar", "bleeding"),
    ("sigue sangrando", "bleeding"),
    ("bruise is getting bigger", "growing bruise"),
    ("moretón cada vez más grande", "growing bruise"),
    ("el moretón crece", "growing bruise"),
    ("red and spreading", "spreading redness"),
    ("redness spreading", "spreading redness"),
    ("enrojecimiento", "spreading redness"),
    ("rojo y caliente", "spreading redness"),
    ("hot to the touch", "warm to touch"),
    ("warm to touch", "warm to touch"),
    ("caliente al tacto", "warm to touch"),
    ("swollen", "swelling"),
    ("swelling", "swelling"),
    ("hinchado", "swelling"),
    ("hinchazón", "swelling"),
    ("pus", "pus"),
    ("oozing", "pus"),
    ("infected", "pus"),
    ("supura", "pus"),
    ("fever", "fever"),
    ("feverish", "fever"),
    ("temperature of 101", "fever"),
    ("chills", "fever"),
    ("fiebre", "fever"),
    ("escalofríos", "fever"),
    ("numb", "numbness"),
    ("numbness", "numbness"),
    ("tingling", "numbness"),
    ("pins and needles", "numbness"),
    ("entumecido", "numbness"),
    ("adormecido", "numbness"),
    ("hormigueo", "numbness"),
    ("weak", "weakness"),
    ("weakness", "weakness"),
    ("can't lift my arm", "weakness"),
    ("debilidad", "weakness"),
    ("sin fuerza", "weakness"),
]


@pytest.mark.parametrize(("text", "name"), CLINIC_TODAY)
def test_clinic_today(text, name):
    result = classify(text, AT_24H)
    assert (result.kind, result.urgency) == ("clinic_today", "today")
    assert result.matched == (name,)


@pytest.mark.parametrize(
    "text",
    [
        "a little bruise",
        "small bruise, it's fine",
        "some bleeding that stopped",
        "a little bleeding",
        "bled a bit after the session",
        "the bleeding stopped",
        "bruise is a faint yellow now",
        "a faint bruise",
        "used the heat pack, feels warm and nice",
        "my number is 555 201 3344",
        "did the breathing exercises",
        "the chest stretch you showed me helps",
        "weekend was rough",
    ],
)
def test_expected_after_effects_are_not_red_flags(text):
    assert classify(text, AT_24H).kind == "text"


def test_red_flag_wins_over_score_and_keeps_the_score():
    result = classify("swollen and sore 6", AT_24H)
    assert (result.kind, result.score) == ("clinic_today", 6)


def test_emergency_beats_clinic_today_and_lists_every_flag():
    result = classify("the bleeding won't stop and I feel faint", AT_24H)
    assert result.kind == "emergency"
    assert result.matched == ("bleeding", "fainting")


def test_red_flag_beats_an_opt_out_in_the_same_message():
    result = classify("STOP texting me, I can't breathe")
    assert (result.kind, result.twilio_keyword) == ("emergency", False)


def test_resolved_emergency_still_escalates():
    assert classify("chest pain went away but it was bad last night").kind == "emergency"


# --------------------------------------------------------------------------- negation


@pytest.mark.parametrize(
    ("text", "negated"),
    [
        ("no chest pain", ("chest pain",)),
        ("not short of breath", ("trouble breathing",)),
        ("no fever", ("fever",)),
        ("sin fiebre", ("fever",)),
        ("no tengo fiebre", ("fever",)),
        ("no me desmayé", ("fainting",)),
        ("no swelling", ("swelling",)),
        ("I don't have any swelling", ("swelling",)),
        ("haven't had a fever", ("fever",)),
        ("never fainted", ("fainting",)),
        ("without any numbness", ("numbness",)),
        ("nada de fiebre", ("fever",)),
        ("no fever or chills", ("fever",)),
        ("no tengo fiebre ni escalofríos", ("fever",)),
        ("no chest pain or shortness of breath", ("chest pain", "trouble breathing")),
        ("No fever, chills or swelling", ("fever", "swelling")),
        ("no dizziness or fainting", ("dizziness", "fainting")),
        ("my chest doesn't hurt", ("chest pain",)),
        ("el pecho no me duele", ("chest pain",)),
        ("swelling went down", ("swelling",)),
        ("la hinchazón ya bajó", ("swelling",)),
    ],
)
def test_negated_red_flag_alone_goes_to_staff(text, negated):
    result = classify(text, AT_24H)
    assert (result.kind, result.urgency) == ("text", "review")
    assert result.negated == negated
    assert result.matched == ()


@pytest.mark.parametrize(
    ("text", "score", "negated"),
    [
        ("no chest pain, breathing fine, 4", 4, ("chest pain", "mentions breathing or chest")),
        ("sin fiebre, dolor 2", 2, ("fever",)),
        ("no fever 3", 3, ("fever",)),
        ("no redness no swelling no fever 2", 2, ("spreading redness", "swelling", "fever")),
    ],
)
def test_negated_red_flag_with_a_score_is_a_score_that_keeps_the_negation(text, score, negated):
    result = classify(text, AT_24H)
    assert (result.kind, result.score, result.negated) == ("score", score, negated)


@pytest.mark.parametrize(
    ("text", "kind", "matched"),
    [
        ("no chest pain but I can't breathe", "emergency", ("trouble breathing",)),
        ("no fever, chest hurts", "emergency", ("chest pain",)),
        ("no fever chest hurts", "emergency", ("chest pain",)),
        ("no I have chest pain", "emergency", ("chest pain",)),
        ("chest pain? no", "emergency", ("chest pain",)),
        ("no tengo fiebre pero me duele el pecho", "emergency", ("chest pain",)),
        ("no puedo respirar", "emergency", ("trouble breathing",)),
        ("no no puedo respirar", "emergency", ("trouble breathing",)),
        ("no fever and my arm is numb", "clinic_today", ("numbness",)),
        ("I don't think it's infected", "clinic_today", ("pus",)),
        ("swelling? none", "clinic_today", ("swelling",)),
    ],
)
def test_negation_scope_ends_at_the_clause_and_doubt_escalates(text, kind, matched):
    result = classify(text, AT_24H)
    assert (result.kind, result.matched) == (kind, matched)


# --------------------------------------------------------------------------- speed-ups
# classify() skips patterns with cheap tests (word-prefix triggers for red flags, a substring
# gate for opt-out wording). A wrong trigger would hide an emergency, so check that the
# shortcuts never change what the full patterns find.


def _texts() -> list[str]:
    table = [t for t, _ in EMERGENCIES + CLINIC_TODAY]
    return [row.text for row in load_corpus()] + table


def _flag_vocabulary() -> list[str]:
    words: set[str] = set()
    for text in _texts():
        words.update(normalize(text).split())
    return sorted(words)


def _assert_triggers_keep_every_hit(text: str) -> None:
    message = normalize(text)
    lex = default_lexicon()
    for words, _ in red_flags.clauses(lex, fold(text), message):
        fast = red_flags.find_hits(lex, words, message)
        full = red_flags.find_hits(lex, words, message, triggers=False)
        assert fast == full, (text, words)
    if lex.opt_out_any.search(message):
        assert lex.opt_out_prefilter.search(message), text


def test_shortcuts_keep_every_match_on_the_corpus():
    for text in _texts():
        _assert_triggers_keep_every_hit(text)


@given(st.lists(st.sampled_from(_flag_vocabulary()), min_size=1, max_size=8).map(" ".join))
def test_shortcuts_keep_every_match_on_word_soup(text):
    _assert_triggers_keep_every_hit(text)


# --------------------------------------------------------------------------- result shape


def test_urgency_mapping():
    assert URGENCY == {"emergency": "emergency", "clinic_today": "today"}
    cases = {
        "my chest hurts": "emergency",
        "fever": "today",
        "5": "none",
        "STOP": "none",
        "START": "none",
        "HELP": "none",
        "thanks": "review",
    }
    for text, urgency in cases.items():
        assert classify(text).urgency == urgency, text


def test_to_json():
    result = classify("2 0 but it's warm to the touch", AT_72H)
    assert isinstance(result, Classification)
    assert result.to_json() == {
        "kind": "clinic_today",
        "urgency": "today",
        "score": 2,
        "worry": False,
        "matched": ["warm to touch"],
        "negated": [],
        "twilio_keyword": False,
    }
    json.dumps(result.to_json())


@pytest.mark.parametrize("locale", [None, "en", "es", "es-MX", "fr"])
def test_red_flags_in_either_language_whatever_the_locale(locale):
    context = ReplyContext(locale=locale, last_step="checkin_24h")
    assert classify("me duele el pecho", context).kind == "emergency"
    assert classify("my chest hurts", context).kind == "emergency"
    assert classify("dar de baja", context).kind == "opt_out"


# --------------------------------------------------------------------------- corpus


def test_corpus_is_large_and_balanced():
    rows = load_corpus()
    kinds = {kind: sum(r.kind == kind for r in rows) for kind in KINDS}
    spanish = sum((r.locale or "").startswith("es") for r in rows)
    assert len(rows) >= 240
    assert kinds["emergency"] >= 35
    assert kinds["clinic_today"] >= 45
    assert 0.3 <= spanish / len(rows) <= 0.5


def test_corpus():
    report = corpus_report()
    misses = report.missed("emergency")
    assert report.kinds["emergency"].recall == 1.0, f"emergency recall below 100%: {misses}"
    # clinic-today read as an emergency tells a person sooner: the safe side, counted as caught
    misses = [m for m in report.missed("clinic_today") if not m.endswith("-> emergency")]
    assert report.escalated_recall("clinic_today") == 1.0, f"clinic_today missed: {misses}"
    wrong = [f"line {r.line}: {r.text!r}: {r.kind} -> {g.kind}" for r, g in report.misses]
    assert report.kind_accuracy >= 0.95, wrong
    score_wrong = [
        f"line {r.line}: {r.text!r}: {r.score} -> {g.score}" for r, g in report.score_misses
    ]
    assert report.score_accuracy >= 0.95, score_wrong
    assert report.score_agreement >= 0.95, score_wrong


def test_holdout():
    """tests/inbound/data/replies_holdout.tsv: 160 replies written blind (without reading the
    rules or the corpus); first run 158/160, both misses fixed since (see the README). Held to
    the same bar as the corpus."""
    report = corpus_report(load_corpus(HOLDOUT))
    assert report.rows >= 160
    assert report.kinds["emergency"].recall == 1.0, report.missed("emergency")
    assert report.escalated_recall("clinic_today") == 1.0, report.missed("clinic_today")
    wrong = [f"line {r.line}: {r.text!r}: {r.kind} -> {g.kind}" for r, g in report.misses]
    assert report.kind_accuracy >= 0.95, wrong
    assert report.score_accuracy >= 0.95


def test_blind_set_nothing_worrying_is_answered_as_routine():
    """tests/inbound/data/replies_blind.tsv: 200 replies by a writer who never saw the rules,
    kept blind: this test and `bench/replies.py` give counts, never the rows. First look
    (docs/replies.md): 40 of 46 emergencies read as emergencies, 38 of 41 clinic-today at
    least that urgently, and 4 worrying replies read as a plain score, answered as routine.
    Reading a score that says more than a score as "a person reads the rest" (urgency
    review) brought that to none, without reading the rows. What must hold: not one
    worrying reply is answered as routine, and the rates do not fall below the first look."""
    report = corpus_report(load_corpus(BLIND))
    assert report.rows >= 200
    assert report.routine == {"emergency": 0, "clinic_today": 0}, "a worrying reply read as routine"
    assert report.kinds["emergency"].recall >= 40 / 46, "emergency recall fell on the blind set"
    assert report.escalated_recall("clinic_today") >= 38 / 41, "clinic-today recall fell"


def test_a_score_that_says_more_than_a_score_is_read_by_a_person():
    for text in ("4 thanks! session at 3pm tomorrow", "3, my husband says i look a bit off"):
        result = classify(text, AT_24H)
        assert (result.kind, result.urgency) == ("score", "review"), text
    for text in ("3", "about a 6 today thanks", "sore 2, feeling fine", "ocho de 10 hoy"):
        assert classify(text, AT_24H).urgency == "none", text


def test_corpus_report_counts_precision_and_recall():
    report = corpus_report(load_corpus()[:5])
    assert report.rows == 5
    assert sum(s.support for s in report.kinds.values()) == 5
    assert "| kind | rows | predicted | precision | recall |" in report.markdown()


# --------------------------------------------------------------------------- properties


@given(st.text())
def test_classify_never_raises(text):
    result = classify(text)
    assert result.kind in KINDS
    assert result.score is None or 0 <= result.score <= 10
    assert result.worry is None


_REPLY_ALPHABET = st.sampled_from(
    [*"0123456789 /.,-+:!?", "½", "7\ufe0f\u20e3", "\uff17", "😢", "\U0001f51f"]
)
_REPLY_WORDS = st.sampled_from(
    [
        "no",
        "not",
        "sin",
        "stop",
        "chest",
        "pain",
        "breathe",
        "fever",
        "swollen",
        "2",
        "0",
        "1",
        "10",
        "11",
        "maybe",
        "or",
        "o",
        "y",
        "de",
        "out",
        "of",
        "a",
        "un",
        "days",
        "at",
        "pm",
        "bleeding",
        "won't",
        "bruise",
        "bigger",
        "nada",
        "none",
        "yes",
        "help",
    ]
)


@given(
    st.lists(st.one_of(_REPLY_ALPHABET, _REPLY_WORDS), max_size=12).map(" ".join),
    st.sampled_from([None, "checkin_24h", "checkin_72h"]),
)
def test_classify_never_raises_on_reply_like_text(text, step):
    result = classify(text, ReplyContext(last_step=step))
    assert result.kind in KINDS
    assert result.score is None or 0 <= result.score <= 10
    assert result.worry is None or step == "checkin_72h"
    if result.kind == "score":  # a score with more words than a score needs is read too
        assert result.urgency in {"none", "review"}
    else:
        review = result.kind in {"text", "wrong_number"}
        assert result.urgency == URGENCY.get(result.kind, "review" if review else "none")


# --------------------------------------------------------------------------- CLI


def test_cli_with_text():
    result = CliRunner().invoke(classify_command, ["me cuesta respirar", "--locale", "es"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["kind"] == "emergency"
    assert data["text"] == "me cuesta respirar"
    assert data["matched"] == ["trouble breathing"]


def test_cli_step_option():
    result = CliRunner().invoke(classify_command, ["3 1", "--step", "checkin_72h"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["worry"] is True


def test_cli_stdin_json_lines():
    stdin = '"my chest hurts"\n\n"me desmayé"\n"2 0"\n'
    result = CliRunner().invoke(classify_command, ["--step", "checkin_72h"], input=stdin)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert len(lines) == 3
    first, second, third = (json.loads(line) for line in lines)
    assert first["kind"] == "emergency"
    assert second["text"] == "me desmayé"
    assert "me desmayé" in lines[1]  # ensure_ascii=False
    assert (third["score"], third["worry"]) == (2, False)
    assert ": " not in lines[2]  # compact


def test_cli_bad_lines_report_an_error_and_exit_1():
    stdin = '"ok"\nnot json\n42\n"STOP"\n'
    result = CliRunner().invoke(classify_command, [], input=stdin)
    assert result.exit_code == 1
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [sorted(x) == ["error"] for x in lines] == [False, True, True, False]
    assert lines[0]["kind"] == "text"
    assert lines[3]["twilio_keyword"] is True
    assert "line 2" in lines[1]["error"]
    assert "int" in lines[2]["error"]


@pytest.mark.parametrize("text", ["15/10", "pain is 12 out of 10", "like 20/10 honestly"])
def test_more_than_the_top_of_the_scale_is_unbearable_pain(text):
    """A score past 10 is the patient saying the scale is not enough: the clinic calls today,
    and the score still reads as 10."""
    result = classify(text)
    assert (result.kind, result.score, result.matched[0]) == ("clinic_today", 10, "unbearable pain")
