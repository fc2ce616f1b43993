"""The client address behind a reverse proxy, on SQLite and PostgreSQL: the login throttle
counts the address uvicorn's proxy-headers middleware gives it, and that middleware believes
X-Forwarded-For only from FOLLOWUP_TRUSTED_PROXIES. The app is driven through the same
uvicorn settings ``followup web`` serves it with (``server_config(...).load()``), with the
peer address a TestClient claims, so no socket is opened."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient
from support.clinic_web import PASSWORD, email

from followup.access import throttle
from followup.web.deps import COOKIE
from followup.web.server import server_config

PROXY = "10.0.0.2"
ATTACKER = "198.51.100.7"
STAFF = "198.51.100.8"
#: the client limit for these tests: each failure costs a password hash, the rule is the same
LIMIT = 4


@pytest.fixture(autouse=True)
def _small_client_limit(monkeypatch):
    monkeypatch.setattr(throttle, "PER_CLIENT", LIMIT)


def _served(clinic_web, trusted: tuple[str, ...], peer: str) -> TestClient:
    """A client whose requests reach the app from ``peer`` through uvicorn's middleware."""
    config = server_config(clinic_web.app, "127.0.0.1", 0, trusted_proxies=trusted)
    config.load()
    return TestClient(config.loaded_app, follow_redirects=False, client=(peer, 40000))


def _log_in(client: TestClient, who: str, password: str, forwarded_for: str | None, **headers):
    """The login answer's status code, or with ``headers`` the answer itself."""
    sent = {**headers, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {})}
    form = client.get("/login", headers=sent)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    fields = {"email": who, "password": password, "csrf_token": token}
    answer = client.post("/login", headers=sent, data=fields)
    return answer if headers else answer.status_code


def _fail_from(client: TestClient, forwarded_for) -> None:
    """As many failed logins as the client limit, each for another (unknown) account, so only
    that limit can be reached; ``forwarded_for(i)`` is the header of the i-th."""
    for i in range(LIMIT):
        status = _log_in(client, f"guess{i}@north.example", "not it", forwarded_for(i))
        assert status == 401


def test_a_forwarded_for_header_from_an_untrusted_peer_is_ignored(clinic_web):
    direct = _served(clinic_web, (PROXY,), ATTACKER)
    # a new made-up address each time would dodge the limit if the header were believed
    _fail_from(direct, lambda i: f"203.0.113.{i + 1}")
    assert _log_in(direct, email("north", "staff"), PASSWORD, "203.0.113.200") == 429


def test_behind_a_trusted_proxy_the_throttle_counts_the_forwarded_address(clinic_web):
    proxy = _served(clinic_web, ("10.0.0.0/8",), PROXY)
    # the proxy appends the peer it saw; what the attacker wrote before it is not believed
    _fail_from(proxy, lambda i: f"203.0.113.{i + 1}, {ATTACKER}")
    assert _log_in(proxy, email("north", "staff"), PASSWORD, ATTACKER) == 429
    # the same proxy's other clients are not locked out by the attacker's failures
    assert _log_in(proxy, email("north", "staff"), PASSWORD, STAFF) == 303


def test_without_trusted_proxies_every_client_of_a_proxy_shares_its_address(clinic_web):
    """The reason FOLLOWUP_TRUSTED_PROXIES exists: the default believes no header."""
    proxy = _served(clinic_web, (), PROXY)
    _fail_from(proxy, lambda _i: ATTACKER)
    assert _log_in(proxy, email("north", "staff"), PASSWORD, STAFF) == 429


def test_the_scheme_a_trusted_proxy_forwards_makes_the_login_cookie_secure(clinic_web):
    for trusted, secure in (((PROXY,), True), ((), False)):
        client = _served(clinic_web, trusted, PROXY)
        answer = _log_in(client, email("north", "staff"), PASSWORD, STAFF,
                         **{"X-Forwarded-Proto": "https"})  # fmt: skip
        cookie = next(v for k, v in answer.headers.multi_items()
                      if k == "set-cookie" and v.startswith(COOKIE))  # fmt: skip
        assert ("Secure" in cookie) is secure
