"""The reply reader's lexicon: the shipped files load, an edit to them changes what is read,
and every kind of mistake is refused with the file and the entry named."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from followup.inbound.reading import LexiconError, ReplyContext, classify, default, load
from followup.inbound.reading.lexicon import DEFAULT_DIR
from followup.runtime import Runtime


@pytest.fixture
def lexicon_dir(tmp_path: Path) -> Path:
    """A copy of the shipped lexicon to edit."""
    target = tmp_path / "lexicon"
    shutil.copytree(DEFAULT_DIR, target)
    return target


def edit(directory: Path, name: str, old: str, new: str) -> None:
    path = directory / name
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {name}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_the_shipped_lexicon_loads_every_flag_and_both_languages():
    lex = default()
    assert lex.languages == ("en", "es")
    names = [spec.name for spec in lex.flags]
    emergencies = [spec.name for spec in lex.flags if spec.severity == 2 and not spec.fallback]
    assert emergencies == [
        "trouble breathing", "pain when breathing", "chest pain", "fainting",
        "coughing up blood", "blue lips", "stroke signs", "sudden severe headache",
    ]  # fmt: skip
    assert {"bleeding", "fever", "numbness", "dizziness", "unbearable pain"} <= set(names)
    # the fail-safe mention of breathing or the chest is an emergency, and the last resort
    assert lex.flags[-1].fallback and lex.flags[-1].severity == 2
    # every flag has trigger prefixes, and an emergency is never resolvable
    assert all(spec.triggers for spec in lex.flags)
    assert not any(spec.resolvable for spec in lex.flags if spec.severity == 2)


def test_the_runtime_loads_the_lexicon_once():
    from followup.config import load_settings

    rt = Runtime(load_settings({"FOLLOWUP_DATABASE_URL": "sqlite://"}))
    assert rt.lexicon is default()
    assert rt.lexicon is rt.lexicon


def test_an_edit_to_a_language_file_changes_what_is_read(lexicon_dir):
    """The point of the files: a clinician adds wording, and the reader escalates it."""
    text = "my chin went all zigzaggy"
    assert classify(text).kind == "text"
    edit(
        lexicon_dir,
        "en.toml",
        "    'gasp\\w*|wheez\\w*",
        "    'chin (?:\\w+ ){0,3}zigzag\\w*',\n    'gasp\\w*|wheez\\w*",
    )
    edit(lexicon_dir, "en.toml", 'triggers = ["brea", "bret"', 'triggers = ["chin", "brea", "bret"')
    lex = load(lexicon_dir)
    result = classify(text, ReplyContext(), lex)
    assert (result.kind, result.urgency, result.matched) == (
        "emergency",
        "emergency",
        ("trouble breathing",),
    )
    assert classify("no chin zigzags", ReplyContext(), lex).kind != "emergency"  # negation


def test_a_spanish_edit_reaches_an_english_patient_too(lexicon_dir):
    """Every language runs on every reply: a wrong locale on file must not hide a flag."""
    edit(
        lexicon_dir, "es.toml", "    'neumotorax',\n", "    'neumotorax',\n    'labios morados',\n"
    )
    edit(lexicon_dir, "es.toml", 'triggers = ["neumo"', 'triggers = ["labio", "neumo"')
    lex = load(lexicon_dir)
    assert classify("tengo los labios morados", ReplyContext(locale="en"), lex).kind == "emergency"


EN, ES, RULES = "en.toml", "es.toml", "flags.toml"
FAINTING = 'id = "fainting"\nname = "fainting"\nseverity = "emergency"'
MISTAKES = [
    # (file, old text, new text, the entry the error must name)
    (EN, "'pus|puss|oozing", "'pus|puss|(oozing", "flags.pus.strong"),  # does not compile
    (EN, "'tight {chest}'", "'tight {chets}'", "flags.chest_pain.strong"),  # no such fragment
    (EN, '"never", "without"', '"never", "Without"', "negation.negators"),  # upper case
    (ES, '"sin", "ni"', '"sin", "ningún"', "negation.negators"),  # an accent
    (EN, '"dont", "doesnt"', '"don\'t", "doesnt"', "negation.negators"),  # an apostrophe
    (EN, '"never", "without"', '"never", "never"', "negation.negators"),  # listed twice
    (ES, "'desmay\\w*|desvanec\\w*'", "'desmayé'", "flags.fainting.strong"),  # accent
    (EN, "\nnegators = [", "\nnegatros = [", "negation.negatros"),  # a misspelt key
    (EN, "[flags.pus]", "[flags.puss]", "flags.puss"),  # no such flag
    (EN, "[contexts]", "[context]", "context"),  # no such section
    (EN, 'triggers = ["pus", "ooz"', 'triggers = ["pus ooz"', "flags.pus.triggers"),
    (EN, "number_words = { zero = 0,", "number_words = { zero = 30,", "number_words.'zero'"),
    (ES, "[help]\nfirst_clause = [", "[help]\nfirst_clause = [3, ", "help.first_clause"),
    (RULES, 'severity = "emergency"', 'severity = "urgent"', "flag trouble_breathing"),
    (RULES, FAINTING, FAINTING + "\nresolvable = true", "flag fainting"),  # emergency
    (RULES, 'id = "pus"\nname = "pus"', 'id = "pus"\nname = "pus"\nsevere = true', "flag pus"),
    (RULES, 'unless_context = "heat"', 'unless_context = "cold"', "feels_warm"),
    (RULES, "inner_negation = true", 'inner_negation = "yes"', "flag chest_pain"),
    (
        ES,
        "number_words = { cero = 0, uno = 1, dos = 2,",
        "number_words = { cero = 0, uno = 1, dos = 2, six = 7,",
        "six",
    ),
]


@pytest.mark.parametrize(("name", "old", "new", "entry"), MISTAKES)
def test_a_mistake_is_refused_naming_file_and_entry(lexicon_dir, name, old, new, entry):
    edit(lexicon_dir, name, old, new)
    with pytest.raises(LexiconError) as caught:
        load(lexicon_dir)
    message = str(caught.value)
    assert message.startswith(f"{name}: "), message
    assert entry in message, message


def test_a_flag_no_language_describes_is_refused(lexicon_dir):
    for name in ("en.toml", "es.toml"):
        path = lexicon_dir / name
        text = path.read_text(encoding="utf-8")
        start = text.index("[flags.weakness]")
        end = text.index("# ----", start)
        path.write_text(text[:start] + text[end:], encoding="utf-8")
    with pytest.raises(LexiconError, match=r"flags\.toml: flag weakness: no language"):
        load(lexicon_dir)


def test_a_file_that_is_not_toml_is_refused(lexicon_dir):
    (lexicon_dir / "es.toml").write_text("[opt_out\nwhole = 1\n", encoding="utf-8")
    with pytest.raises(LexiconError, match=r"^es\.toml: cannot be read"):
        load(lexicon_dir)


def test_a_missing_rules_file_is_refused(lexicon_dir):
    (lexicon_dir / "flags.toml").unlink()
    with pytest.raises(LexiconError, match=r"flags\.toml: missing"):
        load(lexicon_dir)


def test_a_new_language_file_is_merged(lexicon_dir):
    """A third language adds its words to every reply's reading, without code."""
    (lexicon_dir / "pt.toml").write_text(
        "\n".join(
            [
                "[flags.trouble_breathing]",
                'triggers = ["respir"]',
                "strong = ['nao consigo respirar']",
                "[opt_out]",
                'whole = { "sair" = "sair" }',
            ]
        ),
        encoding="utf-8",
    )
    lex = load(lexicon_dir)
    assert lex.languages == ("en", "es", "pt")
    assert classify("Não consigo respirar", ReplyContext(), lex).kind == "emergency"
    assert classify("sair", ReplyContext(), lex).matched == ("sair",)


