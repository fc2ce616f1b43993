"""A small stateful fake of Twilio's 2010-04-01 Messages API, on a real local HTTP server.

Why not Prism, the mock server for Twilio's published OpenAPI spec: it answers each request
from the spec's examples and keeps no state, so a text "sent" is never found again by a list
call (which ``TwilioGateway.find_sent`` relies on after a crash); it never produces the errors
that matter to us (21211 invalid number, 21610 opted-out recipient, 429 rate limits, 5xx
outages, 401 for a wrong token); and it can neither be slow nor show the crash window in which
Twilio has already created a text whose answer the client never read.

This fake does those things and nothing more. It runs ``http.server.ThreadingHTTPServer`` on
127.0.0.1 in a background thread; the official ``twilio`` SDK reaches it through
``followup.gateways.twilio.ApiHttpClient(base_url=fake.url)``, so the SDK's own request
building, authentication, paging and error parsing are exercised, not a stand-in for them.

Behaviour, as at Twilio:

* HTTP Basic auth on every request (401, code 20003, when the credentials are not this
  account's SID and token); a path naming another account answers 404, code 20404.
* ``POST .../Messages.json`` validates (21604 no To, 21602 no Body, 21603 neither From nor
  MessagingServiceSid), refuses ``invalid_numbers`` (21211) and ``opted_out_numbers`` (21610),
  and otherwise records the text *on receipt*, then sleeps ``latency`` seconds, then answers
  201 with a full Message resource. A client that gives up during the sleep leaves the text
  created, as a worker killed mid-request would at Twilio.
* Injected faults (:meth:`FakeTwilio.fail_next`, :meth:`FakeTwilio.fail_for`) apply to creates
  after authentication and before validation; an errored create creates nothing.
* ``GET .../Messages.json`` (To, From, PageSize, Page) lists newest first in Twilio's page
  shape; ``GET .../Messages/{sid}.json`` fetches one text.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DEFAULT_ACCOUNT_SID = "AC" + "f" * 32
DEFAULT_AUTH_TOKEN = "token"
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-f]{32}$")
API_PREFIX = "/2010-04-01/Accounts/"
MAX_PAGE_SIZE = 1000
DEFAULT_PAGE_SIZE = 50

Json = dict[str, Any]


class TwilioError(Exception):
    """An error answer: HTTP ``status`` and a Twilio-shaped JSON body."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> Json:
        return {
            "code": self.code,
            "message": self.message,
            "more_info": f"https://www.twilio.com/docs/errors/{self.code}"
            if self.code is not None
            else None,
            "status": self.status,
        }


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _first(form: dict[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    if not values or values[0] == "":
        return None
    return values[0]


class FakeTwilio:
    """The fake account: its texts, its injected faults and the log of requests it served.

    ``invalid_numbers``, ``opted_out_numbers`` and ``latency`` may be changed at any time,
    also while the server runs. Everything else goes through methods, under a lock.
    """

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        latency: float = 0.0,
    ) -> None:
        if not ACCOUNT_SID_RE.match(account_sid):
            raise ValueError(f"not a Twilio account SID: {account_sid!r}")
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.latency = latency
        self.invalid_numbers: set[str] = set()
        self.opted_out_numbers: set[str] = set()
        self._initial_latency = latency
        self._lock = threading.Lock()
        self._messages: list[Json] = []
        self._by_sid: dict[str, Json] = {}
        self._status_callbacks: dict[str, str | None] = {}
        self._requests: list[tuple[str, str, int]] = []
        self._create_attempts = 0
        self._fail_next: list[tuple[int, int | None]] = []
        self._fail_until = 0.0
        self._fail_for_error: tuple[int, int | None] = (503, None)
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()  # ends latency sleeps early
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:  # idle keep-alive connections would hold handler threads
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults ----------------------------------------------------------------------------

    def fail_next(self, n: int = 1, status: int = 429, code: int | None = 20429) -> None:
        """The next ``n`` create calls answer ``status`` / ``code`` and create nothing."""
        with self._lock:
            self._fail_next.extend([(status, code)] * n)

    def fail_for(self, seconds: float, status: int = 503, code: int | None = None) -> None:
        """Every create answers ``status`` / ``code`` for ``seconds`` from now (0 ends it)."""
        with self._lock:
            self._fail_until = time.monotonic() + seconds if seconds > 0 else 0.0
            self._fail_for_error = (status, code)

    def clear_faults(self) -> None:
        with self._lock:
            self._fail_next.clear()
            self._fail_until = 0.0

    def reset(self) -> None:
        """Forget every text, request, fault and number set; latency back to the initial."""
        with self._lock:
            self._messages.clear()
            self._by_sid.clear()
            self._status_callbacks.clear()
            self._requests.clear()
            self._create_attempts = 0
            self._fail_next.clear()
            self._fail_until = 0.0
        self.invalid_numbers.clear()
        self.opted_out_numbers.clear()
        self.latency = self._initial_latency

    # -- inspection ------------------------------------------------------------------------

    @property
    def created(self) -> list[Json]:
        """Copies of the created Message resources, oldest first."""
        with self._lock:
            return [dict(m) for m in self._messages]

    @property
    def status_callbacks(self) -> dict[str, str | None]:
        """The StatusCallback given with each created text, by message SID."""
        with self._lock:
            return dict(self._status_callbacks)

    def count(self, to: str | None = None, body: str | None = None) -> int:
        with self._lock:
            return sum(
                1
                for m in self._messages
                if (to is None or m["to"] == to) and (body is None or m["body"] == body)
            )

    @property
    def requests(self) -> list[tuple[str, str, int]]:
        """(method, path without query, HTTP status) of every request answered, in order."""
        with self._lock:
            return list(self._requests)

    @property
    def create_attempts(self) -> int:
        """POSTs received on the Messages list, whatever their answer."""
        with self._lock:
            return self._create_attempts

    # -- request handling (called from server threads) -------------------------------------

    def _log(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._requests.append((method, path, status))

    def _authenticate(self, header: str | None, path_sid: str, path: str) -> None:
        user = password = None
        if header and header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                decoded = ""
            user, sep, password = decoded.partition(":")
            if not sep:
                user = password = None
        if user != self.account_sid or password != self.auth_token:
            raise TwilioError(401, 20003, "Authenticate")
        if path_sid != self.account_sid:
            raise _not_found(path)

    def _injected_fault(self) -> TwilioError | None:
        with self._lock:
            if self._fail_next:
                status, code = self._fail_next.pop(0)
            elif self._fail_until and time.monotonic() < self._fail_until:
                status, code = self._fail_for_error
            else:
                return None
        return TwilioError(status, code, _phrase(status))

    def _create(self, form: dict[str, list[str]]) -> Json:
        fault = self._injected_fault()
        if fault is not None:
            raise fault
        to = _first(form, "To")
        body = _first(form, "Body")
        from_ = _first(form, "From")
        service = _first(form, "MessagingServiceSid")
        if to is None:
            raise TwilioError(400, 21604, "A 'To' phone number is required.")
        if body is None:
            raise TwilioError(400, 21602, "Message body is required.")
        if from_ is None and service is None:
            raise TwilioError(400, 21603, "A 'From' phone number is required.")
        if to in self.invalid_numbers:
            raise TwilioError(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.opted_out_numbers:
            raise TwilioError(400, 21610, "Attempt to send to unsubscribed recipient")

        sid = "SM" + uuid.uuid4().hex
        now = format_datetime(datetime.now(UTC).replace(microsecond=0), usegmt=True)
        base = f"{API_PREFIX}{self.account_sid}/Messages/{sid}"
        message: Json = {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": None if service else from_,
            "messaging_service_sid": service,
            "num_media": "0",
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "accepted" if service else "queued",
            "subresource_uris": {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            },
            "to": to,
            "uri": f"{base}.json",
        }
        with self._lock:
            self._messages.append(message)
            self._by_sid[sid] = message
            self._status_callbacks[sid] = _first(form, "StatusCallback")
            answer = dict(message)
        latency = self.latency
        if latency > 0:
            self._stopping.wait(latency)
        return answer

    def _fetch(self, sid: str, path: str) -> Json:
        with self._lock:
            message = self._by_sid.get(sid)
            if message is None:
                raise _not_found(path)
            return dict(message)

    def _list(self, query: dict[str, list[str]]) -> Json:
        to = _first(query, "To")
        from_ = _first(query, "From")
        try:
            page_size = int(_first(query, "PageSize") or DEFAULT_PAGE_SIZE)
            page = int(_first(query, "Page") or 0)
        except ValueError as exc:
            raise TwilioError(400, 20001, f"Invalid paging parameter: {exc}") from None
        if not 1 <= page_size <= MAX_PAGE_SIZE or page < 0:
            raise TwilioError(400, 20001, "Invalid paging parameters")
        with self._lock:
            matching = [
                dict(m)
                for m in reversed(self._messages)
                if (to is None or m["to"] == to) and (from_ is None or m["from"] == from_)
            ]
        start = page * page_size
        items = matching[start : start + page_size]
        list_path = f"{API_PREFIX}{self.account_sid}/Messages.json"

        def page_uri(number: int) -> str:
            params = {"To": to, "From": from_, "PageSize": page_size, "Page": number}
            return f"{list_path}?{urlencode({k: v for k, v in params.items() if v is not None})}"

        has_next = start + page_size < len(matching)
        return {
            "end": start + max(len(items) - 1, 0),
            "first_page_uri": page_uri(0),
            "messages": items,
            "next_page_uri": page_uri(page + 1) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page),
        }

    def _route(self, method: str, path: str, query: str, headers: Any, body: bytes) -> Json:
        if not path.startswith(API_PREFIX):
            raise _not_found(path)
        path_sid, _, rest = path[len(API_PREFIX) :].partition("/")
        if method == "POST" and rest == "Messages.json":
            with self._lock:
                self._create_attempts += 1
        self._authenticate(headers.get("Authorization"), path_sid, path)
        if rest == "Messages.json":
            if method == "POST":
                form = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
                return self._create(form)
            if method == "GET":
                return self._list(parse_qs(query, keep_blank_values=True))
            raise TwilioError(405, 20004, "Method not allowed")
        if rest.startswith("Messages/") and rest.endswith(".json") and rest.count("/") == 1:
            if method != "GET":
                raise TwilioError(405, 20004, "Method not allowed")
            return self._fetch(rest[len("Messages/") : -len(".json")], path)
        raise _not_found(path)

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)


def _not_found(path: str) -> TwilioError:
    return TwilioError(404, 20404, f"The requested resource {path} was not found")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeTwilio

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up (a timeout, a killed worker) is part of the game, not an error
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)) or self.fake._stopping.is_set():
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the SDK's connection pool is exercised
    server: _Server

    def setup(self) -> None:
        super().setup()
        # headers and body go out in two writes: without this, Nagle's algorithm and delayed
        # ACKs add some 40 ms to every keep-alive request
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        self.server.fake._track(self.connection, add=False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _handle(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        extra: Iterable[tuple[str, str]] = ()
        try:
            payload = fake._route(self.command, parts.path, parts.query, self.headers, body)
            status = 201 if self.command == "POST" else 200
        except TwilioError as err:
            payload, status = err.body(), err.status
            if status == 401:
                extra = (("WWW-Authenticate", 'Basic realm="Twilio API"'),)
        fake._log(self.command, parts.path, status)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle
