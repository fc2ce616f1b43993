"""What ``followup demo`` adds for the clinic side: an admin account to log in with, and two
sample replies filed through the same path as a real webhook, so the dashboard opens on an
emergency flag and a soreness score instead of an empty page."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from followup.access import accounts
from followup.access.fields import AccountError
from followup.inbound.receive import InboundSms, receive, senders_of
from followup.intake.demo import DEMO_SLUG, PATIENTS
from followup.runtime import Runtime
from followup.store import clinics
from followup.store.engine import transaction

DEMO_ADMIN = "admin@demo.example"
#: sample replies: (patient's external id, what they wrote)
DEMO_REPLIES = (
    ("demo-p3", "4, a bit sore where you worked"),
    ("demo-p1", "my chest feels tight and I'm a bit short of breath since I got home"),
)


def demo_account(rt: Runtime, now: datetime) -> list[str]:
    """The demo clinic's admin, with a new random password each run (printed once here)."""
    password = secrets.token_urlsafe(12)
    with transaction(rt.sessions) as db:
        try:
            accounts.add_user(db, email=DEMO_ADMIN, role="admin", clinics=[DEMO_SLUG],
                              password=password, now=now)  # fmt: skip
        except AccountError:
            accounts.set_password(db, DEMO_ADMIN, password, now)
    return [f"dashboard login: {DEMO_ADMIN}  password: {password}  (a new one each demo run)"]


def demo_replies(rt: Runtime, now: datetime) -> list[str]:
    """File the sample replies once a day, as the webhook would (flags, staff alerts)."""
    lines = []
    phones = {ext: phone for ext, _first, phone, _locale, _regions in PATIENTS}
    with transaction(rt.sessions) as db:
        clinic = clinics.by_slug(db, DEMO_SLUG)
        if clinic is None:
            return []
        day = now.date().isoformat()
        for ext, body in DEMO_REPLIES:
            sid = "SM" + hashlib.sha256(f"demo-{day}-{ext}".encode()).hexdigest()[:32]
            sms = InboundSms(sid=sid, from_number=phones[ext],
                             to_number=clinic.from_number or clinic.phone, body=body)  # fmt: skip
            result = receive(
                db, sms, catalogue=rt.catalogue, now=now, senders=senders_of(rt.settings)
            )
            if not result.duplicate:
                lines.append(f"sample reply from {ext} filed: {result.flag_kind or 'no flag'}")
    return lines
