"""The dispatcher when things go wrong: pauses, stops, dead workers, unanswered requests,
texts taken over mid-send, and many texts at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update
from support.scripted import T0, ScriptedGateway, dispatcher
from support.seeding import aftercares, seed_treated

from followup.gateways.base import OutgoingSms, SendError, SendResult
from followup.outbound.pacing import SenderPace
from followup.store.models import MessageEvent, OutboundMessage, Patient

NOW = T0 + timedelta(minutes=30)  # the aftercare texts are due
PAUSING = SendResult(error=SendError("20429", "Too Many Requests", permanent=False, pause=True))
TIMEOUT = SendResult(error=SendError("timeout", "no answer in time", permanent=False))


@pytest.fixture
def many(sessions):
    """Six consenting patients, each with a session completed at T0, planned."""

    def make(n: int = 6):
        seed_treated(sessions, [f"+120155501{i:02d}" for i in range(n)], T0)
        return sessions

    return make


def test_a_rate_limit_pauses_the_batch_without_spending_the_others_attempts(many, runtime):
    s = many(6)
    gw = ScriptedGateway(PAUSING)
    report = dispatcher(s, runtime, gw).run_once(NOW)
    assert len(gw.sent) == 1  # the rest were not even tried
    assert (report.claimed, report.retried, report.released) == (6, 1, 5)
    rows = aftercares(s)
    assert all(r.status == "scheduled" for r in rows)
    first, rest = rows[0], rows[1:]
    assert (first.attempts, first.error_code) == (1, "20429")
    assert all(r.attempts == 0 for r in rest)
    # nobody comes back before the pause ends
    assert all(r.send_at > NOW for r in rows)
    assert all(r.reason.startswith("released unsent: paused") for r in rest)
    # after the pause everything goes out
    report = dispatcher(s, runtime, gw).run_once(max(r.send_at for r in rows))
    assert report.sent == 6


def test_a_stop_lets_the_send_in_flight_finish_and_releases_the_rest(many, runtime):
    s = many(5)
    gw = ScriptedGateway()
    d = dispatcher(s, runtime, gw)
    gw.on_send = lambda sms: d.stop.set()  # SIGTERM arrives during the first send
    report = d.run_once(NOW)
    assert (report.sent, report.released) == (1, 4)
    rows = aftercares(s)
    assert [r.status for r in rows].count("sent") == 1
    released = [r for r in rows if r.status == "scheduled"]
    assert len(released) == 4
    assert all(r.attempts == 0 and r.send_at <= NOW for r in released)
    assert all(r.reason == "released unsent: worker stopping" for r in released)


def _kill_mid_send(s, worker: str = "dead-host:1") -> int:
    """Leave the first aftercare as a killed worker would: sending, claimed, lease expired."""
    with s() as db, db.begin():
        msg = db.scalars(select(OutboundMessage).where(OutboundMessage.step == "aftercare")).first()
        msg.status, msg.claimed_by, msg.attempts = "sending", worker, 1
        msg.claimed_at, msg.lease_until = NOW, NOW + timedelta(minutes=5)
        msg.body = "Hi Pat0, the exact text that went out"
        return msg.id


def test_a_dead_workers_text_found_at_the_provider_is_recorded_not_resent(many, runtime):
    s = many(1)
    message_id = _kill_mid_send(s)
    found = SendResult(provider_sid="SMfound", provider_status="delivered")
    gw = ScriptedGateway(lookups=(found,))
    # before the lease ends nobody touches it
    assert dispatcher(s, runtime, gw).run_once(NOW + timedelta(minutes=4)).recovered == 0
    report = dispatcher(s, runtime, gw).run_once(NOW + timedelta(minutes=6))
    assert (report.recovered, report.sent) == (1, 1)
    assert gw.sent == []  # not sent twice
    [(sms, since)] = gw.looked_up
    assert sms.body == "Hi Pat0, the exact text that went out"  # the stored body, not a re-render
    assert since <= NOW
    [msg] = aftercares(s)
    assert (msg.id, msg.status, msg.provider_sid) == (message_id, "sent", "SMfound")
    with s() as db:
        last = db.execute(
            select(MessageEvent.to_status, MessageEvent.reason).order_by(MessageEvent.id.desc())
        ).first()
    assert tuple(last) == ("sent", "found at provider")


def test_a_dead_workers_text_missing_at_the_provider_is_sent_once(many, runtime):
    s = many(1)
    _kill_mid_send(s)
    gw = ScriptedGateway()  # lookup finds nothing
    report = dispatcher(s, runtime, gw).run_once(NOW + timedelta(minutes=6))
    assert (report.recovered, report.sent, len(gw.sent), len(gw.looked_up)) == (1, 1, 1, 1)
    [msg] = aftercares(s)
    assert (msg.status, msg.attempts) == ("sent", 2)
    with s() as db:
        reasons = db.scalars(select(MessageEvent.reason).order_by(MessageEvent.id)).all()
    assert "lease of dead-host:1 expired: recovering" in reasons


def test_when_the_provider_cannot_be_asked_the_text_waits_and_is_looked_up_again(many, runtime):
    s = many(1)
    _kill_mid_send(s)
    down = SendResult(error=SendError("http 503", "Service Unavailable", permanent=False))
    gw = ScriptedGateway(lookups=(down,))
    dispatcher(s, runtime, gw).run_once(NOW + timedelta(minutes=6))
    assert gw.sent == []  # never guess
    [msg] = aftercares(s)
    assert (msg.status, msg.error_code) == ("scheduled", "interrupted")
    dispatcher(s, runtime, gw).run_once(msg.send_at)
    assert len(gw.looked_up) == 2 and len(gw.sent) == 1
    assert aftercares(s)[0].status == "sent"


def test_a_timed_out_send_is_looked_up_before_the_retry(many, runtime):
    s = many(1)
    found = SendResult(provider_sid="SMlate", provider_status="sent")
    gw = ScriptedGateway(TIMEOUT, lookups=(found,))
    dispatcher(s, runtime, gw).run_once(NOW)
    [msg] = aftercares(s)
    assert (msg.status, msg.error_code) == ("scheduled", "timeout")
    dispatcher(s, runtime, gw).run_once(msg.send_at)
    assert len(gw.sent) == 1  # only the attempt that timed out
    assert aftercares(s)[0].provider_sid == "SMlate"


def test_a_text_that_kills_its_worker_every_time_fails_in_the_end(many, runtime):
    s = many(1)
    message_id = _kill_mid_send(s)
    with s() as db, db.begin():
        db.execute(
            update(OutboundMessage).where(OutboundMessage.id == message_id).values(attempts=5)
        )
    gw = ScriptedGateway()
    report = dispatcher(s, runtime, gw, max_attempts=5).run_once(NOW + timedelta(minutes=6))
    assert (report.failed, gw.sent) == (1, [])
    [msg] = aftercares(s)
    assert (msg.status, msg.error_code) == ("failed", "interrupted")


def test_an_opt_out_arriving_during_the_batch_stops_the_next_text(many, runtime):
    s = many(2)
    gw = ScriptedGateway()

    def opt_out_second_patient(sms: OutgoingSms) -> None:
        with s() as db, db.begin():
            db.execute(update(Patient).where(Patient.external_id == "P1").values(opted_out_at=NOW))

    gw.on_send = opt_out_second_patient
    report = dispatcher(s, runtime, gw).run_once(NOW)
    assert [sms.to for sms in gw.sent] == ["+12015550100"]
    assert (report.sent, report.skipped) == (1, 1)
    assert [r.status for r in aftercares(s)] == ["sent", "skipped"]
    assert aftercares(s)[1].reason == "opted out"


def test_an_outcome_is_not_recorded_over_a_worker_that_took_the_text_over(many, runtime):
    s = many(1)
    gw = ScriptedGateway()

    def taken_over(sms: OutgoingSms) -> None:
        with s() as db, db.begin():
            db.execute(update(OutboundMessage).values(claimed_by="other-host:2"))

    gw.on_send = taken_over
    report = dispatcher(s, runtime, gw).run_once(NOW)
    assert report.sent == 0
    [msg] = aftercares(s)
    assert (msg.status, msg.claimed_by) == ("sending", "other-host:2")


def test_concurrent_sends_send_each_text_exactly_once(many, runtime):
    s = many(40)
    gw = ScriptedGateway()
    lock = threading.Lock()
    in_flight = [0, 0]  # now, most at once

    def track(sms: OutgoingSms) -> None:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight)
        threading.Event().wait(0.01)
        with lock:
            in_flight[0] -= 1

    gw.on_send = track
    report = dispatcher(s, runtime, gw, concurrency=4, batch_size=10).run_once(NOW)
    assert report.sent == 40
    assert sorted(sms.message_id for sms in gw.sent) == [r.id for r in aftercares(s)]
    assert 1 < in_flight[1] <= 4
    with s() as db:
        assert db.scalar(select(func.count()).select_from(MessageEvent)) == 80


def test_a_rate_limited_lookup_pauses_the_batch_like_a_rate_limited_send(many, runtime):
    s = many(3)
    with s() as db, db.begin():
        db.execute(update(OutboundMessage).values(error_code="timeout"))  # all uncertain
    gw = ScriptedGateway(lookups=(PAUSING,))
    report = dispatcher(s, runtime, gw).run_once(NOW)
    assert (len(gw.looked_up), gw.sent) == (1, [])
    assert (report.retried, report.released) == (1, 2)
    assert all(r.status == "scheduled" and r.send_at > NOW for r in aftercares(s))


def test_a_sender_rate_spaces_one_senders_texts_even_with_concurrency(many, runtime):
    s = many(6)
    times: list[float] = []
    gw = ScriptedGateway()
    gw.on_send = lambda sms: times.append(time.monotonic())
    report = dispatcher(s, runtime, gw, concurrency=4, pace=SenderPace(20.0)).run_once(NOW)
    assert report.sent == 6
    # six slots 50 ms apart: the last send cannot come before 250 ms after the first slot
    assert max(times) - min(times) >= 0.2


def test_a_stop_while_waiting_for_a_senders_slot_releases_the_text(many, runtime):
    s = many(2)
    gw = ScriptedGateway()
    d = dispatcher(s, runtime, gw, pace=SenderPace(0.01))  # one text per 100 s
    gw.on_send = lambda sms: d.stop.set()
    report = d.run_once(NOW)
    assert (report.sent, report.released, len(gw.sent)) == (1, 1, 1)
    assert sorted(r.status for r in aftercares(s)) == ["scheduled", "sent"]


def test_a_text_that_cannot_be_prepared_waits_with_its_error_and_the_others_go(many, runtime):
    """A clinic system wrote a zone no database knows on one patient after planning: that
    text waits with the error on its row (and fails once its attempts are spent); the
    batch goes on."""
    s = many(3)
    with s() as db, db.begin():
        db.execute(update(Patient).where(Patient.external_id == "P1").values(timezone="Mars/Base"))
    gw = ScriptedGateway()
    report = dispatcher(s, runtime, gw).run_once(NOW)
    assert report.sent == 2
    assert report.errors == {"prepare": 1}
    bad = next(r for r in aftercares(s) if r.status != "sent")
    assert (bad.status, bad.error_code) == ("scheduled", "prepare")
    assert "ZoneInfoNotFoundError" in bad.error_message
    assert bad.send_at > NOW
    # it keeps failing to prepare: after its attempts it is failed, visible, not looping
    for _ in range(6):
        with s() as db:
            at = db.get(OutboundMessage, bad.id).send_at
        dispatcher(s, runtime, gw, max_attempts=3).run_once(max(at, NOW))
    with s() as db:
        final = db.get(OutboundMessage, bad.id)
    assert (final.status, final.error_code) == ("failed", "prepare")
    assert len(gw.sent) == 2
