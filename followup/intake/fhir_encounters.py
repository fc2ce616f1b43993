"""FHIR R4 intake: an ``Encounter`` (with its ``Patient``) or a ``transaction``/``batch``
``Bundle`` of them, read into the same checked rows as the CSV import.

Pure: a decoded JSON value in, rows and OperationOutcome-style issues out; no database. The
rules are the CSV import's, not a copy of them: each Encounter is turned into the fields of
one CSV row and checked by the same :class:`followup.intake.csv_rows.RowParser` (age limits,
dates before 2000, phone types, name screening, locale, consent), and the rows are written
by the one shared :mod:`followup.intake.writer` (a session keeps its patient, two phones for
one patient are told). So a clinic that moves from CSV files to FHIR gets the same sessions.

Shapes are checked with the R4 models of ``fhir.resources`` (``fhir.resources.R4B``; the
package's top-level models are R5, whose Encounter has ``actualPeriod`` and the status
``completed``). A resource that does not validate is refused with issues naming the field.

Mapping (docs/fhir.md has the full table):

- ``Encounter.status``: ``finished`` is a completed session; ``cancelled`` and
  ``entered-in-error`` cancel it (its waiting texts are skipped, as a CSV ``status`` of
  ``cancelled``); ``planned``, ``arrived``, ``triaged``, ``in-progress``, ``onleave`` and
  ``unknown`` are ignored with an informational issue (nothing is written). Anything else
  (R5's ``completed``) is an error.
- ``Encounter.period.end`` is the completion time: required, with a time of day and a UTC
  offset. A cancelled Encounter may give ``period.start`` instead.
- Session id: the value of the Encounter's identifier whose ``system`` is the caller's
  ``session_system`` (the clinic's own id space; a clinic's record system often adds others,
  such as a visit number of the billing system); without one, ``identifier[0]``. Patient id
  likewise from ``Patient.identifier`` and ``patient_system``. Never the resource ``id``,
  which a server may assign anew on every export.
- Phone: ``Patient.telecom`` with ``system`` ``phone`` and ``use`` ``mobile``, or ``system``
  ``sms``; else a ``phone`` with no ``use``. ``home``, ``work``, ``temp`` and ``old`` numbers
  are never used: they are landlines or not the patient's now.
- First name: ``given[0]`` of the name whose ``use`` is ``usual``, else ``official``, else
  one without ``use``, else the first one that is not ``old`` or ``maiden``.
- Locale: ``communication[preferred, else first].language.coding[0].code``.
- Consent: FHIR has no SMS consent on Patient or Encounter. The extension
  :data:`CONSENT_URL` with ``valueBoolean`` on the Patient (or the Encounter) says yes or no;
  without it, the caller's ``consent_default`` (False unless the clinic has said every
  patient it sends agreed). Fail safe: without a clear yes, no texts.
- Regions: ``Encounter.reasonCode[].text`` (or its first coding's ``display``), read by the
  CSV's region rules. (R4 Encounter has no ``bodySite``.)

No issue repeats a phone number or a name: diagnostics come from the row checks (which never
echo them) and from pydantic's messages, which are scrubbed of every phone and name string
of the input before they leave.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from fhir.resources.R4B.bundle import BundleEntry
from fhir.resources.R4B.encounter import Encounter
from fhir.resources.R4B.patient import Patient

from followup.intake.clinic_fields import LOCALE
from followup.intake.csv_rows import OPTIONAL, REQUIRED, ClinicLookup, Reject, Row, RowParser

__all__ = [
    "CONSENT_URL",
    "Entry",
    "FhirError",
    "Issue",
    "Mapped",
    "map_fhir",
    "operation_outcome",
    "response_bundle",
]

#: the extension (valueBoolean) that carries a patient's SMS consent
CONSENT_URL = "https://followup.example.org/fhir/sms-consent"
COMPLETED = ("finished",)
CANCELLED = ("cancelled", "entered-in-error")
NOT_YET = ("planned", "arrived", "triaged", "in-progress", "onleave", "unknown")
#: a FHIR dateTime with a time of day and an offset (FHIR allows a bare date or year too)
_INSTANT = re.compile(r"T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$")
_COLUMNS = REQUIRED + OPTIONAL
#: where a row check's field lives in FHIR
_PATHS = {
    "clinic": "",
    "session_id": "Encounter.identifier",
    "patient_id": "Patient.identifier",
    "first_name": "Patient.name.given",
    "phone": "Patient.telecom",
    "consent": "Patient.extension",
    "completed_at": "Encounter.period.end",
    "locale": "Patient.communication.language",
    "status": "Encounter.status",
    "regions": "Encounter.reasonCode",
    "next_appointment_at": "",
}
_SPLIT = re.compile(r"; (?=(?:" + "|".join(_PATHS) + r"):)")
_LONG_DIGITS = re.compile(r"\+?\d[\d ().-]{5,}\d")


class FhirError(ValueError):
    """The input as a whole is not an Encounter or a transaction/batch Bundle; ``issues``
    say why (OperationOutcome issues, as dicts)."""

    def __init__(self, diagnostics: str, expression: str | None = None) -> None:
        super().__init__(diagnostics)
        issue = Issue("error", "invalid" if expression else "structure", diagnostics)
        if expression:
            issue.expression.append(expression)
        self.issues = [issue]


@dataclass
class Issue:
    severity: str  # fatal | error | warning | information
    code: str  # invalid | required | structure | value | not-supported | conflict | ...
    diagnostics: str
    expression: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "severity": self.severity,
            "code": self.code,
            "diagnostics": self.diagnostics,
        }
        if self.expression:
            out["expression"] = list(self.expression)
        return out


@dataclass
class Entry:
    """One Encounter (or a Patient entry of a Bundle) and what becomes of it.

    ``number`` is its 1-based place in the Bundle (1 for a lone Encounter), the "line" of
    its row. ``status`` is the entry's response: ``201 Created``, ``200 OK`` (an update, a
    Patient stored with its Encounters, an Encounter ignored), ``400 Bad Request``, ``409
    Conflict`` (a session of another patient), or "" until the writer decides."""

    number: int
    resource_type: str
    full_url: str | None = None
    row: Row | None = None
    issues: list[Issue] = field(default_factory=list)
    status: str = ""
    location: str | None = None
    #: an Encounter's Patient entry (a Bundle's), by number
    patient: int | None = None

    @property
    def failed(self) -> bool:
        return any(i.severity in ("error", "fatal") for i in self.issues)


@dataclass
class Mapped:
    """A whole input: ``kind`` is ``transaction``, ``batch`` or ``encounter`` (a lone one,
    answered like a batch of one)."""

    kind: str
    entries: list[Entry]

    @property
    def rows(self) -> list[Row]:
        return [e.row for e in self.entries if e.row is not None and not e.failed]

    @property
    def failed(self) -> bool:
        return any(e.failed for e in self.entries)


def map_fhir(
    data: Any,
    *,
    clinic: str,
    lookup: ClinicLookup,
    now: datetime,
    senders: Iterable[str | None] = (),
    consent_default: bool = False,
    session_system: str | None = None,
    patient_system: str | None = None,
) -> Mapped:
    """Read ``data`` (decoded JSON) for the clinic with slug ``clinic``; FhirError when it is
    neither an Encounter nor a transaction or batch Bundle. Entries with problems carry
    error issues and no row; the caller writes :attr:`Mapped.rows` (nothing, for a
    transaction with any error)."""
    parser = RowParser(lookup, {c: i for i, c in enumerate(_COLUMNS)}, now, senders)
    reader = _Reader(parser, clinic, consent_default, session_system, patient_system)
    if not isinstance(data, dict):
        raise FhirError("expected a JSON object: an Encounter or a Bundle")
    kind = data.get("resourceType")
    if kind == "Encounter":
        entry = Entry(1, "Encounter")
        reader.encounter(entry, data, {})
        mapped = Mapped("encounter", [entry])
    elif kind == "Bundle":
        mapped = reader.bundle(data)
    else:
        raise FhirError(
            "expected resourceType Encounter or Bundle"
            + (f", got {kind!r}" if isinstance(kind, str) and kind.isalpha() else ""),
            "resourceType",
        )
    seen: dict[tuple[int, str], int] = {}
    for e in mapped.entries:
        if e.row is None or e.failed:
            continue
        first = seen.setdefault((e.row.clinic_id, e.row.session_id), e.number)
        if first != e.number:
            e.issues.append(
                Issue(
                    "error",
                    "duplicate",
                    f"Encounter.identifier: session id {e.row.session_id!r} is already in "
                    f"entry {first}",
                    ["Encounter.identifier"],
                )
            )
    for e in mapped.entries:
        if e.failed:
            e.status = "400 Bad Request"
        elif e.row is None and not e.status:
            e.status = "200 OK"
    return mapped


class _Reader:
    def __init__(
        self,
        parser: RowParser,
        clinic: str,
        consent_default: bool,
        session_system: str | None,
        patient_system: str | None,
    ) -> None:
        self.parser = parser
        self.clinic = clinic
        self.consent_default = consent_default
        self.session_system = session_system
        self.patient_system = patient_system

    def bundle(self, data: dict[str, Any]) -> Mapped:
        kind = data.get("type")
        if kind not in ("transaction", "batch"):
            raise FhirError("a Bundle of type transaction or batch is expected", "Bundle.type")
        raw_entries = data.get("entry", [])
        if not isinstance(raw_entries, list):
            raise FhirError("Bundle.entry: expected a list of entries", "Bundle.entry")
        entries = [Entry(n, _type_of(raw), _full_url(raw)) for n, raw in enumerate(raw_entries, 1)]
        patients: dict[str, tuple[Entry, dict[str, Any]]] = {}
        encounters: list[tuple[Entry, dict[str, Any]]] = []
        for entry, raw in zip(entries, raw_entries, strict=True):
            resource = self.entry_resource(entry, raw)
            if resource is None:
                continue
            if entry.resource_type == "Patient":
                if entry.full_url:
                    patients[entry.full_url] = (entry, resource)
                rid = resource.get("id")
                if isinstance(rid, str):
                    patients.setdefault(f"Patient/{rid}", (entry, resource))
            else:
                encounters.append((entry, resource))
        used: set[int] = set()
        for entry, resource in encounters:
            patient = self.encounter(entry, resource, patients)
            if patient is not None:
                used.add(patient.number)
        for entry, _ in patients.values():
            if entry.failed or entry.number in used:
                continue
            entry.issues.append(
                Issue(
                    "information",
                    "informational",
                    "Patient: no Encounter of the Bundle refers to it; a patient is stored "
                    "with a session",
                    ["Patient"],
                )
            )
        return Mapped(kind, entries)

    def entry_resource(self, entry: Entry, raw: Any) -> dict[str, Any] | None:
        """The entry's resource when its envelope is usable; else issues on the entry."""
        where = f"Bundle.entry[{entry.number - 1}]"
        if not isinstance(raw, dict):
            entry.issues.append(Issue("error", "structure", f"{where}: not an object", [where]))
            return None
        shell = {k: v for k, v in raw.items() if k != "resource"}
        problems = _validate(BundleEntry, shell, f"{where}", _secrets(raw))
        resource = raw.get("resource")
        if not isinstance(resource, dict):
            problems.append(Issue("error", "required", f"{where}.resource: required"))
        method = (
            (raw.get("request") or {}).get("method")
            if isinstance(raw.get("request"), dict)
            else None
        )
        if method is not None and method not in ("POST", "PUT"):
            problems.append(
                Issue(
                    "error",
                    "not-supported",
                    f"{where}.request.method: only POST and PUT are supported",
                    [f"{where}.request.method"],
                )
            )
        if entry.resource_type not in ("Encounter", "Patient"):
            problems.append(
                Issue(
                    "error",
                    "not-supported",
                    f"{where}.resource: only Encounter and Patient are read",
                    [f"{where}.resource.resourceType"],
                )
            )
        entry.issues.extend(problems)
        if problems:
            return None
        assert isinstance(resource, dict)
        if entry.resource_type == "Patient":
            entry.issues.extend(_validate(Patient, resource, "Patient", _secrets(resource)))
            return None if entry.failed else resource
        return resource

    def encounter(
        self,
        entry: Entry,
        resource: dict[str, Any],
        patients: Mapping[str, tuple[Entry, dict[str, Any]]],
    ) -> Entry | None:
        """Check one Encounter into ``entry.row``; returns the Patient entry it used."""
        self.current = entry
        issues = entry.issues
        secrets = _secrets(resource)
        issues.extend(_validate(Encounter, resource, "Encounter", secrets))
        if entry.failed:
            return None
        status = resource.get("status")
        if status in NOT_YET:
            issues.append(
                Issue(
                    "information",
                    "informational",
                    f"Encounter.status: {status!r} is not a finished visit; ignored, nothing "
                    "is written (send it again once it is finished)",
                    ["Encounter.status"],
                )
            )
            return None
        if status not in COMPLETED + CANCELLED:
            shown = repr(status) if isinstance(status, str) and len(status) < 30 else "this value"
            hint = (
                " (R5 spells it 'completed'; this service reads FHIR R4)"
                if status == ("completed")
                else ""
            )
            issues.append(
                Issue(
                    "error",
                    "value",
                    f"Encounter.status: {shown} is not an R4 status: expected finished, "
                    f"cancelled or entered-in-error{hint}",
                    ["Encounter.status"],
                )
            )
            return None
        patient, patient_entry = self.patient_of(entry, resource, patients)
        entry.patient = patient_entry.number if patient_entry else None
        if patient is None:
            return None
        secrets |= _secrets(patient)
        if patient_entry is None:  # contained: validated here
            issues.extend(_validate(Patient, patient, "Patient", secrets))
            if entry.failed:
                return None
        cancelled = status in CANCELLED
        fields = {c: "" for c in _COLUMNS}
        fields["clinic"] = self.clinic
        fields["status"] = "cancelled" if cancelled else "completed"
        fields["session_id"] = self.identifier(resource, "Encounter", self.session_system)
        fields["patient_id"] = self.identifier(patient, "Patient", self.patient_system)
        fields["completed_at"] = self.completed_at(resource, cancelled)
        fields["phone"] = self.phone(patient)
        fields["first_name"] = _first_name(patient)
        fields["locale"] = self.locale(patient)
        fields["consent"] = self.consent(resource, patient)
        fields["regions"] = ";".join(_reasons(resource))
        if entry.failed:
            return patient_entry
        try:
            row = self.parser([fields[c] for c in _COLUMNS], entry.number)
        except Reject as exc:
            for part in _SPLIT.split(str(exc)):
                issues.append(_row_issue(part, "error", secrets))
            return patient_entry
        issues.extend(_row_issue(w, "warning", secrets) for w in row.warnings)
        row.warnings = []
        entry.row = row
        entry.location = f"Encounter/{row.session_id}"
        return patient_entry

    def patient_of(
        self,
        entry: Entry,
        resource: dict[str, Any],
        patients: Mapping[str, tuple[Entry, dict[str, Any]]],
    ) -> tuple[dict[str, Any] | None, Entry | None]:
        subject = resource.get("subject") or {}
        reference = subject.get("reference") if isinstance(subject, dict) else None
        if not isinstance(reference, str) or not reference:
            entry.issues.append(
                Issue(
                    "error",
                    "required",
                    "Encounter.subject.reference: required (a contained Patient '#id' or a "
                    "Patient of the same Bundle)",
                    ["Encounter.subject.reference"],
                )
            )
            return None, None
        if reference.startswith("#"):
            for contained in _list(resource.get("contained")):
                if (
                    isinstance(contained, dict)
                    and contained.get("resourceType") == "Patient"
                    and contained.get("id") == reference[1:]
                ):
                    return contained, None
        elif reference in patients:
            patient_entry, patient = patients[reference]
            if patient_entry.failed:
                entry.issues.append(
                    Issue(
                        "error",
                        "invalid",
                        f"Encounter.subject: its Patient (entry {patient_entry.number}) is refused",
                        ["Encounter.subject"],
                    )
                )
                return None, None
            return patient, patient_entry
        entry.issues.append(
            Issue(
                "error",
                "not-found",
                "Encounter.subject.reference: no such Patient in the Encounter's contained "
                "resources or the Bundle",
                ["Encounter.subject.reference"],
            )
        )
        return None, None

    def identifier(self, resource: dict[str, Any], kind: str, system: str | None) -> str:
        found = [
            i
            for i in _list(resource.get("identifier"))
            if isinstance(i, dict) and isinstance(i.get("value"), str) and i["value"].strip()
        ]
        if system:
            found = [i for i in found if i.get("system") == system]
        if found:
            return found[0]["value"].strip()
        where = f"{kind}.identifier"
        told = f" with system {system!r}" if system else ""
        self._error("required", f"{where}: required (an identifier{told} with a value)", where)
        return ""

    def completed_at(self, resource: dict[str, Any], cancelled: bool) -> str:
        period = _dict(resource.get("period"))
        end = period.get("end")
        where = "Encounter.period.end"
        if not end and cancelled:
            end, where = period.get("start"), "Encounter.period.start"
        if end is not None and not isinstance(end, str):
            end = ""
        if not end:
            self._error(
                "required",
                "Encounter.period.end: required (the time the session was completed)",
                "Encounter.period.end",
            )
            return ""
        if not _INSTANT.search(end):
            self._error(
                "invalid",
                f"{where}: {end!r} needs a time of day and a UTC offset "
                "(e.g. 2025-03-14T16:30:00-04:00)",
                where,
            )
            return ""
        return end

    def phone(self, patient: dict[str, Any]) -> str:
        telecom = [
            t
            for t in _list(patient.get("telecom"))
            if isinstance(t, dict) and isinstance(t.get("value"), str) and t["value"].strip()
        ]
        mobile = [
            t
            for t in telecom
            if (t.get("system") == "phone" and t.get("use") == "mobile")
            or (t.get("system") == "sms" and t.get("use") not in ("home", "work", "old"))
        ]
        plain = [t for t in telecom if t.get("system") == "phone" and not t.get("use")]
        chosen = (mobile or plain or [None])[0]
        if chosen is None:
            landline = any(t.get("system") == "phone" for t in telecom)
            self._error(
                "required",
                "Patient.telecom: no mobile phone (system phone with use mobile)"
                + ("; a home, work or old number is not one a text can reach" if landline else ""),
                "Patient.telecom",
            )
            return ""
        return str(chosen["value"])

    def locale(self, patient: dict[str, Any]) -> str:
        spoken = [c for c in _list(patient.get("communication")) if isinstance(c, dict)]
        chosen = ([c for c in spoken if c.get("preferred") is True] or spoken or [None])[0]
        if chosen is None:
            return ""
        codings = _list(_dict(chosen.get("language")).get("coding"))
        code = codings[0].get("code") if codings and isinstance(codings[0], dict) else None
        if not code:
            return ""
        if not isinstance(code, str) or not LOCALE.match(code):
            self._error(
                "value",
                "Patient.communication.language: not a language code such as 'en' or 'es-MX'",
                "Patient.communication.language.coding.code",
            )
            return ""
        return code

    def consent(self, encounter: dict[str, Any], patient: dict[str, Any]) -> str:
        said: list[Any] = [
            x.get("valueBoolean", x.get("valueString", ...))
            for r in (patient, encounter)
            for x in _list(r.get("extension"))
            if isinstance(x, dict) and x.get("url") == CONSENT_URL
        ]
        if not said:
            return "yes" if self.consent_default else "no"
        if any(v is not True and v is not False for v in said):
            self._error(
                "invalid",
                f"Patient.extension: the consent extension {CONSENT_URL} needs valueBoolean",
                "Patient.extension",
            )
            return ""
        if len(set(said)) > 1:
            self._error(
                "invalid",
                "Patient.extension: the Patient and the Encounter disagree about consent",
                "Patient.extension",
            )
            return ""
        return "yes" if said[0] else "no"

    def _error(self, code: str, diagnostics: str, where: str) -> None:
        self._pending.append(Issue("error", code, diagnostics, [where]))

    @property
    def _pending(self) -> list[Issue]:
        return self.current.issues

    current: Entry


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_name(patient: dict[str, Any]) -> str:
    names = [
        n
        for n in _list(patient.get("name"))
        if isinstance(n, dict) and _list(n.get("given")) and isinstance(n["given"][0], str)
    ]
    for wanted in ("usual", "official", None):
        for n in names:
            if n.get("use") == wanted:
                return str(n["given"][0])
    for n in names:
        if n.get("use") not in ("old", "maiden"):
            return str(n["given"][0])
    return ""


