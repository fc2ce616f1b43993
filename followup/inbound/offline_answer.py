"""What to answer a patient's text when the database cannot be reached: pure.

The live answer (:func:`followup.inbound.receive.render_reply`) needs the clinic and the
patient from the database. When the database is locked or down the reply is kept in the
spool (:mod:`followup.spool`) and the patient must still be answered within Twilio's
timeout, so this module decides from what the request itself carries:

- the body, read by the pure reader (:func:`followup.inbound.reading.classify`): an urgent
  reply (emergency or clinic-today) is told to call the emergency number now, anything else
  that staff will read it and whom to call in an emergency;
- the sender's number, whose country says the emergency number
  (:func:`followup.phones.emergency_number_of`), else ``FOLLOWUP_EMERGENCY_NUMBER``.

No clinic, patient or symptom is named (the texts are ``NAMELESS_KEYS``, which may use only
``{{ emergency_number }}`` and must use it), and the body is never echoed. A keyword Twilio
handled itself (``OptOutType``: STOP, START, HELP) gets no answer, as in the live path:
Twilio has answered it, and a text after a STOP would break the opt-out.
"""

from __future__ import annotations

from dataclasses import dataclass

from followup.inbound.reading import classify
from followup.phones import emergency_number_of
from followup.texts.catalogue import DEFAULT_LOCALE, Catalogue

#: the answer to an urgent reply (emergency, clinic-today): call the emergency number now
URGENT_KEY = "reply_kept_urgent"
#: the answer to anything else: staff will read it; the emergency number for emergencies
KEPT_KEY = "reply_kept"
#: the reader's urgencies that mean "call now" when no clinic can be asked to call back
URGENT = frozenset({"emergency", "today"})
#: Twilio's Advanced Opt-Out keywords: Twilio answered them itself
TWILIO_ANSWERS = frozenset({"STOP", "START", "HELP"})


@dataclass(frozen=True)
class OfflineAnswer:
    """The answer given at spool time: the template key and the text (both None when the
    patient is not answered), as stored later on the reply."""

    key: str | None
    body: str | None


def emergency_number(from_number: str | None, default: str) -> str:
    """The emergency number for this sender: their number's country's, else ``default``."""
    return emergency_number_of(from_number) or default


def answer_key(body: str, opt_out_type: str | None = None) -> str | None:
    """Which answer: :data:`URGENT_KEY` for an urgent reply, None for a keyword Twilio
    answered, :data:`KEPT_KEY` otherwise."""
    if (opt_out_type or "").strip().upper() in TWILIO_ANSWERS:
        return None
    return URGENT_KEY if classify(body).urgency in URGENT else KEPT_KEY


def offline_answer(
    catalogue: Catalogue,
    *,
    body: str,
    from_number: str | None,
    default_emergency_number: str,
    opt_out_type: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> OfflineAnswer:
    """The answer to a reply kept in the spool, rendered from ``catalogue`` alone."""
    key = answer_key(body, opt_out_type)
    if key is None:
        return OfflineAnswer(None, None)
    number = emergency_number(from_number, default_emergency_number)
    return OfflineAnswer(key, catalogue.render(key, locale, {"emergency_number": number}))
