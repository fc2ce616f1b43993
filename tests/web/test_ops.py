"""/healthz, /readyz and /metrics through the real app on SQLite and PostgreSQL: readiness
fails when a reply waits in the spool or the database is behind the migrations, the
database's gauges count seeded rows, and the dispatcher's and webhooks' histograms move."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text, update
from support.clinic_web import NOW, open_clinic_web
from support.flag_rows import add_flag
from support.scripted import ScriptedGateway, dispatcher

from followup.ops import exposition, health
from followup.ops.figures import DatabaseFigures
from followup.spool import Spool
from followup.store.engine import alembic_config, make_engine
from followup.store.models import Flag, OutboundMessage, StaffAlert
from followup.store.statuses import MessageStatus

SID = "SM" + "0" * 32


@pytest.fixture
def ops_web(env):
    """The seeded app without its lifespan: no spool drain or alert sender runs behind the
    test's back (a file put in the spool stays there)."""
    web = open_clinic_web(env)
    yield web
    web.runtime.close()


def scrape(client) -> dict[tuple[str, frozenset], float]:
    """Every sample of /metrics, by name and labels."""
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_healthz_answers_without_asking_anything(ops_web):
    answer = ops_web.client().get("/healthz")
    assert (answer.status_code, answer.text) == (200, "ok\n")


def test_readyz_is_ready_on_a_migrated_database_with_an_empty_spool(ops_web):
    answer = ops_web.client().get("/readyz")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["ready"] is True and body["failed"] == []
    assert set(body["checks"]) == {"database", "migrations", "spool"}


def test_readyz_is_503_while_a_reply_waits_in_the_spool(ops_web):
    spool = ops_web.app.state.followup.spool
    spool.directory.mkdir(parents=True, exist_ok=True)
    (spool.directory / f"{SID}.json").write_text("{}")
    answer = ops_web.client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["spool"]
    assert "1 replies waiting" in answer.json()["checks"]["spool"]["detail"]
    # a file set aside for a person is told, but does not keep the process unready
    (spool.directory / f"{SID}.json").rename(spool.directory / f"{SID}.json.bad")
    answer = ops_web.client().get("/readyz")
    assert answer.status_code == 200
    assert "1 set aside" in answer.json()["checks"]["spool"]["detail"]


def test_readyz_is_503_when_the_database_is_behind_the_migrations(ops_web):
    from alembic.script import ScriptDirectory

    engine = ops_web.runtime.engine
    url = engine.url.render_as_string(hide_password=False)
    head = ScriptDirectory.from_config(alembic_config(url)).get_revision("head")
    behind = head.down_revision
    set_version = text("UPDATE alembic_version SET version_num = :v")
    with engine.begin() as conn:
        conn.execute(set_version, {"v": behind})
    try:
        answer = ops_web.client().get("/readyz")
    finally:
        with engine.begin() as conn:
            conn.execute(set_version, {"v": head.revision})
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["migrations"]
    assert f"database at {behind}" in answer.json()["checks"]["migrations"]["detail"]
    assert ops_web.client().get("/readyz").status_code == 200


def test_the_ops_routes_are_not_in_the_clinic_api_document(ops_web):
    paths = ops_web.client().get("/openapi.json").json()["paths"]
    assert not {"/healthz", "/readyz", "/metrics"} & set(paths)


