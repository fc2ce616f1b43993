"""The Twilio gateway: the official ``twilio`` SDK, errors turned into data.

Why the SDK and not hand-made HTTP: Twilio maintains its request signing, serialisation and
error parsing, and its ``Client`` takes an ``http_client`` we control. That one hook is used
for three things:

* request timeouts (the SDK's default is none: a hung connection would hold a send forever);
* a connection pool as large as the dispatcher's concurrency (the SDK sizes it by CPU count);
* ``FOLLOWUP_TWILIO_API_URL``, for tests and local mocks only: every request keeps its path
  but goes to that scheme and host. The SDK has no base-URL setting of its own.

:func:`classify` decides what an error means; it is a pure function so the table of Twilio
codes is tested directly. Everything that can go wrong in a send (an HTTP error, a timeout,
a refused connection) comes back as a :class:`SendError`, never as an exception.
"""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies
from twilio.base.exceptions import (
    TwilioException,
    TwilioRestException,
    TwilioServiceException,
)
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from followup.gateways.base import OutgoingSms, SendError, SendResult

log = logging.getLogger(__name__)

#: where Twilio posts delivery status callbacks, under FOLLOWUP_PUBLIC_URL
STATUS_CALLBACK_PATH = "/twilio/status"

#: the recipient replied STOP to this sender: nothing more may be sent to them
OPTED_OUT_CODES = frozenset({21610})
#: the text can never be delivered as it is: invalid or unreachable number, blocked, landline
PERMANENT_CODES = frozenset({21211, 21612, 21614, 30004, 30005, 30006, 30007, 30032, 30034})
#: credentials refused: a setting is wrong, not the text; every other text would fail alike
AUTH_CODES = frozenset({20003, 20005})
#: how far back from our own claim time a post-crash lookup searches, for clock skew between
#: this machine and Twilio's ``date_created``
LOOKUP_SKEW = timedelta(minutes=5)


def classify(status: int | None, code: int | None, message: str) -> SendError:
    """What a failed request means for the text. ``status`` is None when no HTTP answer came
    (timeout, refused or reset connection).

    * 21610: permanent, and the patient opted out at Twilio.
    * 21211, 21612, 21614, 30004-30007, 30032, 30034 and any other 4xx: permanent.
    * 429 / 20429, 5xx, no answer at all: transient (retried with backoff).
    * 401 / 20003: transient and pausing. A wrong token is a configuration mistake of ours;
      failing every patient's text for it would lose a day of aftercare, so the texts wait
      (and fail only after the attempts run out) while the log says what to fix.
    """
    label = str(code) if code else (f"http {status}" if status else "no response")
    if code in OPTED_OUT_CODES:
        return SendError(label, message, permanent=True, opted_out=True)
    if code in PERMANENT_CODES:
        return SendError(label, message, permanent=True)
    if status is None:
        return SendError(label, message, permanent=False)
    if status == 429 or code == 20429:
        return SendError(label, message, permanent=False, pause=True)
    if status == 401 or code in AUTH_CODES:
        return SendError(
            label,
            f"credentials refused ({message}); check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN",
            permanent=False,
            pause=True,
        )
    if status >= 500:
        return SendError(label, message, permanent=False)
    return SendError(label, message, permanent=status >= 400)


class ApiHttpClient(TwilioHttpClient):
    """The SDK's own HTTP client with a pool sized for our concurrency, a timeout, and
    optionally every request sent to ``base_url`` instead of ``https://*.twilio.com``.

    Proxy and CA settings from the environment (``HTTPS_PROXY``, ``NO_PROXY``,
    ``REQUESTS_CA_BUNDLE``) are read once here. Left to ``requests``, they are re-read from
    the whole environment on every request, which cost about a quarter of the CPU of a send
    in ``bench/dispatch.py``.
    """

    def __init__(self, *, timeout: float, pool_size: int = 8, base_url: str | None = None) -> None:
        target = base_url or "https://api.twilio.com"
        super().__init__(
            pool_connections=True, timeout=timeout, proxy=get_environ_proxies(target) or None
        )
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
        assert self.session is not None
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.trust_env = False
        self.session.verify = (
            os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
        )
        self._base = urlsplit(base_url) if base_url else None

    def request(self, method: str, url: str, *args, **kwargs):
        if self._base is not None:
            parts = urlsplit(url)
            url = urlunsplit(
                (self._base.scheme, self._base.netloc, parts.path, parts.query, parts.fragment)
            )
        return super().request(method, url, *args, **kwargs)


