"""Two planners at once (two worker processes, say) plan every session once, never twice."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from followup.outbound.planner import plan_pending
from followup.store.engine import make_engine, make_sessionmaker
from followup.store.models import Clinic, OutboundMessage, Patient, TreatmentSession

NOW = datetime(2026, 6, 10, 16, 0, tzinfo=UTC)


@pytest.mark.slow
def test_concurrent_planners_share_the_work_without_duplicates(db_url):
    engine = make_engine(db_url)
    with engine.begin() as conn:
        clinic_id = conn.execute(
            insert(Clinic).returning(Clinic.id),
            [{"slug": "c", "name": "C", "phone": "+12015550100", "timezone": "America/New_York",
              "country": "US", "default_locale": "en", "send_window_start": 480,
              "send_window_end": 1200, "emergency_number": "911", "created_at": NOW}],
        ).scalar_one()  # fmt: skip
        patient_ids = conn.execute(
            insert(Patient).returning(Patient.id),
            [{"clinic_id": clinic_id, "external_id": f"P{i}", "first_name": "A",
              "phone": "+12015550123", "consent": True, "created_at": NOW, "updated_at": NOW}
             for i in range(150)],
        ).scalars().all()  # fmt: skip
        # two sessions per patient, so one patient's sessions can land in different batches
        conn.execute(
            insert(TreatmentSession),
            [{"clinic_id": clinic_id, "external_id": f"S{p}-{k}", "patient_id": p,
              "completed_at": NOW - timedelta(days=3 - k, minutes=p % 50), "status": "completed",
              "regions": "", "plan_pending": True, "created_at": NOW, "updated_at": NOW}
             for p in patient_ids for k in (0, 1)],
        )  # fmt: skip

    errors: list[BaseException] = []
    reports = []

    def planner() -> None:
        own = make_engine(db_url)
        try:
            reports.append(plan_pending(make_sessionmaker(own), NOW, batch_size=7))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=planner) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(r.sessions for r in reports) >= 300  # every session planned at least once

    with engine.connect() as conn:
        pending = conn.scalar(select(func.count()).where(TreatmentSession.plan_pending.is_(True)))
        per_key = conn.execute(
            select(OutboundMessage.session_id, OutboundMessage.step, func.count()).group_by(
                OutboundMessage.session_id, OutboundMessage.step
            )
        ).all()
        # the older session of each patient: its check-ins were superseded by the newer one
        superseded = conn.scalar(
            select(func.count()).where(OutboundMessage.reason.like("superseded%"))
        )
    engine.dispose()
    assert pending == 0
    assert len(per_key) == 300 * 3  # aftercare and two check-ins for every session
    assert {n for _, _, n in per_key} == {1}
    assert superseded > 0