def test_metrics_count_the_outbox_flags_and_alerts_as_seeded(ops_web):
    web = ops_web
    north = web.clinic_id("north")
    with web.sessions() as db, db.begin():
        # every scheduled text in an hour, but one 20 minutes overdue
        db.execute(
            update(OutboundMessage)
            .where(OutboundMessage.status == MessageStatus.SCHEDULED)
            .values(send_at=NOW + timedelta(hours=1))
        )
        late = db.query(OutboundMessage).filter_by(status="scheduled").order_by("id").first()
        late.send_at = NOW - timedelta(minutes=20)
        texts = [(m.clinic_id, m.status) for m in db.query(OutboundMessage)]
    first = add_flag(web, "P0", "emergency", "red flag: chest pain", "chest", 10)
    add_flag(web, "P1", "emergency", "red flag: breathless", "breath", 3)
    add_flag(web, "P10", "review", "free text", "ache", 30)
    older = add_flag(web, "P11", "emergency", "red flag: chest pain", "chest", 60)
    with web.sessions() as db, db.begin():
        flag = db.get(Flag, older)  # in hand: no longer an unacknowledged emergency
        flag.status, flag.acknowledged_at, flag.acknowledged_by = "acknowledged", NOW, "x"
        for status, channel in (("pending", "sms"), ("failed", "apprise"), ("failed", "apprise")):
            alert = StaffAlert(flag_id=first, clinic_id=north, channel=channel, status=status)
            alert.destination, alert.next_attempt_at, alert.created_at = "+12015550190", NOW, NOW
            db.add(alert)
    samples = scrape(web.client())
    assert value(samples, "followup_database_up") == 1
    scheduled = sum(1 for _c, s in texts if s == "scheduled")
    assert scheduled > 1
    assert value(samples, "followup_outbox_scheduled") == scheduled
    assert value(samples, "followup_oldest_due_text_age_seconds") == 1200
    slug = {north: "north", web.clinic_id("south"): "south"}
    for clinic_id, status in set(texts):
        n = texts.count((clinic_id, status))
        assert value(samples, "followup_texts", clinic=slug[clinic_id], status=status) == n
    assert value(samples, "followup_open_flags", clinic="north", kind="emergency") == 2
    assert value(samples, "followup_open_flags", clinic="south", kind="review") == 1
    assert value(samples, "followup_open_flags", clinic="south", kind="emergency") == 0
    assert value(samples, "followup_oldest_open_emergency_flag_age_seconds") == 600
    assert value(samples, "followup_staff_alerts", status="pending", channel="sms") == 1
    assert value(samples, "followup_staff_alerts", status="failed", channel="apprise") == 2
    # no phone number or text in any label
    labels = " ".join(v for _name, ls in samples for _k, v in ls)
    assert "+1201" not in labels and "chest" not in labels


def test_nothing_waiting_reads_as_zero_ages(ops_web):
    with ops_web.sessions() as db, db.begin():
        db.execute(update(OutboundMessage).values(send_at=NOW + timedelta(hours=1)))
    samples = scrape(ops_web.client())
    assert value(samples, "followup_oldest_due_text_age_seconds") == 0
    assert value(samples, "followup_oldest_open_emergency_flag_age_seconds") == 0


def test_send_latency_is_observed_when_the_dispatcher_records_a_text_sent(ops_web):
    web = ops_web
    with web.sessions() as db, db.begin():
        db.execute(update(OutboundMessage).values(send_at=NOW + timedelta(hours=1)))
        late = db.query(OutboundMessage).filter_by(status="scheduled").order_by("id").first()
        late.send_at = NOW - timedelta(seconds=90)
    before = scrape(web.client())
    report = dispatcher(web.sessions, web.runtime, ScriptedGateway()).run_once(NOW)
    assert report.sent == 1, report
    after = scrape(web.client())

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("followup_send_latency_seconds_count") == 1
    assert moved("followup_send_latency_seconds_sum") == pytest.approx(90)
    assert moved("followup_send_latency_seconds_bucket", le="60.0") == 0
    assert moved("followup_send_latency_seconds_bucket", le="120.0") == 1
    assert moved("followup_texts_sent_total") == 1


def test_webhook_latency_is_observed_with_its_answer_code(ops_web):
    client = ops_web.client()
    before = scrape(client)
    # no auth token in this app: Twilio's webhooks are refused, and still timed
    assert client.post("/twilio/status", data={"MessageSid": SID}).status_code == 403
    after = scrape(client)
    name = "followup_webhook_duration_seconds_count"
    assert (
        value(after, name, hook="status", code="403")
        - value(before, name, hook="status", code="403")
        == 1
    )


