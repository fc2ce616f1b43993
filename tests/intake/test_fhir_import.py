"""FHIR R4 intake: Encounters with their Patients, transaction and batch Bundles, written by
the CSV import's writer under the CSV import's rules, on SQLite and PostgreSQL. Resources are
written by hand from the R4 spec (fhir.resources ships no examples)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from followup.intake.clinics import add_clinic
from followup.intake.fhir_encounters import (
    CONSENT_URL,
    FhirError,
    operation_outcome,
    response_bundle,
)
from followup.intake.fhir_import import import_fhir
from followup.store.engine import transaction
from followup.store.models import Patient, TreatmentSession

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PHONE = "(201) 555-0123"
E164 = "+12015550123"


def patient(
    pid: str = "P1",
    *,
    phone: str = PHONE,
    use: str | None = "mobile",
    given: str = "Ana",
    language: str = "es",
    consent: bool | None = True,
    rid: str = "pat",
) -> dict:
    telecom = {"system": "phone", "value": phone}
    if use:
        telecom["use"] = use
    resource = {
        "resourceType": "Patient",
        "id": rid,
        "identifier": [{"system": "https://clinic.example/patients", "value": pid}],
        "name": [{"use": "official", "family": "Ruiz", "given": [given]}],
        "telecom": [{"system": "email", "value": "ana@mail.example"}, telecom],
        "communication": [
            {"language": {"coding": [{"system": "urn:ietf:bcp:47", "code": "en"}]}},
            {
                "language": {"coding": [{"system": "urn:ietf:bcp:47", "code": language}]},
                "preferred": True,
            },
        ],
    }
    if consent is not None:
        resource["extension"] = [{"url": CONSENT_URL, "valueBoolean": consent}]
    return resource


def encounter(
    sid: str = "S1",
    *,
    status: str = "finished",
    end: str | None = "2025-05-30T16:30:00-04:00",
    subject: dict | None = None,
    contained: dict | None = None,
    reasons: tuple[str, ...] = ("Neck",),
) -> dict:
    resource: dict = {
        "resourceType": "Encounter",
        "identifier": [{"system": "https://clinic.example/visits", "value": sid}],
        "status": status,
        "class": {
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
            "code": "AMB",
            "display": "ambulatory",
        },
        "period": {"start": "2025-05-30T16:00:00-04:00"},
        "reasonCode": [{"text": r} for r in reasons],
    }
    if end is not None:
        resource["period"]["end"] = end
    if contained is not None:
        resource["contained"] = [contained]
        resource["subject"] = {"reference": f"#{contained['id']}"}
    if subject is not None:
        resource["subject"] = subject
    return resource


def with_patient(sid: str = "S1", p: dict | None = None, **kwargs) -> dict:
    return encounter(sid, contained=p or patient(), **kwargs)


def bundle(kind: str, *pairs: tuple[dict, dict]) -> dict:
    entries = []
    for n, (enc, pat) in enumerate(pairs):
        url = f"urn:uuid:00000000-0000-4000-8000-{n:012d}"
        enc = {**enc, "subject": {"reference": url}}
        entries.append(
            {"fullUrl": url, "resource": pat, "request": {"method": "PUT", "url": "Patient"}}
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:10000000-0000-4000-8000-{n:012d}",
                "resource": enc,
                "request": {"method": "POST", "url": "Encounter"},
            }
        )
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


@pytest.fixture
def clinic(sessions) -> int:
    with transaction(sessions) as s:
        downtown, _ = add_clinic(
            s,
            slug="downtown",
            name="Downtown Physio",
            timezone="America/New_York",
            phone="201-555-0100",
        )
    return downtown.id


def run(sessions, data, **kwargs):
    return import_fhir(sessions, data, clinic="downtown", now=NOW, **kwargs)


def stored(sessions) -> dict[str, tuple[TreatmentSession, Patient]]:
    with sessions() as s:
        rows = s.execute(
            select(TreatmentSession, Patient).join(
                Patient, TreatmentSession.patient_id == Patient.id
            )
        ).all()
        return {t.external_id: (t, p) for t, p in rows}


def count(sessions, model) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(model))


def issues_of(result, number: int = 1) -> list[tuple[str, str, list[str]]]:
    entry = result.entries[number - 1]
    return [(i.severity, i.code, i.expression) for i in entry.issues]


def text_of(result) -> str:
    return json.dumps([operation_outcome(result), response_bundle(result)], ensure_ascii=False)


# --- one Encounter -----------------------------------------------------------------------------


def test_a_finished_encounter_with_its_patient_is_a_session_to_plan(sessions, clinic) -> None:
    result = run(sessions, with_patient())
    assert [e.status for e in result.entries] == ["201 Created"]
    assert result.entries[0].location == "Encounter/S1"
    session, person = stored(sessions)["S1"]
    assert session.completed_at.replace(tzinfo=UTC) == datetime(2025, 5, 30, 20, 30, tzinfo=UTC)
    assert (session.status, session.regions, session.plan_pending) == ("completed", "neck", True)
    assert (person.external_id, person.phone, person.first_name) == ("P1", E164, "Ana")
    assert (person.locale, person.consent, person.consent_method) == ("es", True, "fhir")
    bundle_out = response_bundle(result)
    assert bundle_out["type"] == "batch-response"
    assert bundle_out["entry"] == [
        {"response": {"status": "201 Created", "location": "Encounter/S1"}}
    ]


def test_posting_it_again_updates_it_and_duplicates_nothing(sessions, clinic) -> None:
    run(sessions, with_patient())
    again = run(sessions, with_patient())
    assert [e.status for e in again.entries] == ["200 OK"]
    assert (count(sessions, TreatmentSession), count(sessions, Patient)) == (1, 1)


def test_the_session_id_is_the_identifier_not_the_resource_id(sessions, clinic) -> None:
    first = with_patient("S1")
    first["id"] = "server-1"
    second = with_patient("S1")
    second["id"] = "server-2"
    run(sessions, first)
    run(sessions, second)
    assert list(stored(sessions)) == ["S1"]


def test_the_clinics_identifier_system_is_preferred(sessions, clinic) -> None:
    enc = with_patient("BILL-7")
    enc["identifier"].append({"system": "https://clinic.example/sessions", "value": "S9"})
    result = run(sessions, enc, session_system="https://clinic.example/sessions")
    assert result.entries[0].status == "201 Created"
    assert list(stored(sessions)) == ["S9"]
    missing = run(sessions, with_patient("S2"), session_system="https://clinic.example/sessions")
    assert issues_of(missing) == [("error", "required", ["Encounter.identifier"])]


def test_a_cancelled_encounter_cancels_the_session(sessions, clinic) -> None:
    run(sessions, with_patient())
    result = run(sessions, with_patient(status="cancelled"))
    assert result.entries[0].status == "200 OK"
    assert stored(sessions)["S1"][0].status == "cancelled"
    run(sessions, with_patient(status="entered-in-error", end=None))  # period.start will do
    assert stored(sessions)["S1"][0].status == "cancelled"


@pytest.mark.parametrize("status", ["planned", "arrived", "in-progress", "onleave"])
def test_an_unfinished_encounter_is_ignored_with_an_informational_issue(
    sessions, clinic, status
) -> None:
    result = run(sessions, with_patient(status=status))
    assert result.entries[0].status == "200 OK"
    assert issues_of(result) == [("information", "informational", ["Encounter.status"])]
    assert count(sessions, TreatmentSession) == 0


def test_an_r5_encounter_is_refused_naming_the_fields(sessions, clinic) -> None:
    r5 = with_patient(status="completed")
    r5["actualPeriod"] = r5.pop("period")
    r5["class"] = [{"coding": [r5["class"]]}]
    result = run(sessions, r5)
    assert result.entries[0].status == "400 Bad Request"
    paths = {x for _, _, expr in issues_of(result) for x in expr}
    assert {"Encounter.actualPeriod", "Encounter.class"} <= paths
    # the status alone, in an otherwise R4 Encounter
    only_status = run(sessions, with_patient(status="completed"))
    assert issues_of(only_status) == [("error", "value", ["Encounter.status"])]
    assert "R5" in only_status.entries[0].issues[0].diagnostics
    assert count(sessions, TreatmentSession) == 0


def test_an_encounter_without_period_end_is_refused(sessions, clinic) -> None:
    result = run(sessions, with_patient(end=None))
    assert issues_of(result) == [("error", "required", ["Encounter.period.end"])]
    assert count(sessions, TreatmentSession) == 0


@pytest.mark.parametrize("end", ["2025-05-30", "2025-05-30T16:30:00"])
def test_a_completion_time_needs_a_time_of_day_and_an_offset(sessions, clinic, end) -> None:
    result = run(sessions, with_patient(end=end))
    assert issues_of(result) == [("error", "invalid", ["Encounter.period.end"])]


def test_a_date_before_2000_is_refused_as_in_a_csv(sessions, clinic) -> None:
    result = run(sessions, with_patient(end="1900-01-01T10:00:00Z"))
    assert issues_of(result) == [("error", "invalid", ["Encounter.period.end"])]
    assert "before 2000" in result.entries[0].issues[0].diagnostics
    assert count(sessions, TreatmentSession) == 0


def test_a_landline_only_patient_is_refused(sessions, clinic) -> None:
    home = patient(use="home")
    result = run(sessions, with_patient(p=home))
    assert issues_of(result) == [("error", "required", ["Patient.telecom"])]
    # a phone without a use is tried, and judged as a CSV phone: this one is a landline
    plain = patient(phone="020 7946 0018", use=None)
    assert issues_of(run(sessions, with_patient(p=plain))) == [
        ("error", "invalid", ["Patient.telecom"])
    ]
    assert count(sessions, TreatmentSession) == 0


def test_a_mobile_is_chosen_over_home_and_work(sessions, clinic) -> None:
    p = patient()
    p["telecom"] = [
        {"system": "phone", "value": "201-555-0177", "use": "home"},
        {"system": "phone", "value": "201-555-0178", "use": "work"},
        {"system": "phone", "value": "201-555-0179", "use": "mobile"},
    ]
    run(sessions, with_patient(p=p))
    assert stored(sessions)["S1"][1].phone == "+12015550179"


def test_a_premium_rate_phone_is_refused_without_echoing_it(sessions, clinic) -> None:
    result = run(sessions, with_patient(p=patient(phone="+1 900 555 0142")))
    assert issues_of(result) == [("error", "invalid", ["Patient.telecom"])]
    assert "premium-rate" in result.entries[0].issues[0].diagnostics
    assert "0142" not in text_of(result)
    assert count(sessions, TreatmentSession) == 0


def test_the_clinics_own_phone_is_not_a_patients(sessions, clinic) -> None:
    result = run(sessions, with_patient(p=patient(phone="201-555-0100")))
    assert result.entries[0].status == "400 Bad Request"


def test_a_name_carrying_a_url_is_cut_to_the_first_name_with_a_warning(sessions, clinic) -> None:
    result = run(sessions, with_patient(p=patient(given="Bea https://pay.example")))
    assert result.entries[0].status == "201 Created"
    assert issues_of(result) == [("warning", "informational", ["Patient.name.given"])]
    assert stored(sessions)["S1"][1].first_name == "Bea"
    assert "pay.example" not in text_of(result) and "Bea" not in text_of(result)


def test_without_a_clear_yes_there_is_no_consent(sessions, clinic) -> None:
    run(sessions, with_patient("S1", patient("P1", consent=None)))
    assert stored(sessions)["S1"][1].consent is False
    run(sessions, with_patient("S2", patient("P2", consent=None)), consent_default=True)
    assert stored(sessions)["S2"][1].consent is True
    run(sessions, with_patient("S3", patient("P3", consent=False)), consent_default=True)
    assert stored(sessions)["S3"][1].consent is False
    odd = patient("P4", consent=None)
    odd["extension"] = [{"url": CONSENT_URL, "valueString": "yes"}]
    result = run(sessions, with_patient("S4", odd))
    assert issues_of(result) == [("error", "invalid", ["Patient.extension"])]


def test_an_unknown_locale_is_refused_without_echoing_it(sessions, clinic) -> None:
    result = run(sessions, with_patient(p=patient(language="2015550199")))
    assert issues_of(result) == [("error", "value", ["Patient.communication.language.coding.code"])]
    assert "0199" not in text_of(result)


def test_a_session_keeps_its_patient(sessions, clinic) -> None:
    run(sessions, with_patient("S1", patient("P1")))
    result = run(sessions, with_patient("S1", patient("P2", phone="201-555-0124")))
    assert result.entries[0].status == "409 Conflict"
    assert issues_of(result) == [("error", "conflict", ["Encounter.subject"])]
    assert stored(sessions)["S1"][1].external_id == "P1"


def test_a_patient_given_two_phones_in_one_bundle_is_warned_about(sessions, clinic) -> None:
    data = bundle(
        "batch",
        (encounter("S1"), patient("P1")),
        (encounter("S2"), patient("P1", phone="201-555-0124", rid="pat2")),
    )
    result = run(sessions, data)
    assert [e.status for e in result.entries] == ["200 OK", "201 Created", "200 OK", "201 Created"]
    assert issues_of(result, 4) == [("warning", "informational", ["Patient.telecom"])]
    assert stored(sessions)["S1"][1].phone == "+12015550124"


# --- Bundles ---------------------------------------------------------------------------------


def three_with_one_bad(kind: str) -> dict:
    return bundle(
        kind,
        (encounter("S1"), patient("P1")),
        (encounter("S2", end=None), patient("P2", phone="201-555-0124")),
        (encounter("S3"), patient("P3", phone="201-555-0125")),
    )


def test_a_transaction_with_one_bad_entry_writes_nothing(sessions, clinic) -> None:
    result = run(sessions, three_with_one_bad("transaction"))
    assert (count(sessions, TreatmentSession), count(sessions, Patient)) == (0, 0)
    assert [e.status for e in result.entries] == ["400 Bad Request"] * 6
    assert issues_of(result, 4) == [("error", "required", ["Encounter.period.end"])]
    out = response_bundle(result)
    assert out["type"] == "transaction-response"
    outcome = operation_outcome(result)
    assert {
        "severity": "error",
        "code": "required",
        "diagnostics": "entry 4: Encounter.period.end: required (the time the session was "
        "completed)",
        "expression": ["Bundle.entry[3].resource.Encounter.period.end"],
    } in outcome["issue"]


def test_a_good_transaction_writes_everything(sessions, clinic) -> None:
    good = bundle(
        "transaction",
        (encounter("S1"), patient("P1")),
        (encounter("S2"), patient("P2", phone="201-555-0124")),
    )
    result = run(sessions, good)
    assert [e.status for e in result.entries] == ["200 OK", "201 Created"] * 2
    assert sorted(stored(sessions)) == ["S1", "S2"]


def test_a_transaction_with_a_session_of_another_patient_writes_nothing(sessions, clinic) -> None:
    run(sessions, with_patient("S1", patient("P1")))
    moved = bundle(
        "transaction",
        (encounter("S2"), patient("P2", phone="201-555-0124")),
        (encounter("S1"), patient("P3", phone="201-555-0125")),
    )
    result = run(sessions, moved)
    assert result.entries[3].status == "409 Conflict"
    assert result.entries[1].status == "400 Bad Request"
    assert sorted(stored(sessions)) == ["S1"]


def test_a_batch_writes_the_good_entries_and_refuses_the_bad_one(sessions, clinic) -> None:
    result = run(sessions, three_with_one_bad("batch"))
    assert [e.status for e in result.entries] == [
        "200 OK",
        "201 Created",
        "200 OK",
        "400 Bad Request",
        "200 OK",
        "201 Created",
    ]
    assert sorted(stored(sessions)) == ["S1", "S3"]
    assert [i.severity for i in result.entries[2].issues] == ["information"]  # not stored
    assert result.entries[0].issues == []
    out = response_bundle(result)
    assert out["type"] == "batch-response"
    bad = out["entry"][3]["response"]
    assert bad["status"] == "400 Bad Request"
    assert bad["outcome"]["issue"] == [
        {
            "severity": "error",
            "code": "required",
            "diagnostics": "Encounter.period.end: required (the time the session was completed)",
            "expression": ["Encounter.period.end"],
        }
    ]


def test_an_encounter_whose_patient_is_refused_is_refused(sessions, clinic) -> None:
    bad_patient = patient("P1")
    bad_patient["telecom"] = "not a list"
    result = run(sessions, bundle("batch", (encounter("S1"), bad_patient)))
    assert [e.status for e in result.entries] == ["400 Bad Request", "400 Bad Request"]
    assert count(sessions, TreatmentSession) == 0


def test_a_reference_to_nothing_is_refused(sessions, clinic) -> None:
    lone = encounter("S1", subject={"reference": "urn:uuid:nowhere"})
    result = run(sessions, lone)
    assert issues_of(result) == [("error", "not-found", ["Encounter.subject.reference"])]


def test_a_session_twice_in_one_bundle_is_refused_the_second_time(sessions, clinic) -> None:
    data = bundle("batch", (encounter("S1"), patient("P1")), (encounter("S1"), patient("P1")))
    result = run(sessions, data)
    assert result.entries[3].status == "400 Bad Request"
    assert issues_of(result, 4) == [("error", "duplicate", ["Encounter.identifier"])]
    assert count(sessions, TreatmentSession) == 1


@pytest.mark.parametrize(
    "data",
    [
        [],
        "Encounter",
        {"resourceType": "Patient"},
        {"resourceType": "Bundle", "type": "collection", "entry": []},
        {"resourceType": "Bundle", "type": "batch", "entry": {}},
    ],
)
def test_what_is_neither_an_encounter_nor_a_bundle_is_a_fhir_error(sessions, clinic, data):
    with pytest.raises(FhirError) as caught:
        run(sessions, data)
    assert caught.value.issues[0].severity == "error"


def test_no_outcome_repeats_a_phone_or_a_name(sessions, clinic) -> None:
    """Every kind of refusal at once; the phone and the names are in none of the answers."""
    p = patient("P1", phone="+1 900 555 0142", given="Zelda https://x.example")
    p["name"][0]["family"] = "Quixotic"
    p["telecom"].append({"system": "phone", "value": "+1 900 555 0142", "use": "bogus"})
    p["birthDate"] = "+1 900 555 0142"
    enc = encounter("S1", status="completed", end="Zelda")
    result = run(sessions, bundle("batch", (enc, p), (encounter("S2"), p)))
    assert all(e.failed for e in result.entries[:2])
    text = text_of(result)
    for secret in ("0142", "900 555", "Zelda", "Quixotic", "x.example"):
        assert secret not in text, secret


def test_a_field_named_after_the_phone_or_the_name_is_named_without_them(sessions, clinic):
    """pydantic names an unknown element by its key: a key that is the patient's phone or
    name (a pasted cell) is masked in the diagnostics and the expression alike."""
    p = patient(given="Zelda")
    p["Zelda"] = True
    p["+1 201 555 0123"] = "mobile"
    result = run(sessions, with_patient(p=p))
    assert result.entries[0].status == "400 Bad Request"
    assert len(result.entries[0].issues) == 2
    text = text_of(result)
    assert "Zelda" not in text and "0123" not in text
