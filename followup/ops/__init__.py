"""Operations: the health checks and the Prometheus metrics of every process.

- :mod:`~followup.ops.events`: counters and histograms of what happens in a process (sends,
  webhooks, alert deliveries), multiprocess-safe under ``PROMETHEUS_MULTIPROC_DIR``;
- :mod:`~followup.ops.figures`: gauges read from the database at scrape time;
- :mod:`~followup.ops.exposition`: the text ``/metrics`` answers with;
- :mod:`~followup.ops.health`: what ``/readyz`` checks.
"""