def _reasons(encounter: dict[str, Any]) -> list[str]:
    out = []
    for reason in _list(encounter.get("reasonCode")):
        if not isinstance(reason, dict):
            continue
        text = reason.get("text")
        codings = _list(reason.get("coding"))
        if not text and codings and isinstance(codings[0], dict):
            text = codings[0].get("display")
        if isinstance(text, str) and text.strip():
            out.append(text.replace(";", ","))
    return out


def _type_of(raw: Any) -> str:
    resource = raw.get("resource") if isinstance(raw, dict) else None
    kind = resource.get("resourceType") if isinstance(resource, dict) else None
    return kind if isinstance(kind, str) and kind.isalpha() and len(kind) < 40 else "?"


def _full_url(raw: Any) -> str | None:
    url = raw.get("fullUrl") if isinstance(raw, dict) else None
    return url if isinstance(url, str) else None


def _row_issue(message: str, severity: str, secrets: set[str]) -> Issue:
    """An issue of the row checks: ``phone: ...`` becomes ``Patient.telecom: ...``."""
    name, _, rest = message.partition(": ")
    path = _PATHS.get(name)
    if path is None:
        return Issue(severity, "invalid", _scrub(message, secrets))
    code = (
        "required"
        if rest == "required"
        else ("informational" if severity == "warning" else "invalid")
    )
    if not path:
        return Issue(severity, code, _scrub(message, secrets))
    return Issue(severity, code, _scrub(f"{path}: {rest}", secrets), [path])


