"""What every request handler needs, built once per app."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from sqlalchemy import Engine
from twilio.request_validator import RequestValidator

from followup.inbound.receive import Senders
from followup.staff.alerts import AlertSender
from followup.texts.catalogue import Catalogue


@dataclass
class AppState:
    engine: Engine
    catalogue: Catalogue
    #: None without TWILIO_AUTH_TOKEN: then no webhook request can be verified
    validator: RequestValidator | None
    public_url: str | None
    senders: Senders
    alerts: AlertSender | None
    #: how many requests may use the database at once (1 on SQLite: one writer)
    db_concurrency: int = 1
    #: our Twilio account: a signed webhook for another account is refused
    account_sid: str | None = None
    #: the threads that run database work, ``db_concurrency`` of them
    db_threads: ThreadPoolExecutor = field(init=False)

    def __post_init__(self) -> None:
        self.db_threads = ThreadPoolExecutor(self.db_concurrency, thread_name_prefix="web-db")

    def close(self) -> None:
        self.db_threads.shutdown(wait=True)
