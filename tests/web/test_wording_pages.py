"""The wording pages and the texts API on SQLite and PostgreSQL: admins word a clinic's
texts, checked by the rules of ``followup templates check`` before anything is saved; the
preview fills a draft with sample data (with JavaScript through the API, without it by the
Preview button); revert; everything audited; staff get 403, other clinics 404."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from support.clinic_web import email

from followup.store.models import ClinicWording

BASE = "/clinics/north/wording"
EDIT = BASE + "/en/reply_thanks"
GOOD = ("Thanks {{ first_name }}, {{ clinic_name }} has your answer. Worried? Call "
        "{{ clinic_phone }}. Emergency? Call {{ emergency_number }}.")  # fmt: skip
API = "/api/v1/clinics/north/templates"


def _wordings(web) -> list[ClinicWording]:
    with web.sessions() as db:
        return list(db.scalars(select(ClinicWording)))


def test_the_list_shows_every_text_a_clinic_may_word_and_staff_get_403(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    page = admin.get(BASE)
    assert page.status_code == 200
    for key in ("aftercare", "checkin_24h_breathing", "reply_emergency", "reply_help"):
        assert f'{BASE}/en/{key}"' in page.text and f'{BASE}/es/{key}"' in page.text
    assert "reply_emergency_unknown" not in page.text  # said when no clinic is known
    assert admin.get(BASE + "/en/reply_kept").status_code == 404
    assert admin.get(BASE + "/xx/aftercare").status_code == 404
    staff = clinic_web.login(email("north", "staff"))
    assert staff.get(BASE).status_code == 403 and staff.get(EDIT).status_code == 403
    assert staff.post(EDIT, data={"text": GOOD, "csrf_token": staff.csrf}).status_code == 403
    assert 'href="/clinics/north/wording"' not in staff.get("/clinics/north/flags").text
    assert _wordings(clinic_web) == []


def test_the_editor_loads_its_script_from_a_file_and_has_a_preview_button(clinic_web):
    page = clinic_web.login(email("north", "admin")).get(EDIT)
    assert page.status_code == 200
    assert '<script src="/static/wording.js" defer></script>' in page.text
    assert "<script>" not in page.text
    assert 'name="action" value="preview"' in page.text
    assert 'data-preview-url="/api/v1/clinics/north/templates/preview"' in page.text
    assert clinic_web.client().get("/static/wording.js").status_code == 200


def test_a_good_wording_is_saved_used_audited_and_reverted(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    assert admin.post(EDIT, data={"text": GOOD}).status_code == 403  # no CSRF token
    done = admin.post(EDIT, data={"text": GOOD, "action": "save", "csrf_token": admin.csrf})
    assert done.status_code == 303, done.text
    [row] = _wordings(clinic_web)
    assert (row.template_key, row.locale, row.source) == ("reply_thanks", "en", GOOD)
    assert row.updated_by == "user:" + email("north", "admin")
    [event] = clinic_web.audit("wording.save")
    assert event.subject == "wording:en/reply_thanks" and GOOD in event.detail
    listed = {(t["key"], t["locale"]): t for t in clinic_web.api("north").get(API).json()}
    assert listed[("reply_thanks", "en")]["source"] == "clinic"
    assert listed[("reply_thanks", "en")]["text"] == GOOD
    assert listed[("reply_thanks", "es")]["source"] == "default"
    south = {(t["key"], t["locale"]): t for t in clinic_web.api("south").get(
        "/api/v1/clinics/south/templates").json()}  # fmt: skip
    assert south[("reply_thanks", "en")]["source"] == "default"
    assert "has your answer" in admin.get(BASE).text
    reverted = admin.post(EDIT + "/revert", data={"csrf_token": admin.csrf})
    assert reverted.status_code == 303
    assert _wordings(clinic_web) == [] and len(clinic_web.audit("wording.revert")) == 1
    again = admin.post(EDIT + "/revert", data={"csrf_token": admin.csrf})
    assert again.status_code == 409 and "default already" in again.text


#: one segment with a short name ("Ana"), two with a long one such as "María-José Núñez"
LONG = ("Hi {{ first_name }}, {{ clinic_name }} thanks you warmly for your answer today. If "
        "you are worried at all, call {{ clinic_phone }}. Emergency? Call "
        "{{ emergency_number }}.")  # fmt: skip


@pytest.mark.parametrize(
    ("path", "text", "said"),
    [
        (EDIT, GOOD.replace("first_name", "patient_nam"), "unknown placeholder(s) patient_nam"),
        (EDIT, GOOD.replace("has your answer", "guaranteed to heal"), "guaranteed"),
        (EDIT, GOOD.replace("has your answer", "will cure you"), "cure"),
        (EDIT, LONG, "2 GSM-7 segments"),
        (EDIT, GOOD.replace("Thanks", "Gracias, está"), "not GSM-7 because of 'á'"),
        (BASE + "/en/reply_emergency", "{{ clinic_name }}: please call us at {{ clinic_phone }}.",
         "must keep {{ emergency_number }}"),
        (BASE + "/en/reply_emergency", "{{ clinic_name }}: call {{ emergency_number }} now. We "
         "have told the clinic's staff. Clinic: {{ clinic_phone }}",
         "must keep {% if staff_alerted %}"),
        (BASE + "/en/aftercare", "{{ clinic_name }}: soreness is common. Emergency: "
         "{{ emergency_number }}.", "add STOP and HELP"),
        (BASE + "/en/reply_help", "{{ clinic_name }}: call {{ clinic_phone }}. Emergency: "
         "{{ emergency_number }}.", "must keep STOP"),
        (EDIT, "   ", "empty"),
    ],
)  # fmt: skip
def test_a_wording_the_check_refuses_lists_its_problems_and_saves_nothing(
    clinic_web, path, text, said
):
    admin = clinic_web.login(email("north", "admin"))
    answer = admin.post(path, data={"text": text, "action": "save", "csrf_token": admin.csrf})
    assert answer.status_code == 422
    shown = answer.text.replace("&#39;", "'").replace("&#34;", '"')
    assert "Not saved" in shown and said in shown
    assert 'aria-describedby="text-hint text-error preview"' in answer.text
    assert _wordings(clinic_web) == [] and clinic_web.audit("wording.save") == []


def test_the_preview_button_shows_the_draft_filled_in_and_saves_nothing(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    draft = GOOD.replace("has your answer", "got it")
    answer = admin.post(EDIT, data={"text": draft, "action": "preview", "csrf_token": admin.csrf})
    assert answer.status_code == 200
    assert "Thanks Maximiliana Fernanda, North Physio got it. Worried? Call (201) 555-0100." in (
        answer.text
    )
    assert "The check finds no problem." in answer.text and "Not saved" not in answer.text
    assert _wordings(clinic_web) == []


def test_the_api_preview_answers_segments_encoding_and_problems(clinic_web):
    key = clinic_web.api("north")
    body = {"key": "reply_thanks", "locale": "en", "text": GOOD + " Always guaranteed."}
    answer = key.post(API + "/preview", json=body)
    assert answer.status_code == 200, answer.text
    shown = answer.json()
    assert shown["rendered"].startswith("Thanks Maximiliana Fernanda, North Physio has your")
    assert (shown["encoding"], shown["segments"]) == ("GSM-7", 1)
    assert any("guaranteed" in p for p in shown["problems"])
    current = key.post(API + "/preview", json={"key": "aftercare", "locale": "es"}).json()
    assert current["problems"] == [] and "North Physio" in current["rendered"]
    unknown = key.post(API + "/preview", json={"key": "reply_kept", "locale": "en"})
    assert unknown.status_code == 422 and unknown.json()["detail"][0]["loc"] == ["body", "key"]
    # a login (the editor's script) needs the CSRF header; staff may preview, nothing is saved
    staff = clinic_web.login(email("north", "staff"))
    assert staff.post(API + "/preview", json=body).status_code == 403
    ok = staff.post(API + "/preview", json=body, headers={"X-CSRF-Token": staff.csrf})
    assert ok.status_code == 200 and _wordings(clinic_web) == []


def test_other_clinics_get_404(clinic_web):
    south = clinic_web.login(email("south", "admin"))
    assert south.get(BASE).status_code == 404 and south.get(EDIT).status_code == 404
    assert south.post(EDIT, data={"text": GOOD, "csrf_token": south.csrf}).status_code == 404
    assert clinic_web.api("south").get(API).status_code == 404
    body = {"key": "reply_thanks", "locale": "en", "text": GOOD}
    assert clinic_web.api("south").post(API + "/preview", json=body).status_code == 404
    assert _wordings(clinic_web) == []


def test_the_openapi_document_describes_the_texts_routes(clinic_web):
    doc = clinic_web.client().get("/openapi.json").json()
    listing = doc["paths"]["/api/v1/clinics/{slug}/templates"]["get"]
    assert listing["responses"]["200"]["content"]["application/json"]["schema"]["items"]
    preview = doc["paths"]["/api/v1/clinics/{slug}/templates/preview"]["post"]
    assert "PreviewOut" in str(preview["responses"]["200"])
    assert {"rendered", "segments", "encoding", "problems"} <= set(
        doc["components"]["schemas"]["PreviewOut"]["properties"]
    )
