"""A clinic nobody can alert does not text its patients, on SQLite and PostgreSQL: its texts
wait in the outbox saying why, ``send-due`` names it at every start, other clinics send as
usual, and when it gets a destination its texts still in their window go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from support.cli_run import outbox, run
from support.seeding import seed_treated

from followup.store.models import MessageEvent, OutboundMessage
from followup.store.outbox import NO_ALERT_DESTINATION
from followup.store.statuses import MessageStatus

DONE = datetime(2026, 6, 2, 15, 0, tzinfo=UTC)  # 11:00 in New York, 08:00 in Los Angeles


def seed(sessions) -> None:
    seed_treated(sessions, ["+12015550123"], DONE, oncall_phone=None, alert_urls=None)
    seed_treated(
        sessions, ["+12015550124"], DONE, first_id=1, slug="bay", name="Bay Physio",
        from_number="+12015550112", timezone="America/Los_Angeles",
    )  # fmt: skip


def by_clinic(rows: list[dict], clinic: str, step: str = "aftercare") -> dict:
    return next(r for r in rows if r["clinic"] == clinic and r["step"] == step)


def test_its_texts_wait_with_the_reason_and_the_other_clinic_sends(env, sessions):
    seed(sessions)
    at = (DONE + timedelta(hours=1)).isoformat()
    result = run("send-due", "--once", "--now", at)
    assert result.exit_code == 0, result.output
    assert "sent 1," in result.stdout
    assert "1 waiting for a clinic alert destination" in result.stdout
    assert result.stderr.startswith(
        "warning: clinic harbor (Harbor Physio) has no staff alert destination"
    )
    assert "bay" not in result.stderr
    rows = outbox()
    waiting = by_clinic(rows, "harbor")
    assert (waiting["status"], waiting["reason"]) == ("scheduled", NO_ALERT_DESTINATION)
    assert by_clinic(rows, "bay")["status"] == "sent"
    # later check-ins are not due yet: scheduled, no reason of ours
    assert by_clinic(rows, "harbor", "checkin_24h")["reason"] != NO_ALERT_DESTINATION
    shown = run("outbox", "--clinic", "harbor")
    assert NO_ALERT_DESTINATION in shown.stdout

    # every start names the clinic again, and nothing of harbor's goes out
    again = run("send-due", "--once", "--now", (DONE + timedelta(hours=2)).isoformat())
    assert "warning: clinic harbor" in again.stderr and "sent 0," in again.stdout


def test_a_destination_releases_the_texts_still_in_their_window(env, sessions):
    seed(sessions)
    run("send-due", "--once", "--now", (DONE + timedelta(hours=1)).isoformat())
    set_alerts = run("clinics", "set-alerts", "harbor", "--oncall-phone", "+12015550199")
    assert set_alerts.exit_code == 0 and set_alerts.stderr == ""
    assert by_clinic(outbox(), "harbor")["reason"] is None
    result = run("send-due", "--once", "--now", (DONE + timedelta(hours=2)).isoformat())
    assert "warning" not in result.stderr
    assert by_clinic(outbox(), "harbor")["status"] == "sent"


def test_a_text_whose_window_ends_while_waiting_is_skipped(env, sessions):
    seed(sessions)
    run("send-due", "--once", "--now", (DONE + timedelta(hours=1)).isoformat())
    late = DONE + timedelta(hours=30)  # the aftercare's 24 h window has ended
    run("send-due", "--once", "--now", late.isoformat())
    row = by_clinic(outbox(), "harbor")
    assert row["status"] == "skipped"
    assert row["reason"].startswith("too late: window ended")
    assert "no staff alert destination" in row["reason"]
    with sessions() as db:
        message = db.scalars(
            select(OutboundMessage)
            .where(OutboundMessage.step == "aftercare")
            .order_by(OutboundMessage.id)  # harbor's patient was seeded first
        ).first()
        events = db.scalars(
            select(MessageEvent)
            .where(MessageEvent.message_id == message.id)
            .order_by(MessageEvent.id)
        )
        assert [e.to_status for e in events][-1] == MessageStatus.SKIPPED
    # a destination now does not bring it back: it is too late for it
    run("clinics", "set-alerts", "harbor", "--alert-url", "json://127.0.0.1:9/hook")
    assert by_clinic(outbox(), "harbor")["status"] == "skipped"


def test_turning_alerts_off_warns_and_holds_the_texts_again(env, sessions, clinic):
    result = run("clinics", "set-alerts", clinic)
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: harbor has no staff alert destination")
    listed = run("clinics", "list")
    assert "alerts: NONE (texts wait)" in listed.stdout


def test_clinics_add_without_a_destination_warns(env):
    result = run(
        "clinics", "add", "--slug", "north", "--name", "North", "--timezone", "Asia/Tokyo",
        "--phone", "+81312345678", "--country", "JP",
    )  # fmt: skip
    assert result.exit_code == 0
    assert "warning: north has no staff alert destination" in result.stderr
    assert "get no texts" in result.stderr
    ok = run(
        "clinics", "add", "--slug", "south", "--name", "South", "--timezone", "Asia/Tokyo",
        "--phone", "+81312345678", "--country", "JP", "--alert-url", "json://127.0.0.1:9/h",
    )  # fmt: skip
    assert ok.exit_code == 0 and "alert destination" not in ok.stderr
