"""The audit log page and API on SQLite and PostgreSQL: admins only (staff and keys 403),
one clinic's entries newest first (an org account's clinics apart), filters by who, what
and local dates, pages; bad filters refused; reading the log is not itself audited."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from support.clinic_web import ORG, email

from followup.access import audit
from followup.store.models import AuditEvent

DAY = timedelta(days=1)


def _entries(web, slug: str, n: int, *, action: str = "flag.ack", actor: str = "user:a@x",
             days_ago: int = 0) -> None:  # fmt: skip
    clinic_id, now = web.clinic_id(slug), web.clock.now
    with web.sessions() as db, db.begin():
        for i in range(n):
            audit.record(db, actor=actor, action=action, clinic_id=clinic_id,
                         now=now - days_ago * DAY - timedelta(minutes=i),
                         subject=f"flag:{i}", detail=f"note {slug} {i}")  # fmt: skip


def _audit_count(web) -> int:
    with web.sessions() as db:
        return db.scalar(select(func.count()).select_from(AuditEvent))


def test_staff_and_keys_are_refused_and_admins_read_their_clinics_log(clinic_web):
    _entries(clinic_web, "north", 2)
    _entries(clinic_web, "south", 1)
    staff = clinic_web.login(email("north", "staff"))
    assert staff.get("/clinics/north/audit").status_code == 403
    assert ">Audit<" not in staff.get("/clinics/north/flags").text
    assert staff.get("/api/v1/clinics/north/audit").status_code == 403
    assert clinic_web.api("north").get("/api/v1/clinics/north/audit").status_code == 403
    admin = clinic_web.login(email("north", "admin"))
    before = _audit_count(clinic_web)
    page = admin.get("/clinics/north/audit")
    assert page.status_code == 200 and ">Audit<" in page.text
    assert page.text.index("note north 0") < page.text.index("note north 1")  # newest first
    assert "note south" not in page.text
    assert _audit_count(clinic_web) == before  # reading the log is not audited
    assert admin.get("/clinics/south/audit").status_code == 404
    assert admin.get("/api/v1/clinics/south/audit").status_code == 404


def test_an_org_account_reads_each_clinics_log_apart(clinic_web):
    _entries(clinic_web, "north", 1)
    _entries(clinic_web, "south", 1)
    org = clinic_web.login(ORG)
    north, south = org.get("/clinics/north/audit").text, org.get("/clinics/south/audit").text
    assert "note north" in north and "note south" not in north
    assert "note south" in south and "note north" not in south
    api = org.get("/api/v1/clinics/south/audit", params={"action": "flag.ack"}).json()
    assert [e["detail"] for e in api["entries"]] == ["note south 0"]


def test_filters_by_who_what_and_local_dates_with_pages(clinic_web):
    web = clinic_web
    _entries(web, "north", 3, action="patient.view", actor="user:b@x")
    _entries(web, "north", 2, action="flag.ack", actor="user:a@x", days_ago=3)
    admin = web.login(email("north", "admin"))
    url = "/api/v1/clinics/north/audit"
    assert admin.get(url).json()["total"] >= 5
    by_actor = admin.get(url, params={"actor": "user:a@x"}).json()
    assert by_actor["total"] == 2 and {e["action"] for e in by_actor["entries"]} == {"flag.ack"}
    assert admin.get(url, params={"action": "patient.view"}).json()["total"] == 3
    today = web.clock.now.date().isoformat()  # noon in New York: the same local date
    three_ago = (web.clock.now - 3 * DAY).date().isoformat()
    dated = admin.get(url, params={"date_from": three_ago, "date_to": three_ago,
                                   "action": "flag.ack"}).json()  # fmt: skip
    assert dated["total"] == 2
    assert admin.get(url, params={"date_from": today, "actor": "user:a@x"}).json()["total"] == 0
    first = admin.get(url, params={"actor": "user:b@x", "per_page": 2}).json()
    second = admin.get(url, params={"actor": "user:b@x", "per_page": 2, "page": 2}).json()
    assert (first["pages"], len(first["entries"]), len(second["entries"])) == (2, 2, 1)
    assert first["entries"][0]["at"] > second["entries"][0]["at"]
    page = admin.get("/clinics/north/audit", params={"actor": "user:b@x", "action": "patient.view"})
    assert page.text.count("<td>patient.view</td>") == 3 and "<td>flag.ack</td>" not in page.text


def test_bad_filters_are_refused(clinic_web):
    admin = clinic_web.login(email("north", "admin"))
    page = admin.get("/clinics/north/audit", params={"date_from": "yesterday"})
    assert page.status_code == 422 and "date_from" in page.text and 'name="date_from"' in page.text
    backwards = admin.get("/clinics/north/audit",
                          params={"date_from": "2026-03-05", "date_to": "2026-03-01"})  # fmt: skip
    assert backwards.status_code == 422 and "ends before it starts" in backwards.text
    api = admin.get("/api/v1/clinics/north/audit", params={"date_from": "2026-03-05",
                                                           "date_to": "2026-03-01"})  # fmt: skip
    assert api.status_code == 422 and api.json()["detail"][0]["loc"] == ["body", "date_to"]
    assert admin.get("/api/v1/clinics/north/audit", params={"page": 0}).status_code == 422


def test_a_view_of_a_patients_page_shows_in_the_log(clinic_web):
    staff = clinic_web.login(email("north", "staff"))
    patient = clinic_web.patient_id("P0")
    assert staff.get(f"/clinics/north/patients/{patient}").status_code == 200
    page = clinic_web.login(email("north", "admin")).get(
        "/clinics/north/audit", params={"action": "patient.view"}
    )
    assert f"<td>patient:{patient}</td>" in page.text
    assert f"<td>{audit.user_actor(email('north', 'staff'))}</td>" in page.text
