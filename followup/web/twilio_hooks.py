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

The database wait of an inbound webhook is bounded (``FOLLOWUP_WEBHOOK_DB_TIMEOUT``, 3 s by
default; :func:`followup.store.engine.bounded_transaction`), queueing for a database thread
included. Past it, or with the database unavailable, the reply is kept in the spool
(:mod:`followup.spool`) and the patient answered at once from the request alone
(:mod:`followup.inbound.offline_answer`); only when even the spool cannot keep it is the
answer a 500, for Twilio to retry. A retry of a spooled MessageSid gets the same answer
from the spool. The app files spooled replies in the background
(:func:`drain_spool_forever`): woken by the next request the database answered, and every
``FOLLOWUP_TICK_SECONDS`` (the worker's tick drains too).

The parts of a request are public functions called through their modules at call time
(:func:`verified_form`, :func:`parse_form`, :func:`twiml`, :func:`on_db_thread`,
``receive.receive``), so a profiler can wrap each where it is defined
(``bench/webhook.py --profile``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict
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
from followup.inbound import drain, offline_answer, receive
from followup.inbound.status_callbacks import StatusCallback, record_status
from followup.ops import events
from followup.spool import SpoolError
from followup.store.engine import DatabaseBusy, bounded_transaction, database_unavailable
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
#: how long past FOLLOWUP_WEBHOOK_DB_TIMEOUT the webhook waits for its database thread to
#: give up on its own before it answers from the spool regardless
DB_GRACE_SECONDS = 0.5
#: spooled replies filed per turn of the web app's drain: its database threads serve
#: webhooks too
DRAIN_BATCH = 20
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
        sms = receive.InboundSms(**asdict(fields))  # the same fields, checked
        arrived = clock()
        kept = await asyncio.to_thread(state.spool.find, sms.sid)
        if kept is not None:  # Twilio retries a reply the spool holds: the same answer
            return Response(twiml(kept.reply_body), media_type=TWIML)
        deadline = time.monotonic() + state.db_timeout
        abandoned = threading.Event()

        def work() -> receive.InboundResult:
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseBusy("no database thread free within the time allowed")
            with bounded_transaction(state.engine, left) as conn:
                result = receive.receive(
                    conn, sms, catalogue=state.catalogue, now=arrived, senders=state.senders
                )
                if abandoned.is_set():  # answered from the spool meanwhile: roll back
                    raise DatabaseBusy("the webhook stopped waiting")
                return result

        try:
            result = await asyncio.wait_for(
                on_db_thread(state, work), state.db_timeout + DB_GRACE_SECONDS
            )
        except TimeoutError:
            abandoned.set()
            return await spool_reply(state, sms, arrived, "the database did not answer in time")
        except Exception as exc:
            if database_unavailable(exc):
                return await spool_reply(
                    state, sms, arrived, f"database unavailable ({type(exc).__name__})"
                )
            # Twilio retries a 500, so the reply is not lost; the log says where, never what
            log.exception("inbound %s could not be stored", fields.sid)
            return Response("could not store the message\n", 500, media_type="text/plain")
        if result.alerts and state.alerts is not None:
            state.alerts.kick()  # after commit: the sender thread reads what we wrote
        if state.kept_since_drain:
            state.drain_wanted.set()  # the database is back: file what the spool holds
        return Response(twiml(result.reply), media_type=TWIML)

    return inbound


async def spool_reply(
    state: AppState, sms: receive.InboundSms, arrived: datetime, why: str
) -> Response:
    """Keep ``sms`` in the spool and answer it without the database; a 500 (for Twilio to
    retry) only when the spool cannot keep it either. Logs name the MessageSid and the
    reason, never the number or the words."""
    answer = offline_answer.offline_answer(
        state.catalogue,
        body=sms.body,
        from_number=sms.from_number,
        default_emergency_number=state.senders.emergency_number,
        opt_out_type=sms.opt_out_type,
    )
    reply = drain.spooled_reply(sms, arrived, answer)
    try:
        kept = await asyncio.to_thread(state.spool.keep, reply)
    except SpoolError as problem:
        log.error("inbound %s lost for now (%s) and not spooled: %s", sms.sid, why, problem)
        return Response("could not store the message\n", 500, media_type="text/plain")
    state.kept_since_drain = True
    log.warning("inbound %s kept in the spool: %s", sms.sid, why)
    return Response(twiml(kept.reply_body), media_type=TWIML)


async def drain_spool_forever(state: AppState) -> None:
    """File spooled replies in the background, :data:`DRAIN_BATCH` at a time, on the app's
    database threads: woken by a request the database answered, and every
    ``drain_interval`` seconds (files other processes kept, or kept before a restart)."""
    while True:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.drain_wanted.wait(), state.drain_interval)
        state.drain_wanted.clear()
        if not await asyncio.to_thread(state.spool.waiting):
            state.kept_since_drain = False
            continue
        try:
            report = await on_db_thread(
                state,
                lambda: drain.drain(
                    state.spool,
                    state.engine,
                    state.catalogue,
                    senders=state.senders,
                    timeout=state.db_timeout,
                    limit=DRAIN_BATCH,
                ),
            )
        except Exception:  # never let the loop die: the next turn tries again
            log.exception("spool drain failed")
            continue
        if report.alerts and state.alerts is not None:
            state.alerts.kick()
        if report.left and report.drained:
            state.drain_wanted.set()  # more waiting and the database takes them: go on


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
        Route(INBOUND_PATH, timed("inbound", inbound_endpoint(state, clock)), methods=["POST"]),
        Route(STATUS_PATH, timed("status", status_endpoint(state, clock)), methods=["POST"]),
    ]


def timed(hook: str, endpoint: Callable[[Request], Awaitable[Response]]):
    """``endpoint``, its time to answer observed (``followup_webhook_duration_seconds``):
    Twilio gives up after 15 s, so the tail matters more than the mean."""

    async def handle(request: Request) -> Response:
        start = time.perf_counter()
        code = 500
        try:
            response = await endpoint(request)
            code = response.status_code
            return response
        finally:
            events.webhook_answered(hook, code, time.perf_counter() - start)

    return handle
