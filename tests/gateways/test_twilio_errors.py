"""What each Twilio answer (or its absence) means for a text: the table of error classes,
and the network failures seen through the real SDK against real sockets."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from followup.gateways.base import OutgoingSms
from followup.gateways.twilio import TwilioGateway, classify

SID = "AC" + "a" * 32


@pytest.mark.parametrize("code", [21211, 21612, 21614, 30004, 30005, 30006, 30007, 30032, 30034])
def test_undeliverable_numbers_are_permanent(code):
    err = classify(400, code, "x")
    assert (err.permanent, err.opted_out, err.pause, err.code) == (True, False, False, str(code))


def test_21610_is_permanent_and_an_opt_out():
    err = classify(400, 21610, "Attempt to send to unsubscribed recipient")
    assert (err.permanent, err.opted_out) == (True, True)


@pytest.mark.parametrize("status,code", [(400, 21602), (400, None), (404, 20404), (403, 20008)])
def test_other_client_errors_are_permanent(status, code):
    assert classify(status, code, "x").permanent


@pytest.mark.parametrize(
    "status,code,label,pause",
    [
        (429, 20429, "20429", True),
        (429, None, "http 429", True),
        (500, None, "http 500", False),
        (503, 20503, "20503", False),
        (502, None, "http 502", False),
        (None, None, "no response", False),
    ],
)
def test_rate_limits_server_errors_and_silence_are_transient(status, code, label, pause):
    err = classify(status, code, "x")
    assert (err.permanent, err.code, err.pause) == (False, label, pause)


def test_refused_credentials_wait_for_a_fix_instead_of_failing_texts():
    err = classify(401, 20003, "Authenticate")
    assert not err.permanent and err.pause
    assert "TWILIO_AUTH_TOKEN" in err.message


def test_a_known_permanent_code_wins_over_its_http_status():
    # Twilio answers 400 for these, but the code is what says "never deliverable"
    assert classify(500, 21211, "x").permanent


@pytest.fixture
def server() -> Iterator[tuple[socket.socket, list[str]]]:
    """A TCP server whose behaviour each test chooses: 'close' after reading the request,
    or 'hang' (read it and never answer)."""
    sock = socket.create_server(("127.0.0.1", 0))
    mode: list[str] = ["close"]
    conns: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conns.append(conn)
            conn.recv(65536)
            if mode[0] == "close":
                conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield sock, mode
    sock.close()
    for c in conns:
        c.close()


def gateway(url: str, timeout: float = 0.5) -> TwilioGateway:
    return TwilioGateway(SID, "token", api_url=url, timeout=timeout)


SMS = OutgoingSms(to="+12015550123", body="hello", from_number="+12015550111", message_id=1)


def test_a_refused_connection_is_transient_and_certainly_unsent():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once closed
    result = gateway(f"http://127.0.0.1:{port}").send(SMS)
    assert result.error is not None
    assert (result.error.code, result.error.permanent) == ("connection", False)


def test_a_connection_dropped_after_the_request_is_uncertain(server):
    sock, mode = server
    mode[0] = "close"
    result = gateway(f"http://127.0.0.1:{sock.getsockname()[1]}").send(SMS)
    assert result.error is not None
    assert (result.error.code, result.error.permanent) == ("connection lost", False)


def test_no_answer_within_the_timeout_is_uncertain(server):
    sock, mode = server
    mode[0] = "hang"
    result = gateway(f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=0.3).send(SMS)
    assert result.error is not None
    assert (result.error.code, result.error.permanent) == ("timeout", False)


def test_a_clinic_without_any_sender_is_kept_for_retry_not_failed():
    result = gateway("http://127.0.0.1:9").send(OutgoingSms(to="+12015550123", body="hi"))
    assert result.error is not None
    assert (result.error.code, result.error.permanent) == ("no sender", False)


def test_a_refused_lookup_keeps_twilios_code_and_pauses():
    # the SDK reports a refused list page differently from a refused create; same meaning here
    from datetime import UTC, datetime

    from support.fake_twilio import FakeTwilio

    with FakeTwilio() as fake:
        wrong = TwilioGateway(fake.account_sid, "not-the-token", api_url=fake.url, timeout=2)
        result = wrong.find_sent(SMS, since=datetime.now(UTC))
        gets = [r for r in fake.requests if r[0] == "GET"]
    assert result is not None and result.error is not None
    assert (result.error.code, result.error.permanent, result.error.pause) == ("20003", False, True)
    assert len(gets) == 1  # one page, one request


def test_the_worker_gateway_asks_twilio_for_status_callbacks_at_the_public_url():
    from support.fake_twilio import FakeTwilio

    from followup.config import load_settings
    from followup.runtime import build_gateway

    with FakeTwilio() as fake:
        base = {
            "TWILIO_ACCOUNT_SID": fake.account_sid,
            "TWILIO_AUTH_TOKEN": fake.auth_token,
            "FOLLOWUP_TWILIO_API_URL": fake.url,
        }
        with_url = build_gateway(
            load_settings({**base, "FOLLOWUP_PUBLIC_URL": "https://c.example/"})
        )
        without = build_gateway(load_settings(base))
        first = with_url.send(SMS)
        second = without.send(SMS)
        callbacks = fake.status_callbacks
    assert callbacks.get(first.provider_sid) == "https://c.example/twilio/status"
    assert callbacks.get(second.provider_sid) is None
