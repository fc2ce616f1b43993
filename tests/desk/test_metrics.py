"""The clinic reports' numbers from rows with known answers, on SQLite and PostgreSQL:
delivery and reply rates, flags by kind, the median and 90th percentile of the time to
acknowledge, open flags of any age; an empty period; another clinic's rows never counted."""

from __future__ import annotations

from datetime import timedelta

import pytest
from support.report_rows import add_flag, add_reply, add_text

from followup.desk import metrics
from followup.desk.errors import DeskError

TZ = "America/New_York"
HOUR, MIN = timedelta(hours=1), timedelta(minutes=1)


def report(web, slug="north", **kwargs) -> metrics.Metrics:
    with web.sessions() as db:
        return metrics.clinic_metrics(
            db, web.clinic_id(slug), timezone=TZ, now=web.clock.now, **kwargs
        )


def test_an_empty_period_has_no_rates_and_no_figures(clinic_web):
    found = report(clinic_web, days=7)
    assert [p.label for p in found.delivery][-1] == "10 Mar" and len(found.delivery) == 7
    assert found.delivery_total.rate is None and found.replies_total.rate is None
    assert all(f.total == 0 for f in found.flags)
    assert all(a.median_minutes is None and a.open == 0 for a in found.acknowledgement)


def test_delivery_rate_counts_the_carriers_answers_and_keeps_awaiting_apart(clinic_web):
    web, now = clinic_web, clinic_web.clock.now
    for status in ("delivered", "delivered", "delivered", "undelivered", "sent"):
        add_text(web, "north", status=status, sent_at=now - HOUR)
    add_text(web, "north", status="failed", sent_at=None)  # refused by the provider: never left
    add_text(web, "north", status="delivered", sent_at=now - timedelta(days=8))  # before 7 days
    add_text(web, "south", status="undelivered", sent_at=now - HOUR)  # another clinic's
    found = report(web, days=7)
    total = found.delivery_total
    assert (total.delivered, total.undelivered, total.failed, total.awaiting) == (3, 1, 0, 1)
    assert total.rate == 0.75
    today = found.delivery[-1]
    assert today.rate == 0.75 and all(d.rate is None for d in found.delivery[:-1])
    assert report(web, days=30).delivery_total.delivered == 4


def test_reply_rate_is_the_share_of_check_ins_a_patient_answered(clinic_web):
    web, now = clinic_web, clinic_web.clock.now
    checkins = [add_text(web, "north", status="delivered", sent_at=now - 3 * HOUR,
                         template="checkin_24h") for _ in range(4)]  # fmt: skip
    add_reply(web, checkins[0], at=now - HOUR)
    add_reply(web, checkins[0], at=now - HOUR)  # two replies: one answered check-in
    add_reply(web, checkins[1], at=now - HOUR)
    add_reply(web, checkins[2], at=now - HOUR, kind="opt_out")  # a STOP is no answer
    aftercare = add_text(web, "north", status="delivered", sent_at=now - HOUR)
    add_reply(web, aftercare, at=now)  # not a check-in: not counted
    theirs = add_text(web, "south", status="delivered", sent_at=now - HOUR, template="checkin_72h")
    add_reply(web, theirs, at=now)
    total = report(web, days=7).replies_total
    assert (total.sent, total.answered, total.rate) == (4, 2, 0.5)


def test_flags_by_kind_per_day_and_week(clinic_web):
    web, now = clinic_web, clinic_web.clock.now
    add_flag(web, "north", "emergency", created_at=now - HOUR)
    add_flag(web, "north", "review", created_at=now - HOUR)
    add_flag(web, "north", "review", created_at=now - timedelta(days=2))  # Sunday 8 March
    add_flag(web, "south", "emergency", created_at=now - HOUR)
    days = report(web, days=7)
    assert (days.flags[-1].emergency, days.flags[-1].review) == (1, 1)
    assert days.flags[-3].review == 1 and sum(f.total for f in days.flags) == 3
    weeks = report(web, days=90)
    assert weeks.by == "week" and weeks.flags[-1].label == "week of 09 Mar"
    assert weeks.flags[-1].total == 2 and weeks.flags[-2].review == 1


