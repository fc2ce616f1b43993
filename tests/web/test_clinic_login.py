"""Staff logins and API keys at the door of the clinic side, on SQLite and PostgreSQL: the
cookie's flags, CSRF on every change, throttled failures, idleness and logout, keys that name
one clinic and stop when revoked."""

from __future__ import annotations

import re
from datetime import timedelta

from fastapi import APIRouter
from sqlalchemy import select
from support.clinic_web import ORG, PASSWORD, email

from followup.access import keys
from followup.store.engine import transaction
from followup.store.models import ApiKey, AuditEvent
from followup.web.deps import COOKIE, PollClinic


def _form_token(page_text: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page_text).group(1)


def test_a_page_without_a_login_redirects_to_the_login_page_and_back(clinic_web):
    client = clinic_web.client()
    answer = client.get("/clinics/north?status=open")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/clinics/north%3Fstatus%3Dopen"
    form = client.get(answer.headers["location"])
    assert 'name="next" value="/clinics/north?status=open"' in form.text
    done = client.post("/login", data={"email": email("north", "staff"), "password": PASSWORD,
                                       "csrf_token": _form_token(form.text),
                                       "next": "/clinics/north?status=open"})  # fmt: skip
    assert done.status_code == 303
    assert done.headers["location"] == "/clinics/north?status=open"


def test_the_login_cookie_is_httponly_and_samesite_and_secure_only_over_https(clinic_web):
    client = clinic_web.client()
    form = client.get("/login")
    answer = client.post("/login", data={"email": email("north", "staff"), "password": PASSWORD,
                                         "csrf_token": _form_token(form.text)})  # fmt: skip
    cookie = next(v for k, v in answer.headers.multi_items()
                  if k == "set-cookie" and v.startswith(COOKIE))  # fmt: skip
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    secure = clinic_web.client(base_url="https://testserver")
    form = secure.get("/login")
    answer = secure.post("/login", data={"email": email("north", "staff"), "password": PASSWORD,
                                         "csrf_token": _form_token(form.text)})  # fmt: skip
    cookie = next(v for k, v in answer.headers.multi_items()
                  if k == "set-cookie" and v.startswith(COOKIE))  # fmt: skip
    assert "Secure" in cookie


def test_a_login_form_from_elsewhere_is_refused(clinic_web):
    client = clinic_web.client()
    answer = client.post("/login", data={"email": email("north", "staff"), "password": PASSWORD,
                                         "csrf_token": "made-up"})  # fmt: skip
    assert answer.status_code == 403 and f"{COOKIE}=" not in answer.headers.get("set-cookie", "")


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(clinic_web):
    client = clinic_web.client()
    answers = []
    for who, password in ((email("north", "staff"), "wrong password!!"),
                          ("nobody@north.example", PASSWORD)):  # fmt: skip
        form = client.get("/login")
        answer = client.post("/login", data={"email": who, "password": password,
                                             "csrf_token": _form_token(form.text)})  # fmt: skip
        answers.append((answer.status_code, re.search(r'role="alert">([^<]+)<', answer.text)[1]))
    assert answers[0] == answers[1] == (401, "That e-mail and password do not match an account.")


def test_failed_logins_are_throttled_and_then_even_the_right_password_waits(clinic_web):
    client = clinic_web.client()
    who = email("north", "staff")
    for _ in range(5):
        form = client.get("/login")
        client.post("/login", data={"email": who, "password": "not the password",
                                    "csrf_token": _form_token(form.text)})  # fmt: skip
    form = client.get("/login")
    answer = client.post("/login", data={"email": who, "password": PASSWORD,
                                         "csrf_token": _form_token(form.text)})  # fmt: skip
    assert answer.status_code == 429 and "Too many failed logins" in answer.text
    clinic_web.clock.now += timedelta(minutes=16)
    assert clinic_web.login(who).get("/clinics/north").status_code == 303


def test_a_form_without_its_csrf_token_changes_nothing(clinic_web):
    client = clinic_web.login(email("north", "staff"))
    assert client.post("/logout", data={"csrf_token": "stale"}).status_code == 403
    assert client.get("/").status_code in (200, 303)  # still logged in
    assert client.get("/").headers.get("location") == "/clinics/north/flags"


def test_logout_ends_the_login_for_good(clinic_web):
    client = clinic_web.login(email("north", "staff"))
    token = client.cookies.get(COOKIE)
    assert client.post("/logout", data={"csrf_token": client.csrf}).status_code == 303
    other = clinic_web.client()
    other.cookies.set(COOKIE, token)
    assert other.get("/").status_code == 303
    assert other.get("/").headers["location"].startswith("/login")


