"""The refusals every API route may answer, as the OpenAPI document states them. FastAPI
documents only 200 and 422 by itself; a client (and the schemathesis test) must also find
the 401 without a key, the 403 of a staff role or a missing CSRF header, and the 404 of
anything not the caller's clinic's."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class Problem(BaseModel):
    """Why a request was refused, in FastAPI's shape for errors other than 422."""

    detail: str


def _problem(description: str) -> dict[str, Any]:
    return {"model": Problem, "description": description}


#: what any route of a clinic may answer besides its own outcomes
CLINIC: dict[int | str, dict[str, Any]] = {
    400: _problem("The body is not JSON"),
    401: _problem("No API key or login, or one that is unknown, revoked or ended"),
    403: _problem(
        "A change a staff role may not make, or a login's change without its CSRF header"
    ),
    404: _problem("No such clinic, or no such row in it, among the caller's clinics"),
}
#: also for routes whose action someone else may have done first
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _problem("Done already, or moved on, by someone else: nothing was changed"),
}

_OUTCOME = {"schema": {"type": "object", "description": "a FHIR R4 OperationOutcome or Bundle"}}


def fhir(*statuses: tuple[int, str]) -> dict[int | str, dict[str, Any]]:
    """FHIR answers: an OperationOutcome (or a response Bundle) as ``application/fhir+json``."""
    return {
        code: {"description": why, "content": {"application/fhir+json": _OUTCOME}}
        for code, why in statuses
    }


#: the request body of the FHIR routes, which they read themselves (to cap its size first)
FHIR_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/fhir+json": {"schema": {"type": "object"}},
            "application/json": {"schema": {"type": "object"}},
        },
    }
}
