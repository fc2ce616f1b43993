"""Serving the web app on uvicorn: ``followup web`` alone, ``followup run`` beside the worker."""

from __future__ import annotations

import logging

from followup.runtime import Runtime
from followup.staff.alerts import AlertSender
from followup.texts.catalogue import Catalogue
from followup.web.app import create_app

log = logging.getLogger(__name__)


def serve_app(
    runtime: Runtime,
    host: str,
    port: int,
    *,
    alerts: AlertSender | None = None,
    catalogue: Catalogue | None = None,
) -> None:
    """Run the web app on uvicorn in this thread until a signal stops it. Without ``alerts``
    the app runs an alert sender of its own; without ``catalogue`` it uses the runtime's."""
    import uvicorn

    app = create_app(runtime, alerts=alerts, catalogue=catalogue)
    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, server_header=False
    )
    log.info("web app on http://%s:%s (webhooks at /twilio/inbound, /twilio/status)", host, port)
    uvicorn.Server(config).run()
