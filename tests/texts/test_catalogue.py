"""The message catalogue: loading, locale fallback, rendering, appointment times, lint."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from followup.config import load_settings
from followup.texts.catalogue import (
    ALLOWED_PLACEHOLDERS,
    NAMELESS_KEYS,
    TEMPLATE_KEYS,
    Catalogue,
    LocaleInfo,
    TemplateError,
    format_appointment,
)
from followup.texts.check import contexts, lint
from followup.texts.locales import longest_appointment
from followup.texts.segments import analyze

SHIPPED = Path(__file__).resolve().parents[2] / "messages"
CONTEXT = {
    "first_name": "Ana",
    "clinic_name": "Harbor Physio",
    "clinic_phone": "(555) 555-0100",
    "emergency_number": "911",
    "appointment_time": "Wed Sep 30 at 4:15 PM",
    "callback_when": "today",
    "staff_alerted": True,
}


@pytest.fixture(scope="module")
def shipped() -> Catalogue:
    return Catalogue.load(SHIPPED)


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def minimal(root: Path, **extra: str) -> Path:
    """A valid catalogue: every key in en, locale.json, plus ``extra`` files."""
    files = {f"en/{key}.txt": f"{{{{ clinic_name }}}}: {key} text\n" for key in TEMPLATE_KEYS}
    files["en/aftercare.txt"] = "{{ clinic_name }}: sore? Call {{ clinic_phone }}. STOP/HELP\n"
    for key in NAMELESS_KEYS:
        files[f"en/{key}.txt"] = f"{key}: call {{{{ emergency_number }}}}\n"
    files["en/locale.json"] = json.dumps({"appointment_format": "%b %-d %-I:%M %p"})
    files.update({_path(name): text for name, text in extra.items()})
    return write(root, files)


def _path(name: str) -> str:
    """``es_MX__reminder`` -> ``es-MX/reminder.txt``; ``en__locale_json`` -> ``en/locale.json``."""
    if "/" in name or "__" not in name:
        return name
    locale, key = name.split("__")
    locale = locale.replace("_", "-")
    return f"{locale}/locale.json" if key == "locale_json" else f"{locale}/{key}.txt"


# --- the shipped texts ---------------------------------------------------------------------


def test_it_is_the_default_messages_dir():
    assert load_settings({}).messages_dir.resolve() == SHIPPED


def test_it_ships_every_key_in_en_and_es(shipped):
    assert shipped.locales == ["en", "es"]
    assert shipped.keys("en") == set(TEMPLATE_KEYS)
    assert shipped.keys("es") == set(TEMPLATE_KEYS)


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_it_renders_every_shipped_text_into_one_gsm7_segment(shipped, locale, key):
    template = shipped.template(key, locale)
    info_of_locale = shipped.locale_info(locale)
    # every branch of a text with a condition ({% if staff_alerted %}) is checked
    for context in contexts(template, info_of_locale):
        assert context["appointment_time"] == longest_appointment(info_of_locale)
        assert len(context["first_name"]) == 20
        assert len(context["clinic_name"]) == 30
        text = shipped.render(key, locale, context)
        info = analyze(text)
        assert (info.encoding, info.segments) == ("GSM-7", 1), (text, info)
        assert key in NAMELESS_KEYS or "Harbor Physio and Sports Rehab" in text
        assert "{" not in text


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("key", TEMPLATE_KEYS)
def test_it_keeps_the_shipped_texts_free_of_claims_and_treatment_names(shipped, locale, key):
    text = shipped.render(key, locale, CONTEXT).lower()
    for word in ("needl", "guarant", "cure", "proven", "water", "agua", "yes", "punci", "aguja"):
        assert word not in text
    assert not re.search(r"\bNO\b", shipped.render(key, locale, CONTEXT))


@pytest.mark.parametrize("locale", ["en", "es"])
def test_it_tells_patients_when_to_call_the_emergency_number(shipped, locale):
    for key in ("aftercare", "checkin_24h_breathing"):
        text = shipped.render(key, locale, CONTEXT)
        assert "911" in text
    aftercare = shipped.render("aftercare", locale, CONTEXT)
    assert "(555) 555-0100" in aftercare
    assert "STOP" in aftercare and "HELP" in aftercare


#: the texts a patient might read as routine while something is wrong: every answer to a
#: reply (clinical.md section 3: every answer that is not the emergency answer still carries
#: the emergency line), the first text, the check-ins and any nudge; and the line that ends
#: a staff member's own text (it is the emergency line)
SAFETY_NETTED = ("reply_", "checkin", "nudge", "aftercare", "staff_")
#: texts that need not carry it, and why: the reminder is about a booked appointment, days
#: after the aftercare (it gives the clinic's number)
NOT_SAFETY_NETTED = {"reminder"}


def test_every_shipped_text_is_either_safety_netted_or_exempt_for_a_reason(shipped):
    """A new kind of text must be sorted into one of the two, deliberately."""
    for locale in shipped.locales:
        for key in shipped.keys(locale):
            netted = key.startswith(SAFETY_NETTED)
            assert netted != (key in NOT_SAFETY_NETTED), (locale, key)


@pytest.mark.parametrize("locale", ["en", "es"])
def test_every_text_a_patient_may_read_as_routine_gives_the_emergency_number(shipped, locale):
    """Answers to replies above all: the thanks for a "3" may reach a patient whose breathing
    got worse since. Checked on the template (the placeholder, so each clinic's own number
    goes in) and on the text (it is not in a branch that is left out)."""
    keys = [k for k in shipped.keys(locale) if k.startswith(SAFETY_NETTED)]
    assert {"reply_thanks", "reply_received", "reply_received_again", "checkin_72h"} <= set(keys)
    context = {**CONTEXT, "emergency_number": "112"}
    for key in keys:
        template = shipped.template(key, locale)
        assert "emergency_number" in template.placeholders, template.path
        assert "112" in template.render(context), template.path


@pytest.mark.parametrize("locale", ["en", "es"])
def test_the_free_text_answer_sends_emergencies_to_the_emergency_number(shipped, locale):
    """Answering "urgent? call the clinic" would steer an emergency to a clinic phone that may ring
    unanswered: the clinic's number is for questions, the emergency number for emergencies."""
    text = shipped.render("reply_received", locale, CONTEXT)
    assert not re.search(r"urgent\w*\W+(call|llame al) \(555\)", text, re.IGNORECASE), text
    assert re.search(r"emergenc\w*\W+(call|llame al )?\s*911", text, re.IGNORECASE), text