class TwilioGateway:
    name = "twilio"

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        status_callback: str | None = None,
        timeout: float = 10.0,
        pool_size: int = 8,
        api_url: str | None = None,
        http_client: TwilioHttpClient | None = None,
    ) -> None:
        self.http_client = http_client or ApiHttpClient(
            timeout=timeout, pool_size=pool_size, base_url=api_url
        )
        self.client = Client(account_sid, auth_token, http_client=self.http_client)
        self.status_callback = status_callback

    def send(self, sms: OutgoingSms) -> SendResult:
        kwargs: dict[str, str] = {"to": sms.to, "body": sms.body}
        if sms.messaging_service_sid:
            kwargs["messaging_service_sid"] = sms.messaging_service_sid
        elif sms.from_number:
            kwargs["from_"] = sms.from_number
        else:
            return SendResult(
                error=SendError(
                    "no sender",
                    "no sender for this clinic: set its from number or messaging service, "
                    "or TWILIO_FROM_NUMBER / TWILIO_MESSAGING_SERVICE_SID",
                    permanent=False,
                    pause=False,
                )
            )
        if self.status_callback:
            kwargs["status_callback"] = self.status_callback
        try:
            message = self.client.messages.create(**kwargs)
        except Exception as exc:
            return SendResult(error=error_from_exception(exc))
        return SendResult(provider_sid=message.sid, provider_status=message.status)

    def find_sent(self, sms: OutgoingSms, since: datetime) -> SendResult | None:
        """Twilio's list of texts to ``sms.to`` (newest first, one page), matched on body and
        sender, created no earlier than ``since`` minus :data:`LOOKUP_SKEW`.

        ``DateSent`` is not used as a filter: a text still queued at Twilio has none yet, and
        the filter only has day precision.
        """
        filters: dict[str, str] = {"to": sms.to}
        if sms.from_number and not sms.messaging_service_sid:
            filters["from_"] = sms.from_number
        try:
            # one page, newest first: a recovery must cost one request, not a crawl
            found = list(self.client.messages.page(page_size=50, **filters))
        except Exception as exc:
            return SendResult(error=error_from_exception(exc))
        earliest = since - LOOKUP_SKEW
        for message in found:
            if message.body != sms.body:
                continue
            if message.date_created is not None and message.date_created < earliest:
                continue
            if sms.messaging_service_sid and message.messaging_service_sid not in (
                None,
                sms.messaging_service_sid,
            ):
                continue
            return SendResult(provider_sid=message.sid, provider_status=message.status)
        return None


def error_from_exception(exc: Exception) -> SendError:
    """Map what the SDK (and requests under it) raise onto :func:`classify`."""
    if isinstance(exc, TwilioRestException):
        return classify(exc.status, exc.code, exc.msg or str(exc.status))
    if isinstance(exc, TwilioServiceException):  # RFC 9457 problem details (newer APIs)
        return classify(exc.status, exc.code, exc.detail or exc.title)
    if isinstance(exc, TwilioException) and len(exc.args) == 2 and hasattr(exc.args[1], "text"):
        # a list page that was refused: the SDK raises a bare exception with the response
        return _from_response(exc.args[1])
    if isinstance(exc, requests.ConnectTimeout) or (
        isinstance(exc, requests.ConnectionError) and _never_connected(exc)
    ):
        # Nothing reached Twilio: the next attempt may simply send.
        return SendError("connection", f"could not connect: {exc}", permanent=False)
    if isinstance(exc, requests.Timeout):
        # The request went out and no answer came: Twilio may have accepted the text, so
        # the dispatcher looks it up before sending again ("timeout" is an uncertain code).
        return SendError("timeout", f"no answer in time: {exc}", permanent=False)
    if isinstance(exc, requests.ConnectionError):
        return SendError("connection lost", f"connection lost mid-request: {exc}", permanent=False)
    if isinstance(exc, (requests.RequestException, TwilioException)):
        return SendError("request", f"{type(exc).__name__}: {exc}", permanent=False)
    log.exception("unexpected error from the Twilio SDK")
    return SendError("internal", f"{type(exc).__name__}: {exc}", permanent=False)


def _never_connected(exc: requests.ConnectionError) -> bool:
    """True when the connection itself failed (refused, DNS, connect timeout), so no request
    bytes were sent; False when it broke after the request went out."""
    reason = exc.args[0] if exc.args else None
    reason = getattr(reason, "reason", reason)  # urllib3's MaxRetryError wraps the cause
    return isinstance(reason, (NewConnectionError, ConnectTimeoutError, NameResolutionError))


def _from_response(response) -> SendError:
    """Classify an error response the SDK did not parse (Twilio's JSON error body)."""
    status = getattr(response, "status_code", None)
    try:
        payload = json.loads(response.text)
    except (TypeError, ValueError):
        payload = {}
    code = payload.get("code") if isinstance(payload, dict) else None
    message = payload.get("message") if isinstance(payload, dict) else None
    return classify(status, code if isinstance(code, int) else None, message or f"HTTP {status}")
