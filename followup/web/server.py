"""Serving the web app on uvicorn: ``followup web`` alone, ``followup run`` beside the worker.

Behind a reverse proxy every request comes from the proxy's address. The login throttle
counts failures per client address, so without help one attacker would lock every member
of staff out. uvicorn's own proxy-headers middleware takes the client address (the
right-most X-Forwarded-For entry that is not a trusted proxy) and the scheme from the
proxy's headers, but only from the peers in FOLLOWUP_TRUSTED_PROXIES; with none (the
default, unlike uvicorn's, which trusts 127.0.0.1) those headers are ignored, since any
caller could write them.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from followup.runtime import Runtime
from followup.staff.alerts import AlertSender
from followup.texts.catalogue import Catalogue
from followup.web.app import create_app

if TYPE_CHECKING:
    import uvicorn

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
    config = server_config(app, host, port, trusted_proxies=runtime.settings.trusted_proxies)
    log.info("web app on http://%s:%s (webhooks at /twilio/inbound, /twilio/status)", host, port)
    uvicorn.Server(config).run()


def server_config(
    app: object, host: str, port: int, *, trusted_proxies: tuple[str, ...]
) -> uvicorn.Config:
    """uvicorn's settings for ``app``: quiet, no server header, and X-Forwarded-* believed
    from ``trusted_proxies`` alone (none: never)."""
    import uvicorn

    return uvicorn.Config(
        app, host=host, port=port, log_level="warning", access_log=False, server_header=False,
        proxy_headers=bool(trusted_proxies), forwarded_allow_ips=list(trusted_proxies),
    )  # fmt: skip
