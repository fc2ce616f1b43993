"""The ASGI app: ``create_app`` wires settings, database, catalogue and alert sender into routes.

``followup web`` serves it alone; ``followup run`` serves it beside the scheduler and shares
the worker's alert sender. The alert sender delivers staff alerts in a thread of its own, so
no webhook waits on Slack, email or an SMS to the on-call phone. For its lifetime the app
also files the replies its webhook kept in the spool while the database was out of reach
(:func:`followup.web.twilio_hooks.drain_spool_forever`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse
from twilio.request_validator import RequestValidator

from followup.config import check_replies_reach_a_person
from followup.gateways.base import Gateway
from followup.inbound.receive import senders_of
from followup.runtime import Runtime
from followup.staff.alerts import AlertSender
from followup.texts.catalogue import Catalogue
from followup.web import api_errors, ops_routes, twilio_hooks
from followup.web.nul_guard import NulGuard
from followup.web.pages import STATIC
from followup.web.routers import ROUTERS
from followup.web.security_headers import SecurityHeaders
from followup.web.state import AppState

log = logging.getLogger(__name__)


def create_app(
    runtime: Runtime,
    *,
    alerts: AlertSender | None = None,
    gateway: Gateway | None = None,
    catalogue: Catalogue | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The app. Without ``alerts`` it builds its own sender (on ``gateway``, default: the
    configured one) and runs it for the app's lifetime; a given sender belongs to the caller."""
    settings = runtime.settings
    check_replies_reach_a_person(settings)
    runtime.lexicon  # noqa: B018 - replies are read here: a lexicon mistake stops the start
    own_alerts = alerts is None
    if alerts is None:
        alerts = runtime.alert_sender(gateway)
    token = settings.twilio_auth_token
    if not token:
        log.warning("TWILIO_AUTH_TOKEN is not set: every webhook request will be refused (403)")
    elif not settings.public_url and not settings.dev_mode:
        # the URL this server sees comes from the Host and X-Forwarded-* headers, which a
        # caller chooses: a signature made for another URL would pass
        log.warning(
            "FOLLOWUP_PUBLIC_URL is not set: every webhook request will be refused (403); "
            "set it to the URL Twilio calls (FOLLOWUP_DEV_MODE=1 for a local tunnel)"
        )
        token = None
    elif not settings.public_url:
        log.warning(
            "FOLLOWUP_DEV_MODE: signatures are checked against the URL this server sees; "
            "never run it like this in production"
        )
    state = AppState(
        engine=runtime.engine,
        catalogue=catalogue or runtime.catalogue,
        validator=RequestValidator(token) if token else None,
        public_url=settings.public_url,
        senders=senders_of(settings),
        alerts=alerts,
        db_concurrency=1 if runtime.engine.dialect.name == "sqlite" else 4,
        account_sid=settings.twilio_account_sid,
        spool_dir=settings.spool_dir,
        db_timeout=settings.webhook_db_timeout,
        drain_interval=settings.tick_seconds,
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Everything loaded so far (SQLAlchemy, the SDK, templates) lives as long as the
        # process: keep it out of the garbage collector's scans, which otherwise walk it
        # again and again while requests wait (a tail-latency cost, not a throughput one).
        gc.collect()
        gc.freeze()
        if own_alerts:
            alerts.start()
            alerts.kick()  # alerts left pending by an earlier process go out now
        draining = asyncio.create_task(twilio_hooks.drain_spool_forever(state))
        try:
            yield
        finally:
            draining.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await draining
            state.close()
            if own_alerts:
                alerts.close()

    now = clock or twilio_hooks.utc_now
    app = FastAPI(
        title="followup clinic API",
        version="1",
        summary="Sessions, patients, texts, replies and flags of one clinic, and FHIR R4 intake",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.followup = state
    app.state.clock = now
    # /healthz, /readyz, /metrics: for probes and Prometheus, no login, no patient's data
    app.router.routes.extend(ops_routes.routes(state, now))
    # the Twilio webhooks keep their plain Starlette routes: their contract is Twilio's
    app.router.routes.extend(twilio_hooks.routes(state, now))
    for router in ROUTERS:
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.mount("/docs-static", StaticFiles(directory=_swagger_static()), name="docs-static")

    async def docs(_request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json", title="followup clinic API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon-32x32.png",
        )  # fmt: skip

    app.add_route("/docs", docs, include_in_schema=False)
    api_errors.install(app)
    app.add_middleware(NulGuard)
    app.add_middleware(SecurityHeaders)
    return app


API_DESCRIPTION = """\
Every route under `/api/v1/clinics/{slug}` is scoped to one clinic. Authenticate with the
clinic's API key (`followup keys create --clinic SLUG`) as `Authorization: Bearer fu_...`, or
with a staff login cookie plus the `X-CSRF-Token` header for changes. A clinic that is not
the caller's answers 404, as an unknown one does. Bad input answers 422 with the field and
the reason, and nothing is written. FHIR R4 intake is at `POST /fhir/Encounter` and
`POST /fhir` (a transaction or batch Bundle).
"""


def _swagger_static() -> str:
    """Swagger UI's files, from the swagger-ui-py package: the docs page loads nothing from
    a CDN."""
    import swagger_ui

    return str(Path(swagger_ui.__file__).with_name("static"))
