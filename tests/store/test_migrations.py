"""Migrations that change tables holding data keep that data (SQLite rebuilds tables)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from followup.store.engine import make_engine, upgrade

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC).isoformat(" ")


def _seed_reply_flag_and_alert(conn) -> None:
    conn.execute(
        text(
            "INSERT INTO clinics (id, slug, name, phone, timezone, country, default_locale,"
            " send_window_start, send_window_end, emergency_number, created_at)"
            " VALUES (1, 'harbor', 'Harbor', '+12015550100', 'America/New_York', 'US', 'en',"
            " 480, 1200, '911', :now)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO inbound_messages (id, provider_sid, from_number, body, num_media,"
            " received_at, kind, urgency) VALUES (1, 'SM1', '+12015550123', 'x', 0, :now,"
            " 'text', 'none')"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO flags (id, clinic_id, inbound_id, kind, reason, status, created_at)"
            " VALUES (1, 1, 1, 'emergency', 'red flag', 'open', :now)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO staff_alerts (id, flag_id, clinic_id, channel, destination, status,"
            " attempts, next_attempt_at, created_at)"
            " VALUES (1, 1, 1, 'sms', '+12015550199', 'pending', 0, :now, :now)"
        ),
        {"now": NOW},
    )


def test_outbox_flags_migration_keeps_flags_and_their_alerts_on_sqlite(tmp_path):
    # SQLite rebuilds the flags table; dropping the old one must not cascade to the alerts
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0003")
    engine = make_engine(url)
    with engine.begin() as conn:
        _seed_reply_flag_and_alert(conn)
    upgrade(url)
    with engine.begin() as conn:
        assert conn.execute(text("SELECT id, flag_id FROM staff_alerts")).all() == [(1, 1)]
        assert conn.execute(text("SELECT id, inbound_id, message_id FROM flags")).all() == [
            (1, 1, None)
        ]
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # a flag without a reply may now be stored
        conn.execute(
            text(
                "INSERT INTO flags (clinic_id, kind, reason, status, created_at)"
                " VALUES (1, 'review', 'held back', 'open', :now)"
            ),
            {"now": NOW},
        )
    engine.dispose()


def _seed_patient_and_session(conn) -> None:
    conn.execute(
        text(
            "INSERT INTO patients (id, clinic_id, external_id, first_name, phone, consent,"
            " created_at, updated_at) VALUES (1, 1, 'P1', 'Ana', '+12015550123', 1, :now, :now)"
        ),
        {"now": NOW},
    )
    conn.execute(
        text(
            "INSERT INTO treatment_sessions (id, clinic_id, external_id, patient_id,"
            " completed_at, status, regions, plan_pending, created_at, updated_at)"
            " VALUES (1, 1, 'S1', 1, :now, 'completed', '[]', 1, :now, :now)"
        ),
        {"now": NOW},
    )


def test_every_migration_since_0003_keeps_every_row_on_sqlite(tmp_path):
    """Each later migration rebuilds some table on SQLite (clinics, flags, replies): not one
    row of any table, including the ones pointing at a rebuilt table, may be lost."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0003")
    engine = make_engine(url)
    tables = ("clinics", "patients", "treatment_sessions", "inbound_messages", "flags",
              "staff_alerts")  # fmt: skip
    with engine.begin() as conn:
        _seed_reply_flag_and_alert(conn)
        _seed_patient_and_session(conn)
        before = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
    assert all(before.values())
    upgrade(url)
    with engine.begin() as conn:
        after = {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert after == before
    engine.dispose()


def test_going_down_to_0002_and_back_keeps_every_patient_session_and_text_on_sqlite(tmp_path):
    """Downgrades rebuild tables too: 0003's used to empty patients, sessions and the outbox
    through the DROP TABLE cascade. Every run now has foreign keys off (migrations/env.py)."""
    from alembic import command
    from support.seeding import seed_treated

    from followup.store.engine import alembic_config, make_sessionmaker

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    seed_treated(make_sessionmaker(engine), ["+12015550201", "+12015550202"], datetime.now(UTC))
    tables = ("clinics", "patients", "treatment_sessions", "outbound_messages")

    def counts() -> dict[str, int]:
        with engine.connect() as conn:
            return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in tables}

    before = counts()
    assert before["outbound_messages"] > 0
    command.downgrade(alembic_config(url), "0002")
    assert counts() == before
    upgrade(url)
    assert counts() == before
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_db_upgrade_only_goes_forward_and_names_an_unknown_revision(tmp_path, monkeypatch):
    from alembic.script import ScriptDirectory
    from click.testing import CliRunner

    from followup.cli import main
    from followup.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'c.db'}"
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    monkeypatch.setenv("FOLLOWUP_DATABASE_URL", url)
    runner = CliRunner()
    done = runner.invoke(main, ["db", "upgrade"])
    assert done.exit_code == 0 and done.output.startswith(f"database at {head}")
    back = runner.invoke(main, ["db", "upgrade", "--revision", "0002"])
    assert back.exit_code == 1 and "only goes forward" in back.output
    unknown = runner.invoke(main, ["db", "upgrade", "--revision", "nope"])
    assert unknown.exit_code == 1 and "Can't locate revision" in unknown.output
    assert "Traceback" not in unknown.output


def test_fallback_alerts_keep_their_rows_and_a_downgrade_refuses_to_lose_them(tmp_path):
    """0008 lets an alert have no clinic (an urgent reply from a number no clinic knows).
    Going back to 0007 would have to delete such alerts: it refuses, and keeps them."""
    import pytest
    from alembic import command

    from followup.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url, "0007_plan_errors")
    engine = make_engine(url)
    with engine.begin() as conn:
        _seed_reply_flag_and_alert(conn)
    upgrade(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO staff_alerts (id, flag_id, clinic_id, channel, destination, status,"
                " attempts, next_attempt_at, created_at)"
                " VALUES (2, 1, NULL, 'sms', '+12015550900', 'pending', 0, :now, :now)"
            ),
            {"now": NOW},
        )
    with pytest.raises(RuntimeError, match="1 fallback alert"):
        command.downgrade(alembic_config(url), "0007_plan_errors")
    alerts = "SELECT id, clinic_id FROM staff_alerts ORDER BY id"
    with engine.begin() as conn:
        assert conn.execute(text(alerts)).all() == [(1, 1), (2, None)]
        conn.execute(text("DELETE FROM staff_alerts WHERE clinic_id IS NULL"))
    command.downgrade(alembic_config(url), "0007_plan_errors")
    with engine.begin() as conn:
        assert conn.execute(text(alerts)).all() == [(1, 1)]
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_the_accounts_downgrade_refuses_while_accounts_or_audit_events_exist(tmp_path):
    import pytest
    from alembic import command

    from followup.store.engine import alembic_config

    url = f"sqlite:///{tmp_path / 'm.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO audit_events (at, actor, action) VALUES (:now, 'cli', 'user.add')"),
            {"now": NOW},
        )
    with pytest.raises(RuntimeError, match="1 in audit_events"):
        command.downgrade(alembic_config(url), "0008_fallback_alerts")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 1
        conn.execute(text("DELETE FROM audit_events"))
    command.downgrade(alembic_config(url), "0008_fallback_alerts")
    with engine.connect() as conn:
        tables = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master"))}
    assert "staff_users" not in tables and "clinics" in tables
    engine.dispose()
