"""Tenant isolation, walked over the route table: every route of the clinic side that names
a clinic is called by the other clinic's staff and key, and with the other clinic's row ids
under the caller's own clinic. Each must answer 404, the answer an unknown clinic or row
gets, so nobody learns what another clinic holds, or even that it exists.

A route added to ``followup.web.routers.ROUTERS`` is walked without a line here. A path
parameter the test cannot fill from North's rows fails the test, so a new kind of id gets
its row looked up here rather than going unchecked.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from fastapi.routing import APIRoute
from sqlalchemy import select
from support.clinic_web import ClinicWeb, email
from support.flag_rows import add_flag

from followup.store.models import Flag, InboundMessage, OutboundMessage, TreatmentSession
from followup.web.routers import ROUTERS

#: one row of North for each kind of id a clinic route may name
ROWS: dict[str, Callable[[ClinicWeb], str]] = {}


def _first(model, column="id", where=None) -> Callable[[ClinicWeb], str]:
    def find(web: ClinicWeb) -> str:
        with web.sessions() as db:
            query = select(getattr(model, column)).where(model.clinic_id == web.clinic_id("north"))
            value = db.scalar(query.order_by(model.id))
        assert value is not None, f"North has no {model.__name__} row for this test"
        return str(value)

    return find


ROWS.update(
    patient_id=lambda web: str(web.patient_id("P0")),
    message_id=_first(OutboundMessage),
    flag_id=_first(Flag),
    reply_id=_first(InboundMessage),
    session_id=_first(TreatmentSession, "external_id"),
    # the API's patients are named by the clinic's own patient id
    pid=lambda web: "P0",
)
#: routes that create a row under an id the caller chooses (the clinic's own session id):
#: with the caller's own slug, another clinic's id is just a new id there, so the answer
#: must be the one an unused id gets, never a sign of the other clinic's row
CREATES = {("PUT", "/api/v1/clinics/{slug}/sessions/{session_id}")}
#: names that are not rows of a clinic: any value reaches the route's clinic check
PLAIN = {"locale": "en", "key": "aftercare", "step": "aftercare", "kind": "replies"}


def clinic_routes() -> list[tuple[str, str]]:
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and "{slug}" in route.path:
                found += [(method, route.path) for method in sorted(route.methods)]
    return found


def _fill(path: str, slug: str, web: ClinicWeb) -> str:
    def value(match: re.Match) -> str:
        name = match.group(1).split(":")[0]
        if name == "slug":
            return slug
        if name in ROWS:
            return ROWS[name](web)
        if name in PLAIN:
            return PLAIN[name]
        pytest.fail(f"{path}: no North row for the path parameter {{{name}}}: add it to ROWS")

    return re.sub(r"\{([^}]+)\}", value, path)


def _seed_a_flag_and_a_reply(web: ClinicWeb) -> None:
    add_flag(web, "P0", "emergency", "red flag: chest pain", "my chest hurts", 0)


def _call(client, method: str, url: str, csrf: str | None):
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    data = {"csrf_token": csrf} if csrf and not url.startswith("/api/") else None
    if method in ("GET", "HEAD"):
        return client.request(method, url, headers=headers)
    if url.startswith("/api/"):
        return client.request(method, url, headers=headers, json={})
    return client.request(method, url, headers=headers, data=data)


def test_the_route_table_has_clinic_routes_to_walk():
    assert clinic_routes(), "no route names {slug}: the walk would check nothing"


@pytest.mark.slow
def test_no_clinic_route_answers_another_clinic(clinic_web):
    web = clinic_web
    _seed_a_flag_and_a_reply(web)
    south_staff = web.login(email("south", "admin"))
    south_key = web.api("south")
    leaks = []
    for method, path in clinic_routes():
        is_api = path.startswith("/api/")
        callers = [("south admin", south_staff, south_staff.csrf)]
        if is_api:
            callers.append(("south key", south_key, None))
        for who, client, csrf in callers:
            # North's slug, and South's slug with North's rows
            urls = {_fill(path, "north", web)}
            if any(n.split(":")[0] in ROWS for n in re.findall(r"\{([^}]+)\}", path)):
                urls.add(_fill(path, "south", web))  # PLAIN names are no row of North's
            for url in urls:
                answer = _call(client, method, url, csrf)
                if (method, path) in CREATES and url.startswith("/api/v1/clinics/south/"):
                    unused = re.sub(r"[^/]+$", "never-used-id", url)
                    if answer.status_code == _call(client, method, unused, csrf).status_code:
                        continue
                if answer.status_code != 404:
                    leaks.append(f"{who}: {method} {url} -> {answer.status_code}")
    assert not leaks, "answered across clinics:\n" + "\n".join(leaks)


def test_the_same_routes_answer_their_own_clinic(clinic_web):
    """The walk above is not passing because every route 404s: North's own staff reach each
    GET route of North (whatever the route then answers, it is not the clinic's 404)."""
    web = clinic_web
    _seed_a_flag_and_a_reply(web)
    north = web.login(email("north", "admin"))
    missing = []
    for method, path in clinic_routes():
        if method != "GET":
            continue
        answer = _call(north, method, _fill(path, "north", web), north.csrf)
        if answer.status_code == 404:
            missing.append(f"{method} {path}")
    assert not missing, "North's own routes answered 404:\n" + "\n".join(missing)


#: ids no row has, some of which no database column could hold
ODD_IDS = ("0", "-1", str(2**63), str(2**80), "1e3", "%00", "x" * 300)


@pytest.mark.slow
def test_no_clinic_route_fails_on_an_id_no_row_could_have(clinic_web):
    """A page or API call with an impossible id is refused (404 or 422), never a 500."""
    web = clinic_web
    north = web.login(email("north", "admin"))
    key = web.api("north")
    broken = []
    for method, path in clinic_routes():
        names = [n for n in re.findall(r"\{([^}:]+)", path) if n != "slug"]
        for name, odd in ((n, v) for n in names for v in ODD_IDS):
            url = _fill(path.replace("{" + name + "}", odd), "north", web)
            client, csrf = (key, None) if path.startswith("/api/") else (north, north.csrf)
            answer = _call(client, method, url, csrf)
            if answer.status_code >= 500:
                broken.append(f"{method} {url} -> {answer.status_code}")
    assert not broken, "impossible ids broke routes:\n" + "\n".join(broken)
