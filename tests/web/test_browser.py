"""The dashboard in a real browser (chromium through Playwright) on the real server (uvicorn):
logging in through the form, a red-flag reply arriving through the signed Twilio webhook and
showing on the open page without a reload, acknowledging it with a note, the patient's
timeline with its chart, the keyboard alone, a phone's screen, and the pages without
JavaScript. Every page visited is saved as a screenshot for review (tests/support/browser.py
says where).

These tests run on SQLite only: what the database does under each page is covered on SQLite
and PostgreSQL by the TestClient tests (tests/web/test_flag_pages.py and the others); here
the subject is what the browser does with the pages, their script and their styles.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlalchemy import select
from support.browser import VIEWPORTS, chromium, free_socket, serving, shoot, url_of
from support.clinic_web import ORG, PASSWORD, ClinicWeb, email, open_clinic_web
from support.webhooks import TOKEN, RecordingGateway, inbound_params, sign

from followup.store.models import Flag

pytestmark = pytest.mark.slow

#: long enough for a slow shared machine, short enough that a hang fails the test
WAIT_MS = 15_000
NORTH_P0 = "+12015550201"
NORTH_NUMBER = "+12015550111"
BREATHLESS = "I can't breathe properly since the session"
#: the label of an acknowledgement's note (the closing note's label says "Closing note")
ACK_NOTE = "Note (what you did"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """SQLite only (see the module's docstring)."""
    return sqlite_url


@pytest.fixture(scope="module")
def browser():
    with chromium() as found:
        yield found


@dataclass
class Live:
    web: ClinicWeb
    url: str
    alerts: RecordingGateway

    def text_in(self, body: str, sender: str = NORTH_P0) -> str:
        """A patient's SMS posted to the webhook as Twilio posts it, signed over the public
        URL with the auth token by the SDK's RequestValidator; returns the TwiML answer."""
        params = inbound_params(body, sender, to=NORTH_NUMBER)
        request = urllib.request.Request(
            self.url + "/twilio/inbound",
            data=urlencode(params).encode(),
            headers={"X-Twilio-Signature": sign("/twilio/inbound", params, base=self.url),
                     "Content-Type": "application/x-www-form-urlencoded"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=10) as answer:
            assert answer.status == 200
            return answer.read().decode()

    def flag_status(self, flag_id: int) -> str:
        with self.web.sessions() as db:
            return db.scalar(select(Flag.status).where(Flag.id == flag_id))


@pytest.fixture
def live(env) -> Iterator[Live]:
    """The seeded app (tests/support/clinic_web.py) on uvicorn, webhooks signed for its URL."""
    sock = free_socket()
    url = url_of(sock)
    alerts = RecordingGateway()
    web = open_clinic_web(env, gateway=alerts, TWILIO_AUTH_TOKEN=TOKEN, FOLLOWUP_PUBLIC_URL=url)
    try:
        with serving(web.app, sock) as served:
            yield Live(web, served, alerts)
    finally:
        web.runtime.close()


def new_page(browser, viewport: str = "desktop", **options):
    context = browser.new_context(viewport=VIEWPORTS[viewport], **options)
    context.set_default_timeout(WAIT_MS)
    return context.new_page()


def log_in(page, live: Live, path: str = "/", who: str = email("north", "staff")) -> None:
    """Through the login form, as a person does: the labelled fields, then Enter."""
    page.goto(live.url + path)
    page.get_by_label("E-mail").fill(who)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Password").press("Enter")
    page.wait_for_url(lambda u: "/login" not in u)


def watched_flags_page(browser, live: Live):
    """North's open flags, logged in, with the page's clock in the test's hands: its 5 s
    poll runs when the test says ``page.clock.run_for(5_000)``, not on the wall clock."""
    page = new_page(browser)
    page.clock.install()
    log_in(page, live, "/clinics/north/flags")
    return page


#: every element with text of its own whose colour is under 4.5:1 (WCAG AA for body text)
#: against the background it is drawn on; SVG (the chart) draws with fill, not colour
LOW_CONTRAST = """() => {
  const rgb = c => c.match(/[\\d.]+/g).map(Number);
  const lum = ([r, g, b]) => [r, g, b].map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const e of document.body.querySelectorAll("*")) {
    if (e.closest("svg") || !e.checkVisibility()) continue;
    const own = [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own) continue;
    const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(behind(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const text = e.textContent.trim().slice(0, 40);
    if (ratio < 4.5) low.push(`${e.tagName} ${text} ${ratio.toFixed(2)}`);
  }
  return low;
}"""


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.scrollingElement.scrollWidth <= window.innerWidth")


def test_a_red_flag_reply_shows_on_the_open_page_and_leaves_it_once_acknowledged(browser, live):
    page = watched_flags_page(browser, live)
    assert page.url.endswith("/clinics/north/flags")
    assert page.get_by_text("No open flags").is_visible()
    assert page.locator("#flag-lists").get_attribute("data-poll-seconds") == "5"
    assert page.evaluate("document.querySelector('meta[http-equiv=refresh]')") is None
    page.evaluate("window.stayedOnThisPage = true")

    twiml = live.text_in(BREATHLESS)
    assert "911" in twiml
    page.clock.run_for(5_000)
    flag = page.locator("article.flag.emergency")
    flag.wait_for()
    assert BREATHLESS in flag.inner_text() and "PatA" in flag.inner_text()
    assert page.locator("#live-status").inner_text() == "1 new flag"
    assert page.get_by_text("No open flags").count() == 0
    assert page.evaluate("window.stayedOnThisPage") is True  # no reload, no navigation
    assert [a.to for a in live.alerts.sent] == ["+12015550190"]  # North's on-call phone

    flag_id = int(flag.get_attribute("id").removeprefix("flag-"))
    flag.get_by_label(ACK_NOTE).fill("called patient, advised 911")
    flag.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url(f"**/clinics/north/flags?did=ack&flag={flag_id}")
    assert page.locator("#open-flags article.flag").count() == 0
    assert page.get_by_role("status").first.inner_text() == f"Flag {flag_id} acknowledged."
    in_hand = page.locator(f"#in-hand-flags #flag-{flag_id}")
    assert "Acknowledged by staff@north.example" in in_hand.inner_text()
    assert live.flag_status(flag_id) == "acknowledged"

    in_hand.get_by_label("Closing note").fill("patient at the emergency department")
    in_hand.get_by_role("button", name="Close flag").click()
    page.wait_for_url(f"**/clinics/north/flags?did=close&flag={flag_id}")
    assert page.locator("#in-hand-flags").count() == 0
    assert live.flag_status(flag_id) == "closed"
    page.context.close()


def test_the_list_keeps_a_note_being_typed_while_flags_come_and_go(browser, live):
    live.text_in(BREATHLESS)
    page = watched_flags_page(browser, live)
    first = page.locator("article.flag")
    first.get_by_label(ACK_NOTE).fill("calling her now")  # focus stays in this note

    live.web.clock.now += timedelta(minutes=2)
    live.text_in("chest pain, I passed out", sender="+12015550202")
    page.clock.run_for(5_000)
    page.locator("article.flag").nth(1).wait_for()
    assert "passed out" in page.locator("article.flag").nth(1).inner_text()  # oldest first
    assert page.locator("#live-status").inner_text() == "1 new flag"
    note = page.locator("article.flag").first.get_by_label(ACK_NOTE)
    assert note.input_value() == "calling her now"
    assert page.evaluate("document.activeElement.id") == note.get_attribute("id")

    colleague = new_page(browser)
    log_in(colleague, live, "/clinics/north/flags", who=email("north", "admin"))
    second = colleague.locator("#open-flags article.flag").nth(1)
    second_id = second.get_attribute("id")
    second.get_by_role("button", name="Acknowledge").click()
    colleague.wait_for_url("**/flags?did=ack*")
    page.clock.run_for(5_000)
    page.get_by_text("1 flag no longer open").wait_for()
    assert page.locator("#open-flags article.flag").count() == 1
    assert page.locator(f"#in-hand-flags #{second_id}").is_visible()  # in the colleague's hands
    assert note.input_value() == "calling her now"
    assert page.evaluate("document.activeElement.id") == note.get_attribute("id")
    colleague.context.close()
    page.context.close()


def test_an_open_list_goes_to_the_login_form_once_the_login_ends(browser, live):
    live.text_in(BREATHLESS)
    page = watched_flags_page(browser, live)
    other_tab = page.context.new_page()  # same browser, same login
    other_tab.goto(live.url + "/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_url("**/login*")
    page.clock.run_for(5_000)
    page.wait_for_url(lambda u: "/login?next=" in u)
    assert BREATHLESS not in page.content()
    page.context.close()


def test_the_patient_timeline_shows_the_soreness_chart_and_its_table(browser, live):
    assert "<Message>" in live.text_in("6")
    page = new_page(browser)
    log_in(page, live, "/clinics/north/patients")
    page.get_by_label("Name, phone or the clinic's patient id").fill("PatA")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name="PatA").click()
    page.wait_for_url("**/clinics/north/patients/*")
    chart = page.locator("svg.chart")
    assert chart.is_visible() and chart.bounding_box()["width"] > 200
    scores = page.get_by_role("table", name="Scores")
    assert scores.locator("tbody td").nth(1).inner_text() == "6"
    page.context.close()


def _focus_by_tab(page, selector: str, presses: int = 12) -> None:
    """Press Tab until ``selector`` has the focus (a person's way through the page)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never got the focus by Tab")


def _focus_shows(page) -> bool:
    """The focused element draws a visible ring: an outline or a box shadow."""
    return page.evaluate(
        """() => { const s = getComputedStyle(document.activeElement);
        return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)
            || s.boxShadow !== 'none'; }"""
    )


def test_login_and_acknowledgement_work_from_the_keyboard_with_visible_focus(browser, live):
    live.text_in(BREATHLESS)
    page = new_page(browser)
    page.goto(live.url + "/clinics/north/flags")
    _focus_by_tab(page, "#email")
    assert _focus_shows(page)
    page.keyboard.type(email("north", "staff"))
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Log in"
    assert _focus_shows(page)
    page.keyboard.press("Enter")
    page.wait_for_url(lambda u: u.endswith("/clinics/north/flags") and "/login" not in u)

    _focus_by_tab(page, "article.flag textarea", presses=20)
    assert _focus_shows(page)
    shoot(page, "flags-focus")  # the focus ring, for review
    page.keyboard.type("called, advised 911")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Acknowledge"
    assert _focus_shows(page)
    page.keyboard.press("Enter")
    page.wait_for_url("**/clinics/north/flags?did=ack*")
    assert page.locator("#open-flags article.flag").count() == 0
    page.context.close()


def test_without_javascript_the_forms_work_and_the_list_refreshes_itself(browser, live):
    live.text_in(BREATHLESS)
    page = new_page(browser, java_script_enabled=False)
    log_in(page, live, "/clinics/north/flags")
    refresh = page.locator("meta[http-equiv=refresh]")
    assert refresh.get_attribute("content") == "30"
    flag = page.locator("article.flag.emergency")
    flag.get_by_label(ACK_NOTE).fill("called patient")
    flag.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**/clinics/north/flags?did=ack*")
    assert page.locator("#open-flags article.flag").count() == 0
    page.context.close()


#: every page of the dashboard today, as (screenshot name, path); one line adds a page
PAGES = [
    ("home", "/"),
    ("flags", "/clinics/north/flags"),
    ("flag", "/clinics/north/flags/{flag_id}"),
    ("patients", "/clinics/north/patients?q=Pat"),
    ("patient", "/clinics/north/patients/{patient_id}"),
    ("upcoming", "/clinics/north/upcoming"),
    ("reports", "/clinics/north/reports"),
    ("audit", "/clinics/north/audit"),
    ("replies", "/clinics/north/replies"),
    ("answer", "/clinics/north/patients/{patient_id}/text"),
    ("opt-outs", "/clinics/north/opt-outs"),
    ("settings", "/clinics/north/settings"),
    ("careplan", "/clinics/north/careplan"),
    ("wording", "/clinics/north/wording"),
    ("wording-edit", "/clinics/north/wording/en/checkin_24h"),
    ("not-found", "/clinics/north/flags/999999"),
]


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_fits_the_screen_and_is_saved_for_review(browser, live, viewport):
    live.text_in("4")  # a score for P0's chart, then the emergency
    live.text_in(BREATHLESS)
    live.text_in("7", sender="+12015550202")
    with live.web.sessions() as db:
        flag_id = db.scalar(select(Flag.id).where(Flag.kind == "emergency"))
    page = new_page(browser, viewport)
    page.goto(live.url + "/")
    shoot(page, "login")
    assert no_sideways_scroll(page), "login"
    log_in(page, live, who=ORG)  # sees both clinics: the home page lists them
    page.goto(live.url + "/clinics/north/flags")  # one flag in hand, for the screenshots
    callback = page.locator("#open-flags article.flag", has_text="score 7")
    callback.get_by_label(ACK_NOTE).fill("will call back this afternoon")
    callback.get_by_role("button", name="Acknowledge").click()
    page.wait_for_url("**/flags?did=ack*")
    ids = {"flag_id": flag_id, "patient_id": live.web.patient_id("P0")}
    for name, path in PAGES:
        page.goto(live.url + path.format(**ids))
        shoot(page, name)
        assert no_sideways_scroll(page), name
        assert page.evaluate(LOW_CONTRAST) == [], name
        for control in page.locator("input:visible, textarea:visible, select:visible").all():
            assert control.evaluate("e => e.labels && e.labels.length > 0"), (name, control)
        for button in page.locator("button:visible").all():  # a finger's worth, at least
            box = button.bounding_box()
            assert box["height"] >= 40 and box["width"] >= 40, (name, button.inner_text())
    page.context.close()
