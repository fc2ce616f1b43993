"""Gauges read from the database at scrape time: what the outbox, the flags and the staff
alerts hold now (:func:`followup.store.ops_figures.read_figures`).

A custom collector, not gauges set by the processes: every process reads the same rows, so
the figures are multiprocess-safe by construction and right after any restart. The read is
bounded in time (:func:`followup.store.engine.bounded_transaction`); when the database does
not answer, the scrape still answers, with ``followup_database_up 0`` and none of the
database's figures, so an alert on that gauge (or on the scrape) fires rather than a 500.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine

from followup.ops.health import readiness
from followup.spool import Spool
from followup.store.engine import bounded_transaction
from followup.store.ops_figures import OpsFigures, read_figures

log = logging.getLogger(__name__)

#: how long a scrape waits for the database, seconds (Prometheus's own timeout is 10 s)
SCRAPE_DB_SECONDS = 3.0


def _gauge(name: str, doc: str, labels: list[str], values: dict[tuple[str, ...], int]):
    family = GaugeMetricFamily(name, doc, labels=labels)
    for key, n in sorted(values.items()):
        family.add_metric(list(key), n)
    return family


class DatabaseFigures(Collector):
    """The database's gauges, read once per scrape."""

    def __init__(
        self, engine: Engine, now: Callable[[], datetime], seconds: float = SCRAPE_DB_SECONDS
    ) -> None:
        self.engine = engine
        self.now = now
        self.seconds = seconds

    def read(self) -> OpsFigures | None:
        try:
            with bounded_transaction(self.engine, self.seconds) as conn:
                return read_figures(conn, self.now())
        except Exception as exc:  # the scrape answers whatever the database does
            log.warning("metrics: the database did not answer (%s)", type(exc).__name__)
            return None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        figures = self.read()
        yield GaugeMetricFamily(
            "followup_database_up",
            "1 when this scrape could read the database's figures, 0 when it could not",
            value=0 if figures is None else 1,
        )
        if figures is None:
            return
        single = (
            ("followup_outbox_scheduled",
             "Texts scheduled and not yet claimed, due or not (the outbox's depth)",
             figures.scheduled),
            ("followup_oldest_due_text_age_seconds",
             "Seconds the oldest scheduled text has waited past its send_at (0: none due)",
             figures.oldest_due_seconds or 0),
            ("followup_oldest_open_emergency_flag_age_seconds",
             "Seconds the oldest unacknowledged emergency flag has waited (0: none open)",
             figures.oldest_emergency_seconds or 0),
        )  # fmt: skip
        for name, doc, value in single:
            yield GaugeMetricFamily(name, doc, value=value)
        yield _gauge("followup_texts", "Texts in the outbox, by clinic and status",
                     ["clinic", "status"], figures.texts)  # fmt: skip
        yield _gauge("followup_open_flags", "Flags open (not yet acknowledged), by clinic and kind",
                     ["clinic", "kind"], figures.open_flags)  # fmt: skip
        yield _gauge("followup_staff_alerts", "Staff alerts by status and channel",
                     ["status", "channel"], figures.alerts)  # fmt: skip


class ReadinessFigures(Collector):
    """``/readyz``'s checks as a gauge, so Prometheus can alert on readiness without a
    probe of its own: ``followup_ready{check="database|migrations|spool"}``, 1 or 0."""

    def __init__(self, engine: Engine, spool: Spool) -> None:
        self.engine = engine
        self.spool = spool

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "followup_ready",
            "1 when a readiness check passes (database, migrations at head, spool drained)",
            labels=["check"],
        )
        for check in readiness(self.engine, self.spool):
            family.add_metric([check.name], 1 if check.ok else 0)
        yield family
