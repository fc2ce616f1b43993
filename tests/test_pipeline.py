"""End to end through the CLI, on SQLite and PostgreSQL: clinic -> CSV -> plan -> console."""

from __future__ import annotations

from datetime import UTC, datetime

from click.testing import CliRunner
from sqlalchemy import func, select
from support.cli_run import HEADER, ny, outbox, run, write_csv

from followup.cli import main
from followup.config import load_settings
from followup.runtime import Runtime
from followup.store.models import MessageEvent, OutboundMessage, Patient


def test_a_csv_imported_at_10_local_is_texted_at_the_right_local_times_across_dst(clinic, tmp_path):
    # Saturday 7 March 2026, 10:00 in New York; clocks spring forward on Sunday the 8th
    csv = write_csv(
        tmp_path,
        [
            "harbor,S1,P1,Ana,(201) 555-0123,en,yes,2026-03-07T10:00:00,neck;upper_back,"
            "2026-03-15T10:00:00",
        ],
    )
    assert run("import-sessions", str(csv)).exit_code == 0

    # the first run plans the session and sends the aftercare at once (due right after it)
    result = run("send-due", "--once", "--now", "2026-03-07T10:05:00-05:00")
    assert result.exit_code == 0, result.output
    planned = {r["step"]: r for r in outbox()}
    assert {k: ny(r["send_at"]) for k, r in planned.items()} == {
        "aftercare": "2026-03-07 10:05",
        "checkin_24h": "2026-03-08 10:00",  # 23 hours later: same local time
        "checkin_72h": "2026-03-10 10:00",
        "reminder": "2026-03-14 10:00",
    }
    assert planned["checkin_24h"]["template"] == "checkin_24h_breathing"
    assert planned["aftercare"]["status"] == "sent"
    assert all(r["status"] == "scheduled" for k, r in planned.items() if k != "aftercare")
    assert "SMS to +1201***0123" in result.output
    assert "Harbor Physio" in result.output
    sent = outbox("--status", "sent")
    assert [r["step"] for r in sent] == ["aftercare"]
    # the run's clock starts at --now and runs on with the wall clock
    assert sent[0]["sent_at"].startswith("2026-03-07T15:05:0")
    assert sent[0]["attempts"] == 1
    assert sent[0]["provider_sid"].startswith("CONSOLE")
    assert "Harbor Physio" in sent[0]["body"]

    # Sunday 09:59 EDT: not yet; 10:00 EDT (14:00 UTC, one hour earlier in UTC than Saturday)
    run("send-due", "--once", "--now", "2026-03-08T09:59:00-04:00")
    assert [r["step"] for r in outbox("--status", "sent")] == ["aftercare"]
    run("send-due", "--once", "--now", "2026-03-08T14:00:00Z")
    assert [r["step"] for r in outbox("--status", "sent")] == ["aftercare", "checkin_24h"]


def test_reimporting_updates_and_never_duplicates(clinic, tmp_path, sessions):
    csv = write_csv(
        tmp_path,
        [
            "harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,",
        ],
    )
    run("import-sessions", str(csv))
    run("send-due", "--once", "--now", "2026-03-09T10:05:00-04:00")
    assert {r["step"] for r in outbox()} == {"aftercare", "checkin_24h", "checkin_72h"}
    # the clinic books the next appointment: import again with it
    csv = write_csv(
        tmp_path,
        [
            "harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,2026-03-18T10:00:00",
        ],
    )
    run("import-sessions", str(csv))
    run("send-due", "--once", "--now", "2026-03-09T10:06:00-04:00")
    rows = outbox()
    assert sorted(r["step"] for r in rows) == [
        "aftercare",
        "checkin_24h",
        "checkin_72h",
        "reminder",
    ]
    with sessions() as db:
        assert db.scalar(select(func.count()).select_from(OutboundMessage)) == 4


def test_a_cancelled_session_skips_what_is_pending_and_says_why(clinic, tmp_path):
    path = tmp_path / "s.csv"
    path.write_text(
        HEADER.rstrip("\n") + ",status\n"
        "harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,,completed\n"
    )
    run("import-sessions", str(path))
    run("send-due", "--once", "--now", "2026-03-09T10:31:00-04:00")
    path.write_text(
        HEADER.rstrip("\n") + ",status\n"
        "harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,,cancelled\n"
    )
    run("import-sessions", str(path))
    run("send-due", "--once", "--now", "2026-03-09T10:32:00-04:00")
    rows = {r["step"]: r for r in outbox()}
    assert rows["aftercare"]["status"] == "sent"
    assert rows["checkin_24h"]["status"] == "skipped"
    assert rows["checkin_24h"]["reason"] == "session cancelled"


