"""The patient pages with the clinic_web app: search, the timeline with its chart (the view
audited), upcoming texts with cancel and send-now forms; another clinic's patient is 404."""

from __future__ import annotations

import re

from sqlalchemy import select
from support.clinic_web import email

from followup.store.models import AuditEvent


def test_search_timeline_and_upcoming_pages(clinic_web):
    north = clinic_web.login(email("north", "staff"))
    found = north.get("/clinics/north/patients?q=pat")
    assert found.status_code == 200 and "P0" in found.text
    p0 = clinic_web.patient_id("P0")
    page = north.get(f"/clinics/north/patients/{p0}")
    assert page.status_code == 200 and "<svg" in page.text and "<desc" in page.text
    with clinic_web.sessions() as db:
        assert db.scalars(select(AuditEvent).where(AuditEvent.action == "patient.view")).all()
    south_patient = clinic_web.patient_id("P10")
    assert north.get(f"/clinics/north/patients/{south_patient}").status_code == 404
    upcoming = north.get("/clinics/north/upcoming")
    assert upcoming.status_code == 200
    ids = re.findall(r"/upcoming/(\d+)/send-now", upcoming.text)
    assert ids
    sent = north.post(f"/clinics/north/upcoming/{ids[0]}/send-now",
                      data={"csrf_token": north.csrf})  # fmt: skip
    assert sent.status_code == 303 and "done=" in sent.headers["location"]
    refused = north.post(f"/clinics/north/upcoming/{ids[0]}/cancel", data={})
    assert refused.status_code == 403
