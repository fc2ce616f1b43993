"""Read a patient's SMS reply: keyword, red flag, soreness score, or free text.

Pure: no I/O, no database, no clock; standard library only. The caller decides what to do
with a :class:`Classification` (reply, flag to staff, record an opt-out); this module only
reads. It follows docs in ``shared/clinical.md`` sections 3 (reading replies) and 4 (opt-out
words). The labelled corpus in ``tests/inbound/data/replies_corpus.tsv`` is the yardstick.

Order of the decision, and why
------------------------------
1. Empty text (a photo with no body, whitespace, emoji only) is ``text``: a person looks at it.
2. The whole message is one of Twilio's default keywords (any case, surrounding whitespace
   and punctuation ignored: ``"Stop!!"``, ``" yes "``, full-width ``"ＳＴＯＰ"``):
   STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT -> ``opt_out``; START, YES,
   UNSTOP -> ``opt_in``; HELP, INFO -> ``help``. ``twilio_keyword`` is True only for the bare
   word (any case, surrounding whitespace ignored), the form Twilio documents ("single word,
   any case") and answers itself; for ``"Stop!!"`` we cannot be sure Twilio answered, so the
   caller confirms it (a second confirmation is a smaller harm than none). Twilio's
   ``OptOutType`` webhook field, with Advanced Opt-Out, is the authoritative signal. A single
   word can never carry a red flag, so nothing is lost by deciding these first.
3. Red flags, checked before any other keyword or score, because a missed emergency is the
   one error that can hurt someone (the NZ HDC case in clinical.md): ``emergency`` (trouble
   breathing, pain when breathing in, chest pain, fainting) beats ``clinic_today`` (bleeding
   that won't stop, a growing bruise, spreading redness, heat, swelling, pus, fever, numbness
   or tingling, weakness). ``matched`` lists every flag found, by canonical name; a score
   in the same reply is still reported in ``score`` (and ``worry`` at 72 h). A message
   that has a red flag *and* asks to stop ("stop texting me, I can't breathe") is a red flag:
   staff must see it today, and they can still record the opt-out by hand; the other way
   round, an emergency would sit unread in an opt-out log.
4. Other opt-out wording (FCC 24-18 "reasonable means": "opt out", "stop texting me",
   "remove me", "dar de baja", "no me escriban" ...; "STOP please", "Stop. Thanks") ->
   ``opt_out`` with ``twilio_keyword=False``: Twilio did not act, so the caller must. It
   beats a score ("2, please stop texting me") because consent must be honoured at once; the
   score is still reported. "stop" counts only as the first word of a short message, as a
   clause of its own, or at the very end of a request ("you can stop now"), so "the bleeding
   won't stop" or "can't stop coughing" never opt out. END, QUIT, CANCEL, REVOKE lead an
   opt-out only when every other word is polite filler ("cancel please", "end texts"):
   "cancel my appointment" is a question for staff.
   Whole-message Spanish words ("baja", "alto", "parar", "cancelar") count only alone:
   "quiero cancelar mi cita" is about an appointment and goes to staff.
5. A soreness score -> ``score`` (even with "yes" or "help" in it: only a lone YES is a
   keyword; "yes it hurts 6" is a score).
6. Opt-in or help wording that makes up the whole message ("start again", "who is this?",
   "ayuda por favor") -> ``opt_in`` / ``help``. Inside a longer sentence these words are
   ordinary words, so "help, my arm hurts so much" goes to staff.
7. Anything else -> ``text`` (urgency ``review``): questions, thanks, "ok", "better", "fine",
   "mejor", "bien". Those last ones are harmless, but they carry no number and we do not
   guess one: staff see them in the inbox, as clinical.md asks for unclear replies.

Urgency: emergency -> ``emergency``, clinic_today -> ``today``, text -> ``review``, every other
kind -> ``none``.

Red flags: matching
-------------------
Matching runs on :func:`normalize`d clauses, so case, accents, punctuation, emoji and missing
apostrophes ("cant breath") do not matter; common misspellings are spelled out in the
patterns. English and Spanish patterns always both run, whatever ``ReplyContext.locale``
says: a wrong locale on file, or a bilingual patient, must never hide an emergency or an
opt-out. (The locale is part of the API for callers and future languages; no rule narrows on
it today.)

"Feels warm" does not count when the message talks about heat (a heat pack, a shower): the
aftercare text recommends heat. "Hot to the touch" always counts. Dizziness alone is not a
red flag in clinical.md and is not one here ("lightheaded" is, as feeling faint); a reply
about dizziness without a number still reaches staff as ``text``.

A plain bruise, a little bleeding, or bleeding that stopped is not a flag: clinical.md calls
these expected (bleeding in 5-16% of treatments). "a little bleeding", "poquito sangrado" are
*minimized* and ignored; "bleeding stopped", "swelling went down", "se quitó la hinchazón" are
*resolved* and reported in ``negated`` (see below), because they mention a red-flag word and
someone may want to look. Emergency terms are never resolved: chest pain that "went away" is
still an emergency, exactly the HDC lesson.

Red flags: negation
-------------------
"no chest pain", "not short of breath", "sin fiebre", "no tengo fiebre", "no me desmayé",
"don't have any swelling", "no fever or chills", "ni escalofríos": the term goes to
``negated`` and does not make the reply a red flag. The negator ("no", "not", "never",
"without", "don't", "haven't", "sin", "nada de", "ni" ...) must come before the term, within
about three filler words ("have", "any", "a", "tengo", "me" ...; a word outside that list
stops the search, so "no I have chest pain" is *not* negated), and inside the same clause:
clauses break at ``. , ; ! ?``, new lines, "but", "pero", "aunque". So "no chest pain but I
can't breathe" is an emergency. Lists joined by "or" / "ni" carry the negation ("no chest
pain or shortness of breath"); a comma list carries it only when it ends in "or"/"ni" ("no
fever, chills or swelling"), so "no fever, chest hurts" stays an emergency; "no dizziness or
fainting" reaches past one plain word. Inside "chest ... hurt" / "pecho ... duele" a negator
negates too ("my chest doesn't hurt", "el pecho no me duele"). A negator after
the term ("chest pain? no") is ambiguous and escalates: when unsure, escalate. A term that
itself starts with a negator ("no puedo respirar", "sin fuerza") cannot be negated again.

A negated red flag is never silently dropped: the caller files such a reply for staff review.
So a reply whose only red-flag terms are negated (or resolved) is ``score`` when it carries a
score (``negated`` set, the caller sees it) and ``text`` (urgency ``review``) when it does not.

Scores
------
0-10, in digits ("7", "7/10", "7 / 10", "7 out of 10", "siete de 10", "about a 6", "un 5"),
words ("eight", "ocho", "cero") or keycap emoji and full-width digits ("7️⃣", "７").
"no pain", "sin dolor", "no tengo dolor", "ya no me duele" -> 0, and "none", "nada",
"nothing" when they are the whole answer ("nada grave" is not a 0). "my chest doesn't hurt"
or "no pain when I breathe" is about a red flag, not soreness, and gives no 0.

- Two numbers, a range or an alternative ("2 maybe 3", "3-4", "dos o tres", "6 or 7"): the
  higher. Under-reading a high score would skip a call-back; over-reading costs one call.
- A decimal rounds up ("6.5", "6,5", "6½" -> 7), for the same reason.
- Above 10 clamps to 10 ("10+", "11", "15/10"), but only for 11-20 in a score position (whole
  message, "/10", "pain is 12"); "100", "25" or "2024" are not scores.
- A number that is clearly something else is not a score: a phone number, a time ("at 3pm",
  "3:30", "a las 3"), a date ("3/4", "March 3", "3rd"), a quantity ("2 days", "3 hours", "2
  advil", "2 bruises"), a temperature ("temp 38", "fever of 101"), money, "day 2". The scale
  itself ("0-10", "1 to 10") is skipped.
- "yesterday 8, today 3", "was 8 now 3", "from 8 to 3", "de 8 a 3": the current number wins;
  past numbers count only when there is no other.
- Number words need a score-like setting (a short message, "/10", or a cue such as "a",
  "about", "pain", "un", "como") so that "one more question" or "no one told me" is not a 1.

72 h check-in (``last_step == "checkin_72h"``): the question asks "soreness 0-10, then 1 if
a bruise or bleeding worries you, else 0". The first two numbers are read as that pair when
the second is 0 or 1 and they are not joined by "or"/"maybe"/"to" ("2 0" -> 2, worry False;
"3 1", "5, 1", "3-1" -> 3/5, worry True; "7/10 1" too). "5,1" is the pair here, not 5.1. In any
other context a second number is never a worry answer: "3 1" is score 3 by the higher-number
rule, and ``worry`` stays ``None``. "2 maybe 3" is 3 in every context.

Speed: patterns are compiled at import. Every red-flag spec carries trigger word prefixes;
a message with none of them skips the red-flag scan and a clause runs only the patterns its
words trigger (the tests check that this never loses a match). A plain score or keyword
reply takes about 3-30 µs, a reply with red-flag words 30-100 µs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "KINDS",
    "URGENCY",
    "Classification",
    "ReplyContext",
    "classify",
    "normalize",
]

KINDS = ("opt_out", "opt_in", "help", "emergency", "clinic_today", "score", "text")
URGENCY = {"emergency": "emergency", "clinic_today": "today"}  # others: "none" or "review"


@dataclass(frozen=True)
class ReplyContext:
    """What we know about the message being answered."""

    locale: str | None = None  # patient's locale: "en", "es", "es-MX" ... (None: both)
    last_step: str | None = None  # "checkin_24h", "checkin_72h", or None


@dataclass(frozen=True)
class Classification:
    """What a reply means. See the module docstring for how each field is decided."""

    kind: str
    urgency: str
    score: int | None
    worry: bool | None
    matched: tuple[str, ...]
    negated: tuple[str, ...]
    twilio_keyword: bool

    def to_json(self) -> dict:
        """A plain dict for JSON (tuples become lists)."""
        return {
            "kind": self.kind,
            "urgency": self.urgency,
            "score": self.score,
            "worry": self.worry,
            "matched": list(self.matched),
            "negated": list(self.negated),
            "twilio_keyword": self.twilio_keyword,
        }


# --------------------------------------------------------------------------- normalising

# Before NFKD: characters that NFKD would not map the way a reader means them.
_PRE_MAP = str.maketrans(
    {
        "\u2019": "'",
        "\u2018": "'",
        "\u02bc": "'",
        "`": "'",
        "\u00b4": "'",
        "\u2010": "-",
        "\u2011": "-",
        "\u2012": "-",
        "\u2013": "-",
        "\u2014": "-",
        "\u2212": "-",
        "\u2044": "/",
        "\u2215": "/",
        "\U0001f51f": " 10 ",  # keycap ten
    }
)
_HALF = re.compile(r"\s*\u00bd")
_DROP_CATEGORIES = frozenset({"Mn", "Me", "Cf"})  # accents, keycap enclosure, ZWJ, selectors
_APOSTROPHE_IN_WORD = re.compile(r"(?<=[^\W\d_])'(?=[^\W\d_])")
_NON_WORD = re.compile(r"[\W_]+")


def _words(text: str) -> frozenset[str]:
    """A set of words written as one string: easier to read and edit than a list."""
    return frozenset(text.split())


def _fold(text: str) -> str:
    """Lower-case, accents and keycaps stripped, apostrophes inside words removed.

    Punctuation is kept: the score reader needs "/", ".", ":" and "-".
    """
    text = text.translate(_PRE_MAP)
    if "\u00bd" in text:
        text = _HALF.sub(".5", text)
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if unicodedata.category(ch) not in _DROP_CATEGORIES)
    return _APOSTROPHE_IN_WORD.sub("", text.casefold())


def normalize(text: str) -> str:
    """The text as the keyword and red-flag patterns see it.

    Lower-case (casefold), accents stripped (NFKD, combining marks dropped: "desmayé" ->
    "desmaye", "ñ" -> "n"), full-width characters and keycap emoji turned into plain ones
    ("７", "7️⃣" -> "7"), apostrophes inside words removed so "can't" and "cant" match the
    same way ("can't" -> "cant"), every other punctuation mark and emoji turned into a space,
    whitespace collapsed and trimmed. "7/10" becomes "7 10": scores are read from the text
    before this step.
    """
    return _NON_WORD.sub(" ", _fold(text)).strip()


# --------------------------------------------------------------------------- keywords

_TWILIO = {
    **dict.fromkeys(
        ("stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"),
        "opt_out",
    ),
    **dict.fromkeys(("start", "yes", "unstop"), "opt_in"),
    **dict.fromkeys(("help", "info"), "help"),
}

# Opt-out wording that counts anywhere in the message: (canonical name, pattern).
_OPT_OUT_ANYWHERE: tuple[tuple[str, str], ...] = (
    ("opt out", r"\bopt(?:ing)? ?out\b|\bopt me out\b"),
    ("unsubscribe", r"\bunsubscri\w*"),
    ("stop all", r"\bstop ?all\b"),
    (
        "stop texting",
        r"\b(?:stop|quit|cease) (?:the |these |this |all |your |ur |with the )?"
        r"(?:texts?|texting|txts?|txting|messag\w*|msgs?|sms|contacting|emailing)\b",
    ),
    (
        "stop sending",
        r"\bstop sending(?: me)? (?:texts?|messages?|msgs?|sms|these|this|them|anything|stuff"
        r"|reminders?|me)\b|\bstop sending$",
    ),
    (
        "don't text me",
        r"\b(?:dont|do not|never|please dont|pls dont) (?:ever )?(?:text|txt|message|msg"
        r"|contact|sms|send me) me\b|\b(?:dont|do not) (?:text|txt|message|contact) me\b",
    ),
    (
        "no more texts",
        r"\b(?:no|dont want any|dont need any|do not want any|dont want|do not want) more "
        r"(?:texts?|messages?|msgs?|sms|texting|reminders?)\b",
    ),
    ("remove me", r"\bremove me\b|\btake me off\b|\b(?:delete|remove|erase) my (?:number|phone)\b"),
    ("leave me alone", r"\bleave me alone\b"),
    (
        "stop",
        r"\b(?:you can|u can|can you|could you|please|pls|plz|just|ok) stop"
        r"(?: now| please| thanks| thank you| already| it| texting| messaging)*$",
    ),
    ("dar de baja", r"\b(?:dar|darme|darse|denme|deme|dame) de baja\b|\bde baja\b"),
    (
        "no me escriban",
        r"\bno (?:quiero que )?me (?:escriban|escribas|escriba|manden|mandes|mande|envien"
        r"|envies|envie|contacten|contactes|textees|texteen|sigan escribiendo)\b",
    ),
    ("dejar de recibir", r"\bdejar de recibir (?:los |estos |sus )?(?:mensajes|textos|sms)\b"),
    (
        "no mas mensajes",
        r"\bno (?:mas |quiero (?:mas |recibir (?:mas )?)?|deseo (?:recibir )?)"
        r"(?:mensajes|textos|sms|msjs?)\b"
        r"|\bya no (?:quiero|deseo) (?:recibir )?(?:mensajes|textos)\b",
    ),
    (
        "dejen de escribir",
        r"\b(?:dejen|deja|deje|paren|para|pare) de (?:escribir\w*|mandar\w*|enviar\w*|textear\w*"
        r"|mensajear\w*)",
    ),
    (
        "quitarme de la lista",
        r"\b(?:borren|borrar|sacar|saquen|quitar|quiten)(?:me)? de (?:la|su|esta|sus) (?:lista"
        r"|listas)\b",
    ),
    ("cancelar mensajes", r"\bcancelar (?:los |mis )?(?:mensajes|suscripcion|textos)\b"),
)
_OPT_OUT_ANYWHERE_RE = [(name, re.compile(p)) for name, p in _OPT_OUT_ANYWHERE]
# Every pattern above contains one of these: most replies skip the patterns entirely.
_OPT_OUT_TRIGGER = re.compile(
    r"opt|unsubscri|stop|quit|cease|dont|do not|never|more|remove|take me off|delete|erase"
    r"|leave me|baja|escrib|mand|envi|contact|textee|sigan|mensaj|texto|sms|msj|recibir|lista"
    r"|cancelar"
)
_OPT_OUT_ANY_PREFILTER = re.compile("|".join(f"(?:{p})" for _, p in _OPT_OUT_ANYWHERE))

# Whole-message opt-out (after polite fillers are stripped): words too ambiguous elsewhere.
_OPT_OUT_WHOLE = {
    "baja": "baja",
    "parar": "parar",
    "para": "parar",
    "para ya": "parar",
    "paren": "parar",
    "alto": "alto",
    "cancelar": "cancelar",
    "basta": "basta",
    "ya basta": "basta",
    "detener": "parar",
    "unsubscribe me": "unsubscribe",
    "stop it": "stop",
    "no more": "no more texts",
}
# Words that may follow a leading "stop" and still leave a plain request to stop.
_STOP_FILLERS = _words(
    "please pls plz plez thanks thank you thx ty tnx now it already ok okay k texting texts "
    "text txt messages messaging message msgs sending me all this these that the them por favor "
    "gracias ya asap stop immediately right away sir maam thankyou anymore lol"
)
_LEADING_STOP = frozenset({"stop", "stopall", "unsubscribe", "optout"})
# These lead an opt-out only when every other word is a filler: "Cancel, I'll rebook" is not.
_LEADING_OPT_OUT = _LEADING_STOP | {"end", "quit", "cancel", "revoke"}

_OPT_IN_WHOLE = {
    **dict.fromkeys(
        (
            "start",
            "unstop",
            "resume",
            "restart",
            "start again",
            "start texting again",
            "start texting me again",
            "start sending again",
            "start messages again",
            "resume texts",
            "resume messages",
            "subscribe",
            "resubscribe",
            "sign me up",
            "opt in",
            "optin",
            "opt me in",
            "opt back in",
            "alta",
            "de alta",
            "dar de alta",
            "darme de alta",
            "reanudar",
            "reanudar mensajes",
            "si quiero mensajes",
            "si quiero recibir mensajes",
            "quiero recibir mensajes",
            "quiero mensajes",
            "volver a recibir mensajes",
            "quiero volver a recibir mensajes",
            "volver a recibir los mensajes",
            "quiero volver a recibir los mensajes",
            "quiero recibir los mensajes",
            "empezar",
            "comenzar",
        ),
        "opt_in",
    ),
}
_HELP_FIRST_CLAUSE = frozenset(
    {
        "who is this",
        "whos this",
        "who dis",
        "who is it",
        "who are you",
        "what is this",
        "whats this",
        "what is this about",
        "whats this about",
        "what is this for",
        "quien es",
        "quien eres",
        "quien habla",
        "quien es usted",
        "quien me escribe",
        "whos texting",
        "whos texting me",
        "who is texting",
        "who is texting me",
        "who texted me",
        "who is this texting",
        "que es esto",
    }
)
_HELP_WHOLE = _HELP_FIRST_CLAUSE | {
    "help",
    "info",
    "ayuda",
    "information",
    "informacion",
    "more info",
    "mas informacion",
    "more information",
    "necesito ayuda",
}
_FILLERS_RE = re.compile(
    r"^(?:(?:thank you|thanks|thx|please|pls|plz|por favor|gracias|hi|hello|hola|hey|ok|okay)"
    r"(?: |$))+|(?:(?:^| )(?:thank you|thanks|thx|please|pls|plz|por favor|gracias))+$"
)


def _strip_fillers(norm: str) -> str:
    return _FILLERS_RE.sub("", norm).strip()


# --------------------------------------------------------------------------- red flags

EMERGENCY, TODAY = 2, 1

_NEGATORS = _words(
    "no not never without dont doesnt didnt havent hasnt hadnt isnt arent wasnt werent aint nor "
    "neither sin ni nunca nada ningun ninguna ninguno tampoco zero"
)
# Words allowed between a negator and the term it negates ("don't have any fever").
_NEG_GAP = _words(
    "have had has having any a an the more real really signs sign of feel feeling felt got get "
    "getting notice noticed see seeing longer much major serious new obvious significant been "
    "there is was are its it experienced experiencing my too so tengo tuve tiene hay he ha "
    "tenido siento senti sentido noto note veo de la el los las me mi se le mas ya algun alguna "
    "signos senales muy mucho"
)
_LIST_CONNECTORS = frozenset({"or", "nor", "ni", "o", "u"})
_MINIMIZERS = _words(
    "little bit slight slightly tiny minor small some mild mildly minimal spot drop drops few "
    "tad poco poquito poquita leve algo pequeno pequena ligero ligera ligeramente minimo gotita "
    "gotitas gota gotas"
)
_RESOLVED_AFTER = re.compile(
    r"(?:(?:has|have|had|is|are|was|its|it|that|which|finally|already|all|now|mostly|pretty|much"
    r"|completely|totally|almost|basically|ya|se|me|ha|esta|casi|totalmente|por|fin) )*"
    r"(?:stopped|(?:gone|went|going|goes|come|came) (?:down|away)|gone|better|improving"
    r"|improved|resolved|disappeared|fading|faded|smaller|settled|cleared|eased|easing"
    r"|subsided|(?:is|are|its) down|fine|ok|okay|normal|paro|bajo|bajando|desaparecio"
    r"|mejoro|mejorando|quito|detuvo|termino|bien|mejor|cedio|disminuyo|disminuyendo|desinflamo|fue)\b"
)
_RESOLVED_BEFORE = frozenset({"stopped", "quito", "paro", "bajo", "desaparecio", "quitado"})
_RESOLVED_BEFORE_SKIP = _words("it the a some se me la el ya has have finally")


class _Spec(NamedTuple):
    name: str
    severity: int
    trigger: str  # "|"-separated word prefixes: every match has a word starting with one
    strong: re.Pattern[str]
    bare: re.Pattern[str] | None = None  # forms that "a little" makes harmless
    negated: re.Pattern[str] | None = None  # forms that carry their own negation
    inner_negation: bool = False  # a negator inside the matched span negates it
    resolvable: bool = False  # "... went down" / "... stopped" resolves it
    resolved_before: frozenset[str] = frozenset()
    exclude: re.Pattern[str] | None = None  # message words that explain the term away


def _c(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(rf"\b(?:{a})\b" for a in alternatives))


_BREATH = r"(?:breat\w*|breth\w*|braeth\w*|brehat\w*|breahting)"
_BREATH_GAP = (
    r"(?: (?:to|with|my|the|when|while|a|deep|full|get|take|taking|catch|in|properly|well|right"
    r"|normally|enough|really|very|at|all|of|any|some|for))"
)
_PAIN_EN = r"(?:pain\w*|hurt\w*|sore|aches?|aching|sharp|stabb\w*|stings?|stinging|burn\w*)"
_CHEST = r"(?:chest|chets|chst|chesst|cheast|ribs?|rib cage|ribcage|lungs?)"
_CHEST_PAIN = (
    r"(?:pain\w*|hurt\w*|tight\w*|pressure|sore\w*|ache\w*|aching|heavy|heaviness|burn\w*"
    r"|stab\w*|sharp|discomfort|squeez\w*|pound\w*|crush\w*|weird|funny|strange|pressing|weight"
    r"|killing)"
)
_PECHO = r"(?:pecho|torax|costillas?)"
_PECHO_PAIN = (
    r"(?:dolor\w*|duele\w*|duel\w*|molest\w*|presion|opresion|oprim\w*|apret\w*|punzad\w*"
    r"|pinchaz\w*|ardor|pesadez|pesad\w*|peso|adolorid\w*|aprieta)"
)
_WORD_GAP = r"(?: (?!but\b|pero\b)[^\W\d_]+){0,5}"
_BRUISE = r"(?:bruis\w*|bruse\w*|bruize\w*|brusing)"
_MORETON = r"(?:moreton\w*|morete\w*|moraton\w*|morado\w*|cardenal\w*|hematoma\w*)"
_BODY_EN = r"(?:arms?|hands?|legs?|fingers?|foot|feet|wrists?|thumbs?|toes?|face|lips?|fist)"
_BODY_ES = r"(?:brazos?|manos?|piernas?|pies?|dedos?|cara|labios?|muneca|puno)"
_HEAT_CONTEXT = re.compile(
    r"\b(?:heat|heating|pack|shower|bath|compress|water|pad|towel|tea|weather|sun|compresa"
    r"|agua|bano|ducha|bolsa|almohadilla|parche|clima|sol)\b"
)

_SPECS: tuple[_Spec, ...] = (
    _Spec(
        "trouble breathing",
        EMERGENCY,
        "brea|bret|brae|breh|gasp|wheez|suffocat|lung|pneumo|neumo|air|winded|respir|aliento|ahog|sofoc|asfixi|pulmon",
        _c(
            rf"(?:cant|cannot|can not|cnt|couldnt|could not|unable to|struggl\w* to|struggling"
            rf"|hard to|harder to|difficult to|hard time|trouble|troubles|difficulty|dificulty"
            rf"|difficulties|difficult|problems?|issues?|can barely|can hardly|barely|hardly)"
            rf"{_BREATH_GAP}{{0,4}} {_BREATH}",
            rf"short(?:ness)? (?:of|o) {_BREATH}|out of {_BREATH}|breathless\w*",
            r"gasp\w*|wheez\w*|suffocat\w*|collapsed lung|punctured lung|pneumothorax|neumotorax",
            r"(?:short |so |really |very |bit |feel |feeling |getting )winded",
            r"(?:cant|cannot|not|couldnt) get(?:ting)? (?:enough |any )?air",
            rf"{_BREATH} (?:is |feels |seems |getting |gets |so |very |really )*(?:hard|difficult"
            r"|laboured|labored|shallow|weird|strange|funny|off|tight|short|fast|rapid|wheezy"
            r"|heavy|restricted|harder)",
            r"no (?:puedo|podia|pude|puede|podemos) respirar",
            r"no (?:puedo|podia|pude|puede) (?:tomar|agarrar|jalar|coger|meter) (?:el )?aire",
            r"(?:me )?cuesta (?:mucho |trabajo |un poco )?respirar",
            r"(?:dificultad|dificultades|problemas?|trabajo) (?:para|al) respirar",
            r"falta (?:de |la |el )?(?:aire|aliento|respiracion)",
            r"me falta (?:el |la )?(?:aire|respiracion)",
            r"sin aire|sin aliento|ahog\w*|sofoc\w*|asfixi\w*",
            r"respir\w* (?:mal|con dificultad|dificil|rapido|entrecortad\w*|cort\w*|agitad\w*)",
            r"no me entra (?:el )?aire|dificil respirar|pulmon colapsado",
            r"se me (?:va|fue|iba|acaba|corta) (?:el |la )?(?:aire|aliento|respiracion)",
        ),
    ),
    _Spec(
        "pain when breathing",
        EMERGENCY,
        "brea|bret|brae|breh|inhal|respir|aire",
        _c(
            rf"{_PAIN_EN}(?: (?:when|whenever|while|with|on|if|to|during|each|every|time|i|take"
            rf"|taking|a|deep|big|full|it|me|in|try|trying|do|breathe in)){{0,5}} "
            rf"(?:{_BREATH}|inhal\w*)",
            rf"{_PAIN_EN}(?: (?!but\b|no\b|not\b)[^\W\d_]+){{0,6}} (?:when|whenever|while|if|as"
            rf"|on|with|during|each|every|to)(?: (?:i|I|we|you|taking|take|a|deep|big|full|try"
            rf"|trying|to|do))* (?:{_BREATH}|inhal\w*)",
            rf"(?:{_BREATH}|inhal\w*)(?: (?:in|deep|deeply|deeper|is|are|it|makes|make|really|so"
            r"|very|kind of|kinda|still)){0,3} (?:hurt\w*|pain\w*|sore|stings?|aches?)",
            r"(?:duele|dolor|molest\w*|punzad\w*|pincha)(?: (?:al|cuando|para|me|a|de|en|el|la"
            r"|hondo|profundo|mucho|un|poco|fuerte|si|lo)){0,4} (?:respir\w*|inhal\w*|tomar aire"
            r"|jalar aire)",
            r"respir\w*(?: (?:hondo|profundo|me|profundamente|es|muy)){0,3} (?:duele|dolor\w*"
            r"|molest\w*|pincha)",
        ),
        negated=_c(
            rf"(?:{_BREATH}|inhal\w*) (?:doesnt|does not|dont|do not|didnt|isnt|is not|not|no"
            r" longer) (?:\w+ )?(?:hurt\w*|pain\w*|painful|sore)",
            r"respir\w* no (?:me )?(?:duele|molesta)",
        ),
    ),
    _Spec(
        "chest pain",
        EMERGENCY,
        "chest|chesst|chets|chst|cheast|rib|lung|pecho|torax|costilla",
        _c(
            rf"tight {_CHEST}",
            rf"{_CHEST}{_WORD_GAP} {_CHEST_PAIN}",
            rf"{_CHEST_PAIN}{_WORD_GAP} {_CHEST}",
            rf"{_PECHO}{_WORD_GAP} {_PECHO_PAIN}",
            rf"{_PECHO_PAIN}{_WORD_GAP} {_PECHO}",
        ),
        inner_negation=True,
    ),
    _Spec(
        "fainting",
        EMERGENCY,
        "faint|fant|faind|fiant|feint|pass|black|conscious|unconscious|collaps|light|desmay|desvanec|perd|vahido|soponcio",
        _c(
            r"faint(?:ed|ing|ness|s)|fanted|fainded|fiant(?:ed|ing)|feinted|fainting",
            r"(?:feel|feels|feeling|felt|went|go|going|almost|nearly|kinda|i|im|got|getting|get"
            r"|gonna|might|could|about to|like i might|would)(?: a bit| a little| very| so"
            r"| really| quite)? faint(?! (?:bruis\w*|mark\w*|line\w*|red\w*|pink\w*|yellow\w*"
            r"|blue\w*|purple\w*|green\w*|spot\w*|colou?r\w*|discolou?r\w*|trace\w*))",
            r"pass(?:ed|ing|es)? out|black(?:ed|ing)? out|blackout|blacked",
            r"lost consciousness|los(?:e|ing) consciousness|unconscious|collaps(?:ed|ing|e)",
            r"light ?headed\w*|light headedness",
            r"desmay\w*|desvanec\w*",
            r"perd\w* (?:el |la )?(?:conocimiento|sentido|conciencia)",
            r"(?:me )?(?:dio|da) (?:un )?(?:vahido|soponcio)",
        ),
    ),
    _Spec(
        "bleeding",
        TODAY,
        "bleed|blood|soak|sangr|empap",
        _c(
            r"(?:wont|doesnt|didnt|cant|cannot|can not|couldnt|wouldnt|will not|does not|did not"
            r"|not|hasnt|has not|havent|how (?:do i|to|can i|do you|should i|do we)) "
            r"(?:get (?:it|the bleeding) to )?stop(?:ped|ping)? (?:the |my |it )?bleed\w*",
            r"bleed\w*(?: (?:just|still|really|it|that|which|and it|and))? (?:wont|doesnt|didnt"
            r"|will not|does not|did not|hasnt|has not|isnt|is not|not|never|keeps? not|cant)"
            r" (?:stop\w*|slow\w*|quit\w*|ease\w*)",
            r"(?:still|keeps?|kept|keep on|continues? to|continu\w*) bleed\w*",
            r"bleed\w* (?:a lot|alot|heavily|heavy|badly|bad|lots|so much|too much|constantly"
            r"|nonstop|non stop|everywhere|through|again|more|profusely|like crazy|all day"
            r"|all night|for hours|still)",
            r"(?:heavy|lots of|a lot of|alot of|so much|too much|excessive|profuse|constant)"
            r" (?:bleeding|blood)",
            r"blood (?:everywhere|all over|keeps|wont|is still|still)",
            r"soak\w*(?: through)? (?:the |my )?(?:bandaid|band aid|plaster|bandage|gauze|shirt"
            r"|sheets|cloth)",
            r"(?:bandaid|band aid|plaster|bandage|gauze) (?:is |are )?soak\w*",
            r"(?:sangra|sangrando|sangrado|sangre) (?:mucho|muchisimo|demasiado|bastante"
            r"|sin parar|todavia|aun|todo el dia|abundante\w*|otra vez)",
            r"no (?:para|paraba|paro|deja|dejaba|ha parado|ha dejado|se detiene|se para"
            r"|se quita) (?:de )?(?:sangr\w*|el sangrado)",
            r"(?:sigue|seguia|continua|sigo) (?:sangr\w*|saliendo sangre|saliendome sangre)",
            r"(?:todavia|aun) (?:me )?(?:sangr\w*|sale sangre)",
            r"(?:sangrado|sangre) (?:no|que no) (?:para|paraba|se detiene|se quita|se detuvo"
            r"|ha parado|deja de salir)",
            r"(?:mucha|muchisima|demasiada|bastante) sangre|sangrado abundante",
            r"volvi\w* a sangrar|empapad\w* de sangre|empap\w* (?:la gasa|la curita|el curita"
            r"|la venda)",
            r"no (?:puedo|logro|pude) (?:parar|detener) (?:el |la )?sangr\w*",
        ),
        bare=_c(r"bleeding|bleeds|bleed|sangrando|sangrado|sangra"),
        resolvable=True,
        resolved_before=frozenset({"was", "were", "had", "hubo", "tuve", "tuvo"}),
    ),
    _Spec(
        "growing bruise",
        TODAY,
        "bruis|bruse|bruiz|brusing|moret|morat|morad|cardenal|hematoma",
        _c(
            rf"{_BRUISE}(?: (?:is|are|its|it|keeps?|kept|has|have|getting|gets|got|been|still"
            r"|seems|looks|now|much|way|even|just|also|area|mark|so|really|very)){0,4}"
            r" (?:bigger|larger|growing|grown|grows|grew|spreading|spread|spreads|expanding"
            r"|expanded|enlarging|raised|hard|huge|massive|enormous|doubled|tripled)",
            rf"(?:growing|spreading|expanding|huge|massive|enormous|giant|hard|raised) {_BRUISE}",
            rf"{_BRUISE}(?: \w+){{0,3}} (?:size of|as big as|big as)",
            rf"{_MORETON}(?: (?:esta|se|es|sigue|me|muy|ya|cada|vez|ha|hace|haciendo|hizo|puso"
            r"|pone|poniendo|lo|veo|mucho|que)){0,4} (?:mas grande|crece\w*|crec\w*|extien\w*"
            r"|extend\w*|agrand\w*|aument\w*|expand\w*|enorme\w*|duro)",
            rf"(?:enorme|gran|grandisimo|inmenso) {_MORETON}",
        ),
        resolvable=True,
    ),
    _Spec(
        "spreading redness",
        TODAY,
        "red|streak|roj|enrojec",
        _c(
            r"red(?:ness)?(?: (?:and|is|are|its|it|keeps?|getting|gets|has|been|area|mark|patch"
            r"|skin|line|lines|streaks?|seems|looks|now|also|that|thats|which)){0,4}"
            r" (?:spreading|spread|spreads|growing|grows|bigger|expanding|larger)",
            r"(?:spreading|growing|expanding) red\w*|red (?:streak\w*|lines?)|streak\w*",
            r"red (?:and )?(?:hot|warm|angry)|(?:hot|warm) (?:and )?red\w*|angry red",
            r"roj[oa]s?(?: (?:y|e|esta|se|muy|cada|vez|mas|que)){0,3} (?:calient\w*|extien\w*"
            r"|extend\w*|crec\w*|mas grande|expand\w*)",
            r"calient\w* y roj\w*|lineas? roj\w*",
        ),
        bare=_c(r"redness|enrojec\w*|rojez\w*|rojiz\w*"),
        resolvable=True,
    ),
    _Spec(
        "warm to touch",
        TODAY,
        "hot|warm|calient|calor",
        _c(
            r"(?:hot|warm)(?: (?:to|when|i|you|it|the))* touch\w*",
            r"calient\w* al (?:tacto|tocar\w*)|calor al tocar",
        ),
        resolvable=True,
    ),
    _Spec(
        "warm to touch",
        TODAY,
        "hot|warm|calient|calor",
        _c(
            r"(?:feels?|feeling|felt|skin|area|spot|site) (?:is |are |feels |still |so |really "
            r"|very |kinda |kind of |a bit |a little |quite )*(?:hot|warm)",
            r"(?:esta|se siente|siento|zona|piel|area) (?:muy |bien |un poco |algo |mas )?"
            r"calient\w*",
            r"(?:se siente|siento|tiene|hay) calor (?:en|al)",
        ),
        resolvable=True,
        exclude=_HEAT_CONTEXT,  # "the heat pack feels warm": anywhere in the message
    ),
    _Spec(
        "swelling",
        TODAY,
        "swel|swol|sweel|puff|lump|hinch|inflam|bulto|abultad",
        _c(
            r"swell(?:ing|ings|ed|s)?|swol+e?n\w*|sweling|sweeling|puffy|puffiness|lumps?",
            r"hinch\w*|inflam\w*|bulto\w*|abultad\w*",
        ),
        resolvable=True,
    ),
    _Spec(
        "pus",
        TODAY,
        "pus|ooz|infec|discharge|weeping|yellow|supur|secrecion|sale|liquido",
        _c(
            r"pus|puss|oozing|oozes|oozed|ooze|infec\w*|discharge|weeping",
            r"yellow (?:fluid|liquid|stuff|crust|gunk)",
            r"supur\w*|secrecion|sale (?:liquido|pus)|liquido amarillo",
        ),
        resolvable=True,
    ),
    _Spec(
        "fever",
        TODAY,
        "fev|feav|fiev|chill|shiver|rigor|temp|sweat|fiebre|calentura|febril|escalofri|tiritando",
        _c(
            r"fever\w*|feaver\w*|fevor\w*|fiever\w*|fevre|chills|shivering|shivers|rigors",
            r"(?:have|had|got|running|run|with|high|a) (?:a |high )?(?:temp|temperature)",
            r"(?:temp|temperature) (?:of |is |was |at |around )?\d+|night sweats",
            r"fiebre\w*|calentura\w*|febril|escalofri\w*|tiritando",
            r"(?:tengo|tiene|con) temperatura|temperatura (?:alta|de \d+|\d+)",
        ),
        resolvable=True,
    ),
    _Spec(
        "numbness",
        TODAY,
        "numb|numn|tingl|prickl|pins|feel|sensation|asleep|entum|adormec|adormil|hormig|cosquill|dorm|durm|duerm|siento|sensibilidad",
        _c(
            r"numb(?:ness|ing|ed)?|numnes\w*|numbes\w*|tingl\w*|prickl\w*",
            r"pins (?:and |n )?needles",
            rf"(?:cant|cannot|can not) (?:really )?feel (?:my |the )?{_BODY_EN}",
            r"(?:no|lost|losing|lack of|reduced|less|loss of) (?:feeling|sensation)",
            rf"{_BODY_EN} (?:is |are |keeps |feels )?(?:falling )?asleep",
            r"entumec\w*|entume\w*|entumid\w*|adormec\w*|adormil\w*|hormigue\w*|hormigas|cosquille\w*",
            rf"{_BODY_ES} (?:se me |se |esta |estan |siento )?(?:dormid\w*|durmi\w*|duerme\w*)",
            r"se me (?:durmio|duerme|duermen|durmieron)",
            rf"no siento (?:el |la |los |las |mi |mis )?{_BODY_ES}",
            r"(?:perdi|perdida de|sin) (?:la )?sensibilidad",
        ),
        resolvable=True,
    ),
    _Spec(
        "weakness",
        TODAY,
        "weak|lift|raise|move|grip|hold|use|open|close|squeez|bend|straighten|fist|drop|strength|debil|fuerza|levantar|mover|agarrar|sostener|apretar|cerrar|abrir|usar|alzar|caen",
        _c(
            r"weak\w*",
            rf"(?:cant|cannot|can not|unable to|hard to|struggling to|trouble|difficulty)"
            rf" (?:lift|raise|move|grip|hold|use|open|close|squeeze|bend|straighten)\w*"
            rf"(?: (?:my|the|up|a))* {_BODY_EN}",
            r"(?:cant|cannot|can not) (?:grip|make a fist|hold anything)\w*",
            r"(?:dropping|drop|dropped|keep dropping) things|lost (?:my )?(?:strength|grip)",
            r"no (?:strength|grip)",
            r"debil\w*|sin fuerza\w*|(?:no tengo|perdi|pierdo|poca|falta de|perdida de) fuerza\w*",
            rf"no (?:puedo|logro|pude) (?:levantar|mover|agarrar|sostener|apretar|cerrar|abrir"
            rf"|usar|alzar) (?:el |la |los |las |mi |mis )?{_BODY_ES}",
            r"se me caen las cosas",
        ),
        resolvable=True,
    ),
)


# Every red-flag match contains a word that starts with one of its spec's trigger prefixes
# (tests/inbound/test_reading.py checks this on the corpus and on random word soup). A dictionary
# lookup per word prefix is much cheaper than running every pattern: a message without any
# trigger skips the red-flag scan, and a clause runs only the specs its words trigger.
def _trigger_table() -> dict[str, frozenset[int]]:
    owners: dict[str, set[int]] = {}
    for index, spec in enumerate(_SPECS):
        for prefix in spec.trigger.split("|"):
            owners.setdefault(prefix, set()).add(index)
    return {prefix: frozenset(specs) for prefix, specs in owners.items()}


_TRIGGERS = _trigger_table()
_TRIGGER_LENGTHS = sorted({len(prefix) for prefix in _TRIGGERS})


def _triggered(words: list[str]) -> set[int]:
    """Indexes of the specs that some word in `words` triggers."""
    found: set[int] = set()
    for word in words:
        size = len(word)
        for length in _TRIGGER_LENGTHS:
            if length > size:
                break
            owners = _TRIGGERS.get(word[:length])
            if owners:
                found |= owners
    return found


class _Hit(NamedTuple):
    spec: _Spec
    start: int  # word index
    end: int  # word index, exclusive
    form: str  # "strong", "bare", "negated"


def _find_hits(words: list[str], message: str = "", triggers: bool = True) -> list[_Hit]:
    """Every red-flag term in one clause, with word positions.

    `message` is the whole normalized message, for specs with an ``exclude`` context.
    `triggers=False` runs every pattern (the tests check the triggers never lose a hit).
    """
    text = " ".join(words)
    starts: list[int] = []
    pos = 0
    for w in words:
        starts.append(pos)
        pos += len(w) + 1
    hits: list[_Hit] = []

    def span(m: re.Match[str]) -> tuple[int, int]:
        first = bisect_right(starts, m.start()) - 1
        last = bisect_right(starts, m.end() - 1)
        return first, last

    wanted = _triggered(words) if triggers else None
    for index, spec in enumerate(_SPECS):
        if wanted is not None and index not in wanted:
            continue
        if spec.exclude is not None and spec.exclude.search(message or text):
            continue
        taken: list[tuple[int, int]] = []
        if spec.negated is not None:
            for m in spec.negated.finditer(text):
                a, b = span(m)
                taken.append((a, b))
                hits.append(_Hit(spec, a, b, "negated"))
        for m in spec.strong.finditer(text):
            a, b = span(m)
            if any(a < tb and ta < b for ta, tb in taken):
                continue
            taken.append((a, b))
            hits.append(_Hit(spec, a, b, "strong"))
        if spec.bare is not None:
            for m in spec.bare.finditer(text):
                a, b = span(m)
                if any(a < tb and ta < b for ta, tb in taken):
                    continue
                hits.append(_Hit(spec, a, b, "bare"))
    return hits


def _negated_before(words: list[str], hit: _Hit, hits: list[_Hit]) -> bool:
    """A negator within about three filler words before the term, through "or"-lists."""
    if words[hit.start] in _NEGATORS or words[hit.start] in {"cant", "cannot"}:
        return False  # "no puedo respirar", "sin fuerza": the negation is the symptom
    ends = {h.end: h for h in hits}
    i, gaps, seen = hit.start - 1, 0, 0
    while i >= 0 and seen < 12:
        seen += 1
        word = words[i]
        if word in _NEGATORS:
            return True
        if word in _LIST_CONNECTORS and gaps == 0:
            if i in ends:
                i = ends[i].start - 1  # "no fever or chills": jump over "fever"
                continue
            # "no dizziness or fainting": a plain word or two as the earlier list item
            return any(k >= 0 and words[k] in _NEGATORS for k in (i - 2, i - 3))
        if word in _NEG_GAP and gaps < 3:
            gaps += 1
            i -= 1
            continue
        return False
    return False


def _resolved(words: list[str], hit: _Hit) -> bool:
    """Whether the term is over: "bleeding stopped", "swelling went down", "se quitó..."."""
    if _RESOLVED_AFTER.match(" ".join(words[hit.end :])):
        return True
    before = hit.spec.resolved_before | _RESOLVED_BEFORE
    i, skipped = hit.start - 1, 0
    while i >= 0 and skipped <= 2:
        if words[i] in before:
            return True
        if words[i] not in _RESOLVED_BEFORE_SKIP:
            return False
        i -= 1
        skipped += 1
    return False


def _minimized(words: list[str], hit: _Hit) -> bool:
    """Whether the term is played down: "a little bleeding", "sangrado leve"."""
    if any(w in _MINIMIZERS for w in words[max(0, hit.start - 3) : hit.start]):
        return True
    after = words[hit.end : hit.end + 3]
    return any(
        w in {"little", "bit", "poco", "poquito", "slightly", "leve", "minimo"} for w in after
    )


def _covered_by_list(words: list[str], hits: list[_Hit]) -> tuple[bool, bool]:
    """Whether a clause is only red-flag terms and list words; and whether it has "or"/"ni"."""
    covered = [False] * len(words)
    for h in hits:
        for k in range(h.start, h.end):
            covered[k] = True
    ok = all(
        c or w in _LIST_CONNECTORS or w in {"any", "a", "an"}
        for w, c in zip(words, covered, strict=True)
    )
    return ok and bool(hits), any(w in _LIST_CONNECTORS for w in words)


_CLAUSE_SPLIT = re.compile(
    r"(,|[.!?;\n\r]+|\b(?:but|pero|though|although|however|aunque|sino|except|excepto)\b)"
)


def _clauses(folded: str, message: str) -> list[tuple[list[str], list[_Hit]]]:
    """Clauses as word lists with their red-flag hits, each clause scanned once.

    A comma list that ends in "or"/"ni" ("no fever, chills or swelling") is joined into one
    clause with "or" for the comma, so the negation reaches every item.
    """
    parts = _CLAUSE_SPLIT.split(folded)
    segments: list[tuple[str, list[str], list[_Hit]]] = []  # (separator before, words, hits)
    sep = ""
    for k, part in enumerate(parts):
        if k % 2:
            sep = part
            continue
        words = _NON_WORD.sub(" ", part).split()
        if words:
            segments.append((sep, words, _find_hits(words, message)))
            sep = ""
    out: list[tuple[list[str], list[_Hit]]] = []
    i = 0
    while i < len(segments):
        _, words, hits = segments[i]
        j = i + 1
        if j < len(segments) and segments[j][0] == "," and any(h.end == len(words) for h in hits):
            k, merged = j, list(words)
            while k < len(segments) and segments[k][0] == ",":
                ok, has_connector = _covered_by_list(segments[k][1], segments[k][2])
                if not ok:
                    break
                merged += ["or", *segments[k][1]]
                if has_connector:
                    words, j = merged, k + 1
                    hits = _find_hits(words, message)
                    break
                k += 1
        out.append((words, hits))
        i = j
    return out


def _is_negated(words: list[str], hit: _Hit, hits: list[_Hit]) -> bool:
    """Negated ("no fever", "chest doesn't hurt") or resolved ("swelling went down")."""
    if hit.form == "negated":
        return True
    if hit.spec.inner_negation and any(w in _NEGATORS for w in words[hit.start + 1 : hit.end]):
        return True
    if _negated_before(words, hit, hits):
        return True
    return hit.spec.resolvable and _resolved(words, hit)


class _FlagResult(NamedTuple):
    severity: int
    matched: tuple[str, ...]
    negated: tuple[str, ...]


def _red_flags(folded: str, message: str) -> _FlagResult:
    active: list[tuple[int, str]] = []
    negated: list[str] = []
    for words, hits in _clauses(folded, message):
        for hit in sorted(hits, key=lambda h: h.start):
            name = hit.spec.name
            if _is_negated(words, hit, hits):
                negated.append(name)  # negated, or resolved: staff still see it
            elif hit.form == "bare" and _minimized(words, hit):
                continue  # "a little bleeding": expected, not a flag
            else:
                active.append((hit.spec.severity, name))
    severity = max((s for s, _ in active), default=0)
    matched = tuple(dict.fromkeys(name for _, name in active))
    neg = tuple(n for n in dict.fromkeys(negated) if n not in matched)
    return _FlagResult(severity, matched, neg)


# --------------------------------------------------------------------------- scores

_TOKEN_RE = re.compile(r"\d+|[^\W\d_]+|[^\w\s]")
_NUMBER_WORDS = {
    "zero": 0,
    "cero": 0,
    "one": 1,
    "uno": 1,
    "two": 2,
    "dos": 2,
    "three": 3,
    "tres": 3,
    "thre": 3,
    "four": 4,
    "cuatro": 4,
    "five": 5,
    "cinco": 5,
    "six": 6,
    "seis": 6,
    "seven": 7,
    "siete": 7,
    "eight": 8,
    "ocho": 8,
    "eigth": 8,
    "nine": 9,
    "nueve": 9,
    "ten": 10,
    "diez": 10,
    "eleven": 11,
}
_ZERO_WORDS = frozenset({"none", "nada", "nothing", "nil", "ninguno", "ninguna"})
_ZERO_TAIL = _words("today hoy now ahora thanks thank you thx gracias really at all so far ya yet")
_ZERO_PHRASE = re.compile(
    r"\b(?:no|zero|cero|ningun|nada de) (?:pain|soreness|sore|dolor|molestias?)\b"
    r"|\bnot (?:sore|hurting|painful)\b|\bpain ?free\b|\bsin (?:dolor|molestias?)\b"
    r"|\b(?:ya )?no (?:me )?duele\b|\bno tengo (?:nada de |ningun )?(?:dolor|molestias?)\b"
    r"|\bdoesnt hurt\b|\bdont hurt\b|\b(?:the )?pain (?:is )?gone\b"
    r"|\bel dolor (?:ya )?se (?:fue|quito)\b"
)
_ZERO_BLOCKERS = re.compile(
    r"\s*(?:when|while|with|in|on|at(?! all)|during|if|breat\w*|chest|al|en|cuando|pecho|respir\w*"
    r"|el pecho|de pecho|the chest)\b"
)
_ZERO_SUBJECT = re.compile(r"\b(?:chest|breat\w*|lungs?|ribs?|pecho|respir\w*|costillas?)\b")
_SCALE_RE = re.compile(
    r"\b(?:(?:on )?(?:a |the )?scale (?:of |from )?)?(?:del? |from |entre |between )?"
    r"(?:0|1|cero|uno|zero|one) ?(?:-|to|a|al|y|and) ?(?:10|ten|diez)\b"
)
_UNITS = _words(
    "day days dia dias hour hours hr hrs h hora horas minute minutes min mins minuto minutos "
    "week weeks wk wks semana semanas month months mes meses year years yr yrs ano anos am pm "
    "oclock time times vez veces x ml mg g kg lb lbs mm cm inch inches ft degree degrees grado "
    "grados f c percent porciento needle needles aguja agujas spot spots bruise bruises moreton "
    "moretones mark marks punto puntos session sessions sesion sesiones pill pills tablet "
    "tablets pastilla pastillas advil tylenol ibuprofen motrin aleve aspirin dose doses kids "
    "children people question questions pregunta preguntas thing things cosa cosas place places "
    "area areas lugar lugares zona zonas site sites stitch stitches step steps dollars bucks "
    "usd pesos miles km floor blocks calls texts messages mensajes glasses cups vasos tazas "
    "nights noches ago mornings"
)
_UNIT_SKIP = _words(
    "more extra whole full long short few new small little big tiny large red purple blue or so "
    "ish mas nuevos pequenos pequenas grandes"
)
_PRE_REJECT = _words(
    "las day dia week semana number numero room page step session sesion since desde until "
    "hasta took take taking tome tomo tomar dose x by ext extension apt suite"
)
_PAST_BEFORE = _words(
    "was were yesterday ayer era estaba fue from anoche last before antes earlier initially "
    "originally used"
)
_PAST_AFTER = _words("yesterday ayer anoche earlier before antes")
_AT_CUES = _words("pain sore soreness its it im is still now down dolor")
_CUES = _words(
    "pain painful soreness sore sorness soarness hurts hurt ache aches dolor duele molestia "
    "about like maybe around roughly approx probably prob a an its is im es un una como unos "
    "level nivel score rate rating say diria today hoy now ahora still sigue todavia aun mas "
    "menos o or to quizas quiza tal vez esta en estoy ya down up be id solid honestly perhaps "
    "possibly u at"
)
_STRONG_CUES = _words(
    "pain painful soreness sore hurts dolor duele molestia level nivel score a un like about "
    "como its im"
)
_NOW_WORDS = _words("today hoy now ahora tonight currently")
_ONE_BLOCK_BEFORE = _words(
    "no any every some the this that each which el la cada ningun ninguno alguno"
)
_ONE_BLOCK_AFTER = _words("of more thing another day time")
_MONTHS = _words(
    "january february march april may june july august september october november december jan "
    "feb mar apr jun jul aug sep sept oct nov dec enero febrero marzo abril mayo junio julio "
    "agosto septiembre setiembre octubre noviembre diciembre"
)
_ORDINALS = _words("st nd rd th ro do er ra vo to mo")
_RANGE_WORDS = _words("maybe or o to a quizas quiza tal vez perhaps possibly u like")
_SCALE_WORDS = {("out", "of"), ("outta",), ("of",), ("de",), ("sobre",), ("over",)}


_MAYBE_NUMBER = re.compile(
    r"\d|\b(?:" + "|".join(sorted(_NUMBER_WORDS.keys() | _ZERO_WORDS)) + r")\b"
)


class _Cand(NamedTuple):
    value: int
    first: int  # token index
    last: int  # token index (inclusive)
    numeric: bool  # digits or a number word (not a "no pain" phrase)
    past: bool


class _Tok(NamedTuple):
    text: str
    start: int
    end: int
    digit: bool
    word: bool


def _tokens(folded: str) -> list[_Tok]:
    out = []
    for m in _TOKEN_RE.finditer(folded):
        text = m.group()
        out.append(_Tok(text, m.start(), m.end(), text[0].isdecimal(), text[0].isalpha()))
    return out


def _adjacent(a: _Tok, b: _Tok) -> bool:
    return a.end == b.start


def _num_value(tok: _Tok) -> int | None:
    if tok.digit:
        return int(tok.text)
    return _NUMBER_WORDS.get(tok.text)


def _prev_word(toks: list[_Tok], i: int, skip: int = 0, clause: bool = False) -> str:
    """The word before token i (punctuation skipped), after skipping `skip` words.

    With `clause`, stop at a clause break: "yesterday 8, today 3" keeps "today 3" apart.
    """
    j = i - 1
    while j >= 0:
        if clause and toks[j].text in _BREAKS:
            return ""
        if toks[j].word or toks[j].digit:
            if skip == 0:
                return toks[j].text
            skip -= 1
        j -= 1
    return ""


_BREAKS = frozenset(",.;!?")


def _next_word(toks: list[_Tok], i: int) -> tuple[str, int]:
    j = i + 1
    while j < len(toks):
        if toks[j].word or toks[j].digit:
            return toks[j].text, j
        if toks[j].text not in {"-", "+", "~"}:
            return "", j
        j += 1
    return "", j


def _scores(folded: str, in_72h: bool) -> tuple[list[_Cand], list[_Tok]]:
    """Every number in the text that reads as a soreness score, in text order."""
    if not _MAYBE_NUMBER.search(folded) and not _ZERO_PHRASE.search(folded):
        return [], []  # "my chest hurts": nothing to read, skip the tokenizer
    masked = folded
    if "10" in folded or "ten" in folded or "diez" in folded:
        masked = _SCALE_RE.sub(lambda m: " " * len(m.group()), folded)
    toks = _tokens(masked)
    n = len(toks)
    letter_words = [t.text for t in toks if t.word]
    short = len(letter_words) <= 4
    # the number is the whole answer, give or take "please"/"thanks"
    alone = sum(1 for t in toks if t.digit) == 1 and all(w in _STOP_FILLERS for w in letter_words)
    long_groups = {k for k, t in enumerate(toks) if t.digit and len(t.text) >= 3}
    cands: list[_Cand] = []
    rejected_tail: int | None = None  # last token of the previous rejected number
    i = 0
    while i < n:
        tok = toks[i]
        value = _num_value(tok)
        if value is None or (tok.word and not tok.text.isascii()):
            i += 1
            continue
        is_word = tok.word
        first, j = i, i + 1  # j: first token after the number
        frac = 0.0
        reject = False
        if tok.digit:
            if len(tok.text) >= 3:
                i += 1
                continue
            # decimal ("6.5", "6,5"), time ("3:30"), ordinal ("3rd"), date ("3/4", "3.4.24")
            if j + 1 < n and toks[j].text in {".", ","} and _adjacent(tok, toks[j]):
                nxt = toks[j + 1]
                if nxt.digit and _adjacent(toks[j], nxt):
                    # at 72 h "5,1" is the answer pair, not 5.1
                    pair_comma = toks[j].text == "," and in_72h and nxt.text in {"0", "1"}
                    more = j + 2 < n and toks[j + 2].text in {".", "/", ":"}
                    if not pair_comma:
                        if len(nxt.text) == 1 and not more:
                            frac = int(nxt.text) / 10
                        else:
                            reject = True  # "3.15", "12.3.24": a time, a date, a price
                        j += 2
            if j < n and toks[j].text == ":" and j + 1 < n and toks[j + 1].digit:
                reject, j = True, j + 2
            if j < n and toks[j].text in _ORDINALS and _adjacent(toks[j - 1], toks[j]):
                reject = True  # "3rd", "2nd", "1ro"
        # "and a half", "y medio"
        if j + 2 < n and [t.text for t in toks[j : j + 3]] == ["and", "a", "half"]:
            frac, j = 0.5, j + 3
        elif j + 1 < n and toks[j].text == "y" and toks[j + 1].text in {"medio", "media"}:
            frac, j = 0.5, j + 2
        # scale: "/10", "out of 10", "de 10"
        scaled = False
        if not reject and j < n and toks[j].text == "/":
            if j + 1 < n and _num_value(toks[j + 1]) == 10:
                if j + 2 < n and toks[j + 2].text == "/":
                    reject = True
                else:
                    scaled = True
                j += 2
            elif j + 1 < n and toks[j + 1].digit:
                reject, j = True, j + 2  # a date: "3/4"
        elif not reject:
            for words in _SCALE_WORDS:
                k = j + len(words)
                if (
                    k < n
                    and [t.text for t in toks[j:k]] == list(words)
                    and _num_value(toks[k]) == 10
                ):
                    scaled, j = True, k + 1
                    break
        last = j - 1
        while j < n and toks[j].text in {"+", "!"}:
            j += 1
        prev = _prev_word(toks, first)
        prev2 = _prev_word(toks, first, 1)
        nxt_word, nxt_at = _next_word(toks, last)
        if not reject:
            reject = _context_rejects(toks, first, last, prev, prev2, nxt_word, nxt_at, long_groups)
        if reject:
            # "2-3 days": the unit rejects the first number of a range too
            if cands and rejected_tail is None and _joined(toks, cands[-1].last, first):
                cands.pop()
            rejected_tail = last
            i = max(j, i + 1)
            continue
        rejected_tail = None
        raw = value + frac
        accept = True
        if value > 10:
            # "11", "12/10", "pain is 15": yes; "mi cita es el 12", "hasta el 15": no
            accept = scaled or alone or prev in _STRONG_CUES
            if value > 20 and not scaled:
                accept = False
        elif is_word:
            accept = (
                scaled
                or short
                or prev in _CUES
                or nxt_word in _NOW_WORDS
                or (prev in {"a", "an"} and prev2 in _CUES)
            )
            if tok.text in {"one", "uno"} and (
                prev in _ONE_BLOCK_BEFORE or (nxt_word in _ONE_BLOCK_AFTER and not scaled)
            ):
                accept = False
        if accept:
            near = (_prev_word(toks, first, 0, True), _prev_word(toks, first, 1, True))
            past = not (near[0] in _NOW_WORDS or nxt_word in _NOW_WORDS) and (
                near[0] in _PAST_BEFORE
                or near[1] in _PAST_BEFORE
                or nxt_word in _PAST_AFTER
                or (prev == "de" and nxt_word == "a")
            )
            score = min(10, math.ceil(raw - 1e-9))
            cands.append(_Cand(score, first, last, True, past))
        i = max(j, i + 1)
    for m in _ZERO_PHRASE.finditer(masked):
        if _ZERO_BLOCKERS.match(masked, m.end()):
            continue  # "no pain when I breathe" is about breathing, not soreness
        if _ZERO_SUBJECT.search(masked, max(0, m.start() - 25), m.start()):
            continue  # "my chest doesn't hurt", "el pecho no me duele"
        pos = _token_index(toks, m.start())
        cands.append(_Cand(0, pos, pos, False, False))
    if short and not cands:
        # "none", "nada", "nothing today": only as the whole answer ("nada grave" is not 0)
        words = [t.text for t in toks if t.word]
        if words and words[0] in _ZERO_WORDS and all(w in _ZERO_TAIL for w in words[1:]):
            cands.append(_Cand(0, 0, 0, False, False))
    cands.sort(key=lambda c: c.first)
    return cands, toks


def _token_index(toks: list[_Tok], char_pos: int) -> int:
    for k, t in enumerate(toks):
        if t.start >= char_pos:
            return k
    return len(toks)


def _joined(toks: list[_Tok], a_last: int, b_first: int) -> bool:
    """Whether two numbers are joined as a range or alternative ("2-3", "2 or 3")."""
    between = toks[a_last + 1 : b_first]
    return bool(between) and all(t.text in _RANGE_WORDS or t.text == "-" for t in between)


def _context_rejects(
    toks: list[_Tok],
    first: int,
    last: int,
    prev: str,
    prev2: str,
    nxt_word: str,
    nxt_at: int,
    long_groups: set[int],
) -> bool:
    """Whether the words around a number say it is a time, date, quantity or phone number."""
    before = toks[first - 1].text if first else ""
    if before in {"$", "#", "€"}:
        return True
    if prev in _PRE_REJECT:
        return True
    if prev == "at" and prev2 not in _AT_CUES:
        return True
    if prev in _MONTHS or nxt_word in _MONTHS:
        return True
    # a unit after the number, maybe past an adjective: "2 more days", "2 small bruises"
    k, word = nxt_at, nxt_word
    hops = 0
    while word in _UNIT_SKIP and hops < 2:
        word, k = _next_word(toks, k)
        hops += 1
    if word in _UNITS:
        return True
    if nxt_word == "de" and _next_word(toks, nxt_at)[0] in _MONTHS:
        return True  # "3 de marzo"
    # glued to a long digit group: a phone number ("+1 555 123 4567", "555-1234")
    for k in (first - 1, first - 2, last + 1, last + 2):
        if k in long_groups:
            between = toks[min(k, first) + 1 : max(k, last)]
            if all(t.text in {"-", ".", "(", ")", "+", " "} or t.digit for t in between):
                return True
    return False


def _pick_score(
    cands: list[_Cand], toks: list[_Tok], in_72h: bool
) -> tuple[int | None, bool | None]:
    if not cands:
        return None, None
    current = [c for c in cands if not c.past] or cands
    if in_72h:
        numeric = [c for c in current if c.numeric]
        if len(numeric) >= 2:
            a, b = numeric[0], numeric[1]
            between = toks[a.last + 1 : b.first]
            alternative = any(t.text in _RANGE_WORDS for t in between)
            if b.value in (0, 1) and not alternative:
                return a.value, b.value == 1
    return max(c.value for c in current), None


# --------------------------------------------------------------------------- classify


def _make(
    kind: str,
    score: int | None = None,
    worry: bool | None = None,
    matched: tuple[str, ...] = (),
    negated: tuple[str, ...] = (),
    twilio: bool = False,
) -> Classification:
    if kind in URGENCY:
        urgency = URGENCY[kind]
    elif kind == "text":
        urgency = "review"
    else:
        urgency = "none"
    return Classification(kind, urgency, score, worry, matched, negated, twilio)


def _score_matched(score: int | None, worry: bool | None) -> tuple[str, ...]:
    if score is None:
        return ()
    if worry is None:
        return (f"score {score}",)
    return (f"score {score}", f"worry {int(worry)}")


def _opt_out_wording(norm: str, folded: str) -> str | None:
    """The canonical name of opt-out wording in the message, if any."""
    if _OPT_OUT_TRIGGER.search(norm) and _OPT_OUT_ANY_PREFILTER.search(norm):
        for name, pattern in _OPT_OUT_ANYWHERE_RE:
            if pattern.search(norm):
                return name
    stripped = _strip_fillers(norm)
    if stripped in _OPT_OUT_WHOLE:
        return _OPT_OUT_WHOLE[stripped]
    if _TWILIO.get(stripped) == "opt_out":
        return stripped  # "Please stop", "cancel thanks": Twilio wants the word alone
    words = norm.split()
    if words and words[0] in _LEADING_OPT_OUT and all(w in _STOP_FILLERS for w in words[1:]):
        return words[0]  # "STOP please", "stop texting me now", "end texts"
    if words and words[0] in _LEADING_STOP:
        first_clause = _NON_WORD.sub(" ", _CLAUSE_SPLIT.split(folded.strip(), maxsplit=1)[0])
        if all(w in _STOP_FILLERS for w in first_clause.split()[1:]):
            return words[0]  # "Stop. My pain is 2", "Stop please, I'm fine": a request of its own
    return None


def classify(text: str, context: ReplyContext = ReplyContext()) -> Classification:
    """Classify one SMS reply. Never raises for any string; see the module docstring."""
    folded = _fold(text)
    norm = _NON_WORD.sub(" ", folded).strip()
    if not norm:
        return _make("text")
    twilio_kind = _TWILIO.get(norm)
    if twilio_kind is not None:
        # Twilio acts on the bare word only; "Stop." is read the same here, but we answer it
        exact = text.strip().casefold() == norm
        return _make(twilio_kind, matched=(norm,), twilio=exact)

    in_72h = context.last_step == "checkin_72h"
    cands, toks = _scores(folded, in_72h)
    score, worry = _pick_score(cands, toks, in_72h)

    flags = _FlagResult(0, (), ())
    if _triggered(norm.split()):
        flags = _red_flags(folded, norm)
    if flags.severity:
        kind = "emergency" if flags.severity == EMERGENCY else "clinic_today"
        return _make(kind, score, worry, flags.matched, flags.negated)

    opt_out = _opt_out_wording(norm, folded)
    if opt_out is not None:
        return _make("opt_out", score, worry, (opt_out,), flags.negated)
    if score is not None:
        return _make("score", score, worry, _score_matched(score, worry), flags.negated)
    if flags.negated:
        return _make("text", negated=flags.negated)  # never drop a negated flag: review

    stripped = _strip_fillers(norm)
    if stripped in _OPT_IN_WHOLE:
        return _make("opt_in", matched=(stripped,))
    first_clause = _NON_WORD.sub(" ", _CLAUSE_SPLIT.split(folded.strip(), maxsplit=1)[0]).strip()
    if stripped in _HELP_WHOLE or _strip_fillers(first_clause) in _HELP_FIRST_CLAUSE:
        name = stripped if stripped in _HELP_WHOLE else _strip_fillers(first_clause)
        return _make("help", matched=(name,))
    return _make("text")
