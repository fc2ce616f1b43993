"""The composition root: the one place that turns settings into a running process's parts.

Settings, engine, session factory, template catalogue, reply lexicon, SMS gateway,
staff-alert sender and this process's worker id are built here, lazily (so ``followup
segments`` needs no database), and nowhere else. The worker and the web app both take a
:class:`Runtime` and never import each other; the CLI builds one per command, tests build
one per database.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.config import ConfigError, Settings, load_settings
from followup.gateways.base import Gateway
from followup.inbound.reading import Lexicon
from followup.inbound.reading import default as default_lexicon
from followup.staff.alerts import AlertSender
from followup.store.engine import make_engine, make_sessionmaker
from followup.texts.catalogue import Catalogue


def worker_id() -> str:
    """Who claims texts and alerts in the database: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def build_gateway(settings: Settings) -> Gateway:
    """The gateway chosen by FOLLOWUP_SMS_BACKEND (credentials were validated at start)."""
    if settings.sms_backend == "console":
        from followup.gateways.console import ConsoleGateway

        return ConsoleGateway()
    if settings.sms_backend == "twilio":
        from followup.gateways.twilio import STATUS_CALLBACK_PATH, TwilioGateway

        if not (settings.twilio_account_sid and settings.twilio_auth_token):
            raise ConfigError(
                "FOLLOWUP_SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            )
        return TwilioGateway(
            settings.twilio_account_sid,
            settings.twilio_auth_token,
            status_callback=(
                settings.public_url + STATUS_CALLBACK_PATH if settings.public_url else None
            ),
            timeout=settings.twilio_timeout,
            pool_size=settings.send_concurrency,
            api_url=settings.twilio_api_url,
        )
    raise ConfigError(f"FOLLOWUP_SMS_BACKEND={settings.sms_backend}: unknown backend")


@dataclass
class Runtime:
    settings: Settings

    @classmethod
    def from_env(cls) -> Runtime:
        return cls(load_settings())

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def catalogue(self) -> Catalogue:
        """Every template of messages/, loaded (and so validated) once per process."""
        return Catalogue.load(self.settings.messages_dir)

    @cached_property
    def lexicon(self) -> Lexicon:
        """The reply reader's words (inbound/reading/lexicon/*.toml), loaded and checked once
        per process: a mistake in a file stops the process at start, naming file and entry,
        instead of at the first patient's reply."""
        return default_lexicon()

    @cached_property
    def gateway(self) -> Gateway:
        return build_gateway(self.settings)

    @cached_property
    def worker_id(self) -> str:
        return worker_id()

    def alert_sender(self, gateway: Gateway | None = None) -> AlertSender:
        """A new staff-alert sender; alerts go out through the same gateway as patients'
        texts (the configured one unless ``gateway`` is given). Its caller starts and
        closes it."""
        s = self.settings
        return AlertSender(
            self.sessions,
            gateway or self.gateway,
            public_url=s.public_url,
            default_from=s.twilio_from_number,
            default_service_sid=s.twilio_messaging_service_sid,
            worker=self.worker_id,
        )

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
