"""What a running command needs: validated settings, an engine and a session factory.

Built lazily by the CLI (so ``followup segments`` needs no database) and directly by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from followup.config import Settings, load_settings
from followup.db import make_engine, make_sessionmaker


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

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
