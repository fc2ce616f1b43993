"""Settings from the environment, read and validated once at start.

Why one object: every command and the long-running worker see the same, already-checked
values, and a mistake (a Twilio backend without credentials, a malformed URL) stops the
process at start with a message that names the variable, never at the first send.
Twilio's own variable names are used where they exist; ours start with ``FOLLOWUP_``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATABASE_URL = "sqlite:///followup.db"
SMS_BACKENDS = ("console", "twilio")

_ACCOUNT_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_SERVICE_SID = re.compile(r"^MG[0-9a-fA-F]{32}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the variable and what is expected."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    sms_backend: str = "console"
    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_from_number: str | None = None
    twilio_messaging_service_sid: str | None = None
    public_url: str | None = None
    #: FOLLOWUP_DEV_MODE=1: webhooks without FOLLOWUP_PUBLIC_URL check signatures against the
    #: URL this server sees (a local tunnel); never in production
    dev_mode: bool = False
    messages_dir: Path = Path(__file__).resolve().parent.parent / "messages"
    tick_seconds: float = 5.0
    #: texts claimed per transaction; smaller batches share the outbox more evenly between
    #: workers, larger ones cost fewer transactions
    worker_batch: int = 100
    #: how long a claimed text belongs to its worker; after that any worker may recover it
    lease_seconds: float = 300.0
    send_concurrency: int = 8
    #: messages a second per sender (number or messaging service); None: no limit of ours
    sender_rate: float | None = None
    max_attempts: int = 5
    #: first retry delay, seconds; doubles per attempt (with jitter), capped at an hour
    retry_base_seconds: float = 30.0
    #: Twilio request timeout (connect and read), seconds
    twilio_timeout: float = 10.0
    #: tests and local mocks only: send the SDK's requests to this base URL instead of Twilio
    twilio_api_url: str | None = None
    #: the emergency number told to a sender no clinic is known for, when the sender's own
    #: number does not say its country (:func:`followup.phones.emergency_number_of`)
    emergency_number: str = "112"
    #: a phone that hears of an urgent reply no clinic can be given (a number no clinic
    #: behind the shared sender has on file); required with Twilio and a shared sender
    fallback_alert_to: str | None = None
    #: how long the webhook waits for the database (lock, connection, statement) before it
    #: keeps the reply in the spool and answers without it: well inside Twilio's 15 s
    webhook_db_timeout: float = 3.0
    #: where replies the database could not take wait, one file each (:mod:`followup.spool`)
    spool_dir: Path = Path("followup-spool")
    #: reverse proxies (IP addresses, CIDR networks) whose X-Forwarded-For and
    #: X-Forwarded-Proto are believed; from any other peer those headers are ignored
    trusted_proxies: tuple[str, ...] = ()

    @property
    def twilio_configured(self) -> bool:
        return bool(self.twilio_account_sid and self.twilio_auth_token)


def _positive(env: Mapping[str, str], name: str, default: float, kind: type = float):
    """``env[name]`` as a ``kind`` (float or int) greater than 0, or ``default`` when unset."""
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    what = "a whole number" if kind is int else "a number"
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected {what}") from None
    if value <= 0:
        raise ConfigError(f"{name}={raw!r}: expected {what} greater than 0")
    return value


def _flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value in ("", "0", "false", "no"):
        return False
    if value in ("1", "true", "yes"):
        return True
    raise ConfigError(f"{name}: expected 1 or 0, got {value!r}")


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read settings from ``env`` (default: the process environment) and validate them."""
    env = os.environ if env is None else env
    get = lambda name: (env.get(name) or "").strip() or None  # noqa: E731

    database_url = get("FOLLOWUP_DATABASE_URL") or DEFAULT_DATABASE_URL
    if not re.match(r"^(sqlite|postgresql)(\+\w+)?://", database_url):
        raise ConfigError(
            "FOLLOWUP_DATABASE_URL: expected a sqlite:/// or postgresql:// URL, "
            f"got {database_url.split('://')[0]!r}"
        )
    if database_url.startswith("postgresql://"):
        # psycopg 3 is the driver we ship; SQLAlchemy's bare postgresql:// means psycopg2.
        database_url = "postgresql+psycopg://" + database_url[len("postgresql://") :]

    sid, token = get("TWILIO_ACCOUNT_SID"), get("TWILIO_AUTH_TOKEN")
    from_number, service_sid = get("TWILIO_FROM_NUMBER"), get("TWILIO_MESSAGING_SERVICE_SID")
    if sid and not _ACCOUNT_SID.match(sid):
        raise ConfigError("TWILIO_ACCOUNT_SID: expected 'AC' followed by 32 hex digits")
    if from_number and not _E164.match(from_number):
        raise ConfigError("TWILIO_FROM_NUMBER: expected an E.164 number such as +15555550100")
    if service_sid and not _SERVICE_SID.match(service_sid):
        raise ConfigError("TWILIO_MESSAGING_SERVICE_SID: expected 'MG' followed by 32 hex digits")

    backend = (get("FOLLOWUP_SMS_BACKEND") or ("twilio" if sid and token else "console")).lower()
    if backend not in SMS_BACKENDS:
        raise ConfigError(f"FOLLOWUP_SMS_BACKEND={backend!r}: expected one of {SMS_BACKENDS}")
    if backend == "twilio":
        missing = [
            n for n, v in (("TWILIO_ACCOUNT_SID", sid), ("TWILIO_AUTH_TOKEN", token)) if not v
        ]
        if missing:
            raise ConfigError(
                f"FOLLOWUP_SMS_BACKEND=twilio needs {' and '.join(missing)}; "
                "unset FOLLOWUP_SMS_BACKEND to print messages on the console instead"
            )

    public_url = get("FOLLOWUP_PUBLIC_URL")
    if public_url:
        if not re.match(r"^https?://[^/\s]+", public_url):
            raise ConfigError("FOLLOWUP_PUBLIC_URL: expected an http(s):// URL")
        public_url = public_url.rstrip("/")

    api_url = get("FOLLOWUP_TWILIO_API_URL")
    if api_url:
        if not re.match(r"^https?://[^/\s]+/?$", api_url):
            raise ConfigError(
                "FOLLOWUP_TWILIO_API_URL: expected a scheme and host such as http://127.0.0.1:4010"
            )
        api_url = api_url.rstrip("/")

    timeout = _positive(env, "FOLLOWUP_TWILIO_TIMEOUT", Settings.twilio_timeout)
    lease = _positive(env, "FOLLOWUP_LEASE_SECONDS", Settings.lease_seconds)
    if lease < 2 * timeout:
        # A live worker's send must end (answer or timeout) long before another worker may
        # take the text over; otherwise both could send it.
        raise ConfigError(
            f"FOLLOWUP_LEASE_SECONDS={lease:g} must be at least twice "
            f"FOLLOWUP_TWILIO_TIMEOUT={timeout:g}"
        )
    sender_rate = (
        _positive(env, "FOLLOWUP_SENDER_RATE", 1.0) if get("FOLLOWUP_SENDER_RATE") else None
    )

    messages_dir = Path(get("FOLLOWUP_MESSAGES_DIR") or Settings.messages_dir)
    if not messages_dir.is_dir():
        raise ConfigError(f"FOLLOWUP_MESSAGES_DIR={str(messages_dir)!r}: not a directory")

    emergency = get("FOLLOWUP_EMERGENCY_NUMBER") or Settings.emergency_number
    if not re.match(r"^\d{2,6}$", emergency):
        raise ConfigError(
            f"FOLLOWUP_EMERGENCY_NUMBER={emergency!r}: expected 2 to 6 digits, such as 112 or 911"
        )

    fallback = get("FOLLOWUP_FALLBACK_ALERT_TO")
    if fallback and not _E164.match(fallback):
        raise ConfigError(
            "FOLLOWUP_FALLBACK_ALERT_TO: expected an E.164 number such as +15555550100"
        )
    spool_dir = Path(get("FOLLOWUP_SPOOL_DIR") or Settings.spool_dir)

    return Settings(
        database_url=database_url,
        sms_backend=backend,
        twilio_account_sid=sid,
        twilio_auth_token=token,
        twilio_from_number=from_number,
        twilio_messaging_service_sid=service_sid,
        public_url=public_url,
        dev_mode=_flag(env, "FOLLOWUP_DEV_MODE"),
        messages_dir=messages_dir,
        tick_seconds=_positive(env, "FOLLOWUP_TICK_SECONDS", Settings.tick_seconds),
        lease_seconds=lease,
        send_concurrency=_positive(
            env, "FOLLOWUP_SEND_CONCURRENCY", Settings.send_concurrency, int
        ),
        sender_rate=sender_rate,
        max_attempts=_positive(env, "FOLLOWUP_MAX_ATTEMPTS", Settings.max_attempts, int),
        worker_batch=_positive(env, "FOLLOWUP_BATCH_SIZE", Settings.worker_batch, int),
        retry_base_seconds=_positive(
            env, "FOLLOWUP_RETRY_BASE_SECONDS", Settings.retry_base_seconds
        ),
        twilio_timeout=timeout,
        twilio_api_url=api_url,
        emergency_number=emergency,
        fallback_alert_to=fallback,
        webhook_db_timeout=_positive(
            env, "FOLLOWUP_WEBHOOK_DB_TIMEOUT", Settings.webhook_db_timeout
        ),
        spool_dir=spool_dir,
        trusted_proxies=_networks(get("FOLLOWUP_TRUSTED_PROXIES") or ""),
    )


