"""The answer form's segment counter (``followup/web/static/segments.js``), run in node with
the alphabet the form itself carries, counts every string as ``followup/texts/segments.py``
does, and adds the emergency line exactly when the server does."""

from __future__ import annotations

import html
import json
import random
import re
import shutil
import subprocess

import pytest
from support.clinic_web import email

from followup.desk.staff_texts import draft
from followup.texts.segments import GSM7_BASIC, GSM7_EXTENSION, analyze
from followup.web.pages import STATIC

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

_RUN = """
const seg = require(process.argv[1]);
const given = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = given.strings.map((s) => {
  const a = seg.analyze(s, given.basic, given.extension);
  const sent = seg.asSent(s, given.number, given.line);
  return [a.encoding, a.segments, a.characters, a.nonGsm, sent.body, sent.added];
});
process.stdout.write(JSON.stringify(out));
"""


def _strings() -> list[str]:
    edge = [
        "", "hello", "x" * 160, "x" * 161, "x" * 306, "x" * 307, "{" * 80, "{" * 81,
        "x" * 152 + "{", "x" * 153 + "€" * 5, "é" * 160, "á", "ç", "Ç", "🙂" * 35, "🙂" * 36,
        "a" * 66 + "🙂" + "b" * 10, "line\r\nbreak", "\r\n  trimmed  \n", "tab\there",
        "\f form feed", "[~]|\\^", "Call 911 now", "call 9115", "x911x", "911",
        "“curly”", "Ωmega Σ", "\u00a0nbsp", "zero\u200bwidth",
    ]  # fmt: skip
    rng = random.Random(12)
    pool = [*sorted(GSM7_BASIC | GSM7_EXTENSION), "á", "ç", "🙂", "’", "€", "{", "911"]
    for _ in range(200):
        edge.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 400))))
    return edge


def _alphabet_of_the_form(web) -> tuple[str, str]:
    """The alphabet as the answer form renders it into its data attributes."""
    client = web.login(email("north", "staff"))
    page = client.get(f"/clinics/north/patients/{web.patient_id('P0')}/text").text
    basic = re.search(r"data-gsm-basic='([^']*)'", page).group(1)
    extension = re.search(r"data-gsm-extension='([^']*)'", page).group(1)
    return json.loads(html.unescape(basic)), json.loads(html.unescape(extension))


def test_the_form_carries_the_servers_alphabet(clinic_web):
    basic, extension = _alphabet_of_the_form(clinic_web)
    assert set(basic) == GSM7_BASIC and set(extension) == GSM7_EXTENSION
    assert "\r" in basic and "\n" in basic and "\f" in extension  # survived the HTML
    script = clinic_web.client().get("/static/segments.js")
    assert script.status_code == 200 and "followupSegments" in script.text


def test_the_counter_in_the_browser_counts_as_the_server_does(clinic_web):
    basic, extension = _alphabet_of_the_form(clinic_web)
    strings = _strings()
    catalogue = clinic_web.runtime.catalogue
    line = catalogue.render("staff_emergency", "en", {"emergency_number": "911"})
    given = {"basic": basic, "extension": extension, "strings": strings, "number": "911",
             "line": line}  # fmt: skip
    run = subprocess.run(
        [NODE, "-e", _RUN, str(STATIC / "segments.js")],
        input=json.dumps(given), capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    counted = json.loads(run.stdout)
    assert len(counted) == len(strings)
    for text, (encoding, segments, characters, non_gsm, body, added) in zip(
        strings, counted, strict=True
    ):
        info = analyze(text)
        assert (encoding, segments, characters) == (
            info.encoding, info.segments, info.characters,
        ), text  # fmt: skip
        assert tuple(non_gsm) == info.non_gsm, text
        server = draft(catalogue, text, emergency_number="911", locale="en")
        assert (body, added) == (server.body, server.emergency_line_added), text
