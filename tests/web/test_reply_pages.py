"""The replies inbox, the answer form, the opt-out list and the CSV exports on SQLite and
PostgreSQL, through the pages and the API: both roles, another clinic's rows, CSRF, refusals
that write nothing, and CSV cells a spreadsheet cannot run."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from support.clinic_web import email

from followup.store.models import AuditEvent, Flag, InboundMessage, OutboundMessage, Patient
from followup.store.outbox import STAFF_TEMPLATE

LINE = "If this is an emergency, call 911."


def _reply(
    web,
    external_id: str | None,
    body: str,
    *,
    kind="text",
    urgency="review",
    minutes_ago: int = 10,
    flag: str | None = None,
    clinic: str = "north",
) -> int:
    """A reply as the webhook files it (and its flag, when ``flag`` names a kind); with no
    ``external_id``, from a number the clinic has no record of."""
    with web.sessions() as db, db.begin():
        patient = (
            db.scalars(select(Patient).where(Patient.external_id == external_id)).one()
            if external_id
            else None
        )
        clinic_id = patient.clinic_id if patient else web_clinic(db, clinic)
        at = web.clock.now - timedelta(minutes=minutes_ago)
        reply = InboundMessage(
            clinic_id=clinic_id, patient_id=patient.id if patient else None,
            from_number=patient.phone if patient else "+12015559999", to_number="+12015550111",
            body=body, kind=kind, urgency=urgency, matched=["free text"],
            reply_key="reply_received", reply_body="We have your message.",
            provider_sid=f"SM{abs(hash((external_id, body, minutes_ago))):032x}"[:34],
            received_at=at,
        )  # fmt: skip
        db.add(reply)
        db.flush()
        if flag:
            db.add(Flag(clinic_id=clinic_id, patient_id=reply.patient_id, inbound_id=reply.id,
                        kind=flag, reason=f"{flag} reason", created_at=at))  # fmt: skip
        return reply.id


def web_clinic(db, slug: str) -> int:
    from followup.store.models import Clinic

    return db.scalar(select(Clinic.id).where(Clinic.slug == slug))


def _count(web, model, *where) -> int:
    with web.sessions() as db:
        return db.scalar(select(func.count()).select_from(model).where(*where))


def test_the_inbox_shows_what_was_written_how_it_was_read_and_what_we_answered(clinic_web):
    web = clinic_web
    old = _reply(web, "P1", "is this bruise normal", minutes_ago=90)
    new = _reply(web, "P0", "my chest hurts", kind="emergency", urgency="emergency",
                 minutes_ago=5, flag="emergency")  # fmt: skip
    stranger = _reply(web, None, "who is this?", minutes_ago=30)
    _reply(web, "P10", "south's patient wrote this", minutes_ago=1)
    for role in ("staff", "admin"):
        page = web.login(email("north", role)).get("/clinics/north/replies")
        assert page.status_code == 200
        text = page.text
        assert text.index(f'id="reply-{new}"') < text.index(f'id="reply-{stranger}"')
        assert text.index(f'id="reply-{stranger}"') < text.index(f'id="reply-{old}"')
        assert "my chest hurts" in text and "Unknown number" in text and "who is this?" in text
        assert "We have your message." in text and "emergency reason" in text
        assert "south&#39;s patient" not in text and "south's patient" not in text
        assert 'href="/clinics/north/replies"' in text and 'href="/clinics/north/opt-outs"' in text
    filtered = web.login(email("north", "staff")).get(
        "/clinics/north/replies", params={"kind": "emergency"}
    )
    assert "my chest hurts" in filtered.text and "who is this?" not in filtered.text
    bad = web.login(email("north", "staff")).get("/clinics/north/replies", params={"since": "x"})
    assert bad.status_code == 200 and "YYYY-MM-DD" in bad.text


def test_staff_answer_from_the_inbox_and_it_shows_under_the_reply(clinic_web):
    web = clinic_web
    reply = _reply(web, "P0", "can I exercise today?")
    p0 = web.patient_id("P0")
    client = web.login(email("north", "staff"))
    form = client.get(f"/clinics/north/patients/{p0}/text", params={"reply": reply})
    assert form.status_code == 200 and "data-gsm-basic=" in form.text and LINE in form.text
    url = f"/clinics/north/patients/{p0}/text"
    assert client.post(url, data={"body": "Yes, gently.", "action": "send"}).status_code == 403
    assert _count(web, OutboundMessage, OutboundMessage.template_key == STAFF_TEMPLATE) == 0
    check = client.post(url, data={"csrf_token": client.csrf, "body": "Gently, yes.",
                                   "action": "check"})  # fmt: skip
    assert check.status_code == 200 and "1 segment(s) · GSM-7" in check.text
    assert f"Gently, yes. {LINE}" in check.text
    assert _count(web, OutboundMessage, OutboundMessage.template_key == STAFF_TEMPLATE) == 0
    sent = client.post(url, data={"csrf_token": client.csrf, "body": "Gently is fine.",
                                  "action": "send", "reply": str(reply)})  # fmt: skip
    assert sent.status_code == 303 and sent.headers["location"].endswith(f"#reply-{reply}")
    inbox = client.get("/clinics/north/replies")
    assert f"Gently is fine. {LINE}" in inbox.text
    assert email("north", "staff") in inbox.text
    assert _count(web, AuditEvent, AuditEvent.action == "text.staff") == 1
    timeline = client.get(f"/clinics/north/patients/{p0}").text
    assert 'class="badge staff"' in timeline and f"written by {email('north', 'staff')}" in timeline


@pytest.mark.parametrize(
    ("values", "body", "words"),
    [
        ({"opted_out_at": True}, "hello", "opted out"),
        ({"phone_unusable_at": True}, "hello", "cannot receive texts"),
        ({}, "", "write the text"),
        ({}, "long words " * 60, "the limit is 3"),
    ],
)
def test_a_refused_answer_shows_why_and_writes_nothing(clinic_web, values, body, words):
    web = clinic_web
    if values:
        with web.sessions() as db, db.begin():
            db.execute(update(Patient).where(Patient.external_id == "P0")
                       .values(**{k: web.clock.now for k in values}))  # fmt: skip
    p0 = web.patient_id("P0")
    client = web.login(email("north", "staff"))
    answer = client.post(
        f"/clinics/north/patients/{p0}/text",
        data={"csrf_token": client.csrf, "body": body, "action": "send"},
    )
    assert answer.status_code == 422 and words in answer.text
    assert _count(web, OutboundMessage, OutboundMessage.template_key == STAFF_TEMPLATE) == 0
    assert _count(web, AuditEvent, AuditEvent.action == "text.staff") == 0
    api = web.api("north").post("/api/v1/clinics/north/patients/P0/texts", json={"body": body})
    assert api.status_code == 422
    [problem] = api.json()["detail"]
    assert problem["loc"][0] == "body" and words in problem["msg"]
    assert _count(web, OutboundMessage, OutboundMessage.template_key == STAFF_TEMPLATE) == 0


def test_another_clinics_patient_cannot_be_answered(clinic_web):
    web = clinic_web
    p10 = web.patient_id("P10")
    client = web.login(email("north", "staff"))
    assert client.get(f"/clinics/north/patients/{p10}/text").status_code == 404
    posted = client.post(
        f"/clinics/north/patients/{p10}/text",
        data={"csrf_token": client.csrf, "body": "hi", "action": "send"},
    )
    assert posted.status_code == 404
    api = web.api("north").post("/api/v1/clinics/north/patients/P10/texts", json={"body": "hi"})
    assert api.status_code == 404
    assert _count(web, OutboundMessage, OutboundMessage.template_key == STAFF_TEMPLATE) == 0


def test_the_api_texts_a_patient_and_lists_replies(clinic_web):
    web = clinic_web
    reply = _reply(web, "P0", "thanks!", kind="text")
    api = web.api("north")
    made = api.post("/api/v1/clinics/north/patients/P0/texts", json={"body": "You're welcome."})
    assert made.status_code == 201, made.text
    out = made.json()
    assert out["segments"] == 1 and out["body"] == f"You're welcome. {LINE}"
    listed = api.get("/api/v1/clinics/north/replies", params={"per_page": 10})
    assert listed.status_code == 200
    [item] = listed.json()["items"]
    assert (item["id"], item["body"], item["patient_id"]) == (reply, "thanks!", "P0")
    assert item["staff_answers"][0]["message_id"] == out["message_id"]
    assert item["staff_answers"][0]["written_by"].startswith("key:")
    assert api.get("/api/v1/clinics/north/replies", params={"kind": "nope"}).status_code == 422
    assert api.get("/api/v1/clinics/south/replies").status_code == 404
    # a login's change through the API needs the CSRF header
    staff = web.login(email("north", "staff"))
    refused = staff.post("/api/v1/clinics/north/patients/P0/texts", json={"body": "hi"})
    assert refused.status_code == 403
    ok = staff.post("/api/v1/clinics/north/patients/P0/texts", json={"body": "hi"},
                    headers={"X-CSRF-Token": staff.csrf})  # fmt: skip
    assert ok.status_code == 201
    assert "/api/v1/clinics/{slug}/replies" in web.client().get("/openapi.json").json()["paths"]


def test_the_opt_out_list_says_when_and_how_and_that_only_the_patient_can_resume(clinic_web):
    web = clinic_web
    with web.sessions() as db, db.begin():
        db.execute(
            update(Patient)
            .where(Patient.external_id == "P0")
            .values(opted_out_at=web.clock.now, opted_out_how="sms: STOP")
        )
        db.execute(
            update(Patient)
            .where(Patient.external_id == "P1")
            .values(phone_unusable_at=web.clock.now, phone_unusable_reason="wrong number (reply)")
        )
        db.execute(
            update(Patient)
            .where(Patient.external_id == "P10")
            .values(opted_out_at=web.clock.now, opted_out_how="sms: south STOP")
        )
    for role in ("staff", "admin"):
        page = web.login(email("north", role)).get("/clinics/north/opt-outs")
        assert page.status_code == 200
        assert "sms: STOP" in page.text and "wrong number (reply)" in page.text
        assert "texts START" in page.text and "south STOP" not in page.text
        assert "<form" not in page.text.split("<main", 1)[1]  # nothing to re-subscribe with


def _rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_csv_exports_cannot_run_a_formula_and_are_audited(clinic_web):
    web = clinic_web
    with web.sessions() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == "P0").values(first_name="@SUM(1)"))
    _reply(web, "P0", '=HYPERLINK("http://evil.example","click")', flag="review")
    _reply(web, "P1", "-2+3 hurts", minutes_ago=20)
    _reply(web, "P10", "south's reply", minutes_ago=3)
    client = web.login(email("north", "staff"))
    got = client.get("/clinics/north/replies.csv")
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("text/csv")
    assert got.headers["content-disposition"] == 'attachment; filename="north-replies.csv"'
    rows = _rows(got.content.decode("utf-8"))
    assert [r["patient_wrote"] for r in rows] == [
        '\'=HYPERLINK("http://evil.example","click")',
        "'-2+3 hurts",
    ]
    assert rows[0]["first_name"] == "'@SUM(1)"
    for row in rows:
        assert not any(v.startswith(("=", "+", "-", "@", "\t", "\r")) for v in row.values())
    flags = _rows(client.get("/clinics/north/flags.csv").content.decode("utf-8"))
    assert [f["patient_wrote"] for f in flags] == ['\'=HYPERLINK("http://evil.example","click")']
    assert flags[0]["first_name"] == "'@SUM(1)"
    with web.sessions() as db:
        actions = db.scalars(select(AuditEvent.action).where(AuditEvent.action.like("export.%")))
        assert sorted(actions) == ["export.flags", "export.replies"]
    # a range of days in the clinic's zone; one that ends before it starts is refused
    day = web.clock.now.date().isoformat()
    assert (
        len(
            _rows(
                client.get("/clinics/north/replies.csv", params={"since": day, "until": day}).text
            )
        )
        == 2
    )
    assert (
        client.get(
            "/clinics/north/replies.csv", params={"since": "2026-03-10", "until": "2026-03-01"}
        ).status_code
        == 422
    )
    keyed = web.api("north").get("/api/v1/clinics/north/exports/replies.csv")
    assert keyed.status_code == 200 and "HYPERLINK" in keyed.text
    assert web.api("south").get("/api/v1/clinics/north/exports/flags.csv").status_code == 404


def test_a_reply_cleared_by_retention_says_so_and_keeps_how_it_was_read(clinic_web):
    from followup.retention import purge

    web = clinic_web
    old = _reply(web, "P0", "my calf aches a lot", minutes_ago=400 * 24 * 60)
    kept = _reply(web, "P0", "better today", minutes_ago=60)
    purge(web.sessions, web.clock.now, actor="cli")
    page = web.login(email("north", "staff")).get("/clinics/north/replies")
    assert page.status_code == 200
    assert "my calf aches" not in page.text and "better today" in page.text
    assert "reply_received (its words were cleared after the clinic" in page.text
    with web.sessions() as db:
        assert db.get(InboundMessage, old).kind == "text"
        assert db.get(InboundMessage, kept).body == "better today"
