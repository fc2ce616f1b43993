"""The flags API on SQLite and PostgreSQL: listed most urgent first with what the patient
wrote, acknowledged, assigned and closed by key or by a staff login (with its CSRF header),
409 when someone got there first, 422 for bad input with nothing changed, 404 across
clinics."""

from __future__ import annotations

from sqlalchemy import select
from support.clinic_web import email
from support.flag_rows import add_flag

from followup.store.models import AuditEvent, Flag

BASE = "/api/v1/clinics/north/flags"


def test_open_flags_are_listed_most_urgent_first_with_the_clinics_patient_id(clinic_web):
    review = add_flag(clinic_web, "P1", "review", "free text", "is this normal", 90)
    urgent = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest hurts", 5)
    listed = clinic_web.api("north").get(BASE)
    assert listed.status_code == 200
    flags = listed.json()["flags"]
    assert [f["id"] for f in flags] == [urgent, review]
    first = flags[0]
    assert (first["patient_id"], first["reply"], first["status"]) == ("P0", "chest hurts", "open")
    assert first["age_seconds"] == 5 * 60
    assert clinic_web.api("south").get("/api/v1/clinics/south/flags").json() == {"flags": []}


def test_a_key_acknowledges_assigns_and_closes_and_each_is_in_the_history(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "clinic_today", "bleeding", "still bleeding", 10)
    north = clinic_web.api("north")
    acked = north.post(f"{BASE}/{flag_id}/ack", json={"note": "called back"})
    assert acked.status_code == 200, acked.text
    assert acked.json()["status"] == "acknowledged"
    assert acked.json()["acknowledged_by"].startswith("key:")
    assert acked.json()["assigned_to"] is None  # a key is nobody to hand a flag to
    given = north.post(f"{BASE}/{flag_id}/assign", json={"assignee": email("north", "staff")})
    assert given.json()["assigned_to"] == email("north", "staff")
    assert north.get(f"{BASE}?status=acknowledged").json()["flags"][0]["id"] == flag_id
    closed = north.post(f"{BASE}/{flag_id}/close", json={})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    steps = [(s["action"], s["note"]) for s in closed.json()["history"]]
    assert steps == [("acknowledged", "called back"),
                     ("assigned", f"to {email('north', 'staff')}"), ("closed", None)]  # fmt: skip
    assert north.get(f"{BASE}?status=closed").json()["flags"][0]["id"] == flag_id
    assert north.get(BASE).json()["flags"] == []
    again = north.post(f"{BASE}/{flag_id}/ack", json={"note": "late"})
    assert again.status_code == 409 and "closed already" in again.json()["detail"]


def test_a_staff_login_uses_the_api_with_its_csrf_header(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: fainting", "I fainted", 1)
    staff = clinic_web.login(email("north", "staff"))
    assert staff.post(f"{BASE}/{flag_id}/ack", json={"note": "x"}).status_code == 403
    answer = staff.post(f"{BASE}/{flag_id}/ack", json={"note": "on it"},
                        headers={"X-CSRF-Token": staff.csrf})  # fmt: skip
    assert answer.status_code == 200
    assert answer.json()["assigned_to"] == email("north", "staff")


def test_bad_input_is_422_naming_the_field_and_changes_nothing(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest", 1)
    north = clinic_web.api("north")
    cases = [
        ("close", {"note": ""}, "note"),
        ("assign", {"assignee": email("south", "admin")}, "assignee"),
        ("ack", {"note": "x" * 1001}, "note"),
        ("ack", {"note": 5}, "note"),
    ]
    for action, body, field in cases:
        answer = north.post(f"{BASE}/{flag_id}/{action}", json=body)
        assert answer.status_code == 422, (action, body)
        assert answer.json()["detail"][0]["loc"][-1] == field
    assert north.get(f"{BASE}?status=everything").status_code == 422
    with clinic_web.sessions() as db:
        flag = db.get(Flag, flag_id)
        assert (flag.status, flag.assigned_to) == ("open", None)
        assert db.scalars(select(AuditEvent).where(AuditEvent.action.like("flag.%"))).all() == []


def test_another_clinics_flag_is_404_by_key_and_by_login(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest", 1)
    south_key = clinic_web.api("south")
    org = clinic_web.login("org@network.example")
    for path in (f"/api/v1/clinics/south/flags/{flag_id}", f"{BASE}/{flag_id}"):
        assert south_key.get(path).status_code == 404
        assert south_key.post(f"{path}/ack", json={"note": "x"}).status_code == 404
        assert south_key.post(f"{path}/close", json={"note": "x"}).status_code == 404
    # the org account sees both clinics, but a flag only under its own clinic's slug
    assert org.get(f"/api/v1/clinics/south/flags/{flag_id}").status_code == 404
    assert org.get(f"{BASE}/{flag_id}").status_code == 200
    with clinic_web.sessions() as db:
        assert db.get(Flag, flag_id).status == "open"


def test_a_nul_character_is_refused_not_a_server_error(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "review", "free text", "question", 1)
    north = clinic_web.api("north")
    answer = north.post(f"{BASE}/{flag_id}/ack", json={"note": "called\x00back"})
    assert answer.status_code == 422 and answer.json()["detail"][0]["loc"][-1] == "note"
    assert north.get(f"{BASE}?status=open%00").status_code == 400
    staff = clinic_web.login(email("north", "staff"))
    form = staff.post(f"/clinics/north/flags/{flag_id}/ack",
                      data={"csrf_token": staff.csrf, "note": "a\x00b"})  # fmt: skip
    assert form.status_code == 422
    with clinic_web.sessions() as db:
        assert db.get(Flag, flag_id).status == "open"