def _validate(model: Any, data: dict[str, Any], root: str, secrets: set[str]) -> list[Issue]:
    """Pydantic's errors for ``data`` as issues naming the field; never the input's values."""
    try:
        model.model_validate(data)
    except Exception as exc:  # ValidationError mostly; any failure of the model refuses it
        errors = getattr(exc, "errors", None)
        try:
            found = errors() if callable(errors) else []
        except Exception:
            found = []
        if not found:
            return [Issue("error", "invalid", f"{root}: not a valid {model.__name__}", [root])]
        issues = []
        for error in found[:20]:
            path = _scrub(_path(root, error.get("loc", ())), secrets)
            code = (
                "required"
                if error.get("type") == "missing"
                else ("structure" if error.get("type") == "extra_forbidden" else "invalid")
            )
            message = " ".join(str(error.get("msg", "invalid")).split())
            if error.get("type") == "extra_forbidden":
                message = f"not an R4 {model.__name__} element (R5 or a typo?)"
            issues.append(Issue("error", code, _scrub(f"{path}: {message}", secrets), [path]))
        return issues
    return []


def _path(root: str, loc: Iterable[Any]) -> str:
    out = root
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part in ("root", "__root__") or not isinstance(part, str):
            continue
        elif part == "resource_type":
            out += ".resourceType"
        else:
            out += "." + part.removesuffix("__ext").lstrip("_")
    return out


