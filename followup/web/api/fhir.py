"""FHIR R4 intake over HTTP: ``POST /fhir/Encounter`` (one Encounter, its Patient contained)
and ``POST /fhir`` (a transaction or batch Bundle), wrapping
:func:`followup.intake.fhir_import.import_fhir`, so the answers are the CLI's: an
OperationOutcome for one Encounter, a response Bundle for a Bundle. A clinic's system only:
a Bearer key, whose clinic the sessions are for. Bodies over 5 MiB are refused (413) before
they are read whole."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from followup.access import audit
from followup.intake.fhir_encounters import FhirError, operation_outcome, response_bundle
from followup.intake.fhir_import import import_fhir
from followup.store.session_records import clinic_facts
from followup.web.api import responses
from followup.web.deps import DB, KeyCaller, Now

router = APIRouter(tags=["FHIR R4 intake"])
MAX_BYTES = 5 * 1024 * 1024
FHIR_JSON = "application/fhir+json"
_TYPES = (FHIR_JSON, "application/json")


def _outcome(status: int, code: str, diagnostics: str) -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


async def _body(request: Request) -> Any | JSONResponse:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in _TYPES:
        return _outcome(415, "not-supported", f"send {FHIR_JSON} or application/json")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BYTES:
        return _outcome(413, "too-costly", f"the body is over {MAX_BYTES // 1048576} MiB")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BYTES:
            return _outcome(413, "too-costly", f"the body is over {MAX_BYTES // 1048576} MiB")
    try:
        return json.loads(bytes(raw))
    except (ValueError, RecursionError):
        return _outcome(400, "structure", "the body is not JSON")


def _run(request: Request, data: Any, caller: KeyCaller, db: DB, now: Now, *, bundle: bool):
    facts = clinic_facts(db, caller.clinic_ids[0])
    # the import writes in transactions of its own: this one must not hold the write lock
    db.commit()
    if facts is None:
        return _outcome(404, "not-found", "not found")
    if isinstance(data, dict) and bundle != (data.get("resourceType") == "Bundle"):
        want = "a Bundle" if bundle else "an Encounter"
        return _outcome(400, "structure", f"this endpoint takes {want}")
    state = request.app.state.followup
    try:
        mapped = import_fhir(state.sessions, data, clinic=facts.slug, now=now)
    except FhirError as exc:
        return _outcome(400, "structure", str(exc))
    audit.record(
        db, actor=caller.actor, action="fhir.import", now=now, clinic_id=facts.id,
        detail=f"{mapped.kind}: {len(mapped.entries)} entries",
    )  # fmt: skip
    db.commit()
    if bundle:
        return JSONResponse(response_bundle(mapped), media_type=FHIR_JSON)
    entry = next((e for e in mapped.entries if e.resource_type == "Encounter"), None)
    status = int(entry.status.split()[0]) if entry and entry.status else 400
    return JSONResponse(operation_outcome(mapped), status_code=status, media_type=FHIR_JSON)


_REFUSED = (
    (400, "Not valid FHIR R4, or not what this endpoint takes: the OperationOutcome says what"),
    (401, "No API key, or one that is unknown or revoked"),
    (404, "The key's clinic is gone"),
    (413, "The body is over 5 MiB"),
    (415, "Not application/fhir+json or application/json"),
)
_ENCOUNTER = responses.fhir(
    (200, "The session was updated (or was already so)"), (201, "The session was created"),
    (409, "The Encounter conflicts with what the clinic sent before"), *_REFUSED,
)  # fmt: skip
_BUNDLE = responses.fhir((200, "A response Bundle, one entry per entry sent"), *_REFUSED)


@router.post("/fhir/Encounter", summary="One FHIR R4 Encounter (its Patient contained)",
             responses=_ENCOUNTER, openapi_extra=responses.FHIR_BODY)  # fmt: skip
async def post_encounter(request: Request, caller: KeyCaller, db: DB, now: Now) -> Any:
    data = await _body(request)
    if isinstance(data, JSONResponse):
        return data
    return await run_in_threadpool(_run, request, data, caller, db, now, bundle=False)


@router.post("/fhir", summary="A FHIR R4 transaction or batch Bundle of Encounters",
             responses=_BUNDLE, openapi_extra=responses.FHIR_BODY)  # fmt: skip
async def post_bundle(request: Request, caller: KeyCaller, db: DB, now: Now) -> Any:
    data = await _body(request)
    if isinstance(data, JSONResponse):
        return data
    return await run_in_threadpool(_run, request, data, caller, db, now, bundle=True)
