"""``followup import-fhir``: per-entry output, exit codes, and the end-to-end path: a
finished Encounter is planned and texted, cancelling it skips its waiting texts."""

from __future__ import annotations

import json
from pathlib import Path

from support.cli_run import outbox, run

from followup.intake.fhir_encounters import CONSENT_URL


def encounter_file(tmp_path: Path, status: str = "finished", phone: str = "2015550123") -> Path:
    data = {
        "resourceType": "Encounter",
        "identifier": [{"value": "S1"}],
        "status": status,
        "class": {"code": "AMB"},
        "period": {"end": "2026-03-09T10:00:00-04:00"},
        "reasonCode": [{"text": "calf"}],
        "subject": {"reference": "#p"},
        "contained": [
            {
                "resourceType": "Patient",
                "id": "p",
                "identifier": [{"value": "P1"}],
                "name": [{"given": ["Ana"]}],
                "telecom": [{"system": "phone", "use": "mobile", "value": phone}],
                "communication": [{"language": {"coding": [{"code": "en"}]}}],
                "extension": [{"url": CONSENT_URL, "valueBoolean": True}],
            }
        ],
    }
    path = tmp_path / "encounter.json"
    path.write_text(json.dumps(data))
    return path


def test_a_finished_encounter_is_texted_and_cancelling_it_skips_what_waits(clinic, tmp_path):
    result = run("import-fhir", str(encounter_file(tmp_path)), "--clinic", clinic)
    assert result.exit_code == 0, result.output
    assert "entry 1 (Encounter): 201 Created Encounter/S1" in result.output
    run("send-due", "--once", "--now", "2026-03-09T10:31:00-04:00")
    again = run("import-fhir", str(encounter_file(tmp_path, "cancelled")), "--clinic", clinic)
    assert "entry 1 (Encounter): 200 OK Encounter/S1" in again.output
    run("send-due", "--once", "--now", "2026-03-09T10:32:00-04:00")
    rows = {r["step"]: r for r in outbox()}
    assert rows["aftercare"]["status"] == "sent"
    assert rows["checkin_24h"]["status"] == "skipped"
    assert rows["checkin_24h"]["reason"] == "session cancelled"


def test_a_refused_entry_exits_1_and_says_why_without_the_phone(clinic, tmp_path):
    result = run(
        "import-fhir", str(encounter_file(tmp_path, phone="+1 900 555 0142")), "--clinic", clinic
    )
    assert result.exit_code == 1
    assert "400 Bad Request" in result.output
    assert "#1: error: Patient.telecom: a premium-rate number" in result.output
    assert "0142" not in result.output


def test_the_response_bundle_is_printed_on_request(clinic, tmp_path):
    result = run("import-fhir", str(encounter_file(tmp_path)), "--clinic", clinic, "--response")
    assert result.exit_code == 0
    start = result.output.index("{")
    end = result.output.rindex("}") + 1
    out = json.loads(result.output[start:end])
    assert out["type"] == "batch-response"
    assert out["entry"][0]["response"]["status"] == "201 Created"


def test_files_that_are_not_fhir_and_unknown_clinics_are_refused(clinic, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert run("import-fhir", str(bad), "--clinic", clinic).exit_code != 0
    bad.write_text('{"resourceType": "Patient"}')
    result = run("import-fhir", str(bad), "--clinic", clinic)
    assert result.exit_code != 0 and "Encounter or Bundle" in result.output
    nowhere = run("import-fhir", str(encounter_file(tmp_path)), "--clinic", "nowhere")
    assert nowhere.exit_code != 0 and "no clinic" in nowhere.output
