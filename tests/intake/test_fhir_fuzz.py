"""FHIR intake under fuzzing (hypothesis), on SQLite and PostgreSQL: random JSON, and valid
Bundles with random parts replaced, removed or retyped.

What must hold whatever comes in:
- nothing is raised but :class:`FhirError` (the input is not an Encounter or a Bundle), so
  an HTTP endpoint answers 400, never 500;
- every entry has a response status, and what is written is exactly the entries answered
  ``201 Created``: no half row (a session without its patient, a patient without its
  phone), and a transaction writes all its Encounters or none;
- no answer repeats the phone numbers or the names of the input.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select

from followup.intake.clinics import add_clinic
from followup.intake.fhir_encounters import FhirError, operation_outcome, response_bundle
from followup.intake.fhir_import import import_fhir
from followup.store.engine import transaction
from followup.store.models import Patient, TreatmentSession

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
PHONES = ("+12015550123", "+12015550124")
NAMES = ("Ana", "Bea")
#: keys a random object is made of: FHIR's, so random values land where the reader looks
KEYS = (
    "resourceType", "type", "entry", "resource", "fullUrl", "request", "method", "url",
    "status", "identifier", "value", "system", "period", "end", "start", "subject",
    "reference", "contained", "id", "telecom", "use", "name", "given", "communication",
    "language", "coding", "code", "preferred", "extension", "valueBoolean", "reasonCode",
    "text", "class",
)  # fmt: skip
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False)
    | st.sampled_from(
        [
            "Encounter", "Patient", "Bundle", "batch", "transaction", "finished", "cancelled",
            "planned", "completed", "phone", "mobile", "home", "#p", "urn:uuid:a", "POST",
            "PUT", "2025-05-30T16:30:00Z", "1900-01-01T00:00:00Z", "2025-05-30", "es",
            "https://followup.example.org/fhir/sms-consent", "+1 900 555 0142", *PHONES,
            *NAMES,
        ]
    )
    | st.text(max_size=12)
)  # fmt: skip
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=5)
    ),
    max_leaves=30,
)


def valid_bundle(kind: str) -> dict:
    entries = []
    for n, (phone, name) in enumerate(zip(PHONES, NAMES, strict=True)):
        url = f"urn:uuid:p{n}"
        entries.append(
            {
                "fullUrl": url,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"value": f"P{n}"}],
                    "name": [{"given": [name], "family": "Quixotic"}],
                    "telecom": [{"system": "phone", "use": "mobile", "value": phone}],
                    "communication": [{"language": {"coding": [{"code": "es"}]}}],
                    "extension": [
                        {
                            "url": "https://followup.example.org/fhir/sms-consent",
                            "valueBoolean": True,
                        }
                    ],
                },
                "request": {"method": "PUT", "url": "Patient"},
            }
        )
        entries.append(
            {
                "fullUrl": f"urn:uuid:e{n}",
                "resource": {
                    "resourceType": "Encounter",
                    "identifier": [{"value": f"S{n}"}],
                    "status": "finished",
                    "class": {"code": "AMB"},
                    "subject": {"reference": url},
                    "period": {"end": "2025-05-30T16:30:00-04:00"},
                    "reasonCode": [{"text": "neck"}],
                },
                "request": {"method": "POST", "url": "Encounter"},
            }
        )
    return {"resourceType": "Bundle", "type": kind, "entry": entries}


def paths(value, here=()):
    yield here
    if isinstance(value, dict):
        for k, v in value.items():
            yield from paths(v, (*here, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from paths(v, (*here, i))


@st.composite
def mutated(draw) -> dict:
    data = valid_bundle(draw(st.sampled_from(["batch", "transaction"])))
    for _ in range(draw(st.integers(1, 4))):
        where = draw(st.sampled_from([p for p in paths(data) if p]))
        parent = data
        for part in where[:-1]:
            parent = parent[part]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[where[-1]]
        else:
            parent[where[-1]] = draw(JSON)
    return data


@pytest.fixture
def clinic(sessions):
    with transaction(sessions) as s:
        add_clinic(
            s, slug="downtown", name="Downtown", timezone="America/New_York", phone="201-555-0100"
        )
    return sessions


def check(sessions, data) -> None:
    with transaction(sessions) as s:
        s.execute(delete(TreatmentSession))
        s.execute(delete(Patient))
    kept = copy.deepcopy(data)
    try:
        result = import_fhir(sessions, data, clinic="downtown", now=NOW)
    except FhirError as exc:
        assert exc.issues
        return
    assert data == kept  # the input is read, never changed
    assert all(e.status for e in result.entries)
    created = {e.row.session_id for e in result.entries if e.status == "201 Created"}
    with sessions() as s:
        written = s.execute(
            select(TreatmentSession.external_id, Patient.phone, TreatmentSession.completed_at).join(
                Patient, TreatmentSession.patient_id == Patient.id
            )
        ).all()
        patients = s.scalars(select(Patient.phone)).all()
    assert {w.external_id for w in written} == created
    assert all(w.phone.startswith("+") and w.completed_at for w in written)
    assert len(patients) <= len(written)  # a patient is stored only with a session
    if isinstance(data, dict) and data.get("type") == "transaction":
        encounters = [e for e in result.entries if e.resource_type == "Encounter"]
        assert len(created) in (0, len(encounters))
    text = json.dumps([operation_outcome(result), response_bundle(result)], ensure_ascii=False)
    for secret in secrets_of(data):
        assert secret not in text, secret


def secrets_of(data) -> set[str]:
    """The known phones and names that the input holds as a phone or a name and nowhere else
    (a name given as a status is echoed as a status, rightly)."""
    known = {*PHONES, "+1 900 555 0142", *NAMES, "Quixotic"}
    inside: set[str] = set()
    outside: set[str] = set()

    def walk(value, private: bool) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                if isinstance(k, str) and k in known:
                    outside.add(k)
                walk(v, private or k in ("telecom", "name"))
        elif isinstance(value, list):
            for v in value:
                walk(v, private)
        elif isinstance(value, str) and value in known:
            (inside if private else outside).add(value)

    walk(data, False)
    return inside - outside


@FUZZ
@given(data=JSON)
def test_random_json_is_answered_or_refused_as_fhir(clinic, data) -> None:
    check(clinic, data)


@FUZZ
@given(data=mutated())
def test_a_mutated_bundle_is_written_whole_per_entry_or_not_at_all(clinic, data) -> None:
    check(clinic, data)


def test_the_valid_bundles_are_written(clinic) -> None:
    """The fuzzing's starting point is itself good: both sessions go in."""
    for kind in ("batch", "transaction"):
        result = import_fhir(clinic, valid_bundle(kind), clinic="downtown", now=NOW)
        assert [e.status for e in result.entries if e.resource_type == "Encounter"] == [
            "201 Created" if kind == "batch" else "200 OK"
        ] * 2
