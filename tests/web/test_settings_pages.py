"""The settings page on SQLite and PostgreSQL: admins only, every field checked on the
server (a bad one re-renders the form with its reason beside it and saves nothing), and
every change audited with its old and new value."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update
from support.clinic_web import email

from followup.store.models import Clinic

URL = "/clinics/north/settings"


def _form(page_text: str) -> dict[str, str]:
    """The form's fields as the page fills them."""
    found = dict(re.findall(r'<input id="[^"]+" name="([^"]+)" type="[^"]+" value="([^"]*)"',
                            page_text))  # fmt: skip
    for name, value in re.findall(r'<textarea id="[^"]+" name="([^"]+)"[^>]*>([^<]*)</textarea>',
                                  page_text):  # fmt: skip
        found[name] = value
    return found


def _clinic(web, slug="north") -> Clinic:
    with web.sessions() as db:
        return db.scalars(select(Clinic).where(Clinic.slug == slug)).one()


def test_staff_get_403_and_no_settings_link(clinic_web):
    staff = clinic_web.login(email("north", "staff"))
    page = staff.get(URL)
    assert page.status_code == 403
    assert 'href="/clinics/north/settings"' not in staff.get("/clinics/north/flags").text
    admin = clinic_web.login(email("north", "admin"))
    assert 'href="/clinics/north/settings"' in admin.get("/clinics/north/flags").text
    fields = _form(admin.get(URL).text)
    assert staff.post(URL, data={**fields, "csrf_token": staff.csrf}).status_code == 403


def test_an_admin_changes_settings_and_the_change_is_audited(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    fields = _form(admin.get(URL).text)
    assert fields["send_window_start"] == "08:00" and fields["hours_mon"] == "09:00-17:00"
    assert fields["hours_sun"] == "closed" and fields["oncall_phone"] == "+12015550190"
    changed = {**fields, "send_window_start": "09:00", "hours_sat": "09:00-12:00",
               "emergency_after": "10m", "second_contact": "(201) 555-0177",
               "alert_urls": "jsons://alerts.example.org/hook/s3cr3t-token"}  # fmt: skip
    assert admin.post(URL, data=changed).status_code == 403  # no CSRF token
    done = admin.post(URL, data={**changed, "csrf_token": admin.csrf})
    assert done.status_code == 303, done.text
    clinic = _clinic(clinic_web)
    assert clinic.send_window_start == 9 * 60
    assert clinic.opening_hours["sat"] == [[540, 720]]
    assert clinic.emergency_second_minutes == 10
    assert clinic.second_contact == "+12015550177"
    assert clinic.alert_urls == ["jsons://alerts.example.org/hook/s3cr3t-token"]
    [event] = clinic_web.audit("settings.change")
    assert "s3cr3t" not in event.detail
    assert event.actor == "user:" + email("north", "admin")
    assert "send_window_start: '08:00' -> '09:00'" in event.detail
    assert "hours_sat: 'closed' -> '09:00-12:00'" in event.detail
    assert "emergency_after: '15m' -> '10m'" in event.detail
    assert "hours_mon" not in event.detail
    # an Apprise URL holds tokens: the log names its scheme and host only
    assert "alert_urls: (none) -> 'jsons://alerts.example.org/…'" in event.detail
    again = admin.post(URL, data={**_form(admin.get(URL).text), "csrf_token": admin.csrf})
    # nothing changed: nothing audited
    assert again.status_code == 303 and len(clinic_web.audit("settings.change")) == 1


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("send_window_start", "25:00", "not a time of day"),
        ("send_window_end", "07:00", "must be before end"),
        ("hours_tue", "17:00-09:00", "start must be before the end"),
        ("oncall_phone", "+1 201", "not a valid number"),
        ("oncall_phone", "", "give an on-call phone or an alert URL"),
        (
            "alert_urls",
            "jsons://ok.example.org/a\nhttp://alerts.example.org/hook",
            "line 2: http://",
        ),
        ("alert_urls", "https://alerts.example.org/hook", "jsons://alerts.example.org/hook"),
        ("review_after", "8d", "between 1 minute and 7 days"),
        ("second_contact", "nobody", "neither a phone number"),
        ("second_contact", "json://alerts.example.org/hook", "unencrypted"),
        ("emergency_number", "call 911", "not a number to dial"),
        ("retention_days", "29", "at least 30"),
        ("retention_days", "a year", "a whole number of days"),
    ],
)
def test_a_bad_field_is_shown_beside_it_and_nothing_is_saved(clinic_web, field, value, said):
    admin = clinic_web.login(email("north", "admin"))
    fields = _form(admin.get(URL).text)
    before = _clinic(clinic_web)
    bad = {**fields, "send_window_end": "20:00", field: value,
           "emergency_after": "5m"}  # fmt: skip
    if field == "send_window_end":
        bad["send_window_start"] = "09:00"
    answer = admin.post(URL, data={**bad, "csrf_token": admin.csrf})
    assert answer.status_code == 422
    assert said in answer.text
    assert f'aria-describedby="{field}-error"' in answer.text or (
        f"{field}-hint {field}-error" in answer.text
    )
    assert f'value="{value}"' in answer.text or f">{value}</textarea>" in answer.text
    after = _clinic(clinic_web)
    assert (after.emergency_second_minutes, after.send_window_start, after.oncall_phone) == (
        before.emergency_second_minutes,
        before.send_window_start,
        before.oncall_phone,
    )
    assert clinic_web.audit("settings.change") == []


def test_an_admin_sets_how_long_the_patients_words_are_kept(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    fields = _form(admin.get(URL).text)
    assert fields["retention_days"] == "365"
    done = admin.post(URL, data={**fields, "retention_days": "90", "csrf_token": admin.csrf})
    assert done.status_code == 303, done.text
    assert _clinic(clinic_web).retention_days == 90
    assert _clinic(clinic_web, "south").retention_days == 365
    [event] = clinic_web.audit("settings.change")
    assert event.detail == "retention_days: '365' -> '90'"


def test_another_clinics_admin_gets_404(clinic_web):
    south = clinic_web.login(email("south", "admin"))
    assert south.get(URL).status_code == 404
    fields = _form(clinic_web.login(email("north", "admin")).get(URL).text)
    assert south.post(URL, data={**fields, "csrf_token": south.csrf}).status_code == 404


def test_the_page_warns_of_a_window_past_21_00_and_of_texts_a_long_name_splits(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    fields = _form(admin.get(URL).text)
    assert 'class="warning"' not in admin.get(URL).text
    late = {**fields, "send_window_end": "22:00", "csrf_token": admin.csrf}
    assert admin.post(URL, data=late).status_code == 303
    page = admin.get(URL).text
    assert "reaches outside 08:00-21:00" in page and "segment(s)" not in page
    with clinic_web.sessions() as db, db.begin():  # a name far past the 30 texts are budgeted for
        db.execute(update(Clinic).where(Clinic.slug == "north").values(
            name="North Physiotherapy and Sports Rehabilitation of Hoboken"))  # fmt: skip
    assert "text en/aftercare: 2 GSM-7 segment(s)" in admin.get(URL).text
