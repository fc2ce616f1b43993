"""The two ways an alert reaches staff: a text to the on-call phone through the SMS
gateway, and an Apprise notification (email, Slack, Teams, webhooks). No database here.

Each delivery is bounded in time (the gateway's timeout; Apprise's socket timeouts and the
call's deadline) and ends in an :class:`Outcome`: delivered, or an error short enough for a
table cell, marked permanent when retrying cannot help. An Apprise URL holds tokens: no
error text leaves here with one in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import apprise

from followup.gateways.base import Gateway, OutgoingSms
from followup.staff.redact import SCHEME, redact, scrub

#: longest error text kept on a row: enough to act on, short enough for a table cell
MAX_ERROR = 300


@dataclass(frozen=True)
class Outcome:
    """How one delivery went."""

    ok: bool
    error: str | None = None
    permanent: bool = False
    provider_sid: str | None = None


def short(text: str) -> str:
    """``text`` on one line and at most :data:`MAX_ERROR` characters."""
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[: MAX_ERROR - 1] + "…"


def send_sms(
    gateway: Gateway,
    to: str,
    body: str,
    *,
    from_number: str | None,
    messaging_service_sid: str | None,
) -> Outcome:
    """Text ``body`` to the on-call phone ``to`` from the sender
    :func:`~followup.gateways.policy.sender_for` chose (the same rule as patients' texts)."""
    result = gateway.send(
        OutgoingSms(
            to=to, body=body, from_number=from_number, messaging_service_sid=messaging_service_sid
        )
    )
    if result.error is None:
        return Outcome(True, provider_sid=result.provider_sid)
    error = result.error
    return Outcome(False, short(f"{error.code}: {error.message}"), error.permanent)


def notify(url: str, title: str, body: str, timeout: float) -> Outcome:
    """Send ``title`` and ``body`` to the Apprise URL ``url`` within ``timeout`` seconds."""
    shown = redact(url)
    match = SCHEME.match(url)
    scheme = match.group(1).lower() if match else "no scheme"
    # memory only: whatever Apprise's defaults, no cache files of its own on the host
    ap = apprise.Apprise(asset=apprise.AppriseAsset(storage_mode="memory"))
    if not ap.add(with_timeouts(url, timeout)):
        return Outcome(False, f"invalid Apprise URL ({scheme})", permanent=True)
    # bounded twice: the plugin's own socket timeouts (cto/rto in the URL) and the call's
    # deadline, for plugins whose requests ignore them
    result = ap.notify(
        body=body,
        title=title,
        notify_type=apprise.NotifyType.WARNING,
        timeout=timeout,
    )
    try:
        if result:
            return Outcome(True)
        if result.status == apprise.AppriseResultStatus.TIMEOUT:
            detail = f"no answer within {timeout:g} s"
        else:
            # Apprise 2 hands each call its own log lines (thread-safe, unlike a
            # LogCapture on the shared "apprise" logger)
            lines = [
                entry.message
                for entry in result.logs()
                if entry.level in ("WARNING", "ERROR", "CRITICAL")
            ]
            detail = " ".join(dict.fromkeys(lines)) or f"failed ({result.status.name})"
        return Outcome(False, short(f"{shown}: {scrub(detail, url)}"))
    finally:
        result.close()


def with_timeouts(url: str, seconds: float) -> str:
    """``url`` with Apprise's generic socket timeouts (``cto`` connect, ``rto`` read) set to
    ``seconds`` unless the URL sets its own. Apprise's default read timeout is 4 s, but not
    every plugin keeps it; stating it makes each request bounded by our setting."""
    query = url.split("?", 1)[1] if "?" in url else ""
    keys = {part.split("=", 1)[0].lower() for part in query.split("&") if part}
    extra = [f"{key}={seconds:g}" for key in ("cto", "rto") if key not in keys]
    if not extra:
        return url
    sep = "" if url.endswith(("?", "&")) else ("&" if "?" in url else "?")
    return url + sep + "&".join(extra)
