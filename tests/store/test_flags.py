"""followup.store.flags directly, on SQLite and PostgreSQL: a flag opens once per call and
is acknowledged once, by a named person, within its clinic."""

from __future__ import annotations

from datetime import timedelta

from support.webhooks import NOW, Clinics

from followup.store.flags import MAX_ACKNOWLEDGED_BY, acknowledge_flag, open_flag
from followup.store.models import Flag
from followup.store.statuses import FlagKind, FlagStatus


def test_a_flag_opens_and_is_acknowledged_once_within_its_clinic(runtime):
    clinics = Clinics(runtime)
    result = clinics.receive("thanks", sid="SMthanks")  # a reply to hang flags on
    harbor, bay = clinics.clinic_id("harbor"), clinics.clinic_id("bay")
    p0 = clinics.patient_id("P0")
    with runtime.engine.begin() as conn:
        flag_id = open_flag(
            conn,
            clinic_id=harbor,
            patient_id=p0,
            inbound_id=result.inbound_id,
            kind=FlagKind.CALLBACK,
            reason="score 8 (7+)",
            now=NOW,
        )
    later = NOW + timedelta(minutes=10)
    with clinics.sessions() as db, db.begin():
        assert acknowledge_flag(db, flag_id, by="Dr. Lee", now=later, clinic_id=bay) is False
        assert acknowledge_flag(db, flag_id + 1, by="Dr. Lee", now=later) is False
    with clinics.sessions() as db:
        flag = db.get(Flag, flag_id)
        assert (flag.kind, flag.reason, flag.status, flag.created_at) == (
            FlagKind.CALLBACK,
            "score 8 (7+)",
            FlagStatus.OPEN,
            NOW,
        )
    long_name = "Dr. " + "L" * 200
    with clinics.sessions() as db, db.begin():
        assert acknowledge_flag(db, flag_id, by=long_name, now=later, clinic_id=harbor) is True
    with clinics.sessions() as db, db.begin():
        assert acknowledge_flag(db, flag_id, by="Someone else", now=later) is False
    with clinics.sessions() as db:
        flag = db.get(Flag, flag_id)
        assert (flag.status, flag.acknowledged_at) == (FlagStatus.ACKNOWLEDGED, later)
        assert flag.acknowledged_by == long_name[:MAX_ACKNOWLEDGED_BY]
