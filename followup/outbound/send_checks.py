"""Whether a claimed text may still go out: checked when it is claimed, and again right
before the send (a STOP may have arrived a second ago), and whether it is inside its sending
hours now (:func:`window_wait`: a text that came due at night waits for the morning).

:func:`skip_reason` is the rule, on plain values; :class:`SendChecks` applies it to the row,
patient and session as they are at the last moment
(:class:`~followup.store.outbox.LastLookReader`).
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from followup.consent import OPTED_OUT, UNUSABLE
from followup.outbound.batch import Job
from followup.outbound.timing import SendWindow, next_allowed
from followup.store.outbox import LastLookReader
from followup.store.statuses import MessageStatus, SessionStatus

#: what :meth:`SendChecks.recheck` answers for a text that is no longer this worker's
GONE = "gone"
#: why a nudge does not go: the patient answered the check-in it follows
ANSWERED = "answered: the patient replied"


def window_wait(now: datetime, tz: ZoneInfo, window: SendWindow) -> datetime | None:
    """None while ``now`` is inside the text's sending hours; else the next allowed minute,
    when it waits for (a text due at 10:00 that a backlog reaches at 23:30 goes at 08:00)."""
    at = next_allowed(now, tz, window)
    return at if at > now else None


def waiting_reason(at: datetime, tz: ZoneInfo) -> str:
    """The row's reason while it waits for its sending hours (local time, as staff read it)."""
    return f"outside sending hours: waits until {at.astimezone(tz):%Y-%m-%d %H:%M %Z}"


def skip_reason(
    *,
    opted_out: bool,
    consent: bool,
    session_status: str,
    expires_at: datetime,
    now: datetime,
    phone_unusable: bool = False,
    answered: bool = False,
    staff: bool = False,
) -> str | None:
    """Why a claimed text must not go out now, or None. Checked at claim and right before the
    send; the reasons are the codes a re-plan reads ("opted out" may be revived by opting in).

    What the patient said and what the carrier said about the number hold for every text,
    a ``staff`` text too (:mod:`followup.store.outbox.staff_texts`). A staff text only hangs
    on the patient's latest session: that session being cancelled (a visit called off, a
    record withdrawn) says nothing about an answer staff wrote to the patient, so it does
    not skip it; its own window (``expires_at``, set when it was written) still does, and
    says so on the row."""
    if opted_out:
        return OPTED_OUT
    if not consent:
        return "no consent"
    if phone_unusable:
        return UNUSABLE
    if session_status != SessionStatus.COMPLETED and not staff:
        return "session cancelled"
    if now > expires_at:
        return f"too late: window ended {expires_at:%Y-%m-%d %H:%M} UTC"
    if answered:  # a nudge whose check-in got its reply
        return ANSWERED
    return None


class SendChecks:
    """The check right before each send, for one worker's texts."""

    def __init__(self, reader: LastLookReader, worker: str) -> None:
        self.reader = reader
        self.worker = worker

    def recheck(self, job: Job, now: datetime) -> str | None:
        """None to send; :data:`GONE` when the text was moved by someone else (an opt-out,
        another worker: theirs now); else why it must be skipped."""
        seen = self.reader.read(job.message_id)
        if seen is None or seen.status != MessageStatus.SENDING or seen.claimed_by != self.worker:
            return GONE
        return skip_reason(
            opted_out=seen.opted_out,
            consent=seen.consent,
            phone_unusable=seen.phone_unusable,
            session_status=seen.session_status,
            expires_at=job.expires_at,
            now=now,
            staff=job.staff,
        )

    def close(self) -> None:
        self.reader.close()