def test_alert_deliveries_are_counted_by_channel_and_outcome(ops_web):
    web = ops_web
    flag_id = add_flag(web, "P0", "emergency", "red flag: chest pain", "chest", 1)
    with web.sessions() as db, db.begin():
        alert = StaffAlert(flag_id=flag_id, clinic_id=web.clinic_id("north"), channel="sms")
        alert.destination, alert.next_attempt_at, alert.created_at = "+12015550190", NOW, NOW
        db.add(alert)
    before = scrape(web.client())
    report = web.runtime.alert_sender(ScriptedGateway()).run_once(NOW)
    assert report.sent == 1, report
    after = scrape(web.client())
    name = "followup_alert_deliveries_total"
    sent = {"channel": "sms", "outcome": "sent"}
    assert value(after, name, **sent) - value(before, name, **sent) == 1
    assert value(after, "followup_staff_alerts", status="sent", channel="sms") == 1


def test_a_database_that_does_not_answer_is_a_scrape_with_database_up_0(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/no/such/dir/followup.db")
    text_ = exposition.render(DatabaseFigures(engine, lambda: NOW, seconds=0.5)).decode()
    samples = {s.name: s.value for f in text_string_to_metric_families(text_) for s in f.samples}
    assert samples["followup_database_up"] == 0
    assert "followup_outbox_scheduled" not in samples
    checks = health.readiness(engine, Spool(tmp_path / "spool"))
    assert [(c.name, c.ok) for c in checks] == [
        ("database", False), ("migrations", False), ("spool", True),
    ]  # fmt: skip
    assert "not checked" in checks[1].detail
    engine.dispose()


#: one process's events, written into PROMETHEUS_MULTIPROC_DIR
_COUNT_EVENTS = """
from datetime import UTC, datetime, timedelta
from followup.ops import events
t = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
events.text_sent(t - timedelta(seconds={late}), t)
events.alert_delivery("sms", "failed")
"""
#: the web's scrape, adding up every process's files
_SCRAPE = """
from prometheus_client.registry import Collector
from followup.ops import exposition

class Nothing(Collector):
    def collect(self):
        return iter(())

print(exposition.render(Nothing()).decode())
"""


def test_multiprocess_mode_adds_up_every_process(tmp_path):
    directory = tmp_path / "metrics"
    directory.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}

    def python(code: str) -> str:
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                              text=True, timeout=60, check=True)  # fmt: skip
        return done.stdout

    python(_COUNT_EVENTS.format(late=10))  # the worker, say
    python(_COUNT_EVENTS.format(late=400))  # a second worker
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for f in text_string_to_metric_families(python(_SCRAPE))
        for s in f.samples
    }
    assert value(samples, "followup_texts_sent_total") == 2
    assert value(samples, "followup_send_latency_seconds_count") == 2
    assert value(samples, "followup_send_latency_seconds_sum") == 410
    assert value(samples, "followup_send_latency_seconds_bucket", le="15.0") == 1
    assert value(samples, "followup_alert_deliveries_total", channel="sms", outcome="failed") == 2


ALERT_RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def test_the_example_alert_rules_parse_and_name_only_metrics_we_expose(ops_web):
    rules = [r for g in yaml.safe_load(ALERT_RULES.read_text())["groups"] for r in g["rules"]]
    names = {r["alert"] for r in rules}
    assert {"FollowupEmergencyFlagUnacknowledged", "FollowupDispatchStalled",
            "FollowupAlertDeliveriesFailing", "FollowupNotReady"} <= names  # fmt: skip
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
    # every family /metrics describes, with or without samples yet (a counter as *_total)
    families = list(text_string_to_metric_families(ops_web.client().get("/metrics").text))
    exposed = {f.name for f in families} | {f"{f.name}_total" for f in families}
    for rule in rules:
        for metric in re.findall(r"\b(followup_\w+)", rule["expr"]):
            assert metric in exposed, (rule["alert"], metric)
    samples = scrape(ops_web.client())
    checks = ("database", "migrations", "spool")
    assert {value(samples, "followup_ready", check=c) for c in checks} == {1.0}
