"""What ``/readyz`` checks: the database answers, its schema is at the migrations' head, and
the reply spool is drained.

Why these three: a process whose database does not answer cannot send or file anything; a
database behind the code's migrations (a deploy that skipped ``followup db upgrade``) makes
the code write columns that are not there; and replies waiting in the spool are patients'
words that staff have not seen yet (an emergency among them is answered, but not flagged
until it is filed). A load balancer or an orchestrator takes an unready process out of
rotation; an alert on readiness tells a person (``deploy/prometheus/alerts.yml``).

``/healthz`` checks none of them: it says the process serves, so a restart is not ordered
for a database outage the restart would not mend.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from sqlalchemy import Engine

from followup.spool import Spool
from followup.store.engine import bounded_transaction, head_revision, revision_of

#: how long each database check waits, seconds: a probe must answer within its own timeout
CHECK_SECONDS = 2.0


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    #: what was found, for a person: never a patient's data
    detail: str


@functools.cache
def _head(url: str) -> str | None:
    """The migrations' head: read from the scripts once per process (they ship with it)."""
    return head_revision(url)


def check_database(engine: Engine) -> tuple[Check, Check]:
    """The database check and the migrations check, from one bounded read of the revision
    (the migrations are not checked when the database does not answer)."""
    try:
        with bounded_transaction(engine, CHECK_SECONDS) as conn:
            current = revision_of(conn)
    except Exception as exc:
        return (
            Check("database", False, f"does not answer ({type(exc).__name__})"),
            Check("migrations", False, "not checked: the database does not answer"),
        )
    head = _head(str(engine.url))  # the scripts are found without the URL: no password needed
    database = Check("database", True, "answers")
    if current != head:
        return database, Check("migrations", False, f"database at {current}, migrations at {head}")
    return database, Check("migrations", True, f"at head {head}")


def check_spool(spool: Spool) -> Check:
    """Drained when no reply waits to be filed. Files set aside as unreadable (``.bad``)
    are told but do not fail it: no drain will file them, a person must
    (``followup spool``), and a process kept unready for ever would take no webhooks."""
    waiting, set_aside = len(spool.waiting()), len(spool.set_aside_files())
    aside = f", {set_aside} set aside for a person" if set_aside else ""
    if waiting:
        return Check("spool", False, f"{waiting} replies waiting to be filed{aside}")
    return Check("spool", True, f"drained{aside}")


def readiness(engine: Engine, spool: Spool) -> list[Check]:
    """Every check, in order: database, migrations, spool."""
    return [*check_database(engine), check_spool(spool)]