def test_no_consent_means_no_texts(clinic, tmp_path):
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ana,2015550123,en,no,2026-03-09T10:00:00,calf,"])
    run("import-sessions", str(csv))
    result = run("send-due", "--once", "--now", "2026-03-09T11:00:00-04:00")
    assert "SMS to" not in result.output
    assert {(r["status"], r["reason"]) for r in outbox()} == {("skipped", "no consent")}


def test_an_opt_out_recorded_before_sending_skips_the_text_at_send_time(clinic, tmp_path, sessions):
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,"])
    run("import-sessions", str(csv))
    run("send-due", "--once", "--now", "2026-03-09T10:05:00-04:00")  # plans; the aftercare goes
    with sessions() as db, db.begin():
        db.execute(
            Patient.__table__.update().values(opted_out_at=datetime(2026, 3, 9, 14, 10, tzinfo=UTC))
        )
    result = run("send-due", "--once", "--now", "2026-03-10T10:01:00-04:00")
    assert "SMS to" not in result.output
    rows = {r["step"]: r for r in outbox()}
    assert rows["checkin_24h"]["status"] == "skipped"
    assert rows["checkin_24h"]["reason"] == "opted out"
    with sessions() as db:
        events = db.execute(
            select(MessageEvent.from_status, MessageEvent.to_status).order_by(MessageEvent.id)
        ).all()
    assert ("scheduled", "sending") in events and ("sending", "skipped") in events


def test_send_due_twice_at_the_same_instant_sends_once(clinic, tmp_path):
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,"])
    run("import-sessions", str(csv))
    first = run("send-due", "--once", "--now", "2026-03-09T10:30:00-04:00")
    second = run("send-due", "--once", "--now", "2026-03-09T10:30:00-04:00")
    assert first.output.count("SMS to") == 1
    assert second.output.count("SMS to") == 0


def test_outbox_json_has_the_documented_fields(clinic, tmp_path):
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ana,2015550123,es,yes,2026-03-09T10:00:00,calf,"])
    run("import-sessions", str(csv))
    run("send-due", "--once", "--now", "2026-03-09T10:30:00-04:00")
    row = outbox("--status", "sent")[0]
    for key in (
        "clinic",
        "session_id",
        "patient_id",
        "step",
        "status",
        "send_at",
        "sent_at",
        "attempts",
        "reason",
        "provider_sid",
        "body",
    ):
        assert key in row
    assert (row["clinic"], row["session_id"], row["patient_id"]) == ("harbor", "S1", "P1")
    assert row["locale"] == "es"


def test_demo_is_idempotent_and_sends_within_a_tick(env):
    first = run("demo")
    assert first.exit_code == 0
    assert "sample reply from demo-p1 filed: emergency" in first.output
    again = run("demo")
    assert again.exit_code == 0 and "sample reply" not in again.output
    result = run("send-due", "--once")
    assert result.exit_code == 0
    # the three aftercare texts, and the on-call page of the sample emergency reply
    assert result.output.count("SMS to") == 4
    assert result.output.count("SMS to +1201***0150") == 1
    assert len(outbox("--status", "sent")) == 3


def test_the_demo_prints_a_login_that_opens_the_dashboard(env):
    import re

    from starlette.testclient import TestClient

    from followup.web.app import create_app

    run("demo")
    output = run("demo").output  # a second run gives a new password, which is the one
    email, password = re.search(r"dashboard login: (\S+)  password: (\S+)", output).groups()
    rt = Runtime(load_settings({**env, "FOLLOWUP_DEV_MODE": "1"}))
    try:
        client = TestClient(create_app(rt), follow_redirects=False)
        form = client.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        answer = client.post("/login", data={"email": email, "password": password,
                                             "csrf_token": token})  # fmt: skip
        assert answer.status_code == 303
        assert client.get("/").headers["location"] == "/clinics/demo/flags"
    finally:
        rt.close()