@pytest.mark.parametrize("locale", ["en", "es"])
@pytest.mark.parametrize("key", ["checkin_24h", "checkin_24h_breathing", "checkin_72h"])
def test_it_asks_for_a_number_in_check_ins(shipped, locale, key):
    text = shipped.render(key, locale, CONTEXT)
    assert re.search(r"0(-| \(nada\) al | al )10", text), text


def test_it_passes_lint_for_the_shipped_texts():
    assert lint(SHIPPED) == []


# --- loading -------------------------------------------------------------------------------


def test_it_rejects_an_unknown_placeholder_naming_the_file(tmp_path):
    minimal(tmp_path, en__checkin_72h="Hi {{ first_name }}, your {{ diagnosis }}\n")
    with pytest.raises(TemplateError) as caught:
        Catalogue.load(tmp_path)
    assert caught.value.path == tmp_path / "en" / "checkin_72h.txt"
    assert "unknown placeholder(s) diagnosis" in str(caught.value)
    assert str(caught.value).startswith(f"{tmp_path / 'en' / 'checkin_72h.txt'}: ")


def test_it_rejects_a_syntax_error_with_its_line(tmp_path):
    minimal(tmp_path, en__reminder="{{ clinic_name }}\nat {{ appointment_time \n")
    with pytest.raises(TemplateError, match=r"reminder.txt: syntax error at line 2"):
        Catalogue.load(tmp_path)


def test_it_rejects_an_empty_template(tmp_path):
    minimal(tmp_path, en__reminder="\n")
    with pytest.raises(TemplateError, match="empty template"):
        Catalogue.load(tmp_path)