def _secrets(resource: Any) -> set[str]:
    """Every string under a ``telecom`` or ``name`` of the resource (and the resources it
    contains): what no issue may repeat."""
    found: set[str] = set()

    def walk(value: Any, inside: bool, depth: int) -> None:
        if depth > 40:
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, inside or k in ("telecom", "name"), depth + 1)
        elif isinstance(value, list):
            for v in value:
                walk(v, inside, depth + 1)
        elif inside and isinstance(value, str) and len(value.strip()) >= 2:
            found.add(value.strip())
            found.update(w for w in value.split() if len(w) >= 3)

    walk(resource, False, 0)
    return found


def _scrub(text: str, secrets: set[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "…")
    return _LONG_DIGITS.sub(lambda m: m.group() if _is_time(m.group()) else "…", text)


def _is_time(digits: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", digits[:10])) or ":" in digits


# ---- answers -------------------------------------------------------------------------------


def operation_outcome(mapped: Mapped) -> dict[str, Any]:
    """Every issue of the input as one OperationOutcome (entry numbers say where, in a
    Bundle); an ``information`` "all ok" issue when there are none."""
    issues = []
    for e in mapped.entries:
        for i in e.issues:
            issue = i.as_dict()
            if mapped.kind != "encounter":
                issue["diagnostics"] = f"entry {e.number}: {i.diagnostics}"
                issue["expression"] = [
                    f"Bundle.entry[{e.number - 1}].resource.{x}"
                    if not x.startswith("Bundle.")
                    else x
                    for x in i.expression
                ]
                if not issue["expression"]:
                    del issue["expression"]
            issues.append(issue)
    if not issues:
        issues.append({"severity": "information", "code": "informational", "diagnostics": "ok"})
    return {"resourceType": "OperationOutcome", "issue": issues}


def response_bundle(mapped: Mapped) -> dict[str, Any]:
    """The ``transaction-response`` or ``batch-response`` Bundle: one response per entry,
    with its status and, when it has any, its issues as an OperationOutcome. (A transaction
    that failed is answered by :func:`operation_outcome` over HTTP; this Bundle still tells
    each entry's part, every status a failure.)"""
    kind = "transaction-response" if mapped.kind == "transaction" else "batch-response"
    entries = []
    for e in mapped.entries:
        response: dict[str, Any] = {"status": e.status or "400 Bad Request"}
        if e.location:
            response["location"] = e.location
        if e.issues:
            response["outcome"] = {
                "resourceType": "OperationOutcome",
                "issue": [i.as_dict() for i in e.issues],
            }
        entries.append({"response": response})
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
