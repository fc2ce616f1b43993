"""What every request handler needs, built once per app."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker
from twilio.request_validator import RequestValidator

from followup.inbound.receive import Senders
from followup.spool import Spool
from followup.staff.alerts import AlertSender
from followup.store.engine import make_sessionmaker
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
    #: where a reply waits when the database cannot take it in time (FOLLOWUP_SPOOL_DIR)
    spool_dir: Path = Path("followup-spool")
    #: how long a webhook waits for the database (FOLLOWUP_WEBHOOK_DB_TIMEOUT), seconds
    db_timeout: float = 3.0
    #: how often the app looks for spooled replies to file, seconds (FOLLOWUP_TICK_SECONDS)
    drain_interval: float = 5.0
    #: the threads that run database work, ``db_concurrency`` of them
    db_threads: ThreadPoolExecutor = field(init=False)
    spool: Spool = field(init=False)
    #: sessions of the clinic side's requests (the webhooks use their own threads)
    sessions: sessionmaker[Session] = field(init=False)
    #: set when the spool may hold replies the database can take now: wakes the drain
    drain_wanted: asyncio.Event = field(init=False)
    #: this process kept a reply in the spool since its last drain
    kept_since_drain: bool = False

    def __post_init__(self) -> None:
        self.db_threads = ThreadPoolExecutor(self.db_concurrency, thread_name_prefix="web-db")
        self.spool = Spool(self.spool_dir)
        self.sessions = make_sessionmaker(self.engine)
        self.drain_wanted = asyncio.Event()

    def close(self) -> None:
        self.db_threads.shutdown(wait=True)
