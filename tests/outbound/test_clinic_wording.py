"""A clinic's own wording is what its patients get: the dispatcher and the answers to
replies use it for that clinic, key and locale only, and a wording that cannot be rendered
(a catalogue changed since it was saved) falls back to the default text, never to silence."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from support.scripted import T0, ScriptedGateway, dispatcher
from support.seeding import seed_treated
from support.webhooks import OTHER, Clinics

from followup.store import wording
from followup.store.models import Clinic, ClinicWording

OWN = (
    "{{ clinic_name }}: soreness is common. Worried? {{ clinic_phone }}. Chest pain? Call "
    "{{ emergency_number }}. Reply STOP/HELP"
)


def _save(sessions, slug: str, key: str, source: str, locale: str = "en") -> None:
    with sessions() as db, db.begin():
        clinic_id = db.scalar(select(Clinic.id).where(Clinic.slug == slug))
        wording.save(db, clinic_id, key, locale, source, now=T0, by="user:admin@example.org")


def _two_clinics(sessions) -> None:
    seed_treated(sessions, ["+12015550123"], T0, first_name="Ana", first_id=1)
    seed_treated(sessions, ["+12015550124"], T0, first_name="Bea", first_id=2, slug="bay",
                 name="Bay Physio", from_number="+12015550112")  # fmt: skip


def test_the_dispatcher_sends_the_clinics_own_wording_and_no_other_clinics(sessions, runtime):
    _two_clinics(sessions)
    _save(sessions, "harbor", "aftercare", OWN)
    gw = ScriptedGateway()
    report = dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(minutes=30))
    assert report.sent == 2
    by_to = {sms.to: sms.body for sms in gw.sent}
    assert by_to["+12015550123"] == (
        "Harbor Physio: soreness is common. Worried? (201) 555-0100. Chest pain? Call 911. "
        "Reply STOP/HELP"
    )
    assert by_to["+12015550124"].startswith("Bay Physio: Mild soreness/bruising/bleeding")


def test_a_wording_for_another_locale_is_not_used(sessions, runtime):
    seed_treated(sessions, ["+12015550123"], T0, first_name="Ana", first_id=1)
    _save(sessions, "harbor", "aftercare", OWN, locale="es")
    gw = ScriptedGateway()
    dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(minutes=30))
    [sms] = gw.sent
    assert sms.body.startswith("Harbor Physio: Mild soreness")


def test_a_wording_that_cannot_be_rendered_sends_the_default_and_logs(sessions, runtime, caplog):
    seed_treated(sessions, ["+12015550123"], T0, first_name="Ana", first_id=1)
    with sessions() as db, db.begin():  # past the check, as a changed catalogue would leave it
        clinic_id = db.scalar(select(Clinic.id).where(Clinic.slug == "harbor"))
        db.add(ClinicWording(clinic_id=clinic_id, template_key="aftercare", locale="en",
                             source="{{ clinic_name }} {{ gone_placeholder }}", updated_at=T0,
                             updated_by="user:admin@example.org"))  # fmt: skip
    gw = ScriptedGateway()
    with caplog.at_level(logging.ERROR, logger="followup.texts.catalogue"):
        report = dispatcher(sessions, runtime, gw).run_once(T0 + timedelta(minutes=30))
    assert report.sent == 1
    [sms] = gw.sent
    assert sms.body.startswith("Harbor Physio: Mild soreness") and "911" in sms.body
    assert "clinic wording of en/aftercare not used" in caplog.text


def test_an_answer_to_a_reply_uses_the_clinics_wording(runtime):
    clinics = Clinics(runtime)
    own = ("{{ clinic_name }}: call {{ emergency_number }} right now. "
           "{% if staff_alerted %}Staff know. {% endif %}Clinic: {{ clinic_phone }}")  # fmt: skip
    _save(clinics.sessions, "harbor", "reply_emergency", own)
    _save(clinics.sessions, "bay", "reply_thanks", "Thanks from {{ clinic_name }}! Emergency? "
          "Call {{ emergency_number }}.")  # fmt: skip
    result = clinics.receive("I can't breathe", sender=OTHER, sid="SM" + "e" * 32)
    assert result.reply == "Harbor Physio: call 911 right now. Staff know. Clinic: (201) 555-0100"
    thanks = clinics.receive("3", sender=OTHER, sid="SM" + "f" * 32)
    assert thanks.reply is not None and not thanks.reply.startswith("Thanks from")
