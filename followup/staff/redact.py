"""Apprise URLs hold tokens: what of them may be shown in logs, ``last_error`` and listings.

Shared by the alert sender (its errors and logs) and the staff listings (``followup
alerts``), so a URL is shown the same way everywhere, and never whole.
"""

from __future__ import annotations

import re

#: the scheme of a URL (``slack`` of ``slack://...``), as Apprise reads it
SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_HOSTNAME = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|localhost)(:\d+)?$")


def redact(url: str) -> str:
    """``url`` safe for logs and ``last_error``: scheme and host only (``json://hooks.example/…``).

    Apprise URLs carry their secrets in the user part, the path, the query, and for many
    services in the "host" itself (``slack://TOKEN_A/TOKEN_B/TOKEN_C``,
    ``tgram://BOT_TOKEN/CHAT``). So the host is shown only when it looks like a network host
    (a dotted name, an IP address, localhost); otherwise ``slack://…``.
    """
    match = SCHEME.match(url.strip())
    if not match:
        return "(not a URL)"
    scheme = match.group(1).lower()
    rest = url.strip()[match.end() :]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = authority.rsplit("@", 1)[-1]
    if _HOSTNAME.match(host):
        return f"{scheme}://{host}/…"
    return f"{scheme}://…"


def _secrets_of(url: str) -> list[str]:
    """The pieces of an Apprise URL that may be tokens, longest first, for scrubbing them
    out of error text (a plugin's message may quote its URL)."""
    pieces = {url, url.strip()}
    for piece in re.split(r"[/?#&=:@,;]+", url.strip()):
        if len(piece) >= 4:
            pieces.add(piece)
    return sorted(pieces, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` with every token-like piece of ``url`` replaced by "…", except the host that
    :func:`redact` shows anyway. Whole pieces only, so a path word such as "notify" does not
    mangle "notification"."""
    shown = redact(url)
    keep = {shown, *re.split(r"[/:]+", shown)}
    for secret in _secrets_of(url):
        if secret not in keep:
            text = re.sub(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", "…", text)
    return text
