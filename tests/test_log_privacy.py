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
