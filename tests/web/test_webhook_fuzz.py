"""The inbound webhook under fuzzing, on SQLite and PostgreSQL, with the log privacy rewrite
installed as ``followup run`` and ``followup web`` install it.

Whatever arrives (random bytes, any encoding, unknown or repeated field names, control
characters, huge values): never a 500; a request answered 200 has its reply stored under its
MessageSid (nothing a patient sent is lost), and a retry of it gets the same answer; and no
log line names the sender's number or repeats what they wrote.
"""

from __future__ import annotations

import itertools
import logging
import string
import unicodedata
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from starlette.datastructures import MultiDict
from starlette.testclient import TestClient
from support.seeding import midday_before, seed_treated
from support.webhooks import ACCOUNT_SID, PUBLIC_URL, TOKEN, RecordingGateway
from twilio.request_validator import RequestValidator

from followup import log_privacy
from followup.config import load_settings
from followup.runtime import Runtime
from followup.store.models import InboundMessage
from followup.web.app import create_app

PATH = "/twilio/inbound"
_examples = itertools.count()
KNOWN = "+12015550201"
FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def private_logs():
    """The log privacy rewrite, as the commands install it; the previous factory after."""
    before = logging.getLogRecordFactory()
    log_privacy._installed = False
    log_privacy.install()
    yield
    logging.setLogRecordFactory(before)
    log_privacy._installed = False


@pytest.fixture
def client(env, private_logs):
    rt = Runtime(
        load_settings(
            {
                **env,
                "TWILIO_AUTH_TOKEN": TOKEN,
                "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
                "FOLLOWUP_SMS_BACKEND": "console",
                "FOLLOWUP_PUBLIC_URL": PUBLIC_URL,
            }
        )
    )
    seed_treated(rt.sessions, [KNOWN], midday_before(datetime.now(UTC) - timedelta(hours=30)))
    app = create_app(rt, gateway=RecordingGateway())
    with TestClient(app, base_url="http://internal:8000", raise_server_exceptions=False) as c:
        c.runtime = rt  # type: ignore[attr-defined]
        yield c
    rt.close()


def _signature(form: MultiDict) -> str:
    return RequestValidator(TOKEN).compute_signature(PUBLIC_URL + PATH, form)


def _post(client, body: bytes, *, signed: bool, content_type: str):
    headers = {"Content-Type": content_type}
    if signed:  # signed over the fields as the server will read them
        fields = MultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        headers["X-Twilio-Signature"] = _signature(fields)
    return client.post(PATH, content=body, headers=headers)


def _stored(client, sid: str) -> InboundMessage | None:
    with client.runtime.sessions() as db:
        return db.scalars(select(InboundMessage).where(InboundMessage.provider_sid == sid)).first()


def _logged(caplog) -> str:
    formatter = logging.Formatter("%(message)s")
    return "\n".join(formatter.format(r) for r in caplog.records)


@FUZZ
@given(
    body=st.binary(max_size=3000),
    signed=st.booleans(),
    content_type=st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=latin-1",
            "application/json",
            "text/plain; charset=utf-16",
        ]
    ),
)
def test_random_bytes_are_never_a_500(client, body, signed, content_type):
    response = _post(client, body, signed=signed, content_type=content_type)
    assert response.status_code in (200, 400, 403), response.text
    if not signed:
        assert response.status_code == 403


hexdigits = st.text("0123456789abcdef", min_size=32, max_size=32)
any_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=400)
phones = st.one_of(
    st.just(KNOWN),
    st.from_regex(r"\+1201555[0-9]{4}", fullmatch=True),
    st.from_regex(r"\+44[0-9]{10}", fullmatch=True),
    any_text,
)
names = st.text(string.ascii_letters + string.digits + "_-[]", min_size=1, max_size=20)


@FUZZ
@given(
    sid_kind=st.sampled_from(["SM", "MM"]),
    sid_hex=hexdigits,
    sender=phones,
    body=any_text,
    num_media=st.one_of(st.integers(-5, 10**25).map(str), any_text),
    extra=st.dictionaries(names, any_text, max_size=5),
    encoding=st.sampled_from(["utf-8", "latin-1"]),
)
# a sender longer than the reply's columns once held (32): PostgreSQL refused the insert
@example(sid_kind="SM", sid_hex="0" * 32, sender="whatsapp:+" + "7" * 40, body="4",
         num_media="0", extra={}, encoding="utf-8")  # fmt: skip
def test_signed_fields_of_any_shape_are_kept_answered_once_and_never_logged(
    client, caplog, sid_kind, sid_hex, sender, body, num_media, extra, encoding
):
    # a SID of its own per example: the app and its database live across examples
    sid = sid_kind + f"{next(_examples):08x}" + sid_hex[8:]
    fields = {**extra, "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": sender,
              "To": "+12015550111", "Body": body, "NumMedia": num_media}  # fmt: skip
    raw = urlencode(fields, encoding=encoding, errors="replace").encode("ascii")
    seen = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    # the only field left to refuse: a From with nothing in it but spaces and control codes
    blank_from = not "".join(
        ch for ch in seen["From"] if not ch.isspace() and unicodedata.category(ch) != "Cc"
    )
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        first = _post(client, raw, signed=True, content_type="application/x-www-form-urlencoded")
        assert first.status_code == (400 if blank_from else 200), first.text
        if first.status_code == 200:
            row = _stored(client, sid)
            assert row is not None, "answered 200 but the reply is not stored"
            assert "\x00" not in row.body and len(row.body) <= 2000
            again = _post(
                client, raw, signed=True, content_type="application/x-www-form-urlencoded"
            )
            assert (again.status_code, again.text) == (200, first.text)
        else:
            assert _stored(client, sid) is None
    logged = _logged(caplog)
    digits = "".join(ch for ch in seen["From"] if ch in string.digits)
    if len(digits) >= 7:
        assert digits not in logged.replace(" ", "") and seen["From"] not in logged
    words = seen["Body"].strip()
    if len(words) >= 12 and not words.isdigit():
        assert words not in logged


@FUZZ
@given(size=st.integers(64 * 1024 + 1, 300 * 1024), signed=st.booleans())
def test_an_oversized_body_is_refused_before_it_is_read(client, size, signed):
    body = b"Body=" + b"a" * size
    response = _post(client, body, signed=signed, content_type="application/x-www-form-urlencoded")
    assert response.status_code in (403, 413)
    if signed:
        assert response.status_code == 413
