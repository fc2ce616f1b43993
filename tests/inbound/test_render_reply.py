""":func:`followup.inbound.receive.render_reply`: the answer to a reply, with names as texts
carry them (folded to GSM-7, the first name capped) and one GSM-7 segment for any name."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from support.names import NAMES, TRICKY

from followup.inbound.receive import render_reply
from followup.texts.catalogue import REPLY_KEYS, Catalogue
from followup.texts.names import CLINIC_NAME_BUDGET, gsm_fold, septets
from followup.texts.segments import analyze

SHIPPED = Path(__file__).resolve().parents[2] / "messages"
#: a Wednesday at 11:00 and a Saturday at 23:00 in New York: open and closed by default hours
OPEN = datetime(2026, 3, 11, 15, 0, tzinfo=UTC)
CLOSED = datetime(2026, 3, 15, 3, 0, tzinfo=UTC)


@cache
def shipped() -> Catalogue:
    return Catalogue.load(SHIPPED)


def clinic(name: str = "Harbor Physio", *, alerted: bool = True) -> SimpleNamespace:
    """A clinic row as :func:`render_reply` reads it (default opening hours)."""
    return SimpleNamespace(
        name=name, phone="+12015550100", country="US", emergency_number="911",
        timezone="America/New_York", opening_hours=None, alert_urls=None,
        oncall_phone="+12015550199" if alerted else None,
    )  # fmt: skip


@pytest.mark.parametrize("locale", ["en", "es"])
def test_an_accented_name_keeps_the_answer_one_gsm7_segment(locale):
    text = render_reply(shipped(), "reply_thanks", locale, clinic("Clínica Ramón"), "Lucía")
    assert "Lucia" in text and "Clinica Ramon" in text
    assert (analyze(text).encoding, analyze(text).segments) == ("GSM-7", 1)


def test_a_name_with_nothing_gsm7_can_spell_is_answered_without_a_name():
    assert render_reply(shipped(), "reply_thanks", "en", clinic(), "王芳").startswith(
        "Thanks, Harbor Physio got your answer"
    )
    assert render_reply(shipped(), "reply_thanks", "en", clinic(), "\u200b").startswith(
        "Thanks, Harbor Physio"
    )


def test_a_message_in_the_name_column_never_reaches_the_answer():
    bad = "Ana. Your account is locked, call +1 900 555 0100"
    text = render_reply(shipped(), "reply_thanks", "en", clinic(), bad)
    assert text.startswith("Thanks Ana, Harbor Physio got your answer")
    assert "900" not in text and "locked" not in text
    text = render_reply(shipped(), "reply_thanks", "en", clinic(), "ana@mail.example")
    assert text.startswith("Thanks, Harbor Physio") and "@" not in text


def test_a_long_first_name_is_cut_at_a_word():
    text = render_reply(shipped(), "reply_received", "en", clinic(), "Maria del Carmen Fernandez")
    assert text.startswith("Thanks Maria del Carmen, Harbor Physio staff will read")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=NAMES, name=st.one_of(st.text(max_size=30), st.text(alphabet=TRICKY, max_size=30)))
def test_any_name_renders_every_reply_into_one_gsm7_segment(first, name):
    """Every answer, in every language, for a known patient and for an unknown number, at a
    clinic whose staff can be alerted and at one whose staff cannot, open and closed."""
    assume(gsm_fold(name) and septets(gsm_fold(name)) <= CLINIC_NAME_BUDGET)
    catalogue = shipped()
    for locale, key, who, alerted, now in itertools.product(
        catalogue.locales, REPLY_KEYS, (first, None), (True, False), (OPEN, CLOSED)
    ):
        text = render_reply(catalogue, key, locale, clinic(name, alerted=alerted), who, now=now)
        info = analyze(text)
        assert (info.encoding, info.segments) == ("GSM-7", 1), (locale, key, text)
        if who is None:  # closed up where the name would be
            assert " ," not in text and " ." not in text
