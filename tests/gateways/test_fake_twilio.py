"""The Twilio fake, checked through the official SDK and through :class:`TwilioGateway`.

If the fake drifted from what the SDK sends and parses, every test built on it would prove
nothing; these tests pin the fake to the SDK (request shapes, page parsing, error parsing) and
to the gateway's classification of Twilio's errors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from support.fake_twilio import FakeTwilio
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from followup.gateways.base import OutgoingSms, SendResult
from followup.gateways.twilio import ApiHttpClient, TwilioGateway

PATIENT = "+15005550001"
OTHER = "+15005550002"
CLINIC = "+15005550006"
SERVICE = "MG" + "1" * 32
CALLBACK = "https://clinic.example/twilio/status"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


def make_gateway(
    fake: FakeTwilio, *, token: str | None = None, timeout: float = 5.0
) -> TwilioGateway:
    return TwilioGateway(
        fake.account_sid,
        token if token is not None else fake.auth_token,
        api_url=fake.url,
        timeout=timeout,
        status_callback=CALLBACK,
    )


@pytest.fixture
def gateway(fake: FakeTwilio) -> TwilioGateway:
    return make_gateway(fake)


@pytest.fixture
def client(fake: FakeTwilio) -> Client:
    http = ApiHttpClient(timeout=5.0, base_url=fake.url)
    return Client(fake.account_sid, fake.auth_token, http_client=http)


def sms(body: str = "How is the treated area today?", to: str = PATIENT) -> OutgoingSms:
    return OutgoingSms(to=to, body=body, from_number=CLINIC)


def messages_path(fake: FakeTwilio) -> str:
    return f"/2010-04-01/Accounts/{fake.account_sid}/Messages.json"


# -- creating ------------------------------------------------------------------------------


def test_send_creates_a_message(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    result = gateway.send(sms())

    assert result.ok
    assert result.provider_sid is not None and result.provider_sid.startswith("SM")
    assert len(result.provider_sid) == 34
    assert result.provider_status == "queued"
    [created] = fake.created
    assert created["sid"] == result.provider_sid
    assert (created["to"], created["from"], created["body"]) == (PATIENT, CLINIC, sms().body)
    assert fake.status_callbacks == {result.provider_sid: CALLBACK}
    assert fake.count(to=PATIENT) == 1
    assert fake.count(body="something else") == 0
    assert fake.create_attempts == 1
    assert fake.requests == [("POST", messages_path(fake), 201)]


def test_message_resource_as_twilio_returns_it(fake: FakeTwilio, client: Client) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = client.messages.create(to=PATIENT, from_=CLINIC, body="hello")

    assert message.account_sid == fake.account_sid
    assert message.status == "queued"
    assert message.direction == "outbound-api"
    assert (message.num_segments, message.num_media) == ("1", "0")
    assert message.api_version == "2010-04-01"
    assert message.date_sent is None and message.price is None
    assert message.error_code is None and message.error_message is None
    assert message.price_unit == "USD"
    assert message.uri == f"/2010-04-01/Accounts/{fake.account_sid}/Messages/{message.sid}.json"
    assert message.date_created is not None
    assert before <= message.date_created <= datetime.now(UTC)
    assert message.date_created.tzinfo is not None

    fetched = client.messages(message.sid).fetch()
    assert (fetched.sid, fetched.body, fetched.to) == (message.sid, "hello", PATIENT)


def test_messaging_service_is_accepted_without_from(fake: FakeTwilio, client: Client) -> None:
    message = client.messages.create(to=PATIENT, messaging_service_sid=SERVICE, body="hi")

    assert message.status == "accepted"
    assert message.from_ is None
    assert message.messaging_service_sid == SERVICE


def test_fetch_unknown_message_is_404(fake: FakeTwilio, client: Client) -> None:
    with pytest.raises(TwilioRestException) as info:
        client.messages("SM" + "0" * 32).fetch()
    assert (info.value.status, info.value.code) == (404, 20404)


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": CLINIC, "Body": "x"}, 21604),
        ({"To": PATIENT, "From": CLINIC}, 21602),
        ({"To": PATIENT, "Body": "x"}, 21603),
    ],
)
def test_missing_parameters_are_refused(fake: FakeTwilio, form: dict[str, str], code: int) -> None:
    answer = requests.post(
        fake.url + messages_path(fake),
        data=form,
        auth=(fake.account_sid, fake.auth_token),
        timeout=5,
    )

    assert answer.status_code == 400
    body = answer.json()
    assert body["code"] == code and body["status"] == 400
    assert body["more_info"] == f"https://www.twilio.com/docs/errors/{code}"
    assert fake.created == []


def test_unknown_account_in_path_is_404(fake: FakeTwilio) -> None:
    path = f"/2010-04-01/Accounts/AC{'1' * 32}/Messages.json"
    answer = requests.get(fake.url + path, auth=(fake.account_sid, fake.auth_token), timeout=5)

    assert answer.status_code == 404
    assert answer.json()["code"] == 20404


# -- listing and finding -------------------------------------------------------------------


def test_list_filters_by_to_newest_first(
    fake: FakeTwilio, gateway: TwilioGateway, client: Client
) -> None:
    sids = [gateway.send(sms(f"text {i}")).provider_sid for i in range(3)]
    gateway.send(sms("for someone else", to=OTHER))

    listed = client.messages.list(to=PATIENT, limit=50)

    assert [m.sid for m in listed] == sids[::-1]
    assert {m.to for m in listed} == {PATIENT}
    assert [m.sid for m in client.messages.list(to=OTHER, limit=50)] == [fake.created[-1]["sid"]]
    assert len(client.messages.list(from_=CLINIC, limit=50)) == 4


def test_list_pages_follow_next_page_uri(
    fake: FakeTwilio, gateway: TwilioGateway, client: Client
) -> None:
    for i in range(5):
        gateway.send(sms(f"text {i}"))

    listed = client.messages.list(to=PATIENT, page_size=2)

    assert [m.body for m in listed] == [f"text {i}" for i in reversed(range(5))]
    gets = [r for r in fake.requests if r[0] == "GET"]
    assert len(gets) == 3  # pages of 2, 2 and 1


def test_find_sent_matches_on_body(gateway: TwilioGateway) -> None:
    since = datetime.now(UTC)
    sent = gateway.send(sms("Ice the area for ten minutes."))

    found = gateway.find_sent(sms("Ice the area for ten minutes."), since)
    assert found is not None and found.ok
    assert found.provider_sid == sent.provider_sid

    assert gateway.find_sent(sms("A different text."), since) is None


# -- Twilio's errors -----------------------------------------------------------------------


def test_invalid_number_is_permanent(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    fake.invalid_numbers.add(PATIENT)

    result = gateway.send(sms())

    assert result.error is not None
    assert result.error.code == "21211"
    assert result.error.permanent and not result.error.opted_out
    assert fake.count() == 0
    assert fake.requests == [("POST", messages_path(fake), 400)]


def test_opted_out_number_is_permanent_and_opted_out(
    fake: FakeTwilio, gateway: TwilioGateway
) -> None:
    fake.opted_out_numbers.add(PATIENT)

    result = gateway.send(sms())

    assert result.error is not None
    assert result.error.code == "21610"
    assert result.error.permanent and result.error.opted_out
    assert fake.count() == 0


def test_fail_next_rate_limits_then_succeeds(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    fake.fail_next(2, status=429, code=20429)

    first, second, third = (gateway.send(sms()) for _ in range(3))

    for result in (first, second):
        assert result.error is not None
        assert result.error.code == "20429"
        assert result.error.pause and not result.error.permanent
    assert third.ok
    assert fake.count() == 1
    assert fake.create_attempts == 3
    assert [status for _, _, status in fake.requests] == [429, 429, 201]


def test_fail_for_gives_transient_errors_until_it_ends(
    fake: FakeTwilio, gateway: TwilioGateway
) -> None:
    fake.fail_for(60, status=503)

    for _ in range(2):
        result = gateway.send(sms())
        assert result.error is not None
        assert result.error.code == "http 503"
        assert not result.error.permanent and not result.error.pause
    assert fake.count() == 0

    fake.fail_for(0)
    assert gateway.send(sms()).ok

    fake.fail_for(0.3)  # and it ends by itself
    assert not gateway.send(sms()).ok
    time.sleep(0.35)
    assert gateway.send(sms()).ok
    assert fake.count() == 2


def test_wrong_token_pauses(fake: FakeTwilio) -> None:
    result = make_gateway(fake, token="wrong").send(sms())

    assert result.error is not None
    assert result.error.code == "20003"
    assert result.error.pause and not result.error.permanent
    assert fake.count() == 0
    assert fake.create_attempts == 1
    assert fake.requests == [("POST", messages_path(fake), 401)]


def test_error_body_is_twilio_shaped(fake: FakeTwilio) -> None:
    answer = requests.post(fake.url + messages_path(fake), data={}, auth=("x", "y"), timeout=5)

    assert answer.status_code == 401
    assert answer.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


# -- latency, the crash window, concurrency ------------------------------------------------


def test_latency_delays_the_answer_but_not_the_record(
    fake: FakeTwilio, gateway: TwilioGateway
) -> None:
    fake.latency = 0.5
    results: list[SendResult] = []
    started = time.monotonic()
    sender = threading.Thread(target=lambda: results.append(gateway.send(sms())))
    sender.start()

    deadline = time.monotonic() + 5
    while fake.count() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.count() == 1  # created on receipt ...
    assert sender.is_alive()  # ... while the answer is still on its way

    sender.join(timeout=5)
    assert time.monotonic() - started >= 0.5
    assert results[0].ok
    assert results[0].provider_sid == fake.created[0]["sid"]


def test_client_that_gives_up_still_leaves_the_text_created(fake: FakeTwilio) -> None:
    fake.latency = 1.0
    impatient = make_gateway(fake, timeout=0.2)

    result = impatient.send(sms())

    assert result.error is not None and result.error.code == "timeout"
    assert fake.count() == 1
    fake.latency = 0.0
    found = make_gateway(fake).find_sent(sms(), datetime.now(UTC) - timedelta(minutes=1))
    assert found is not None and found.provider_sid == fake.created[0]["sid"]


def test_concurrent_sends_create_distinct_messages(fake: FakeTwilio) -> None:
    gateway = TwilioGateway(fake.account_sid, fake.auth_token, api_url=fake.url, pool_size=8)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: gateway.send(sms(f"text {i}")), range(50)))

    assert all(r.ok for r in results)
    sids = {r.provider_sid for r in results}
    assert len(sids) == 50
    assert {m["sid"] for m in fake.created} == sids
    assert fake.create_attempts == 50


def test_reset_forgets_everything(fake: FakeTwilio, gateway: TwilioGateway) -> None:
    gateway.send(sms())
    fake.fail_next(3)
    fake.opted_out_numbers.add(OTHER)

    fake.reset()

    assert fake.created == [] and fake.requests == [] and fake.create_attempts == 0
    assert gateway.send(sms(to=OTHER)).ok


def test_stop_and_url() -> None:
    fake = FakeTwilio(latency=0.0)
    with pytest.raises(RuntimeError):
        _ = fake.url
    with fake:
        assert fake.url.startswith("http://127.0.0.1:")
    with pytest.raises(RuntimeError):
        _ = fake.url
