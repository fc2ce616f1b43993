"""The triage table: one row per decision of :func:`followup.inbound.triage.decide`, each
asserting the exact actions (flag kind and reason, template key, consent change).

``decide`` is pure; the rows build the classification by hand, so they pin the rules of
triage and nothing of the reader. The thresholds are tested at their edges (7 and 6; 4 and 3
at 72 h). ``decide`` does not look at the clinic's alert destinations: whether a flag pages
anyone is :func:`followup.staff.alerts.queue_alerts`'s business.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from followup.inbound.reading import Classification, make
from followup.inbound.triage import Actions, ConsentChange, TriageContext, decide
from followup.store.statuses import FlagKind, ReplyKind

K, F = ReplyKind, FlagKind
AT_24H, AT_72H = "checkin_24h", "checkin_72h"


def reply(
    kind: ReplyKind,
    *,
    score: int | None = None,
    worry: bool | None = None,
    matched: tuple[str, ...] = (),
    negated: tuple[str, ...] = (),
    twilio: bool = False,
) -> Classification:
    """A reading as the reader builds it (its own urgency for each kind)."""
    return make(kind, score, worry, matched, negated, twilio)


def ctx(
    step: str | None = AT_24H,
    previous: int | None = None,
    *,
    acked: bool = False,
    known: bool = True,
) -> TriageContext:
    return TriageContext(
        last_step=step, previous_score=previous, acknowledged_recently=acked, known_patient=known
    )


def callback(reason: str) -> Actions:
    return Actions(F.CALLBACK, reason, "reply_callback")


THANKS = Actions(reply_key="reply_thanks")

ROWS = [
    # -- red flags: answered with safety advice and flagged, whoever wrote and whenever
    pytest.param(
        reply(K.EMERGENCY, matched=("chest pain",)),
        ctx(),
        Actions(F.EMERGENCY, "red flag: chest pain", "reply_emergency"),
        id="emergency",
    ),
    pytest.param(
        reply(K.EMERGENCY, matched=("chest pain", "breathing"), score=3),
        ctx(AT_72H, 1, acked=True),
        Actions(F.EMERGENCY, "red flag: chest pain, breathing", "reply_emergency"),
        id="emergency-beats-score-and-acknowledgement",
    ),
    pytest.param(
        reply(K.EMERGENCY),
        ctx(None, known=False),
        Actions(F.EMERGENCY, "red flag: emergency", "reply_emergency"),
        id="emergency-from-unknown-number-without-terms",
    ),
    pytest.param(
        reply(K.CLINIC_TODAY, matched=("fever", "spreading redness")),
        ctx(),
        Actions(
            F.CLINIC_TODAY, "needs the clinic today: fever, spreading redness", "reply_clinic_today"
        ),
        id="clinic-today",
    ),
    # -- keywords: Twilio answers its own; we answer other wording
    pytest.param(
        reply(K.OPT_OUT, matched=("stop",), twilio=True),
        ctx(),
        Actions(consent="out"),
        id="opt-out-twilio-keyword",
    ),
    pytest.param(
        reply(K.OPT_OUT, matched=("stop texting",)),
        ctx(),
        Actions(reply_key="reply_opt_out", consent="out"),
        id="opt-out-own-wording",
    ),
    pytest.param(
        reply(K.OPT_IN, matched=("start",), twilio=True),
        ctx(),
        Actions(consent="in"),
        id="opt-in-twilio-keyword",
    ),
    pytest.param(
        reply(K.OPT_IN, matched=("resume",)),
        ctx(),
        Actions(reply_key="reply_opt_in", consent="in"),
        id="opt-in-own-wording",
    ),
    pytest.param(
        reply(K.HELP, matched=("help",), twilio=True), ctx(), Actions(), id="help-twilio-keyword"
    ),
    pytest.param(
        replace(reply(K.SCORE, score=3, matched=("score 3",)), urgency="review"),
        ctx(),
        Actions(F.REVIEW, "score 3 and more: please read", "reply_thanks"),
        id="score-and-more-words",
    ),
    pytest.param(
        reply(K.WRONG_NUMBER, matched=("wrong number",)),
        ctx(),
        Actions(
            F.REVIEW,
            "says this is the wrong number: texts to it stopped; please check the number",
            "reply_wrong_number",
            consent="wrong_number",
        ),
        id="wrong-number",
    ),
    pytest.param(
        reply(K.HELP, matched=("ayuda",)),
        ctx(known=False),
        Actions(reply_key="reply_help"),
        id="help-own-wording",
    ),
    # -- scores: 7+, a rise, 4+ at 72 h, a 72 h worry; otherwise thanks
    pytest.param(reply(K.SCORE, score=7), ctx(), callback("score 7 (7+)"), id="score-7"),
    pytest.param(reply(K.SCORE, score=10), ctx(), callback("score 10 (7+)"), id="score-10"),
    pytest.param(reply(K.SCORE, score=6), ctx(), THANKS, id="score-6-first"),
    pytest.param(reply(K.SCORE, score=0), ctx(), THANKS, id="score-0"),
    pytest.param(
        reply(K.SCORE, score=5), ctx(previous=2), callback("score 5, up from 2"), id="score-rises"
    ),
    pytest.param(reply(K.SCORE, score=3), ctx(previous=3), THANKS, id="score-same-as-last"),
    pytest.param(reply(K.SCORE, score=2), ctx(previous=5), THANKS, id="score-falls"),
    pytest.param(
        reply(K.SCORE, score=8), ctx(previous=5), callback("score 8 (7+)"), id="score-7+-and-rising"
    ),
    pytest.param(
        reply(K.SCORE, score=4), ctx(AT_72H), callback("score 4 at 72 h (4+)"), id="score-4-at-72h"
    ),
    pytest.param(reply(K.SCORE, score=3), ctx(AT_72H), THANKS, id="score-3-at-72h"),
    pytest.param(reply(K.SCORE, score=4), ctx(AT_24H), THANKS, id="score-4-at-24h"),
    pytest.param(reply(K.SCORE, score=4), ctx(None), THANKS, id="score-4-without-check-in"),
    pytest.param(
        reply(K.SCORE, score=5),
        ctx(AT_72H, previous=4),
        callback("score 5, up from 4"),
        id="score-rising-at-72h",
    ),
    pytest.param(
        reply(K.SCORE, score=2, worry=True),
        ctx(AT_72H),
        callback("bruise or bleeding worries the patient"),
        id="worry-at-72h",
    ),
    pytest.param(
        reply(K.SCORE, score=4, worry=True),
        ctx(AT_72H),
        callback("score 4 at 72 h (4+); bruise or bleeding worries the patient"),
        id="score-and-worry-at-72h",
    ),
    pytest.param(reply(K.SCORE, score=1, worry=False), ctx(AT_72H), THANKS, id="no-worry-at-72h"),
    pytest.param(
        reply(K.SCORE, score=3, negated=("chest pain",)),
        ctx(),
        Actions(F.REVIEW, "mentions chest pain (negated): please read", "reply_thanks"),
        id="score-with-negated-red-flag",
    ),
    pytest.param(
        reply(K.SCORE, score=8, negated=("fever",)),
        ctx(),
        callback("score 8 (7+); mentions fever (negated): please read"),
        id="high-score-with-negated-red-flag",
    ),
    # -- free text: a person reads it, and the sender is always answered: the full
    # acknowledgement at most once a day, a short one (still with the emergency number) after
    pytest.param(
        reply(K.TEXT), ctx(), Actions(F.REVIEW, "free text", "reply_received"), id="free-text"
    ),
    pytest.param(
        reply(K.TEXT),
        ctx(acked=True),
        Actions(F.REVIEW, "free text", "reply_received_again"),
        id="free-text-acknowledged-today",
    ),
    pytest.param(
        reply(K.TEXT),
        ctx(None, known=False),
        Actions(F.REVIEW, "reply from an unknown number", "reply_received"),
        id="free-text-unknown-number",
    ),
    pytest.param(
        reply(K.TEXT),
        ctx(None, known=False, acked=True),
        Actions(F.REVIEW, "reply from an unknown number", "reply_received_again"),
        id="free-text-unknown-number-acknowledged-today",
    ),
    pytest.param(
        reply(K.TEXT, negated=("fever", "chills")),
        ctx(),
        Actions(F.REVIEW, "mentions fever, chills (negated): please read", "reply_received"),
        id="free-text-with-negated-red-flags",
    ),
    pytest.param(
        reply(K.TEXT, negated=("chest pain",)),
        ctx(acked=True),
        Actions(F.REVIEW, "mentions chest pain (negated): please read", "reply_received_again"),
        id="free-text-with-negated-red-flag-acknowledged-today",
    ),
    pytest.param(
        reply(K.SCORE),
        ctx(),
        Actions(F.REVIEW, "free text", "reply_received"),
        id="score-kind-without-a-number",
    ),
    pytest.param(
        reply(K.SCORE),
        ctx(acked=True),
        Actions(F.REVIEW, "free text", "reply_received_again"),
        id="score-kind-without-a-number-acknowledged-today",
    ),
]


@pytest.mark.parametrize(("classification", "context", "expected"), ROWS)
def test_decide(classification: Classification, context: TriageContext, expected: Actions):
    assert decide(classification, context) == expected


def test_every_reply_kind_and_flag_kind_has_a_row():
    kinds = {row.values[0].kind for row in ROWS}
    flags = {row.values[2].flag for row in ROWS} - {None}
    assert kinds == set(ReplyKind)
    assert flags == set(FlagKind)


@pytest.mark.parametrize(("classification", "context", "expected"), ROWS)
def test_only_twilio_keywords_go_unanswered(classification, context, expected):
    """Twilio answers its own keywords; every other reply gets an answer from us, whatever
    was said before (an answer is how the patient knows the text arrived)."""
    actions = decide(classification, context)
    assert (actions.reply_key is None) == classification.twilio_keyword


def test_the_default_context_is_a_known_patient_without_history():
    assert decide(reply(K.TEXT)) == Actions(F.REVIEW, "free text", "reply_received")
    assert decide(reply(K.SCORE, score=4)) == THANKS


@pytest.mark.parametrize(("classification", "context", "expected"), ROWS)
def test_the_actions_carry_the_enums_not_their_spellings(classification, context, expected):
    """The table above catches a misspelling; this pins where the spelling comes from: the
    enums the schema's CHECK constraints are built from."""
    actions = decide(classification, context)
    assert actions.flag is None or type(actions.flag) is FlagKind
    assert actions.consent is None or type(actions.consent) is ConsentChange
