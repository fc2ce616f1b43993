"""Two-way messaging end to end through the CLI and the webhook, on SQLite and PostgreSQL:
a STOP is honoured by every later ``send-due``; staff see and acknowledge flags."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from starlette.testclient import TestClient
from support.cli_run import outbox, run, write_csv
from support.webhooks import PUBLIC_URL, TOKEN, RecordingGateway, inbound_params, post_signed

from followup.config import load_settings
from followup.runtime import Runtime
from followup.web.app import create_app

A, B = "+12015550201", "+12015550202"


@pytest.fixture
def webhook(env, monkeypatch):
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("FOLLOWUP_PUBLIC_URL", PUBLIC_URL)
    rt = Runtime(load_settings(os.environ))
    with TestClient(create_app(rt, gateway=RecordingGateway())) as client:
        yield lambda body, sender: post_signed(
            client, "/twilio/inbound", inbound_params(body, sender, to="+12015550111")
        )
    rt.close()


@pytest.fixture
def treated(clinic, tmp_path):
    assert run("clinics", "set-alerts", "harbor", "--oncall-phone", "201-555-0999").exit_code == 0
    csv = write_csv(
        tmp_path,
        [
            f"harbor,S1,P1,Ann,{A},en,yes,2026-03-09T10:00:00-04:00,,",
            f"harbor,S2,P2,Bob,{B},en,yes,2026-03-09T10:00:00-04:00,,",
        ],
    )
    assert run("import-sessions", str(csv)).exit_code == 0
    assert run("send-due", "--once", "--now", "2026-03-09T10:31:00-04:00").exit_code == 0
    return csv


def test_stop_through_the_webhook_means_nothing_more_for_that_patient(treated, webhook):
    assert webhook("STOP", A).status_code == 200
    for now in ("2026-03-10T10:05:00-04:00", "2026-03-12T10:05:00-04:00"):
        assert run("send-due", "--once", "--now", now).exit_code == 0
    rows = outbox()
    sent = sorted((r["patient_id"], r["step"]) for r in rows if r["status"] == "sent")
    assert sent == [
        ("P1", "aftercare"),
        ("P2", "aftercare"),
        ("P2", "checkin_24h"),
        ("P2", "checkin_72h"),
    ]
    skipped = [r for r in rows if r["patient_id"] == "P1" and r["status"] == "skipped"]
    assert {r["step"] for r in skipped} == {"checkin_24h", "checkin_72h"}
    assert all(r["reason"] == "opted out: sms: STOP" for r in skipped)


def test_a_reimport_does_not_undo_an_opt_out(treated, webhook):
    webhook("stop texting me", A)
    assert run("import-sessions", str(treated)).exit_code == 0
    assert run("send-due", "--once", "--now", "2026-03-10T10:05:00-04:00").exit_code == 0
    assert not [
        r
        for r in outbox()
        if r["patient_id"] == "P1" and r["step"] == "checkin_24h" and r["status"] == "sent"
    ]


def test_staff_list_and_acknowledge_flags(treated, webhook):
    webhook("I fainted", A)
    webhook("my arm feels numb", B)
    listed = run("flags", "--json")
    assert listed.exit_code == 0, listed.output
    flags = [json.loads(line) for line in listed.output.splitlines()]
    assert sorted((f["patient"], f["kind"]) for f in flags) == [
        ("P1", "emergency"),
        ("P2", "clinic_today"),
    ]
    assert all(f["first_name"] in ("Ann", "Bob") and f["status"] == "open" for f in flags)
    target = next(f for f in flags if f["kind"] == "emergency")["id"]
    acked = run("flags", "ack", str(target), "--by", "Dr. Lee")
    assert acked.exit_code == 0, acked.output
    assert run("flags", "ack", str(target), "--by", "Dr. Lee").exit_code == 1  # not open now
    still_open = [json.loads(x)["id"] for x in run("flags", "--json").output.splitlines()]
    assert target not in still_open and len(still_open) == 1
    done = [
        json.loads(x)
        for x in run("flags", "--status", "acknowledged", "--json").output.splitlines()
    ]
    assert [(f["id"], f["acknowledged_by"]) for f in done] == [(target, "Dr. Lee")]


def test_replies_lists_what_patients_wrote_and_what_we_answered(treated, webhook):
    webhook("about a 6", A)
    rows = [json.loads(x) for x in run("replies", "--json").output.splitlines()]
    assert [(r["patient"], r["kind"], r["score"], r["body"]) for r in rows] == [
        ("P1", "score", 6, "about a 6")
    ]
    assert rows[0]["reply"].startswith("Thanks Ann")


def test_set_alerts_checks_the_phone_and_the_apprise_urls(clinic):
    bad_url = run("clinics", "set-alerts", "harbor", "--alert-url", "nonsense://x")
    assert bad_url.exit_code == 1 and "alert_urls[0]" in bad_url.output
    bad_phone = run("clinics", "set-alerts", "harbor", "--oncall-phone", "12")
    assert bad_phone.exit_code == 1 and "oncall_phone" in bad_phone.output
    ok = run(
        "clinics",
        "set-alerts",
        "harbor",
        "--oncall-phone",
        "(201) 555-0999",
        "--alert-url",
        "json://127.0.0.1:9/hook",
    )
    assert ok.exit_code == 0, ok.output
    assert "+12015550999" in ok.output and "1 Apprise URL(s)" in ok.output


def test_a_reimport_with_a_new_number_clears_an_unusable_one(treated, tmp_path, sessions):
    from sqlalchemy import select, update

    from followup.store.models import Patient

    with sessions() as db, db.begin():
        db.execute(
            update(Patient).values(
                phone_unusable_at=datetime.now(UTC), phone_unusable_reason="provider error 30006"
            )
        )
    assert run("import-sessions", str(treated)).exit_code == 0  # same numbers: still unusable
    with sessions() as db:
        assert all(db.scalars(select(Patient.phone_unusable_at)))
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ann,+12015550299,en,yes,2026-03-09T10:00:00-04:00,,"])
    assert run("import-sessions", str(csv)).exit_code == 0
    with sessions() as db:
        unusable = dict(
            db.execute(select(Patient.external_id, Patient.phone_unusable_reason)).all()
        )
    assert unusable == {"P1": None, "P2": "provider error 30006"}
