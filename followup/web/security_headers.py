"""Headers every answer of the clinic side carries: no framing (clickjacking), no MIME
sniffing, no referrer leaving the site, no caching of pages that hold patients' data, and a
content security policy that runs only our own scripts: files under /static and inline
scripts that carry the request's nonce."""

from __future__ import annotations

import secrets

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: pages whose inline scripts we did not write (the API's Swagger UI): they get a looser
#: script policy, still with no script from elsewhere
_DOCS = ("/docs",)
#: files that hold no patient's data and may be cached
_STATIC = ("/static/", "/docs-static/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        nonce = secrets.token_urlsafe(16)
        scope.setdefault("state", {})["csp_nonce"] = nonce
        path: str = scope.get("path", "")
        script = "'self' 'unsafe-inline'" if path.startswith(_DOCS) else f"'self' 'nonce-{nonce}'"
        policy = (
            f"default-src 'self'; script-src {script}; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
        )
        extra = [
            (b"content-security-policy", policy.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
        ]
        # static files may be cached; anything else may hold patients' data, and our
        # no-store replaces whatever cache header the route set
        replaced = set() if path.startswith(_STATIC) else {b"cache-control"}
        if replaced:
            extra.append((b"cache-control", b"no-store"))

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() not in replaced]
                message["headers"] = kept + extra
            await send(message)

        await self.app(scope, receive, sending)
