"""A clinic's care plan as its admins see and replace it: the plan in the file format the
command line reads (``followup clinics set-plan``, JSON or TOML), checked by the same
parser (:func:`followup.outbound.careplan.parse_plan`) and the same template check.

What a new plan changes: it is stored on the clinic row, and every session of the clinic
that still has a text waiting is marked to be planned again
(:func:`followup.store.clinics.set_care_plan`). The worker's planner then brings those
texts in line with the new plan on its next run (steps the plan drops are not sent, steps
it adds are scheduled), and every session imported from then on is planned with it. Texts
already sent stay as they were, and a session with nothing left waiting is not planned
again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from followup.access import audit
from followup.desk.errors import DeskError, NotFound
from followup.intake.clinics import plan_template_problems
from followup.outbound.careplan import (
    CarePlanError,
    parse_plan_bytes,
    plan_for,
    plan_to_data,
)
from followup.store import clinics as clinic_rows
from followup.texts.catalogue import Catalogue

#: the most a plan upload may be (the default plan is under 2 kB)
MAX_PLAN_BYTES = 64_000


@dataclass(frozen=True)
class PlanView:
    #: the plan as JSON, as ``followup clinics set-plan plan.json`` reads it back
    text: str
    is_default: bool
    steps: tuple[str, ...]


def _clinic(db: Session, clinic_id: int) -> Any:
    clinic = clinic_rows.by_id(db, clinic_id)
    if clinic is None:
        raise NotFound("clinic")
    return clinic


def current(db: Session, clinic_id: int) -> PlanView:
    """The clinic's plan, or the default plan when it has stored none."""
    stored = _clinic(db, clinic_id).care_plan
    try:
        plan = plan_for(stored)
    except CarePlanError as exc:
        raise DeskError("care_plan", f"the stored plan cannot be read: {exc}") from None
    text = json.dumps(plan_to_data(plan), indent=2, ensure_ascii=False) + "\n"
    return PlanView(text, not stored, tuple(s.key for s in plan.steps))


def upload(
    db: Session, clinic_id: int, raw: bytes, *, filename: str | None, catalogue: Catalogue,
    now: datetime, actor: str,
) -> PlanView:  # fmt: skip
    """Replace the clinic's plan with ``raw`` (JSON, or TOML when it does not start with
    ``{`` or the file is named ``.toml``). DeskError("care_plan", why) and nothing stored
    when it is not a valid plan; audited as ``careplan.upload``."""
    if len(raw) > MAX_PLAN_BYTES:
        raise DeskError("care_plan", f"larger than {MAX_PLAN_BYTES // 1000} kB")
    if not raw.strip():
        raise DeskError("care_plan", "empty: paste a plan or choose a file")
    name = (filename or "").lower()
    fmt = "toml" if name.endswith(".toml") or not raw.lstrip().startswith(b"{") else "json"
    source = filename or "the uploaded plan"
    try:
        plan = parse_plan_bytes(raw, fmt, source)
    except CarePlanError as exc:
        raise DeskError("care_plan", str(exc)) from None
    problems = plan_template_problems(plan, catalogue, source)
    if problems:
        raise DeskError("care_plan", "; ".join(problems))
    clinic = _clinic(db, clinic_id)
    clinic_rows.set_care_plan(db, clinic, plan_to_data(plan))
    detail = f"{source} ({fmt}); steps: {', '.join(s.key for s in plan.steps)}"
    audit.record(db, actor=actor, action="careplan.upload", now=now, clinic_id=clinic_id,
                 subject=f"clinic:{clinic_id}", detail=detail)  # fmt: skip
    return current(db, clinic_id)


def reset(db: Session, clinic_id: int, *, now: datetime, actor: str) -> None:
    """Go back to the default plan; audited as ``careplan.upload`` too (it replaces the plan)."""
    clinic_rows.set_care_plan(db, _clinic(db, clinic_id), None)
    audit.record(db, actor=actor, action="careplan.upload", now=now, clinic_id=clinic_id,
                 subject=f"clinic:{clinic_id}", detail="reset to the default plan")  # fmt: skip
