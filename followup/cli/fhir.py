"""``followup import-fhir``: FHIR R4 Encounters (or a transaction/batch Bundle of them) in
from a JSON file. Registered by :mod:`followup.cli`.

Output as ``import-sessions``: one line per entry on stdout (its response status), issues on
stderr as ``FILE#ENTRY: severity: diagnostics``; exit code 1 when any entry was refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from followup.cli.support import fail, get_runtime
from followup.intake.fhir_encounters import FhirError, response_bundle
from followup.intake.fhir_import import import_fhir
from followup.store import clinics as stored_clinics

#: a JSON file bigger than this is not one clinic's export of a day
MAX_BYTES = 50 * 1024 * 1024


@click.command("import-fhir")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--clinic", "slug", required=True, help="Slug of the clinic the file is from.")
@click.option(
    "--consent-default",
    type=click.Choice(["yes", "no"]),
    default="no",
    show_default=True,
    help="SMS consent of a patient without the sms-consent extension (docs/fhir.md).",
)
@click.option("--session-system", help="Encounter.identifier system holding the session id.")
@click.option("--patient-system", help="Patient.identifier system holding the patient id.")
@click.option("--response", is_flag=True, help="Print the FHIR response Bundle as JSON instead.")
@click.pass_context
def import_fhir_command(
    ctx: click.Context,
    file: Path,
    slug: str,
    consent_default: str,
    session_system: str | None,
    patient_system: str | None,
    response: bool,
) -> None:
    """Import completed sessions from a FHIR R4 JSON FILE: an Encounter with its Patient
    contained, or a transaction or batch Bundle of Encounters and Patients (re-importing is
    safe). Exit code 1 when any entry was refused."""
    rt = get_runtime(ctx)
    try:
        if file.stat().st_size > MAX_BYTES:
            fail(f"{file}: over {MAX_BYTES // (1024 * 1024)} MB; split the export")
            return
        data = json.loads(file.read_bytes())
    except OSError as exc:
        fail(f"{file}: cannot read: {exc.strerror or exc}")
        return
    except (ValueError, RecursionError) as exc:
        fail(f"{file}: not JSON ({type(exc).__name__})")
        return
    with rt.sessions() as db:
        if stored_clinics.by_slug(db, slug.lower()) is None:
            fail(f"no clinic {slug!r}")
            return
    try:
        result = import_fhir(
            rt.sessions,
            data,
            clinic=slug.lower(),
            senders=(rt.settings.twilio_from_number,),
            consent_default=consent_default == "yes",
            session_system=session_system,
            patient_system=patient_system,
        )
    except FhirError as exc:
        fail(f"{file}: {exc}")
        return
    for e in result.entries:
        for issue in e.issues:
            click.echo(f"{file}#{e.number}: {issue.severity}: {issue.diagnostics}", err=True)
    if response:
        click.echo(json.dumps(response_bundle(result), indent=2, ensure_ascii=False))
    else:
        for e in result.entries:
            where = f" {e.location}" if e.location else ""
            click.echo(f"entry {e.number} ({e.resource_type}): {e.status}{where}")
    created = sum(e.status.startswith("201") for e in result.entries)
    updated = sum(e.status.startswith("200") and e.location is not None for e in result.entries)
    refused = [e for e in result.entries if e.status[:1] in ("4", "5")]
    click.echo(
        f"{result.kind}: imported {created + updated} sessions ({created} new, {updated} "
        f"updated), refused {len(refused)} of {len(result.entries)} entries",
        err=response,
    )
    if refused:
        sys.exit(1)