def test_time_to_acknowledge_median_and_90th_percentile_and_open_flags(clinic_web):
    web, now = clinic_web, clinic_web.clock.now
    for waited in (10, 30):
        raised = now - 2 * HOUR
        add_flag(
            web, "north", "emergency", created_at=raised, acknowledged_at=raised + waited * MIN
        )
    for waited in range(1, 11):  # 1..10 minutes: median 5.5, 90th percentile 9.1
        raised = now - 3 * HOUR
        add_flag(web, "north", "review", created_at=raised, acknowledged_at=raised + waited * MIN)
    add_flag(web, "north", "callback", created_at=now - timedelta(days=200))  # open, very old
    add_flag(web, "north", "callback", created_at=now - 45 * MIN)
    add_flag(web, "south", "emergency", created_at=now - HOUR, acknowledged_at=now)
    by_kind = {a.kind: a for a in report(web, days=7).acknowledgement}
    emergency, review, callback = by_kind["emergency"], by_kind["review"], by_kind["callback"]
    assert (emergency.acknowledged, emergency.median_minutes) == (2, pytest.approx(20, abs=0.01))
    assert emergency.p90_minutes == pytest.approx(28, abs=0.01) and emergency.open == 0
    assert review.median_minutes == pytest.approx(5.5, abs=0.01)
    assert review.p90_minutes == pytest.approx(9.1, abs=0.01)
    assert (callback.acknowledged, callback.median_minutes, callback.open) == (0, None, 2)
    assert callback.oldest_open_minutes == pytest.approx(200 * 24 * 60)
    assert by_kind["clinic_today"].open == 0


def test_only_the_periods_and_groupings_offered(clinic_web):
    with pytest.raises(DeskError) as bad:
        report(clinic_web, days=31)
    assert bad.value.field == "days"
    with pytest.raises(DeskError) as bad:
        report(clinic_web, days=7, by="month")
    assert bad.value.field == "by"
    assert report(clinic_web, days=7, by="week").by == "week"


def test_percentiles_interpolate_between_ranks():
    values = {1: 10.0, 2: 30.0}
    assert metrics.ranks_for(2, (0.5,)) == {1, 2}
    assert metrics.percentile(values, 2, 0.5) == 20
    assert metrics.percentile({1: 7.0}, 1, 0.9) == 7 and metrics.percentile({}, 0, 0.5) is None


def test_column_charts_are_well_formed_escape_labels_and_stack():
    import xml.etree.ElementTree as ET

    from followup.desk.charts import NO_DATA, Series, column_chart

    svg = column_chart(
        chart_id="c", title="<b>t</b>", summary="s", categories=["<a>", "b"],
        series=[Series("x&y", (1.0, 3.0), "bar-a"), Series("z", (1.0, None), "bar-b")],
        y_label="Count", x_label="Day", stacked=True,
    )  # fmt: skip
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c-title c-desc"
    bars = [r for r in root.iter("{http://www.w3.org/2000/svg}rect") if r.find("*") is not None]
    assert len(bars) == 3  # None draws nothing
    heights = {b.find("*").text: float(b.get("height")) for b in bars}
    assert heights["<a>, x&y: 1"] == pytest.approx(heights["<a>, z: 1"])
    assert heights["b, x&y: 3"] == pytest.approx(3 * heights["<a>, z: 1"])
    assert "<b>" not in svg and "&lt;a&gt;" in svg
    empty = column_chart(
        chart_id="e", title="t", summary="s", categories=["a"],
        series=[Series("x", (None,), "bar-a")], y_label="y", x_label="x",
    )  # fmt: skip
    assert (
        NO_DATA in empty and ET.fromstring(empty).find("{http://www.w3.org/2000/svg}rect") is None
    )


def test_a_zero_of_its_own_is_drawn_and_no_data_is_not():
    import xml.etree.ElementTree as ET

    from followup.desk.charts import Series, column_chart

    svg = column_chart(
        chart_id="r", title="t", summary="s", categories=["a", "b"],
        series=[Series("rate", (0.0, None), "bar-a")], y_label="%", x_label="day", high=100,
    )  # fmt: skip
    bars = [r for r in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}rect")]
    assert [b.find("*").text for b in bars] == ["a, rate: 0"]
    assert float(bars[0].get("height")) > 0


def test_the_charts_say_their_figure_in_words(clinic_web):
    from followup.desk import report_charts

    web, now = clinic_web, clinic_web.clock.now
    assert "No text was sent" in report_charts.delivery(report(web, days=7)).summary
    add_text(web, "north", status="sent", sent_at=now - HOUR)
    assert "none with a receipt yet" in report_charts.delivery(report(web, days=7)).summary
    add_text(web, "north", status="delivered", sent_at=now - HOUR)
    words = report_charts.delivery(report(web, days=7)).summary
    assert words.startswith("100.0% delivered of 1 texts") and "1 awaiting" in words
