"""The reports page and its API on SQLite and PostgreSQL: four well-formed, accessible SVG
charts with the same numbers in tables, "no data" for an empty period, only the clinic's
own rows, and the period choices; bad choices refused."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

from support.clinic_web import ORG, email
from support.report_rows import add_flag, add_reply, add_text

SVG = "{http://www.w3.org/2000/svg}"
HOUR, MIN = timedelta(hours=1), timedelta(minutes=1)


def _charts(html: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S)]


def _seed(web) -> None:
    now = web.clock.now
    for status in ("delivered", "delivered", "delivered", "undelivered"):
        add_text(web, "north", status=status, sent_at=now - HOUR)
    checkin = add_text(web, "north", status="sent", sent_at=now - HOUR, template="checkin_24h")
    add_reply(web, checkin, at=now)
    raised = now - 2 * HOUR
    add_flag(web, "north", "emergency", created_at=raised, acknowledged_at=raised + 10 * MIN)
    add_flag(web, "north", "emergency", created_at=raised, acknowledged_at=raised + 30 * MIN)
    add_flag(web, "south", "review", created_at=raised)  # South's: never on North's page


def test_the_reports_page_draws_four_charts_with_their_numbers(clinic_web):
    _seed(clinic_web)
    page = clinic_web.login(email("north", "staff")).get("/clinics/north/reports?days=7")
    assert page.status_code == 200
    charts = _charts(page.text)
    assert len(charts) == 4
    for chart in charts:
        assert chart.get("role") == "img" and chart.get("viewBox")
        assert chart.find(f"{SVG}title").text and chart.find(f"{SVG}desc").text
        labelled = chart.get("aria-labelledby").split()
        assert all(f'id="{i}"' in page.text for i in labelled)
        assert len([t for t in chart.iter(f"{SVG}text") if t.get("class") == "chart-label"]) == 2
    ids = re.findall(r'id="([^"]+)"', page.text)
    assert len(ids) == len(set(ids))  # four charts, no id twice
    assert "75.0%" in page.text  # 3 of 4 delivered, in the table
    assert "100.0%" in page.text  # the one check-in answered
    assert "20 min" in page.text  # the median of 10 and 30 minutes
    assert "<tr><td>Review</td><td>0</td><td>–</td>" in page.text  # South's review: not here
    assert "No data in this period" not in page.text
    assert 'aria-current="page">Reports' in page.text and ">Audit<" not in page.text
    assert "share the carrier reported delivered" in page.text  # the definition is on the page


def test_an_empty_period_says_so_instead_of_drawing(clinic_web):
    page = clinic_web.login(email("north", "admin")).get("/clinics/north/reports")
    assert page.status_code == 200 and page.text.count("No data in this period") == 4
    assert len(_charts(page.text)) == 4 and ">Audit<" in page.text


def test_only_the_offered_periods(clinic_web):
    client = clinic_web.login(email("north", "staff"))
    assert client.get("/clinics/north/reports?days=365").status_code == 422
    assert client.get("/clinics/north/reports?days=7&by=hour").status_code == 422
    weekly = client.get("/clinics/north/reports?days=90")
    assert weekly.status_code == 200 and "week of 09 Mar" in weekly.text


def test_the_metrics_api_has_the_same_numbers_and_definitions(clinic_web):
    _seed(clinic_web)
    answer = clinic_web.api("north").get("/api/v1/clinics/north/metrics?days=7")
    assert answer.status_code == 200
    body = answer.json()
    assert body["delivery_total"]["rate"] == 0.75 and body["replies_total"]["rate"] == 1.0
    emergency = next(a for a in body["acknowledgement"] if a["kind"] == "emergency")
    assert round(emergency["median_minutes"], 2) == 20
    assert sum(f["review"] for f in body["flags"]) == 0  # South's review flag not counted
    assert set(body["definitions"]) == {"delivery", "replies", "flags", "acknowledgement"}
    south = clinic_web.api("south").get("/api/v1/clinics/south/metrics?days=7").json()
    assert sum(f["review"] for f in south["flags"]) == 1 and south["delivery_total"]["rate"] is None
    bad = clinic_web.api("north").get("/api/v1/clinics/north/metrics?days=10")
    assert bad.status_code == 422
    assert clinic_web.api("south").get("/api/v1/clinics/north/metrics").status_code == 404


def test_an_org_account_sees_each_clinic_apart(clinic_web):
    _seed(clinic_web)
    org = clinic_web.login(ORG)
    north = org.get("/clinics/north/reports?days=7").text
    south = org.get("/clinics/south/reports?days=7").text
    assert "75.0%" in north and "75.0%" not in south
