"""The sessions, patients, texts and FHIR endpoints with the clinic_web app: created and
updated by the clinic's ids, 422 with every bad field and nothing written, another clinic's
ids 404, FHIR answers in FHIR."""

from __future__ import annotations

from datetime import timedelta

from support.clinic_web import NOW

from followup.intake.fhir_encounters import CONSENT_URL

DONE = (NOW - timedelta(hours=2)).isoformat()
BODY = {
    "patient_id": "API1", "phone": "(201) 555-0377", "first_name": "Ana", "consent": True,
    "completed_at": DONE, "regions": ["calf"],
}  # fmt: skip


def test_put_creates_then_updates_and_bad_fields_are_422_with_nothing_written(clinic_web):
    north = clinic_web.api("north")
    first = north.put("/api/v1/clinics/north/sessions/V1", json=BODY)
    assert first.status_code == 201, first.text
    assert first.json()["patient_id"] == "API1"
    assert north.put("/api/v1/clinics/north/sessions/V1", json=BODY).status_code == 200
    bad = north.put(
        "/api/v1/clinics/north/sessions/V2", json={**BODY, "phone": "12", "locale": "xx_yy"}
    )
    assert bad.status_code == 422
    fields = {d["loc"][-1] for d in bad.json()["detail"]}
    assert {"phone", "locale"} <= fields
    assert north.get("/api/v1/clinics/north/sessions/V2").status_code == 404
    plan = north.get("/api/v1/clinics/north/sessions/V1/plan")
    assert plan.status_code == 200 and {p["step"] for p in plan.json()} >= {"aftercare"}
    cancelled = north.post("/api/v1/clinics/north/sessions/V1/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


def test_another_clinics_ids_are_404(clinic_web):
    south = clinic_web.api("south")
    assert south.get("/api/v1/clinics/south/sessions/S0").status_code == 404
    assert south.get("/api/v1/clinics/south/patients/P0").status_code == 404
    assert south.get("/api/v1/clinics/north/patients/P0").status_code == 404
    north = clinic_web.api("north")
    [text] = north.get("/api/v1/clinics/north/messages?status=scheduled&limit=1").json()["items"]
    assert south.post(f"/api/v1/clinics/south/messages/{text['id']}/send-now").status_code == 404
    assert south.post(f"/api/v1/clinics/south/messages/{text['id']}/cancel").status_code == 404


def test_patients_are_read_and_changed_and_texts_cancelled_or_sent_now(clinic_web):
    north = clinic_web.api("north")
    got = north.get("/api/v1/clinics/north/patients/P0")
    assert got.status_code == 200 and got.json()["consent"] is True
    changed = north.patch("/api/v1/clinics/north/patients/P0", json={"locale": "es"})
    assert changed.status_code == 200 and changed.json()["locale"] == "es"
    bad = north.patch("/api/v1/clinics/north/patients/P0", json={"timezone": "Mars/Base"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "timezone"]
    listed = north.get("/api/v1/clinics/north/messages?status=scheduled").json()["items"]
    first = listed[0]
    now = north.post(f"/api/v1/clinics/north/messages/{first['id']}/send-now")
    assert now.status_code == 200, now.text
    assert now.json()["note"]
    cancel = north.post(
        f"/api/v1/clinics/north/messages/{first['id']}/cancel", json={"reason": "asked"}
    )
    assert cancel.status_code == 200 and cancel.json()["status"] == "skipped"


def test_fhir_encounters_come_in_with_a_key_and_answer_in_fhir(clinic_web):
    encounter = {
        "resourceType": "Encounter", "identifier": [{"value": "F1"}], "status": "finished",
        "class": {"code": "AMB"}, "period": {"end": DONE}, "subject": {"reference": "#p"},
        "contained": [{
            "resourceType": "Patient", "id": "p", "identifier": [{"value": "FP1"}],
            "name": [{"given": ["Ana"]}],
            "telecom": [{"system": "phone", "use": "mobile", "value": "2015550388"}],
            "extension": [{"url": CONSENT_URL, "valueBoolean": True}],
        }],
    }  # fmt: skip
    north = clinic_web.api("north")
    headers = {"Content-Type": "application/fhir+json"}
    import json

    made = north.post("/fhir/Encounter", content=json.dumps(encounter), headers=headers)
    assert made.status_code == 201, made.text
    assert made.headers["content-type"].startswith("application/fhir+json")
    assert made.json()["resourceType"] == "OperationOutcome"
    again = north.post("/fhir/Encounter", content=json.dumps(encounter), headers=headers)
    assert again.status_code == 200
    bundle = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [{"resource": encounter, "request": {"method": "POST", "url": "Encounter"}}],
    }
    answered = north.post("/fhir", content=json.dumps(bundle), headers=headers)
    assert answered.status_code == 200 and answered.json()["type"] == "batch-response"
    assert north.post("/fhir/Encounter", content="x", headers={"Content-Type": "text/plain"}
                      ).status_code == 415  # fmt: skip
    big = north.post("/fhir", content=b"[" + b" " * (6 * 1024 * 1024) + b"]", headers=headers)
    assert big.status_code == 413
    assert clinic_web.client().post("/fhir", json=bundle).status_code == 401


def test_a_nul_character_in_fhir_or_a_session_is_refused_not_a_server_error(clinic_web):
    import json

    north = clinic_web.api("north")
    headers = {"Content-Type": "application/fhir+json"}
    for where in ("name", "identifier", "patient"):
        encounter = {
            "resourceType": "Encounter", "status": "finished", "class": {"code": "AMB"},
            "identifier": [{"value": "F\x00" if where == "identifier" else "F9"}],
            "period": {"end": DONE}, "subject": {"reference": "#p"},
            "contained": [{
                "resourceType": "Patient", "id": "p",
                "identifier": [{"value": "P\x009" if where == "patient" else "FP9"}],
                "name": [{"given": ["A\x00na" if where == "name" else "Ana"]}],
                "telecom": [{"system": "phone", "use": "mobile", "value": "2015550388"}],
                "extension": [{"url": CONSENT_URL, "valueBoolean": True}],
            }],
        }  # fmt: skip
        answer = north.post("/fhir/Encounter", content=json.dumps(encounter), headers=headers)
        assert answer.status_code < 500, (where, answer.text)
    bad = north.put("/api/v1/clinics/north/sessions/N1", json={**BODY, "first_name": "A\x00"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"][-1] == "first_name"