def test_lexicon_words_are_written_as_normalised_text():
    """Every word in the shipped files is one the reader can see (the loader's own rule,
    checked here on its output so a loosened check would show)."""
    lex = default()
    for words in (lex.negators, lex.neg_gap, lex.units, lex.cues, lex.months, lex.stop_fillers):
        for word in words:
            assert re.fullmatch(r"[a-z0-9]+", word), word


@pytest.fixture
def broken_shipped_lexicon(lexicon_dir, monkeypatch):
    """The package's own lexicon with a mistake in it, as a bad edit would leave it."""
    from followup.inbound.reading import lexicon as lexicon_module

    edit(lexicon_dir, "es.toml", "'desmay\\w*|desvanec\\w*'", "'desmay(\\w*'")
    monkeypatch.setattr(lexicon_module, "DEFAULT_DIR", lexicon_dir)
    default.cache_clear()
    yield
    monkeypatch.undo()
    default.cache_clear()


@pytest.mark.parametrize("command", [["send-due", "--once"], ["run", "--no-web"]])
def test_a_broken_lexicon_stops_the_process_at_start(env, broken_shipped_lexicon, command):
    """The worker refuses to start rather than misread the first patient's reply."""
    from support.cli_run import run

    result = run(*command)
    assert result.exit_code != 0
    assert "cannot start: es.toml: flags.fainting.strong:" in result.output


def test_a_broken_lexicon_stops_the_web_app_at_start(env, broken_shipped_lexicon):
    from followup.config import load_settings
    from followup.web.app import create_app

    with pytest.raises(LexiconError, match=r"^es\.toml: flags\.fainting\.strong"):
        create_app(Runtime(load_settings(env)))
