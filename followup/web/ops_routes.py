"""The operations routes: ``/healthz`` (the process serves), ``/readyz`` (database,
migrations, spool: :mod:`followup.ops.health`) and ``/metrics`` (Prometheus:
:mod:`followup.ops.exposition`).

Plain Starlette routes outside the clinic API's OpenAPI document, without a login: they
show no patient's data, only counts, ages and check names. ``/metrics`` is meant for the
monitoring network; keep it off the public internet at the proxy if counts of texts and
flags per clinic should not be public.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from followup.ops import exposition, health
from followup.ops.figures import DatabaseFigures, ReadinessFigures
from followup.web.state import AppState


def routes(state: AppState, clock: Callable[[], datetime]) -> list[Route]:
    figures = DatabaseFigures(state.engine, clock)
    ready = ReadinessFigures(state.engine, state.spool)

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok\n")

    async def readyz(_request: Request) -> Response:
        checks = await asyncio.to_thread(health.readiness, state.engine, state.spool)
        ready = all(c.ok for c in checks)
        body = {
            "ready": ready,
            "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks},
            "failed": [c.name for c in checks if not c.ok],
        }
        return JSONResponse(body, status_code=200 if ready else 503)

    async def metrics(_request: Request) -> Response:
        text = await asyncio.to_thread(exposition.render, figures, ready)
        return Response(text, media_type=exposition.CONTENT_TYPE)

    return [
        Route("/healthz", healthz, methods=["GET"], include_in_schema=False),
        Route("/readyz", readyz, methods=["GET"], include_in_schema=False),
        Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
    ]
