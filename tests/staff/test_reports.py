"""followup.staff.reports directly, on SQLite and PostgreSQL: what staff are shown of each
listing's rows (plain dicts, times in ISO 8601 UTC, the clinic's own ids), what they are
not shown (Apprise tokens, the patient's words on a flag), and that a clinic filter keeps
clinics apart. The rows are those of :func:`support.staff_rows.seed_staff_rows`."""

from __future__ import annotations

import json

import pytest
from support.staff_rows import (
    SECRETS,
    SLACK,
    TELEGRAM,
    UNKNOWN,
    WEBHOOK,
    body_of,
    seed_staff_rows,
)
from support.webhooks import DONE, SHARED

from followup.staff.reports import alert_rows, flag_rows, outbox_rows, reply_rows
from followup.store.statuses import AlertStatus, FlagStatus
from followup.store.statuses import MessageStatus as S

OUTBOX_KEYS = [
    "clinic", "session_id", "patient_id", "step", "template", "locale", "status", "due_at",
    "send_at", "expires_at", "sent_at", "attempts", "reason", "error_code", "provider_sid",
    "body",
]  # fmt: skip


@pytest.fixture
def seeded(clinics):
    return seed_staff_rows(clinics)


def test_an_outbox_row_is_plain_values_with_times_in_utc_iso(clinics):
    clinics.update_text(
        "P5", "aftercare", status=S.SENT, sent_at=DONE.replace(minute=31), body="Hi PatF",
        provider_sid="SMsent", attempts=1,
    )  # fmt: skip
    with clinics.sessions() as db:
        rows = outbox_rows(db, clinic_slug="bay")
    assert [list(r) for r in rows] == [OUTBOX_KEYS] * 3
    aftercare = rows[0]
    assert aftercare == {
        "clinic": "bay",
        "session_id": "S5",
        "patient_id": "P5",
        "step": "aftercare",
        "template": "aftercare",
        "locale": "en",
        "status": "sent",
        # the aftercare goes as soon as the session ends (its offset is 0)
        "due_at": "2026-03-10T14:00:00Z",
        "send_at": "2026-03-10T14:00:00Z",
        "expires_at": "2026-03-11T14:00:00Z",
        "sent_at": "2026-03-10T14:31:00Z",
        "attempts": 1,
        "reason": None,
        "error_code": None,
        "provider_sid": "SMsent",
        "body": "Hi PatF",
    }
    assert rows[1]["sent_at"] is None  # a time not yet known stays None, not "None"
    json.dumps(rows)  # plain values all through: the CLI prints them as JSON lines


def test_the_outbox_report_keeps_each_clinic_to_itself_and_passes_the_filters_on(clinics):
    clinics.update_text("P1", "checkin_24h", status=S.FAILED, error_code="30007")
    with clinics.sessions() as db:
        harbor = outbox_rows(db, clinic_slug="harbor")
        bay = outbox_rows(db, clinic_slug="bay")
        failed = outbox_rows(db, status=S.FAILED)
        first_two = outbox_rows(db, limit=2)
        bay_failed = outbox_rows(db, clinic_slug="bay", status=S.FAILED)
    assert {r["clinic"] for r in harbor} == {"harbor"} and len(harbor) == 9
    assert {r["patient_id"] for r in bay} == {"P5"} and len(bay) == 3
    assert [(r["patient_id"], r["step"], r["error_code"]) for r in failed] == [
        ("P1", "checkin_24h", "30007")
    ]
    assert [(r["patient_id"], r["step"]) for r in first_two] == [
        ("P0", "aftercare"),
        ("P1", "aftercare"),
    ]
    assert bay_failed == []


def test_apprise_urls_are_shown_redacted_and_on_call_numbers_whole(seeded):
    with seeded.clinics.sessions() as db:
        rows = alert_rows(db)
    by_id = {r["id"]: r for r in rows}
    shown = {dest: by_id[i]["destination"] for dest, i in seeded.alert.items()}
    assert shown == {
        "+12015550998": "+12015550998",
        "+12015550999": "+12015550999",
        SLACK: "slack://…",  # its "host" is a token
        WEBHOOK: "json://hooks.example.org/…",  # a real host: shown, its path and query not
        TELEGRAM: "tgram://…",
    }
    listed = json.dumps(rows, ensure_ascii=False)
    assert [s for s in SECRETS if s in listed] == []