def _networks(raw: str) -> tuple[str, ...]:
    """FOLLOWUP_TRUSTED_PROXIES as normalised addresses and networks. Each must parse: a
    typo would otherwise be matched as a literal name no peer has, and the proxy's own
    address would throttle every login behind it. ``*`` is refused: it would let any
    caller choose the address the login throttle counts."""
    found = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)) if "/" in item
                         else str(ipaddress.ip_address(item)))  # fmt: skip
        except ValueError:
            raise ConfigError(
                f"FOLLOWUP_TRUSTED_PROXIES: {item!r} is not an IP address or a CIDR network "
                "such as 10.0.0.0/8"
            ) from None
    return tuple(found)


def check_replies_reach_a_person(settings: Settings) -> None:
    """Refuse to serve webhooks on Twilio with a shared sender and nobody to hear of an
    urgent reply from a number none of its clinics knows (FOLLOWUP_FALLBACK_ALERT_TO).

    Checked where replies are received (``followup web``, ``followup run``), not by every
    command: sending texts needs no such phone."""
    shared = settings.twilio_from_number or settings.twilio_messaging_service_sid
    if settings.sms_backend == "twilio" and shared and not settings.fallback_alert_to:
        name = (
            "TWILIO_FROM_NUMBER"
            if settings.twilio_from_number
            else ("TWILIO_MESSAGING_SERVICE_SID")
        )
        raise ConfigError(
            f"{name} is a sender several clinics may share: set FOLLOWUP_FALLBACK_ALERT_TO "
            "to the phone that hears of an urgent reply from a number none of them knows"
        )
