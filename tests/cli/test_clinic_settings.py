"""``clinics add --hours``, ``clinics set-hours``, ``clinics set-escalation`` and what
``clinics list`` shows of them: stored as given, refused with the field and the reason."""

from __future__ import annotations

import json

import pytest
from support.cli_run import run


def listed(slug: str) -> dict:
    result = run("clinics", "list", "--json")
    assert result.exit_code == 0
    return next(o for o in map(json.loads, result.stdout.splitlines()) if o["slug"] == slug)


def test_hours_are_set_at_add_shown_and_replaced(env):
    result = run(
        "clinics", "add", "--slug", "lisbon", "--name", "Lisboa Fisio", "--timezone",
        "Europe/Lisbon", "--phone", "+351213456789", "--country", "PT",
        "--hours", "Mon-Thu 08:00-12:00,14:00-19:00; fri 08:00-15:00",
        "--oncall-phone", "+351912345678",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert listed("lisbon")["opening_hours"] == "Mon-Thu 08:00-12:00,14:00-19:00; Fri 08:00-15:00"
    assert "Mon-Thu 08:00-12:00,14:00-19:00; Fri 08:00-15:00" in run("clinics", "list").stdout

    changed = run("clinics", "set-hours", "lisbon", "Sat-Sun 10:00-14:00")
    assert changed.exit_code == 0
    assert changed.stdout == "lisbon: open Sat-Sun 10:00-14:00 (Europe/Lisbon)\n"
    assert listed("lisbon")["opening_hours"] == "Sat-Sun 10:00-14:00"
    reset = run("clinics", "set-hours", "lisbon", "default")
    assert reset.stdout == "lisbon: open Mon-Fri 09:00-17:00 (Europe/Lisbon)\n"


@pytest.mark.parametrize(
    ("hours", "message"),
    [
        ("Mon-Fri 9-5", "clinics set-hours: opening_hours: 'Mon-Fri 9-5': '9' is not a time"),
        ("Sun closed", "clinics set-hours: opening_hours: the clinic is never open"),
        ("Mon 18:00-08:00", "the start must be before the end"),
    ],
)
def test_bad_hours_are_refused_and_nothing_changes(env, clinic, hours, message):
    result = run("clinics", "set-hours", clinic, hours)
    assert result.exit_code == 1
    assert message in result.stderr
    assert listed(clinic)["opening_hours"] == "Mon-Fri 09:00-17:00"


def test_add_refuses_bad_hours(env):
    result = run(
        "clinics", "add", "--slug", "x1", "--name", "X", "--timezone", "UTC",
        "--phone", "+12015550100", "--hours", "Funday 09:00-10:00",
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith("clinics add: opening_hours: 'Funday 09:00-10:00'")
    assert run("clinics", "list").stdout == ""


def test_escalation_settings_default_change_and_keep_what_is_not_given(env, clinic):
    before = listed(clinic)
    assert (before["review_alert_after"], before["emergency_second_after"]) == ("2h", "15m")
    assert (before["clinic_today_second_after"], before["second_contact"]) == ("1h", None)
    result = run(
        "clinics", "set-escalation", clinic, "--review-after", "1h30m",
        "--second-contact", "(201) 555-0177",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "after 1h30m of opening hours" in result.stdout
    after = listed(clinic)
    assert (after["review_alert_after"], after["emergency_second_after"]) == ("1h30m", "15m")
    assert after["second_contact"] == "+12015550177"
    run("clinics", "set-escalation", clinic, "--emergency-after", "5", "--second-contact",
        "mailto://boss:secret@example.org")  # fmt: skip
    after = listed(clinic)
    assert after["emergency_second_after"] == "5m"
    assert "secret" not in after["second_contact"]  # shown redacted
    run("clinics", "set-escalation", clinic, "--second-contact", "")
    assert listed(clinic)["second_contact"] is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--review-after", "0m"], "review_after: '0m' is not a delay"),
        (["--emergency-after", "soon"], "emergency_after: 'soon' is not a delay"),
        (["--clinic-today-after", "8d"], "clinic_today_after: '8d' is not a delay"),
        (["--second-contact", "12"], "second_contact: neither a phone number"),
        (["--second-contact", "nope://x"], "second_contact: not a URL Apprise can send to"),
    ],
)
def test_bad_escalation_settings_are_refused(env, clinic, args, message):
    result = run("clinics", "set-escalation", clinic, *args)
    assert result.exit_code == 1
    assert message in result.stderr
    assert listed(clinic)["review_alert_after"] == "2h"


def test_settings_of_an_unknown_clinic_are_refused(env):
    assert "no clinic 'ghost'" in run("clinics", "set-hours", "ghost", "Mon 09:00-10:00").stderr
    assert "no clinic 'ghost'" in run("clinics", "set-escalation", "ghost").stderr
