"""Settings are validated at start; each error names its variable."""

from __future__ import annotations

import pytest

from followup.config import ConfigError, check_replies_reach_a_person, load_settings

SID = "AC" + "0" * 32


def test_defaults_are_sqlite_and_the_console():
    s = load_settings({})
    assert s.database_url == "sqlite:///followup.db"
    assert s.sms_backend == "console"


def test_twilio_is_chosen_when_credentials_are_set():
    s = load_settings({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t"})
    assert s.sms_backend == "twilio"


def test_postgresql_urls_use_psycopg_3():
    s = load_settings({"FOLLOWUP_DATABASE_URL": "postgresql://u@h/db"})
    assert s.database_url == "postgresql+psycopg://u@h/db"


@pytest.mark.parametrize(
    ("env", "name"),
    [
        ({"FOLLOWUP_SMS_BACKEND": "twilio"}, "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"),
        ({"FOLLOWUP_SMS_BACKEND": "twilio", "TWILIO_ACCOUNT_SID": SID}, "TWILIO_AUTH_TOKEN"),
        ({"FOLLOWUP_SMS_BACKEND": "pigeon"}, "FOLLOWUP_SMS_BACKEND"),
        ({"TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_ACCOUNT_SID"),
        ({"TWILIO_FROM_NUMBER": "555-0100"}, "TWILIO_FROM_NUMBER"),
        ({"TWILIO_MESSAGING_SERVICE_SID": "XX1"}, "TWILIO_MESSAGING_SERVICE_SID"),
        ({"FOLLOWUP_DATABASE_URL": "mysql://x"}, "FOLLOWUP_DATABASE_URL"),
        ({"FOLLOWUP_PUBLIC_URL": "example.org"}, "FOLLOWUP_PUBLIC_URL"),
        ({"FOLLOWUP_TICK_SECONDS": "0"}, "FOLLOWUP_TICK_SECONDS"),
        ({"FOLLOWUP_MESSAGES_DIR": "/nonexistent"}, "FOLLOWUP_MESSAGES_DIR"),
        ({"FOLLOWUP_SEND_CONCURRENCY": "0"}, "FOLLOWUP_SEND_CONCURRENCY"),
        ({"FOLLOWUP_SEND_CONCURRENCY": "eight"}, "FOLLOWUP_SEND_CONCURRENCY"),
        ({"FOLLOWUP_MAX_ATTEMPTS": "-1"}, "FOLLOWUP_MAX_ATTEMPTS"),
        ({"FOLLOWUP_SENDER_RATE": "0"}, "FOLLOWUP_SENDER_RATE"),
        ({"FOLLOWUP_LEASE_SECONDS": "soon"}, "FOLLOWUP_LEASE_SECONDS"),
        ({"FOLLOWUP_LEASE_SECONDS": "15"}, "FOLLOWUP_LEASE_SECONDS"),  # < 2 x the 10 s timeout
        ({"FOLLOWUP_TWILIO_API_URL": "localhost:4010"}, "FOLLOWUP_TWILIO_API_URL"),
        ({"FOLLOWUP_TWILIO_API_URL": "http://h/2010-04-01"}, "FOLLOWUP_TWILIO_API_URL"),
        ({"FOLLOWUP_EMERGENCY_NUMBER": "+1 911"}, "FOLLOWUP_EMERGENCY_NUMBER"),
        ({"FOLLOWUP_EMERGENCY_NUMBER": "9"}, "FOLLOWUP_EMERGENCY_NUMBER"),
        ({"FOLLOWUP_FALLBACK_ALERT_TO": "555 0100"}, "FOLLOWUP_FALLBACK_ALERT_TO"),
        ({"FOLLOWUP_WEBHOOK_DB_TIMEOUT": "0"}, "FOLLOWUP_WEBHOOK_DB_TIMEOUT"),
        ({"FOLLOWUP_WEBHOOK_DB_TIMEOUT": "soon"}, "FOLLOWUP_WEBHOOK_DB_TIMEOUT"),
        ({"FOLLOWUP_TRUSTED_PROXIES": "proxy.local"}, "FOLLOWUP_TRUSTED_PROXIES"),
        ({"FOLLOWUP_TRUSTED_PROXIES": "*"}, "FOLLOWUP_TRUSTED_PROXIES"),
        ({"FOLLOWUP_TRUSTED_PROXIES": "10.0.0.0/33"}, "FOLLOWUP_TRUSTED_PROXIES"),
    ],
)
def test_bad_settings_name_the_variable(env, name):
    with pytest.raises(ConfigError, match=name):
        load_settings(env)


def test_the_public_url_loses_its_trailing_slash():
    assert (
        load_settings({"FOLLOWUP_PUBLIC_URL": "https://x.example/"}).public_url
        == "https://x.example"
    )


def test_sending_settings_have_safe_defaults():
    s = load_settings({})
    assert (s.send_concurrency, s.max_attempts, s.sender_rate) == (8, 5, None)
    assert s.lease_seconds >= 2 * s.twilio_timeout
    assert s.twilio_api_url is None


def test_sending_settings_are_read():
    s = load_settings(
        {
            "FOLLOWUP_SEND_CONCURRENCY": "3",
            "FOLLOWUP_SENDER_RATE": "1.5",
            "FOLLOWUP_MAX_ATTEMPTS": "7",
            "FOLLOWUP_TWILIO_TIMEOUT": "2",
            "FOLLOWUP_LEASE_SECONDS": "4",
            "FOLLOWUP_TWILIO_API_URL": "http://127.0.0.1:4010/",
        }
    )
    assert (s.send_concurrency, s.sender_rate, s.max_attempts) == (3, 1.5, 7)
    assert (s.twilio_timeout, s.lease_seconds) == (2.0, 4.0)
    assert s.twilio_api_url == "http://127.0.0.1:4010"


def test_dev_mode_is_a_flag():
    assert load_settings({}).dev_mode is False
    assert load_settings({"FOLLOWUP_DEV_MODE": "1"}).dev_mode is True
    with pytest.raises(ConfigError, match="FOLLOWUP_DEV_MODE"):
        load_settings({"FOLLOWUP_DEV_MODE": "sometimes"})


def test_the_fallback_emergency_number_is_112_unless_set():
    assert load_settings({}).emergency_number == "112"
    assert load_settings({"FOLLOWUP_EMERGENCY_NUMBER": " 000 "}).emergency_number == "000"


@pytest.mark.parametrize(
    ("extra", "refused"),
    [
        ({"TWILIO_FROM_NUMBER": "+15555550100"}, True),
        ({"TWILIO_MESSAGING_SERVICE_SID": "MG" + "0" * 32}, True),
        (
            {"TWILIO_FROM_NUMBER": "+15555550100", "FOLLOWUP_FALLBACK_ALERT_TO": "+15555550199"},
            False,
        ),
        ({}, False),  # no shared sender: every clinic has its own
    ],
)
def test_replies_on_a_shared_twilio_sender_need_someone_to_hear_of_unknown_numbers(extra, refused):
    settings = load_settings({"TWILIO_ACCOUNT_SID": SID, "TWILIO_AUTH_TOKEN": "t", **extra})
    if refused:
        with pytest.raises(ConfigError, match="FOLLOWUP_FALLBACK_ALERT_TO"):
            check_replies_reach_a_person(settings)
    else:
        check_replies_reach_a_person(settings)


def test_the_console_backend_needs_no_fallback_phone():
    check_replies_reach_a_person(load_settings({"TWILIO_FROM_NUMBER": "+15555550100"}))


def test_the_webhook_waits_3_seconds_for_the_database_and_spools_beside_the_working_dir():
    settings = load_settings({})
    assert settings.webhook_db_timeout == 3.0
    assert str(settings.spool_dir) == "followup-spool"
    custom = load_settings(
        {"FOLLOWUP_WEBHOOK_DB_TIMEOUT": "1.5", "FOLLOWUP_SPOOL_DIR": "/var/spool/followup"}
    )
    assert (custom.webhook_db_timeout, str(custom.spool_dir)) == (1.5, "/var/spool/followup")


def test_no_proxy_is_trusted_unless_named_and_networks_are_normalised():
    assert load_settings({}).trusted_proxies == ()
    named = load_settings({"FOLLOWUP_TRUSTED_PROXIES": " 127.0.0.1, 10.1.2.3/8 ,,::1"})
    assert named.trusted_proxies == ("127.0.0.1", "10.0.0.0/8", "::1")