def test_it_rejects_a_bad_locale_json(tmp_path):
    minimal(tmp_path, es__locale_json="{nope")
    with pytest.raises(TemplateError, match=r"es/locale.json: not valid JSON"):
        Catalogue.load(tmp_path)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({}, "appointment_format: expected a non-empty string"),
        ({"appointment_format": "%Q"}, "unsupported directive %Q"),
        ({"appointment_format": "%d %"}, "lone '%'"),
        ({"appointment_format": "%-a"}, "unsupported directive %-a"),
        ({"appointment_format": "%A", "day_names": ["lunes"]}, "list of 7 strings"),
        ({"appointment_format": "%d", "colour": "red"}, "unknown setting(s) colour"),
        ({"appointment_format": "%A", "day_names": ["sábado"] * 7}, "'á' (U+00E1)"),
    ],
)
def test_it_validates_locale_json(tmp_path, data, reason):
    minimal(tmp_path)
    (tmp_path / "en" / "locale.json").write_text(json.dumps(data))
    with pytest.raises(TemplateError) as caught:
        Catalogue.load(tmp_path)
    assert reason in caught.value.reason


def test_it_strips_the_trailing_newline_crlf_and_bom(tmp_path):
    minimal(tmp_path)
    (tmp_path / "en" / "reminder.txt").write_bytes(
        "\ufeff{{ clinic_name }}:\r\nsee you\r\n".encode()
    )
    catalogue = Catalogue.load(tmp_path)
    assert catalogue.render("reminder", "en", CONTEXT) == "Harbor Physio:\nsee you"


def test_it_ignores_files_that_are_not_templates(tmp_path):
    minimal(tmp_path, **{"en/notes.md": "x", "README.md": "# hi"})
    assert Catalogue.load(tmp_path).keys("en") == set(TEMPLATE_KEYS)


def test_it_rejects_a_folder_that_is_not_a_locale(tmp_path):
    minimal(tmp_path, **{"Old Texts/aftercare.txt": "x"})
    with pytest.raises(TemplateError, match="not a locale name"):
        Catalogue.load(tmp_path)


def test_it_rejects_a_missing_directory(tmp_path):
    with pytest.raises(TemplateError, match="not a directory"):
        Catalogue.load(tmp_path / "nope")


# --- locales and rendering -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "expected"),
    [
        ("es", "es"),
        ("es-MX", "es"),
        ("es_MX", "es"),
        ("ES", "es"),
        ("fr", "en"),
        ("fr-CA", "en"),
        (None, "en"),
        ("", "en"),
        ("en-GB", "en"),
    ],
)
def test_it_resolves_locales_with_fallback(shipped, wanted, expected):
    assert shipped.resolve_locale("aftercare", wanted) == expected


def test_it_prefers_an_exact_regional_locale(tmp_path):
    minimal(tmp_path, es__reminder="{{ clinic_name }} es", es_MX__reminder="{{ clinic_name }} mx")
    catalogue = Catalogue.load(tmp_path)
    assert catalogue.resolve_locale("reminder", "es-mx") == "es-MX"
    assert catalogue.resolve_locale("reminder", "es-AR") == "es"
    # es-MX lacks aftercare: the base language, then the fallback.
    assert catalogue.resolve_locale("aftercare", "es-MX") == "en"
    assert catalogue.render("reminder", "es-MX", CONTEXT) == "Harbor Physio mx"


def test_it_uses_the_given_fallback_before_en(tmp_path):
    minimal(tmp_path, es__reminder="{{ clinic_name }} es")
    catalogue = Catalogue.load(tmp_path)
    assert catalogue.resolve_locale("reminder", "fr", fallback="es") == "es"
    assert catalogue.resolve_locale("aftercare", "fr", fallback="es") == "en"


def test_it_raises_for_a_key_that_exists_nowhere(shipped):
    with pytest.raises(TemplateError, match=r"welcome.txt: no template \(tried es-MX, es, en\)"):
        shipped.resolve_locale("welcome", "es-MX")


def test_it_renders_with_the_context(shipped):
    text = shipped.render("reminder", "en", CONTEXT)
    assert text == (
        "Hi Ana, Harbor Physio reminder: your next visit is Wed Sep 30 at 4:15 PM. "
        "To reschedule, call (555) 555-0100."
    )
    assert shipped.render("checkin_24h", "es-MX", CONTEXT).startswith("Hola Ana, le escribe")


def test_it_raises_naming_the_file_when_a_value_is_missing(shipped):
    context = {k: v for k, v in CONTEXT.items() if k != "clinic_phone"}
    with pytest.raises(TemplateError) as caught:
        shipped.render("reminder", "es", context)
    assert caught.value.path == SHIPPED / "es" / "reminder.txt"
    assert "clinic_phone" in caught.value.reason


