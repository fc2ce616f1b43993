"""schemathesis against the served OpenAPI document (``/openapi.json``), on SQLite and
PostgreSQL: every operation is called with generated input, as North's API key, on North's
own slug (a random slug would only ever test the 404). No answer may be a server error, and
every answer must match what the document says of it: status code, content type, headers
and body schema. Generated ids mostly miss, so the seeded rows are reached by the explicit
examples of the other API tests; this test is about the input nobody thought of.

One check is left out: ``positive_data_acceptance`` expects every request the schema
admits to succeed, but a schema cannot say "a phone number that is a real mobile number" or
"a time zone that exists". Those are refused with a documented 422 naming the field.

The document is read from an app built at import (schemathesis parametrizes at collection);
``test_the_document_is_the_one_served`` checks it is the one the app serves."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from followup.config import load_settings
from followup.runtime import Runtime
from followup.web.app import create_app

#: examples per operation: enough to find the shapes nobody wrote a test for, quick in CI.
#: The examples are the same every run (``derandomize``), so CI never fails on a draw it
#: did not make before; FOLLOWUP_SCHEMA_EXAMPLES=500 FOLLOWUP_SCHEMA_RANDOM=1 explores further.
EXAMPLES = int(os.environ.get("FOLLOWUP_SCHEMA_EXAMPLES", "25"))
RANDOM = os.environ.get("FOLLOWUP_SCHEMA_RANDOM") == "1"


def _document() -> dict:
    """The app's OpenAPI document; building the app opens no database connection."""
    runtime = Runtime(load_settings({"FOLLOWUP_DATABASE_URL": "sqlite:///" + str(
        Path(__file__).with_name("never-opened.db")), "FOLLOWUP_DEV_MODE": "1"}))  # fmt: skip
    try:
        return create_app(runtime).openapi()
    finally:
        runtime.close()


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


def test_the_document_is_the_one_served(clinic_web):
    served = clinic_web.client().get("/openapi.json")
    assert served.status_code == 200 and served.json() == DOCUMENT
    assert any(p.startswith("/api/v1/clinics/{slug}/") for p in DOCUMENT["paths"])


@pytest.mark.slow
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=not RANDOM,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
def test_every_operation_answers_as_documented_and_never_500(case, clinic_web):
    if "slug" in (case.path_parameters or {}):
        case.path_parameters["slug"] = "north"
    headers = {"Authorization": f"Bearer {clinic_web.keys['north']}"}
    sent = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
    if not sent.get("cookies"):
        sent.pop("cookies", None)
    if isinstance(sent.get("data"), bytes | str):
        sent["content"] = sent.pop("data")  # raw bytes go as content in httpx
    answer = clinic_web.client().request(**sent)
    assert answer.status_code < 500, answer.text
    case.validate_response(answer, headers=headers, excluded_checks=[positive_data_acceptance])
