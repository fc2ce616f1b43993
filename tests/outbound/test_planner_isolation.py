"""One session the planner cannot plan never stops the others: it is set aside with its
error (``plan_error``), counted, shown by ``followup outbox``, and everyone else is planned.
Errors of the database itself set nothing aside: the next run tries again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import OperationalError
from support.scripted import T0
from support.seeding import seed_treated

from followup.outbound import planner
from followup.outbound.planner import plan_pending
from followup.store.models import OutboundMessage, Patient, TreatmentSession

LATER = T0 + timedelta(minutes=5)


def _session(s, external_id: str) -> TreatmentSession:
    with s() as db:
        return db.scalars(
            select(TreatmentSession).where(TreatmentSession.external_id == external_id)
        ).one()


def _texts_of(s, external_id: str) -> list[OutboundMessage]:
    with s() as db:
        return list(
            db.scalars(
                select(OutboundMessage)
                .join(TreatmentSession, TreatmentSession.id == OutboundMessage.session_id)
                .where(TreatmentSession.external_id == external_id)
            )
        )


def _add_session(s, patient_external: str, external_id: str, completed_at) -> None:
    with s() as db, db.begin():
        p = db.scalars(select(Patient).where(Patient.external_id == patient_external)).one()
        db.add(
            TreatmentSession(
                clinic_id=p.clinic_id,
                external_id=external_id,
                patient_id=p.id,
                completed_at=completed_at,
                regions="calf",
            )
        )


def test_a_patient_whose_time_zone_no_database_knows_is_set_aside_and_the_rest_planned(
    sessions,
):
    s = sessions
    seed_treated(s, ["+12015550101", "+12015550102"], T0)
    # a clinic system wrote a zone by hand; then both patients have a new session
    with s() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == "P0").values(timezone="Mars/Base"))
    _add_session(s, "P0", "S0b", T0 + timedelta(minutes=1))
    _add_session(s, "P1", "S1b", T0 + timedelta(minutes=1))

    report = plan_pending(s, LATER)

    assert report.unplannable == 1
    bad = _session(s, "S0b")
    assert not bad.plan_pending
    assert bad.plan_error.startswith("ZoneInfoNotFoundError")
    assert _texts_of(s, "S0b") == []
    good = _session(s, "S1b")
    assert (good.plan_pending, good.plan_error) == (False, None)
    assert _texts_of(s, "S1b"), "the other patient's new session is planned"
    # the next run does not trip on it again
    assert plan_pending(s, LATER).unplannable == 0


def test_a_session_moved_to_another_patient_behind_the_import_is_set_aside_not_a_poison_pill(
    sessions,
):
    """The store's import refuses to move a session, but a clinic system writing the table
    directly can: its texts then belong to the old patient and every write of the plan
    breaks the (session, step) uniqueness. That session waits with the error; new sessions
    of every clinic are planned."""
    s = sessions
    seed_treated(s, ["+12015550101", "+12015550102"], T0)
    with s() as db, db.begin():
        other = db.scalars(select(Patient.id).where(Patient.external_id == "P1")).one()
        db.execute(
            update(TreatmentSession)
            .where(TreatmentSession.external_id == "S0")
            .values(patient_id=other, plan_pending=True)
        )
    # another clinic's patient arrives; seeding plans (the planning run that meets the moved
    # session)
    seed_treated(s, ["+12015550199"], T0, first_id=7, slug="north")

    moved = _session(s, "S0")
    assert not moved.plan_pending
    assert "unique" in moved.plan_error.lower()
    assert _texts_of(s, "S7"), "another clinic's new session is planned"
    assert _session(s, "S7").plan_error is None
    # and the following runs are clean
    assert plan_pending(s, LATER + timedelta(minutes=1)).unplannable == 0


def test_rewriting_a_set_aside_session_plans_it(sessions):
    s = sessions
    seed_treated(s, ["+12015550101"], T0)
    with s() as db, db.begin():
        db.execute(update(OutboundMessage).values(status="skipped", reason="test: cleared"))
        db.execute(update(Patient).values(timezone="Nowhere/Atall"))
        db.execute(update(TreatmentSession).values(plan_pending=True))
    plan_pending(s, LATER)
    assert _session(s, "S0").plan_error
    # the clinic fixes the zone and writes the session again (as every writer does)
    with s() as db, db.begin():
        db.execute(update(Patient).values(timezone="America/Chicago"))
        db.execute(update(TreatmentSession).values(plan_pending=True))
    report = plan_pending(s, LATER)
    assert report.unplannable == 0
    assert _session(s, "S0").plan_error is None


def test_a_database_error_sets_nothing_aside(sessions, monkeypatch):
    s = sessions
    seed_treated(s, ["+12015550101"], T0)
    _add_session(s, "P0", "S0b", T0 + timedelta(minutes=1))

    def locked(*args, **kwargs):
        raise OperationalError("INSERT ...", {}, Exception("database is locked"))

    monkeypatch.setattr(planner, "write_plan", locked)
    with pytest.raises(OperationalError):
        plan_pending(s, LATER)
    session = _session(s, "S0b")
    assert (session.plan_pending, session.plan_error) == (True, None)
    monkeypatch.undo()
    assert plan_pending(s, LATER).sessions == 1
    assert _session(s, "S0b").plan_pending is False


def test_followup_outbox_shows_the_sessions_set_aside(sessions, env):
    from click.testing import CliRunner

    from followup.cli import main

    s = sessions
    seed_treated(s, ["+12015550101", "+12015550102"], T0)
    with s() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == "P0").values(timezone="Mars/Base"))
    _add_session(s, "P0", "S0b", T0 + timedelta(minutes=1))
    plan_pending(s, LATER)

    out = CliRunner().invoke(main, ["outbox"])
    assert out.exit_code == 0, out.output
    assert "1 sessions could not be planned" in out.output
    assert "harbor/S0b  ZoneInfoNotFoundError" in out.output
    as_json = CliRunner().invoke(main, ["outbox", "--json"])
    assert '"status": "unplannable"' in as_json.output
    assert '"session_id": "S0b"' in as_json.output