def test_it_does_not_escape_or_collapse_text(tmp_path):
    minimal(tmp_path, en__reminder="  {{ clinic_name }} &  <b>  x  \n")
    context = {**CONTEXT, "clinic_name": "Smith & Jones <Physio>"}
    text = Catalogue.load(tmp_path).render("reminder", "en", context)
    assert text == "Smith & Jones <Physio> &  <b>  x"


def test_it_sandboxes_templates(tmp_path):
    minimal(tmp_path, en__reminder="{{ clinic_name.__class__.__mro__ }}")
    catalogue = Catalogue.load(tmp_path)
    with pytest.raises(TemplateError, match="cannot render"):
        catalogue.render("reminder", "en", CONTEXT)


def test_it_allows_only_the_documented_placeholders():
    assert set(ALLOWED_PLACEHOLDERS) == {
        "first_name",
        "clinic_name",
        "clinic_phone",
        "emergency_number",
        "appointment_time",
        # answers to replies only: when the clinic will call, and whether staff were alerted
        "callback_when",
        "staff_alerted",
    }


# --- appointment times ---------------------------------------------------------------------

NY = ZoneInfo("America/New_York")


def test_it_formats_an_appointment_in_english_in_the_patient_zone(shipped):
    when = datetime(2026, 9, 30, 20, 15, tzinfo=UTC)  # 16:15 in New York (EDT)
    assert format_appointment(when, NY, "en", shipped) == "Wed Sep 30 at 4:15 PM"
    assert format_appointment(when, ZoneInfo("Asia/Tokyo"), "en", shipped) == (
        "Thu Oct 1 at 5:15 AM"
    )


def test_it_formats_an_appointment_in_spanish_with_gsm7_names(shipped):
    when = datetime(2026, 9, 5, 13, 5, tzinfo=UTC)
    text = format_appointment(when, NY, "es-MX", shipped)
    assert text == "5 de septiembre a las 09:05"
    assert analyze(text).encoding == "GSM-7"


def test_it_formats_noon_and_midnight(shipped):
    noon = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
    midnight = datetime(2026, 1, 5, 0, 7, tzinfo=UTC)
    utc = ZoneInfo("UTC")
    assert format_appointment(noon, utc, "en", shipped) == "Mon Jan 5 at 12:00 PM"
    assert format_appointment(midnight, utc, "en", shipped) == "Mon Jan 5 at 12:07 AM"


def test_it_takes_a_naive_time_as_utc(shipped):
    naive = datetime(2026, 9, 30, 20, 15)
    assert format_appointment(naive, NY, "fr", shipped) == "Wed Sep 30 at 4:15 PM"


def test_it_computes_the_longest_appointment_text():
    info = LocaleInfo("%A %B %d %-I:%M %p %Y %%")
    assert longest_appointment(info) == "Wednesday September 12 12:12 AM 2099 %"


# --- lint ----------------------------------------------------------------------------------


def reasons(problems, name):
    """Reasons reported for ``name`` (a file name in en/, or ``locale/file``)."""
    if "/" not in name:
        name = f"en/{name}"
    return [p.reason for p in problems if p.path.as_posix().endswith("/" + name)]


def test_it_lints_a_minimal_catalogue_clean(tmp_path):
    assert lint(minimal(tmp_path)) == []


def test_it_reports_every_problem_with_file_and_reason(tmp_path):
    minimal(
        tmp_path,
        en__checkin_24h="{{ clinic_name }}: it’s normal to feel sore. Reply 0-10.",
        en__checkin_72h="{{ clinic_name }} {{ diagnosis }}",
        en__reminder="{{ clinic_name }} " + "x" * 150,
        es__aftercare="{{ clinic_name }}: dolor común. STOP/HELP",
        es__locale_json="",
    )
    (tmp_path / "es" / "locale.json").unlink()
    problems = lint(tmp_path)
    assert reasons(problems, "checkin_24h.txt") == [
        "not GSM-7 because of '’' (U+2019) at line 1, column 22"
    ]
    assert reasons(problems, "checkin_72h.txt")[0].startswith("unknown placeholder(s) diagnosis")
    assert reasons(problems, "reminder.txt") == [
        "2 GSM-7 segments (181 characters) with long sample values; "
        "the limit is 1 segment of 160 GSM-7 characters"
    ]
    es = [p for p in problems if p.path.parent.name == "es"]
    assert any("'ú' (U+00FA) at line 1, column 29" in p.reason for p in es)
    assert sorted(p.path.name for p in es if p.reason.startswith("missing: en has it")) == sorted(
        f"{key}.txt" for key in TEMPLATE_KEYS if key != "aftercare"
    )
    assert reasons(problems, "es/locale.json") == ["missing (sets appointment_format)"]


