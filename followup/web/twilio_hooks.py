"""Twilio's two webhooks: ``POST /twilio/inbound`` (a patient's text) and
``POST /twilio/status`` (what the carrier did with ours).

Every request must carry a valid ``X-Twilio-Signature``, checked with the SDK's
``RequestValidator`` against the URL Twilio called: ``FOLLOWUP_PUBLIC_URL`` + path (+ query),
because behind a proxy or tunnel the URL this server sees is not the one Twilio signed, and
it comes from headers a caller chooses: without ``FOLLOWUP_PUBLIC_URL`` the webhooks refuse
every request, unless ``FOLLOWUP_DEV_MODE=1`` says this is a local tunnel. A
missing or wrong signature gets 403 before anything is read into the database; a body over
64 KiB gets 413 before it is read at all; a signed request whose fields Twilio would never
send (a malformed MessageSid, another account) is refused (:mod:`.webhook_fields`). Without
``TWILIO_AUTH_TOKEN`` nothing can be verified, so both webhooks refuse every request.

Database work runs on a small pool of threads of the app's own (SQLAlchemy is synchronous):
one on SQLite, whose single writer would otherwise make concurrent requests poll for its lock
with growing sleeps, and a few on PostgreSQL, within the connection pool. Requests queue for
them in arrival order.

The parts of a request are public functions called through their modules at call time
(:func:`verified_form`, :func:`parse_form`, :func:`twiml`, :func:`on_db_thread`,
``receive.receive``), so a profiler can wrap each where it is defined
(``bench/webhook.py --profile``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar
from urllib.parse import parse_qsl

from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from twilio.request_validator import (
    SIGNATURE_HEADER,
    SIGNATURE_SETTINGS_HEADER,
    get_signature_algorithm,
)
from twilio.twiml.messaging_response import MessagingResponse

from followup.gateways.twilio import STATUS_CALLBACK_PATH
from followup.inbound import receive
from followup.inbound.status_callbacks import StatusCallback, record_status
from followup.web.state import AppState
from followup.web.webhook_fields import (
    MAX_REQUEST_BYTES,
    BadRequest,
    OtherAccount,
    check_account,
    inbound_fields,
)

log = logging.getLogger(__name__)

INBOUND_PATH = "/twilio/inbound"
#: the route every text we send names as its StatusCallback
STATUS_PATH = STATUS_CALLBACK_PATH
TWIML = "application/xml"
T = TypeVar("T")


class Forbidden(Exception):
    pass


class TooLarge(Exception):
    """A body over :data:`~followup.web.webhook_fields.MAX_REQUEST_BYTES`: 413, unread."""


def utc_now() -> datetime:
    """The webhooks' clock, unless the app is given its own (tests, the benchmark)."""
    return datetime.now(UTC)


def signed_url(public_url: str | None, request: Request) -> str:
    """The URL Twilio signed: the public base URL and the path and query it called."""
    if not public_url:
        return str(request.url)
    query = request.url.query
    return public_url + request.url.path + (f"?{query}" if query else "")


async def verified_form(request: Request, state: AppState) -> MultiDict:
    """The form fields of a request whose Twilio signature is valid; Forbidden otherwise."""
    signature = request.headers.get(SIGNATURE_HEADER)
    if state.validator is None or not signature:
        raise Forbidden(
            "missing signature"
            if state.validator
            else "webhooks are off: no TWILIO_AUTH_TOKEN, or no FOLLOWUP_PUBLIC_URL"
        )
    form = parse_form(await capped_body(request))
    algorithm = get_signature_algorithm(request.headers.get(SIGNATURE_SETTINGS_HEADER))
    url = signed_url(state.public_url, request)
    if not state.validator.validate(url, form, signature, algorithm):
        raise Forbidden(f"signature does not match {url}")
    return form


async def capped_body(request: Request, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """The request body, read no further than ``limit`` bytes: a huge POST is refused
    before it is held in memory (this process is also the worker under ``followup run``)."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise TooLarge(f"Content-Length {declared}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge(f"over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def parse_form(body: bytes) -> MultiDict:
    """The fields of a form-encoded body, blank ones kept (Twilio posts ``Body=`` empty)."""
    return MultiDict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def twiml(reply: str | None) -> str:
    """The TwiML answer: one ``<Message>`` with ``reply``, or an empty ``<Response/>``."""
    response = MessagingResponse()
    if reply:
        response.message(reply)
    return str(response)


def _forbidden(request: Request, why: Forbidden) -> Response:
    log.warning("refused %s %s: %s", request.method, request.url.path, why)
    return Response("forbidden\n", status_code=403, media_type="text/plain")


def _refused(request: Request, status: int, why: Exception) -> Response:
    log.warning("refused %s %s: %s", request.method, request.url.path, why)
    return Response(f"{why}\n", status_code=status, media_type="text/plain")


def inbound_endpoint(state: AppState, clock: Callable[[], datetime] = utc_now):
    async def inbound(request: Request) -> Response:
        try:
            form = await verified_form(request, state)
            fields = inbound_fields(form, state.account_sid)
        except (Forbidden, OtherAccount) as why:
            return _forbidden(request, why)
        except TooLarge as why:
            return _refused(request, 413, why)
        except BadRequest as why:
            return _refused(request, 400, why)
        sms = receive.InboundSms(
            sid=fields.sid,
            from_number=fields.from_number,
            to_number=fields.to_number,
            messaging_service_sid=fields.messaging_service_sid,
            body=fields.body,
            num_media=fields.num_media,
            opt_out_type=fields.opt_out_type,
        )

        def work() -> receive.InboundResult:
            with state.engine.begin() as conn:
                return receive.receive(
                    conn, sms, catalogue=state.catalogue, now=clock(), senders=state.senders
                )

        try:
            result = await on_db_thread(state, work)
        except Exception:
            # Twilio retries a 500, so the reply is not lost; the log says where, never what
            log.exception("inbound %s could not be stored", fields.sid)
            return Response("could not store the message\n", 500, media_type="text/plain")
        if result.alerts and state.alerts is not None:
            state.alerts.kick()  # after commit: the sender thread reads what we wrote
        return Response(twiml(result.reply), media_type=TWIML)

    return inbound


def status_endpoint(state: AppState, clock: Callable[[], datetime] = utc_now):
    async def status(request: Request) -> Response:
        try:
            form = await verified_form(request, state)
            check_account(form, state.account_sid)
        except (Forbidden, OtherAccount) as why:
            return _forbidden(request, why)
        except TooLarge as why:
            return _refused(request, 413, why)
        except BadRequest as why:
            return _refused(request, 400, why)
        sid, reported = form.get("MessageSid"), (form.get("MessageStatus") or "").lower()
        if not sid or not reported:
            return Response(
                "MessageSid and MessageStatus are required\n", 400, media_type="text/plain"
            )
        cb = StatusCallback(sid, reported, form.get("ErrorCode") or None)

        def work() -> str:
            with state.engine.begin() as conn:
                return record_status(conn, cb, clock())

        outcome = await on_db_thread(state, work)
        log.debug("status %s %s: %s", sid, reported, outcome)
        return Response(status_code=200)

    return status


async def on_db_thread(state: AppState, fn: Callable[[], T]) -> T:
    """Run ``fn`` on the app's database threads."""
    return await asyncio.get_running_loop().run_in_executor(state.db_threads, fn)


def routes(state: AppState, clock: Callable[[], datetime] = utc_now) -> list[Route]:
    return [
        Route(INBOUND_PATH, inbound_endpoint(state, clock), methods=["POST"]),
        Route(STATUS_PATH, status_endpoint(state, clock), methods=["POST"]),
    ]