def test_an_alert_row_says_where_its_delivery_stands(seeded):
    with seeded.clinics.sessions() as db:
        failed = alert_rows(db, status=AlertStatus.FAILED)
        sent = alert_rows(db, status=AlertStatus.SENT)
        pending = alert_rows(db, status=AlertStatus.PENDING)
    assert failed == [
        {
            "id": seeded.alert[TELEGRAM],
            "flag_id": seeded.flag["F5"],
            "channel": "apprise",
            "destination": "tgram://…",
            "status": "failed",
            "attempts": 5,
            "next_attempt_at": "2026-03-10T15:00:00Z",
            "sent_at": None,
            "last_error": "tgram://…: 401",
        }
    ]
    assert [(r["destination"], r["sent_at"]) for r in sent] == [
        ("+12015550999", "2026-03-10T13:00:00Z")
    ]
    assert [r["flag_id"] for r in pending] == [seeded.flag["F1"]] * 3


def test_a_flag_row_names_the_patient_but_never_quotes_them(seeded):
    with seeded.clinics.sessions() as db:
        rows = flag_rows(db, status=FlagStatus.OPEN)
        acknowledged = flag_rows(db, status=FlagStatus.ACKNOWLEDGED)
    assert [seeded.flag_names[r["id"]] for r in rows] == ["F4", "F3", "F2", "F1"]
    assert rows[2] == {
        "id": seeded.flag["F2"],
        "clinic": "bay",
        "patient": "P5",
        "first_name": "PatF",
        "kind": "emergency",
        "reason": "red flag: chest pain",
        "status": "open",
        "created_at": "2026-03-10T13:00:00Z",
        "acknowledged_by": None,
        "acknowledged_at": None,
        "reply_id": seeded.reply["R2"],
        "message_id": None,
    }
    assert (rows[1]["clinic"], rows[1]["patient"], rows[1]["first_name"]) == (None, None, None)
    assert [(r["acknowledged_by"], r["acknowledged_at"]) for r in acknowledged] == [
        ("Dr. Lee", "2026-03-10T15:00:00Z")
    ]
    listed = json.dumps(rows + acknowledged)
    assert [name for name in seeded.reply if body_of(name) in listed] == []
    assert "my neck hurts" not in listed


def test_flag_rows_of_one_clinic_are_not_anothers(seeded):
    with seeded.clinics.sessions() as db:
        harbor = flag_rows(db, status=FlagStatus.OPEN, clinic_slug="harbor")
        bay = flag_rows(db, status=FlagStatus.OPEN, clinic_slug="bay")
    assert [seeded.flag_names[r["id"]] for r in harbor] == ["F4", "F1"]
    assert [seeded.flag_names[r["id"]] for r in bay] == ["F2"]
    assert {r["clinic"] for r in harbor} == {"harbor"}


def test_a_reply_row_shows_what_the_patient_wrote_and_what_we_answered(seeded):
    with seeded.clinics.sessions() as db:
        rows = reply_rows(db)
        bay = reply_rows(db, clinic_slug="bay")
        harbor_latest = reply_rows(db, clinic_slug="harbor", limit=1)
    assert [seeded.reply_names[r["id"]] for r in rows] == ["R5", "R4", "R3", "R2", "R1"]
    assert rows[-1] == {
        "id": seeded.reply["R1"],
        "received_at": "2026-03-10T12:00:00Z",
        "clinic": "harbor",
        "patient": "P0",
        "from": SHARED,
        "body": body_of("R1"),
        "kind": "score",
        "urgency": "none",
        "score": 8,
        "matched": ["r1"],
        "reply": "our answer to R1",
    }
    assert (rows[1]["clinic"], rows[1]["patient"], rows[1]["from"]) == (None, None, UNKNOWN)
    assert [r["body"] for r in bay] == [body_of("R2")]
    assert [seeded.reply_names[r["id"]] for r in harbor_latest] == ["R5"]
    json.dumps(rows)
