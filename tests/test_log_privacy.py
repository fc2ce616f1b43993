"""``followup.log_privacy``: no patient's number in a log line, tracebacks included."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from followup import log_privacy
from followup.store.engine import make_engine


@pytest.fixture
def installed():
    before = logging.getLogRecordFactory()
    log_privacy._installed = False
    log_privacy.install()
    yield
    logging.setLogRecordFactory(before)
    log_privacy._installed = False


@pytest.mark.parametrize(
    "number", ["+12015550123", "(201) 555-0123", "201.555.0123", "+44 20 7946 0958"]
)
def test_a_number_is_masked_in_the_message_its_arguments_and_the_traceback(
    installed, caplog, number
):
    log = logging.getLogger("followup.test")
    try:
        raise ValueError(f"could not store a reply from {number}: 'I cant breathe'")
    except ValueError:
        with caplog.at_level(logging.ERROR):
            log.exception("reply from %s failed", number)
    record = caplog.records[-1]
    rendered = logging.Formatter().format(record)
    assert number not in rendered and "breathe" not in rendered
    assert "[number]" in rendered and "builtins.ValueError: [message withheld]" in rendered
    assert "5550123" not in rendered and "7946" not in rendered
    assert "test_log_privacy.py" in rendered  # where it failed is kept


def test_scores_times_and_ids_are_left_alone():
    for kept in ("score 7", "at 15:30", "message 12345", "2026-03-10", "2026-03-10 15:30:00"):
        assert log_privacy.scrub(kept) == kept


def test_twilio_sids_stay_whole_and_numbers_beside_them_do_not():
    sid = "SM" + "0123456789" * 3 + "ab"
    assert log_privacy.scrub(f"inbound {sid} could not be stored") == (
        f"inbound {sid} could not be stored"
    )
    assert log_privacy.scrub(f"{sid} from +12015550123") == f"{sid} from [number]"
    console = "CONSOLEc770f7f372cf43d89b05271c7946012a"
    assert log_privacy.scrub(f"message 5 sent ({console})") == f"message 5 sent ({console})"
    # not a SID: 31 hex digits, or lower-case letters in front, or glued to more hex
    for almost in ("SM" + "0123456789" * 3 + "a", "sm" + "0123456789" * 3 + "ab"):
        assert "[number]" in log_privacy.scrub(almost)
    assert "[number]" in log_privacy.scrub(sid + "1234567")


def test_sql_errors_carry_no_parameters(tmp_path):
    """A failed INSERT of a reply must not print the patient's number or words."""
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (phone TEXT PRIMARY KEY, body TEXT)")
    with pytest.raises(IntegrityError) as caught, engine.begin() as conn:
        for _ in range(2):
            conn.execute(
                text("INSERT INTO t VALUES (:phone, :body)"),
                {"phone": "+12015550123", "body": "chest pain"},
            )
    assert "+12015550123" not in str(caught.value) and "chest pain" not in str(caught.value)
    engine.dispose()


def test_json_lines_carry_the_rewritten_record_only(installed, caplog):
    import json

    log = logging.getLogger("followup.test")
    try:
        raise ValueError("could not store a reply from +12015550123: 'I cant breathe'")
    except ValueError:
        with caplog.at_level(logging.ERROR):
            log.exception("reply from %s failed", "+12015550123")
    line = log_privacy.JsonLines().format(caplog.records[-1])
    data = json.loads(line)
    assert "\n" not in line
    assert set(data) == {"time", "level", "logger", "message", "traceback"}
    assert (data["level"], data["logger"]) == ("ERROR", "followup.test")
    assert data["message"] == "reply from [number] failed"
    assert data["traceback"].endswith("builtins.ValueError: [message withheld]")
    assert "5550123" not in line and "breathe" not in line
    assert data["time"].endswith("+00:00")


@pytest.mark.slow
def test_a_worker_logs_json_lines_when_asked(tmp_path):
    """A real ``followup worker`` on the demo data: every line it logs until SIGTERM is a
    JSON object, and none holds a patient's number; a format we do not know stops it."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUP_", "TWILIO_"))},
        "FOLLOWUP_DATABASE_URL": f"sqlite:///{tmp_path / 'f.db'}",
        "FOLLOWUP_LOG_FORMAT": "json",
        "FOLLOWUP_TICK_SECONDS": "0.5",
    }
    cli = [sys.executable, "-m", "followup.cli"]
    for setup in (["db", "upgrade"], ["demo"]):
        subprocess.run([*cli, *setup], env=env, check=True, capture_output=True, cwd=tmp_path)
    worker = subprocess.Popen([*cli, "worker"], env=env, cwd=tmp_path, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        time.sleep(4)  # a few ticks: the demo's texts go, their outcomes are logged
    finally:
        worker.send_signal(signal.SIGTERM)
        _, err = worker.communicate(timeout=30)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) >= 2, err
    records = [json.loads(line) for line in lines]
    assert {r["logger"] for r in records} >= {"followup.worker"}
    demo_phones = ("5550123", "5550142", "5550199", "5550150")  # the patients', the on-call's
    assert not [line for line in lines for phone in demo_phones if phone in line]
    wrong = subprocess.run([*cli, "worker"], env={**env, "FOLLOWUP_LOG_FORMAT": "xml"},
                           text=True, capture_output=True, cwd=tmp_path, timeout=30)  # fmt: skip
    assert wrong.returncode == 1 and "FOLLOWUP_LOG_FORMAT" in wrong.stderr
