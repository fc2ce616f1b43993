"""Refuse a request whose path or query holds a NUL character (``%00``), before any route
reads it. PostgreSQL text cannot hold NUL, so such a value would fail the query with a 500
instead of the 404 or 422 every other impossible id or filter gets; and no path or filter of
ours ever needs one. Bodies are checked where they are read (forms in ``deps``, JSON by the
API's input models, webhook fields by ``webhook_fields``)."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send


class NulGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b"")
        ):
            body = json.dumps({"detail": "a NUL character is not allowed in a path or query"})
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json")]})  # fmt: skip
            await send({"type": "http.response.body", "body": body.encode()})
            return
        await self.app(scope, receive, send)