def test_it_reports_missing_stop_help_clinic_and_forbidden_words(tmp_path):
    minimal(
        tmp_path,
        en__aftercare="{{ clinic_name }}: results guaranteed, reply YES or NO. Drink water. STOP",
        en__checkin_24h="Dry needling soreness? Reply 0-10.",
    )
    problems = lint(tmp_path)
    after = reasons(problems, "aftercare.txt")
    assert "the first message must say how to opt out and get help: add HELP" in after
    assert any(r.startswith("contains 'guaranteed'") for r in after)
    assert any(r.startswith("contains 'yes'") for r in after)
    assert any(r.startswith("contains 'NO'") for r in after)
    assert any(r.startswith("contains 'water'") for r in after)
    checkin = reasons(problems, "checkin_24h.txt")
    assert "does not name the clinic: add {{ clinic_name }}" in checkin
    assert any(r.startswith("contains 'dry needling'") for r in checkin)
    assert any(r.startswith("contains 'needling'") for r in checkin)


def test_it_allows_lowercase_no_and_si_in_sentences(tmp_path):
    minimal(tmp_path, en__reminder="{{ clinic_name }}: no need to reply; si es urgente, llame.")
    assert lint(tmp_path) == []


def test_it_reports_keys_missing_from_en(tmp_path):
    minimal(tmp_path)
    (tmp_path / "en" / "checkin_72h.txt").unlink()
    assert [str(p) for p in lint(tmp_path)] == [
        f"{tmp_path}/en/checkin_72h.txt: missing: the default care plan sends it"
    ]
    (tmp_path / "en" / "reply_help.txt").unlink()
    assert f"{tmp_path}/en/reply_help.txt: missing: answers replies" in [
        str(p) for p in lint(tmp_path)
    ]


def test_it_reports_layout_errors_without_stopping(tmp_path):
    minimal(tmp_path, **{"Bad Folder/x.txt": "x", "en/Bad-Key.txt": "x"})
    problems = [str(p) for p in lint(tmp_path)]
    assert f"{tmp_path}/Bad Folder: not a locale name (expected e.g. en, es, es-MX)" in problems
    bad_key = f"{tmp_path}/en/Bad-Key.txt: file name must be a key"
    assert any(p.startswith(bad_key) for p in problems)


def test_it_checks_segments_with_the_longest_appointment_time(tmp_path):
    # 30 (clinic) + 111 fixed septets + the time: fits with "%a %b %d" (10), not "%A %B %d" (22).
    minimal(tmp_path, en__reminder="{{ clinic_name }}" + "x" * 110 + " {{ appointment_time }}")
    (tmp_path / "en" / "locale.json").write_text('{"appointment_format": "%a %b %d"}')
    assert lint(tmp_path) == []
    (tmp_path / "en" / "locale.json").write_text('{"appointment_format": "%A %B %d"}')
    assert reasons(lint(tmp_path), "reminder.txt")[0].startswith("2 GSM-7 segments (163 ")


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("Call {{ emergency_number }}. {{ clinic_name }}\n", "may use only emergency_number"),
        ("Hi {{ first_name }}, call {{ emergency_number }}\n", "may use only emergency_number"),
        ("Please call your clinic.\n", "must give {{ emergency_number }}"),
    ],
)
def test_an_answer_for_no_known_clinic_names_no_clinic_and_gives_the_emergency_number(
    tmp_path, source, reason
):
    minimal(tmp_path, en__reply_emergency_unknown=source)
    with pytest.raises(TemplateError, match=re.escape(reason)):
        Catalogue.load(tmp_path)


@pytest.mark.parametrize("locale", ["en", "es"])
def test_the_answer_for_no_known_clinic_gives_the_number_it_is_given(shipped, locale):
    text = shipped.render("reply_emergency_unknown", locale, {"emergency_number": "999"})
    assert "999" in text and "{" not in text
