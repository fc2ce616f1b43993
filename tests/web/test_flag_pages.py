"""The flags pages on SQLite and PostgreSQL: emergencies on top with what the patient wrote,
acknowledgement with a note (audited, once), the page every staff alert links to, and the
poll that lets an open page show a new flag."""

from __future__ import annotations

from sqlalchemy import select
from support.clinic_web import email
from support.flag_rows import add_flag, section

from followup.staff.alerts.wording import flag_link
from followup.store.models import AuditEvent, Flag


def test_emergencies_come_first_with_what_the_patient_wrote(clinic_web):
    review = add_flag(clinic_web, "P1", "review", "free text", "is it normal to ache", 90)
    urgent = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest hurts bad", 5)
    page = clinic_web.login(email("north", "staff")).get("/clinics/north/flags")
    assert page.status_code == 200
    assert page.text.index(f'id="flag-{urgent}"') < page.text.index(f'id="flag-{review}"')
    assert "chest hurts bad" in page.text and "open for 5 min" in page.text
    assert "open for 1 h 30 min" in page.text


def test_an_acknowledgement_names_the_person_keeps_the_note_and_happens_once(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest pain", 3)
    client = clinic_web.login(email("north", "staff"))
    url = f"/clinics/north/flags/{flag_id}/ack"
    assert client.post(url, data={"note": "called, advised 911"}).status_code == 403  # no CSRF
    done = client.post(url, data={"csrf_token": client.csrf, "note": "called, advised 911"})
    assert done.status_code == 303
    with clinic_web.sessions() as db:
        flag = db.get(Flag, flag_id)
        event = db.scalars(select(AuditEvent).where(AuditEvent.action == "flag.ack")).one()
    assert (flag.status, flag.acknowledged_by) == ("acknowledged", email("north", "staff"))
    assert (event.subject, event.detail) == (f"flag:{flag_id}", "called, advised 911")
    again = clinic_web.login(email("north", "admin")).post(url, data={"csrf_token": "x"})
    assert again.status_code == 403
    admin = clinic_web.login(email("north", "admin"))
    assert admin.post(url, data={"csrf_token": admin.csrf}).status_code == 409
    assert f'id="flag-{flag_id}"' not in section(client, "open-flags")
    assert f'id="flag-{flag_id}"' in section(client, "in-hand-flags")  # in hand until closed


def test_the_link_in_every_staff_alert_opens_itsadd_flag(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "clinic_today", "bleeding", "still bleeding", 1)
    link = flag_link("https://followup.example.org", "north", flag_id)
    path = link.removeprefix("https://followup.example.org")
    client = clinic_web.client()
    assert client.get(path).status_code == 303  # to the login page, and back after it
    page = clinic_web.login(email("north", "staff")).get(path)
    assert page.status_code == 200 and "still bleeding" in page.text


def test_the_poll_lists_a_new_flag_and_answers_401_once_logged_out(clinic_web):
    client = clinic_web.login(email("north", "staff"))
    assert client.get("/clinics/north/flags/live").json() == {"open": [], "count": 0}
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: fainting", "I fainted", 0)
    assert client.get("/clinics/north/flags/live").json()["open"] == [flag_id]
    client.post("/logout", data={"csrf_token": client.csrf})
    assert client.get("/clinics/north/flags/live").status_code == 401


def test_no_open_flag_falls_off_a_long_worklist(clinic_web):
    oldest = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest", 600)
    for i in range(210):
        add_flag(clinic_web, "P1", "review", "free text", f"question {i}", i)
    page = clinic_web.login(email("north", "staff")).get("/clinics/north/flags")
    assert page.text.count('<article class="flag') == 211
    assert page.text.index(f'id="flag-{oldest}"') < page.text.index('class="flag review"')