def test_a_login_left_idle_for_half_an_hour_ends(clinic_web):
    client = clinic_web.login(email("north", "staff"))
    clinic_web.clock.now += timedelta(minutes=29)
    assert client.get("/api/v1/me").status_code == 200
    clinic_web.clock.now += timedelta(minutes=29)  # kept alive by the request before
    assert client.get("/api/v1/me").status_code == 200
    clinic_web.clock.now += timedelta(minutes=31)
    assert client.get("/api/v1/me").status_code == 401


def test_a_request_a_page_makes_by_itself_does_not_keep_the_login_alive(clinic_web):
    router = APIRouter()

    @router.get("/clinics/{slug}/poll-probe")
    def probe(clinic: PollClinic) -> dict:
        return {"clinic": clinic.slug}

    clinic_web.app.include_router(router)
    client = clinic_web.login(email("north", "staff"))
    for _ in range(3):
        clinic_web.clock.now += timedelta(minutes=8)
        probed = client.get("/clinics/north/poll-probe")
        assert probed.status_code == 200, (probed.status_code, probed.text[:300])
        assert probed.json() == {"clinic": "north"}
    clinic_web.clock.now += timedelta(minutes=8)
    answer = client.get("/clinics/north/poll-probe")
    assert answer.status_code == 401  # 32 minutes without the person doing anything


def test_next_never_leads_off_the_site(clinic_web):
    client = clinic_web.client()
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:x"):
        form = client.get("/login", params={"next": target})
        assert 'name="next" value="/"' in form.text
        answer = client.post("/login", data={"email": email("north", "staff"),
                                              "password": PASSWORD, "next": target,
                                              "csrf_token": _form_token(form.text)})  # fmt: skip
        assert answer.headers["location"] == "/"


def test_an_org_account_sees_its_clinics_and_a_one_clinic_account_goes_to_its_flags(clinic_web):
    org = clinic_web.login(ORG)
    home = org.get("/")
    assert home.status_code == 200
    assert "North Physio" in home.text and "South Physio" in home.text
    staff = clinic_web.login(email("south", "staff"))
    assert staff.get("/").headers["location"] == "/clinics/south/flags"


def test_an_api_key_names_its_clinic_and_stops_when_revoked(clinic_web):
    north = clinic_web.api("north")
    me = north.get("/api/v1/me")
    assert me.status_code == 200
    assert [c["slug"] for c in me.json()["clinics"]] == ["north"]
    assert me.json()["role"] is None and me.json()["actor"].startswith("key:fu_")
    with transaction(clinic_web.sessions) as db:
        north_id = clinic_web.clinic_id("north")
        key_id = db.scalar(select(ApiKey.id).where(ApiKey.clinic_id == north_id))
        keys.revoke_key(db, key_id, clinic_web.clock.now)
    answer = north.get("/api/v1/me")
    assert answer.status_code == 401 and "invalid_token" in answer.headers["www-authenticate"]


def test_the_api_without_credentials_or_with_a_made_up_key_is_refused(clinic_web):
    client = clinic_web.client()
    assert client.get("/api/v1/me").status_code == 401
    made_up = client.get("/api/v1/me", headers={"Authorization": "Bearer fu_" + "x" * 40})
    assert made_up.status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Basic abc"}).status_code == 401


def test_a_login_is_audited(clinic_web):
    clinic_web.login(email("north", "admin"))
    with clinic_web.sessions() as db:
        actors = db.scalars(select(AuditEvent.actor).where(AuditEvent.action == "login")).all()
    assert actors == [f"user:{email('north', 'admin')}"]


def test_every_answer_carries_the_security_headers(clinic_web):
    answer = clinic_web.client().get("/login")
    policy = answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self' 'nonce-" in policy
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_openapi_document_and_its_docs_are_served_without_a_cdn(clinic_web):
    client = clinic_web.client()
    doc = client.get("/openapi.json").json()
    assert "/api/v1/me" in doc["paths"]
    assert not any(p.startswith(("/twilio", "/login", "/clinics")) for p in doc["paths"])
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert "/docs-static/swagger-ui-bundle.js" in docs.text and "cdn" not in docs.text.lower()
    assert client.get("/docs-static/swagger-ui-bundle.js").status_code == 200
