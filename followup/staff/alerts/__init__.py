"""Staff alerts: a flag that needs staff now reaches the on-call phone and the clinic's chat.

Why alerts are a table (``staff_alerts``, an outbox for staff) and not a call made by the
webhook:

- The webhook that raises a flag never waits on Slack, email or SMS. It commits the flag and
  one ``pending`` row per destination in the same transaction (:func:`queue_alerts`), answers
  Twilio at once, and wakes the sender (:meth:`AlertSender.kick`).
- A failure is retried with backoff and stays visible: ``attempts`` and ``last_error`` are on
  the row for the dashboard and ``followup alerts``, and an alert that ran out of attempts is
  ``failed``, never silently dropped.
- Restarts lose nothing: a row committed with the flag is sent by whichever process looks
  next (the web app's sender thread or the worker's tick). Claims carry a lease, like the
  outbox's, so two processes never deliver the same alert, and an alert whose sender died
  mid-delivery is taken over when its lease runs out.

The parts, one job each:

- :mod:`~followup.staff.alerts.wording`: what an alert says (pure);
- :mod:`~followup.staff.alerts.queueing`: which flags page staff, and where;
- :mod:`~followup.staff.alerts.channels`: the on-call text and Apprise notifications;
- :mod:`~followup.staff.alerts.sender`: claim, deliver, record, retry; the sender thread;
- :mod:`followup.store.alerts`: the table's SQL; :mod:`followup.staff.redact`: what of an
  Apprise URL may be shown.

Privacy: an alert says which clinic, what kind of flag, the patient's first name and a
dashboard link; never the patient's words, symptoms, score or phone number (staff open the
dashboard for those). Apprise URLs hold tokens: errors and logs show them redacted
(:func:`redact`).

What remains: a sender killed after the gateway or Apprise accepted an alert but before the
row was written sends that alert again when its lease runs out. A duplicate page is better
than a missed one.
"""

from followup.staff.alerts.channels import MAX_ERROR, with_timeouts
from followup.staff.alerts.queueing import destinations, queue_alerts, queue_fallback_alert
from followup.staff.alerts.sender import POLL_INTERVAL, AlertReport, AlertSender
from followup.staff.alerts.wording import (
    ALERTED_KINDS,
    FIT_CLINIC_NAME,
    FIT_FIRST_NAME,
    HELD_BACK,
    NO_ANSWER,
    PAGED_REVIEWS,
    alert_text,
    flag_link,
    paged_review,
)
from followup.staff.redact import redact

__all__ = [
    "ALERTED_KINDS",
    "FIT_CLINIC_NAME",
    "FIT_FIRST_NAME",
    "HELD_BACK",
    "MAX_ERROR",
    "NO_ANSWER",
    "PAGED_REVIEWS",
    "POLL_INTERVAL",
    "AlertReport",
    "AlertSender",
    "alert_text",
    "destinations",
    "flag_link",
    "paged_review",
    "queue_alerts",
    "queue_fallback_alert",
    "redact",
    "with_timeouts",
]
