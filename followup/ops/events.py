"""Counters and histograms of events in this process: a text recorded sent (and how late
after its ``send_at``), a Twilio webhook handled (and how long it took), a staff alert's
delivery outcome.

prometheus_client keeps them in memory, or, when ``PROMETHEUS_MULTIPROC_DIR`` is set before
the process starts, in files in that directory that every process writes and the web app's
``/metrics`` adds up (:mod:`followup.ops.exposition`): so the worker's sends show on the
web's scrape. Labels are small fixed sets (a webhook, an HTTP status, a channel, an outcome):
never a phone number, a body or a row id.

Only ``prometheus_client`` is imported here, so the outbound and staff code can count
without knowing the database figures or the web.
"""

from __future__ import annotations

from datetime import datetime

from prometheus_client import Counter, Histogram

#: seconds from a text's ``send_at`` to the provider accepting it: a morning backlog shows
#: as minutes, a stalled dispatcher as hours
SEND_LATENCY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 3 * 3600, 12 * 3600)
#: Twilio waits 15 s for a webhook's answer
WEBHOOK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15)

SEND_LATENCY = Histogram(
    "followup_send_latency_seconds",
    "Seconds from a text's send_at to the provider accepting it, observed when it is recorded sent",
    buckets=SEND_LATENCY_BUCKETS,
)
TEXTS_SENT = Counter("followup_texts_sent", "Texts recorded sent by this process's dispatcher")
WEBHOOK_LATENCY = Histogram(
    "followup_webhook_duration_seconds",
    "Seconds a Twilio webhook took to answer, by webhook and HTTP status",
    ["hook", "code"],
    buckets=WEBHOOK_BUCKETS,
)
ALERT_DELIVERIES = Counter(
    "followup_alert_deliveries",
    "Staff alert delivery attempts recorded, by channel and outcome (sent, retried, failed)",
    ["channel", "outcome"],
)


def text_sent(send_at: datetime | None, sent_at: datetime) -> None:
    """Count a text recorded sent, and how late it went after its ``send_at``."""
    TEXTS_SENT.inc()
    if send_at is not None:
        SEND_LATENCY.observe(max(0.0, (sent_at - send_at).total_seconds()))


def webhook_answered(hook: str, code: int, seconds: float) -> None:
    WEBHOOK_LATENCY.labels(hook=hook, code=str(code)).observe(seconds)


def alert_delivery(channel: str, outcome: str) -> None:
    ALERT_DELIVERIES.labels(channel=channel, outcome=outcome).inc()
