"""What staff do with a flag after seeing it, on SQLite and PostgreSQL: assign it to a
colleague (which does not stop its escalation), close it (a flag nobody acknowledged needs a
note), each audited and refused across clinics, and what happens when two people act on the
same flag."""

from __future__ import annotations

from sqlalchemy import select
from support.clinic_web import email
from support.flag_rows import add_flag, section

from followup.store.models import AuditEvent, Flag


def _post(client, flag_id: int, action: str, **data):
    data.setdefault("csrf_token", client.csrf)
    return client.post(f"/clinics/north/flags/{flag_id}/{action}", data=data)


def _audit(web, action: str) -> list[tuple[str, str, str | None]]:
    with web.sessions() as db:
        rows = db.scalars(select(AuditEvent).where(AuditEvent.action == action)).all()
        return [(r.actor, r.subject, r.detail) for r in rows]


def test_assigning_names_a_colleague_and_keeps_the_flag_open_and_escalating(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest pain", 2)
    staff = clinic_web.login(email("north", "staff"))
    admin = email("north", "admin")
    assert _post(staff, flag_id, "assign", assignee=admin.upper()).status_code == 303
    with clinic_web.sessions() as db:
        flag = db.get(Flag, flag_id)
        assert (flag.status, flag.assigned_to) == ("open", admin)
        assert flag.assigned_at == clinic_web.clock.now
    listed = section(staff, "open-flags")
    assert f'id="flag-{flag_id}"' in listed
    assert f"Assigned to <strong>{admin}</strong>, not acknowledged yet" in listed
    assert _audit(clinic_web, "flag.assign") == [
        (f"user:{email('north', 'staff')}", f"flag:{flag_id}", f"to {admin}")
    ]
    assert _post(staff, flag_id, "assign", assignee="").status_code == 303
    with clinic_web.sessions() as db:
        assert db.get(Flag, flag_id).assigned_to is None


def test_a_flag_goes_only_to_someone_who_can_log_in_to_this_clinic(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "review", "free text", "question", 2)
    staff = clinic_web.login(email("north", "staff"))
    for who in (email("south", "staff"), "nobody@example.org"):
        answer = _post(staff, flag_id, "assign", assignee=who)
        assert answer.status_code == 422 and "assignee" in answer.text
    assert _post(staff, flag_id, "assign", assignee="org@network.example").status_code == 303
    assert _audit(clinic_web, "flag.assign") == [
        (f"user:{email('north', 'staff')}", f"flag:{flag_id}", "to org@network.example")
    ]


def test_acknowledging_makes_the_person_the_assignee_unless_someone_is(clinic_web):
    mine = add_flag(clinic_web, "P0", "review", "free text", "question", 2)
    given = add_flag(clinic_web, "P1", "review", "free text", "another", 2)
    staff = clinic_web.login(email("north", "staff"))
    _post(staff, given, "assign", assignee=email("north", "admin"))
    for flag_id in (mine, given):
        assert _post(staff, flag_id, "ack", note="").status_code == 303
    with clinic_web.sessions() as db:
        assert db.get(Flag, mine).assigned_to == email("north", "staff")
        assert db.get(Flag, given).assigned_to == email("north", "admin")


def test_closing_an_unacknowledged_flag_needs_a_note_and_counts_as_acknowledging(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: fainting", "I fainted", 4)
    staff = clinic_web.login(email("north", "staff"))
    refused = _post(staff, flag_id, "close", note="   ")
    assert refused.status_code == 422 and "say what was done" in refused.text
    with clinic_web.sessions() as db:
        assert db.get(Flag, flag_id).status == "open"
    assert _post(staff, flag_id, "close", note="called, ambulance came").status_code == 303
    with clinic_web.sessions() as db:
        flag = db.get(Flag, flag_id)
        who = email("north", "staff")
        assert (flag.status, flag.closed_by, flag.acknowledged_by) == ("closed", who, who)
        assert flag.closed_at == flag.acknowledged_at == clinic_web.clock.now
    assert _audit(clinic_web, "flag.close") == [
        (f"user:{email('north', 'staff')}", f"flag:{flag_id}", "called, ambulance came")
    ]
    page = staff.get("/clinics/north/flags").text
    assert f'id="flag-{flag_id}"' not in page  # neither open nor in hand
    assert "Recently closed" in page and "called" not in section(staff, "open-flags")


def test_an_acknowledged_flag_closes_without_a_note_and_then_cannot_change(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "clinic_today", "bleeding", "still bleeding", 4)
    staff = clinic_web.login(email("north", "staff"))
    _post(staff, flag_id, "ack", note="called back")
    assert _post(staff, flag_id, "close").status_code == 303
    admin = clinic_web.login(email("north", "admin"))
    for action, data in (("close", {"note": "x"}), ("ack", {"note": "x"}),
                         ("assign", {"assignee": email("north", "admin")})):  # fmt: skip
        answer = _post(admin, flag_id, action, **data)
        assert answer.status_code == 409, action
    assert "closed already by " + email("north", "staff") in _post(admin, flag_id, "ack").text
    single = admin.get(f"/clinics/north/flags/{flag_id}")
    assert single.status_code == 200 and "Closed" in single.text and "still bleeding" in single.text
    history = single.text[single.text.index("<h2>History</h2>") :]
    who = email("north", "staff")
    acked = history.index(f"acknowledged by {who}: “called back”")
    assert acked < history.index(f"closed by {who}")


def test_another_clinics_flag_cannot_be_assigned_or_closed(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "emergency", "red flag: chest pain", "chest pain", 1)
    south = clinic_web.login(email("south", "admin"))
    for action in ("assign", "close", "ack"):
        own_slug = south.post(f"/clinics/south/flags/{flag_id}/{action}",
                              data={"csrf_token": south.csrf, "note": "x"})  # fmt: skip
        assert own_slug.status_code == 404, action
        assert _post(south, flag_id, action, note="x").status_code == 404, action
    with clinic_web.sessions() as db:
        flag = db.get(Flag, flag_id)
        assert (flag.status, flag.assigned_to, flag.closed_by) == ("open", None, None)
    assert _audit(clinic_web, "flag.close") == [] and _audit(clinic_web, "flag.assign") == []


def test_a_missing_csrf_token_changes_nothing(clinic_web):
    flag_id = add_flag(clinic_web, "P0", "review", "free text", "question", 1)
    staff = clinic_web.login(email("north", "staff"))
    for action in ("assign", "close"):
        answer = _post(staff, flag_id, action, csrf_token="wrong", note="x",
                       assignee=email("north", "admin"))  # fmt: skip
        assert answer.status_code == 403
    with clinic_web.sessions() as db:
        flag = db.get(Flag, flag_id)
        assert (flag.status, flag.assigned_to) == ("open", None)