def test_commands_refuse_an_unmigrated_database(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    result = CliRunner().invoke(main, ["send-due", "--once"])
    assert result.exit_code == 1
    assert "followup db upgrade" in result.output


def test_a_bad_setting_stops_at_start_with_its_name(monkeypatch):
    monkeypatch.setenv("FOLLOWUP_SMS_BACKEND", "twilio")
    monkeypatch.delenv("TWILIO_ACCOUNT_SID", raising=False)
    result = CliRunner().invoke(main, ["send-due", "--once"])
    assert result.exit_code == 1
    assert "TWILIO_ACCOUNT_SID" in result.output


def test_a_clinic_plan_from_a_file_replaces_the_default(clinic, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[steps]]\nkey = "aftercare"\noffset = "soon"\n')
    result = run("clinics", "set-plan", "harbor", str(bad))
    assert result.exit_code == 1
    assert f"{bad}: steps[0] (aftercare).offset" in result.output

    unknown = tmp_path / "unknown.toml"
    unknown.write_text('[[steps]]\nkey = "welcome"\noffset = "1h"\n')
    result = run("clinics", "set-plan", "harbor", str(unknown))
    assert result.exit_code == 1
    assert "no template 'welcome'" in result.output

    good = tmp_path / "plan.toml"
    good.write_text(
        '[[steps]]\nkey = "aftercare"\noffset = "2h"\nclock = "elapsed"\npriority = 90\n'
    )
    assert run("clinics", "set-plan", "harbor", str(good)).exit_code == 0
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ana,2015550123,en,yes,2026-03-09T10:00:00,calf,"])
    run("import-sessions", str(csv))
    run("send-due", "--once", "--now", "2026-03-09T10:05:00-04:00")
    assert {r["step"]: ny(r["send_at"]) for r in outbox()} == {"aftercare": "2026-03-09 12:00"}

    # back to the default: the texts still waiting follow it at the next run
    assert run("clinics", "set-plan", "harbor", "default").exit_code == 0
    run("send-due", "--once", "--now", "2026-03-09T10:06:00-04:00")
    assert {r["step"] for r in outbox()} == {"aftercare", "checkin_24h", "checkin_72h"}
    # due right after the session, so at once: the run sends it
    assert {r["step"]: ny(r["send_at"]) for r in outbox()}["aftercare"] == "2026-03-09 10:06"


def test_a_plan_for_an_unknown_clinic_is_refused(clinic):
    result = run("clinics", "set-plan", "uptown", "default")
    assert result.exit_code == 1
    assert "no clinic with slug 'uptown'" in result.output


def test_fall_back_keeps_local_times_and_sends_nothing_in_quiet_hours(clinic, tmp_path):
    # New York falls back on Sunday 1 November 2026 (02:00 EDT -> 01:00 EST)
    csv = write_csv(
        tmp_path,
        ["harbor,S1,P1,Ana,2015550123,en,yes,2026-10-31T20:30:00,calf,2026-11-03T08:30:00"],
    )
    run("import-sessions", str(csv))
    run("send-due", "--once", "--now", "2026-10-31T20:35:00-04:00")
    planned = {r["step"]: r for r in outbox()}
    assert {k: (r["status"], ny(r["send_at"])) for k, r in planned.items()} == {
        # the aftercare may go until 21:00: sent the same evening
        "aftercare": ("sent", "2026-10-31 20:35"),
        # the day before the appointment at the same local time; it outranks the check-in
        "reminder": ("scheduled", "2026-11-02 08:30"),
        # due 20:30 EST on the 1st (25 hours later), after the clinic's 20:00: the 2nd is
        # the reminder's and the 3rd is past the window: skipped
        "checkin_24h": ("skipped", "2026-11-01 20:30"),
        # due 20:30 on the 3rd: the next morning
        "checkin_72h": ("scheduled", "2026-11-04 08:00"),
    }
    assert planned["checkin_72h"]["send_at"] == "2026-11-04T13:00:00Z"  # 08:00 EST is 13:00 UTC
    assert planned["checkin_24h"]["reason"].startswith("cap:")


def test_a_new_patient_imported_late_first_gets_the_text_with_stop_and_help(clinic, tmp_path):
    csv = write_csv(tmp_path, ["harbor,S1,P1,Ana,2015550123,en,yes,2026-03-07T10:00:00,calf,"])
    run("import-sessions", str(csv))
    result = run("send-due", "--once", "--now", "2026-03-10T09:00:00-04:00")
    assert result.output.count("SMS to") == 1
    assert "STOP" in result.output and "HELP" in result.output
    assert [r["step"] for r in outbox("--status", "sent")] == ["aftercare"]
