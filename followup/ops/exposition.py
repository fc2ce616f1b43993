"""The text ``/metrics`` answers with: this process's events (or, in multiprocess mode,
every process's, added up from ``PROMETHEUS_MULTIPROC_DIR``) and the database's gauges.

Multiprocess mode is prometheus_client's own: set ``PROMETHEUS_MULTIPROC_DIR`` to an empty
directory shared by the web and worker processes before they start (and empty it when
they are all restarted). Each process then writes its counters and histograms to files
there, and any web process's ``/metrics`` reads them all. Without it, ``/metrics`` shows the
events of the process that answers (``followup run`` is worker and web in one).
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from followup.ops import events  # noqa: F401 - the event metrics exist before any scrape

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def multiprocess_dir() -> str | None:
    """The directory of multiprocess mode, when it is on (prometheus_client reads the same
    variable when it is first imported)."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def render(*database: Collector) -> bytes:
    """The exposition text: the events, then the gauges of ``database``'s collectors."""
    directory = multiprocess_dir()
    if directory:
        processes = CollectorRegistry()
        MultiProcessCollector(processes, path=directory)
        text = generate_latest(processes)
    else:
        text = generate_latest(REGISTRY)
    figures = CollectorRegistry(auto_describe=False)
    for collector in database:
        figures.register(collector)
    return text + generate_latest(figures)
