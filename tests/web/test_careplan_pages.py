"""The care plan page on SQLite and PostgreSQL: the plan in force (the default one when the
clinic has none), its download, an upload checked by the CLI's parser (an invalid plan is
refused with its reason and nothing is stored), admins only, audited."""

from __future__ import annotations

import json

from sqlalchemy import select
from support.clinic_web import email

from followup.outbound.careplan import DEFAULT_PLAN_DATA, parse_plan
from followup.store.models import Clinic

URL = "/clinics/north/careplan"


def _stored(web, slug="north"):
    with web.sessions() as db:
        return db.scalar(select(Clinic.care_plan).where(Clinic.slug == slug))


def _without_72h() -> dict:
    plan = json.loads(json.dumps(DEFAULT_PLAN_DATA))
    plan["steps"] = [s for s in plan["steps"] if s["key"] != "checkin_72h"]
    return plan


def test_the_default_plan_is_shown_and_downloads_as_a_file_the_parser_reads(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    page = admin.get(URL)
    assert page.status_code == 200
    assert "default plan" in page.text and "checkin_72h" in page.text
    assert "planned again" in page.text  # what a new plan changes, said on the page
    file = admin.get(URL + "/download")
    assert file.status_code == 200 and "attachment" in file.headers["content-disposition"]
    assert [s.key for s in parse_plan(file.json()).steps] == [
        s["key"] for s in DEFAULT_PLAN_DATA["steps"]
    ]


def test_a_valid_plan_is_stored_and_audited_and_staff_cannot_upload(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    text = json.dumps(_without_72h())
    assert admin.post(URL, data={"plan_text": text}).status_code == 403  # no CSRF token
    staff = clinic_web.login(email("north", "staff"))
    assert staff.get(URL).status_code == 403
    assert staff.post(URL, data={"plan_text": text, "csrf_token": staff.csrf}).status_code == 403
    assert _stored(clinic_web) is None
    done = admin.post(
        URL,
        data={"csrf_token": admin.csrf},
        files={"plan_file": ("plan.json", text.encode(), "application/json")},
    )
    assert done.status_code == 303, done.text
    assert [s["key"] for s in _stored(clinic_web)["steps"]] == ["aftercare", "checkin_24h",
                                                                "reminder"]  # fmt: skip
    assert _stored(clinic_web, "south") is None
    [event] = clinic_web.audit("careplan.upload")
    assert event.detail == "plan.json (json); steps: aftercare, checkin_24h, reminder"
    page = admin.get(URL)
    assert "own plan" in page.text and "checkin_72h" not in page.text
    assert admin.post(URL + "/reset", data={"csrf_token": admin.csrf}).status_code == 303
    assert _stored(clinic_web) is None and len(clinic_web.audit("careplan.upload")) == 2


def test_a_toml_plan_is_read_too(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    toml = """
[limits]
max_per_day = 1
max_per_week = 3

[[steps]]
key = "aftercare"
template = "aftercare"
anchor = "completed"
offset = "0m"
clock = "elapsed"
window = "24h"
priority = 90
first = true
safety = true
"""
    done = admin.post(URL, data={"plan_text": toml, "csrf_token": admin.csrf})
    assert done.status_code == 303, done.text
    assert [s["key"] for s in _stored(clinic_web)["steps"]] == ["aftercare"]


def test_an_invalid_plan_shows_the_parsers_reason_and_stores_nothing(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    bad_offset = _without_72h()
    bad_offset["steps"][1]["offset"] = "tomorrow-ish"
    unknown_template = _without_72h()
    unknown_template["steps"][1]["template"] = "no_such_text"
    for text, said in [
        (json.dumps(bad_offset), "offset"),
        (json.dumps(unknown_template), "no template &#39;no_such_text&#39;"),
        ("{not json", "not valid json"),
        ("", "empty"),
    ]:
        answer = admin.post(URL, data={"plan_text": text, "csrf_token": admin.csrf})
        assert answer.status_code == 422, text
        assert said in answer.text and "The plan was not stored" in answer.text
        assert 'aria-describedby="plan-error"' in answer.text
    assert _stored(clinic_web) is None and clinic_web.audit("careplan.upload") == []


def test_another_clinics_admin_gets_404(clinic_web):
    south = clinic_web.login(email("south", "admin"))
    assert south.get(URL).status_code == 404
    assert south.get(URL + "/download").status_code == 404
    text = json.dumps(_without_72h())
    assert south.post(URL, data={"plan_text": text, "csrf_token": south.csrf}).status_code == 404
    assert _stored(clinic_web) is None
