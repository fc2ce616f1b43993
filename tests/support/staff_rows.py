"""What the staff listings are read from, written straight through the store's functions:
replies, flags and alerts at two clinics and from an unknown number, at chosen times, so a
test can say which rows a listing returns and in what order.

Built on :class:`support.webhooks.Clinics` (Harbor: P0, P1, P2; Bay: P5). Two pairs share a
timestamp on purpose (R3/R4, F3/F4), so the listings' tie-break on id is tested too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update

from followup.store import alerts, flags, replies
from followup.store.models import StaffAlert
from followup.store.statuses import AlertChannel, AlertStatus, FlagKind, ReplyKind
from support.webhooks import BAY_NUMBER, HARBOR_NUMBER, NOW, OTHER, SHARED, Clinics

UNKNOWN = "+12015550777"
#: Apprise URLs with their secrets in the host, the path and the query
SLACK = "slack://T0KENA/B0KENB/C0KENC"
WEBHOOK = "json://hooks.example.org/notify?token=s3cr3tvalue"
TELEGRAM = "tgram://123456789:AAbotTOKENxyz/98765"
SECRETS = ("T0KENA", "B0KENB", "C0KENC", "s3cr3tvalue", "AAbotTOKENxyz", "123456789", "98765")


def ago(hours: float):
    return NOW - timedelta(hours=hours)


@dataclass
class StaffRows:
    """The ids of what was written, by name: R1..R5 replies, F1..F5 flags, alerts by
    destination."""

    clinics: Clinics
    reply: dict[str, int] = field(default_factory=dict)
    flag: dict[str, int] = field(default_factory=dict)
    alert: dict[str, int] = field(default_factory=dict)

    @property
    def reply_names(self) -> dict[int, str]:
        return {v: k for k, v in self.reply.items()}

    @property
    def flag_names(self) -> dict[int, str]:
        return {v: k for k, v in self.flag.items()}


def body_of(name: str) -> str:
    """The text patient reply ``name`` said: distinct, so a listing that leaks it is caught."""
    return f"patient words of {name}: my neck hurts"


def seed_staff_rows(clinics: Clinics) -> StaffRows:
    """Five replies, a flag on each, and alerts for three of the flags:

    ====  ======  =======  ==========  =====================  =================
    name  clinic  patient  received    flag (status)          alerts
    ====  ======  =======  ==========  =====================  =================
    R1    harbor  P0       NOW - 3 h   F1 callback (open)     sms, slack, webhook
    R2    bay     P5       NOW - 2 h   F2 emergency (open)    sms (sent)
    R3    harbor  P2       NOW - 1 h   F4 review (open)       -
    R4    -       -        NOW - 1 h   F3 review (open)       -
    R5    harbor  P0       NOW         F5 clinic_today (ack)  telegram (failed)
    ====  ======  =======  ==========  =====================  =================

    R4 (an unknown number) is filed after R3 at the same time, F3 (on R4) before F4 (on R3).
    """
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    p0, p2, p5 = (clinics.patient_id(p) for p in ("P0", "P2", "P5"))
    seeded = StaffRows(clinics)
    filed = [
        ("R1", harbor, p0, SHARED, HARBOR_NUMBER, ago(3), ReplyKind.SCORE, 8),
        ("R2", bay, p5, SHARED, BAY_NUMBER, ago(2), ReplyKind.EMERGENCY, None),
        ("R3", harbor, p2, OTHER, HARBOR_NUMBER, ago(1), ReplyKind.TEXT, None),
        ("R4", None, None, UNKNOWN, HARBOR_NUMBER, ago(1), ReplyKind.TEXT, None),
        ("R5", harbor, p0, SHARED, HARBOR_NUMBER, NOW, ReplyKind.CLINIC_TODAY, None),
    ]
    raised = [  # (flag, on reply, kind, reason, when)
        ("F1", "R1", FlagKind.CALLBACK, "score 8 (7+)", ago(3)),
        ("F2", "R2", FlagKind.EMERGENCY, "red flag: chest pain", ago(2)),
        ("F3", "R4", FlagKind.REVIEW, "reply from an unknown number", ago(1)),
        ("F4", "R3", FlagKind.REVIEW, "free text", ago(1)),
        ("F5", "R5", FlagKind.CLINIC_TODAY, "needs the clinic today: fever", NOW),
    ]
    sms, apprise = AlertChannel.SMS, AlertChannel.APPRISE
    paged = [  # (flag, clinic, when, destinations)
        ("F1", harbor, ago(3), [(sms, "+12015550998"), (apprise, SLACK), (apprise, WEBHOOK)]),
        ("F2", bay, ago(2), [(sms, "+12015550999")]),
        ("F5", harbor, NOW, [(apprise, TELEGRAM)]),
    ]
    with clinics.runtime.engine.begin() as conn:
        for name, clinic_id, patient_id, sender, to, at, kind, score in filed:
            seeded.reply[name] = replies.file_reply(
                conn,
                provider_sid=f"SM{name}",
                clinic_id=clinic_id,
                patient_id=patient_id,
                in_reply_to=None,
                from_number=sender,
                to_number=to,
                messaging_service_sid=None,
                body=body_of(name),
                num_media=0,
                received_at=at,
                kind=kind,
                urgency="none",
                score=score,
                worry=None,
                matched=(name.lower(),),
                reply_key="reply_thanks",
                reply_body=f"our answer to {name}",
            )
        clinic_of = {name: (c, p) for name, c, p, *_ in filed}
        for name, on, kind, reason, at in raised:
            clinic_id, patient_id = clinic_of[on]
            seeded.flag[name] = flags.open_flag(
                conn,
                clinic_id=clinic_id,
                patient_id=patient_id,
                inbound_id=seeded.reply[on],
                kind=kind,
                reason=reason,
                now=at,
            )
        for name, clinic_id, at, destinations in paged:
            alerts.queue_pending(
                conn, flag_id=seeded.flag[name], clinic_id=clinic_id, destinations=destinations,
                now=at,
            )  # fmt: skip
    with clinics.sessions() as db, db.begin():
        seeded.alert = dict(db.execute(select(StaffAlert.destination, StaffAlert.id)).all())
        # a flag acknowledged, one alert delivered and one given up on (a fixture may
        # write these directly; the sender's own moves are tested in tests/staff)
        flags.acknowledge_flag(db, seeded.flag["F5"], by="Dr. Lee", now=NOW)
        db.execute(
            update(StaffAlert)
            .where(StaffAlert.id == seeded.alert["+12015550999"])
            .values(status=AlertStatus.SENT, attempts=1, sent_at=ago(2), provider_sid="SMalert")
        )
        db.execute(
            update(StaffAlert)
            .where(StaffAlert.id == seeded.alert[TELEGRAM])
            .values(status=AlertStatus.FAILED, attempts=5, last_error="tgram://…: 401")
        )
    return seeded
