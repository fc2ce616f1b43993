"""Who is asking, and for which clinic: the FastAPI dependencies every clinic-side route takes.

Two ways in. Staff in a browser carry a login cookie (HttpOnly, SameSite=Lax, Secure over
https) made by :func:`followup.access.accounts.log_in`; a clinic's system carries an API
key as ``Authorization: Bearer fu_...``. Either way the caller ends as a :class:`Caller`
with the clinics it sees, and each route with ``{slug}`` in its path resolves that slug to
a :class:`Clinic` only among those. An unknown slug and another clinic's slug get the same
404, so nobody can probe which clinics exist; the row ids inside a route are checked against
the clinic by :mod:`followup.desk` (its ``NotFound``).

A change made with a cookie must prove it came from our own page: forms carry the login's
CSRF token as ``csrf_token`` (:func:`checked_form`), scripts send it as ``X-CSRF-Token``.
Keys need no such proof: a browser never adds one by itself.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Path, Request
from sqlalchemy.orm import Session
from starlette.datastructures import FormData

from followup.access import accounts, audit, keys
from followup.store import clinics as clinic_rows
from followup.store.statuses import StaffRole
from followup.texts.catalogue import Catalogue

#: the login cookie; its value is the login session's token (stored only as a hash)
COOKIE = "followup_login"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Caller:
    """A signed-in staff account or a clinic's API key."""

    #: how the audit log names it: ``user:<email>`` or ``key:<prefix>``
    actor: str
    user_id: int | None
    #: admin, staff or org; None for an API key
    role: str | None
    clinic_ids: tuple[int, ...]
    #: the login's CSRF token; None for a key
    csrf: str | None
    key_id: int | None = None
    email: str | None = None


@dataclass(frozen=True)
class Clinic:
    """The clinic a request is about, already checked to be one of the caller's."""

    id: int
    slug: str
    name: str
    timezone: str
    caller: Caller

    @property
    def is_admin(self) -> bool:
        """May change the clinic's settings and wording, and read its audit log."""
        return self.caller.role in (StaffRole.ADMIN, StaffRole.ORG)


class LoginRequired(Exception):
    """A page asked for without a live login: the app answers with a redirect to /login."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def db_session(request: Request) -> Iterator[Session]:
    """A session on the app's database for one request; the route commits what it changes."""
    with request.app.state.followup.sessions() as db:
        yield db


def clock_now(request: Request) -> datetime:
    return request.app.state.clock()


DB = Annotated[Session, Depends(db_session)]
#: a row's id in a path: the database's ids are 64-bit, so a larger number is refused (422)
#: before it reaches a query that could not even be sent
RowId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Now = Annotated[datetime, Depends(clock_now)]


def _login_of(
    request: Request, db: Session, now: datetime, *, activity: bool = True
) -> Caller | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    found = accounts.signed_in(db, token, now, activity=activity)
    db.commit()  # the login's last use: what idleness is counted from
    if found is None:
        return None
    account, csrf = found
    caller = Caller(
        actor=audit.user_actor(account.email), user_id=account.id, role=account.role,
        clinic_ids=account.clinic_ids, csrf=csrf, email=account.email,
    )  # fmt: skip
    request.state.caller = caller  # for the pages that answer an error: they keep the header
    return caller


def _key_of(request: Request, db: Session, now: datetime) -> Caller | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    holder = keys.key_holder(db, value.strip(), now)
    db.commit()
    if holder is None:
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        raise HTTPException(401, "the API key is unknown or revoked", headers=challenge)
    return Caller(
        actor=audit.key_actor(holder.prefix), user_id=None, role=None,
        clinic_ids=(holder.clinic_id,), csrf=None, key_id=holder.key_id,
    )  # fmt: skip


def csrf_matches(caller: Caller, offered: str | None) -> bool:
    return bool(caller.csrf and offered) and hmac.compare_digest(
        caller.csrf.encode(), (offered or "").encode()
    )


def api_caller(request: Request, db: DB, now: Now) -> Caller:
    """The caller of an API route: a Bearer key, else a login cookie (whose changes need
    the ``X-CSRF-Token`` header). 401 without either."""
    caller = _key_of(request, db, now)
    if caller is not None:
        return caller
    caller = _login_of(request, db, now)
    if caller is None:
        raise HTTPException(401, "an API key (Authorization: Bearer) or a login is needed",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    if request.method in UNSAFE and not csrf_matches(caller, request.headers.get(CSRF_HEADER)):
        raise HTTPException(403, f"a change made with a login needs the {CSRF_HEADER} header")
    return caller


def key_caller(request: Request, db: DB, now: Now) -> Caller:
    """A caller that must be a clinic's API key (the FHIR endpoints: a clinic's system)."""
    caller = _key_of(request, db, now)
    if caller is None:
        raise HTTPException(401, "an API key (Authorization: Bearer) is needed",
                            headers={"WWW-Authenticate": "Bearer"})  # fmt: skip
    return caller


def page_caller(request: Request, db: DB, now: Now) -> Caller:
    """The signed-in staff account of a page; without one, a redirect to the login page."""
    caller = _login_of(request, db, now)
    if caller is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(target)
    return caller


def poll_caller(request: Request, db: DB, now: Now) -> Caller:
    """As :func:`page_caller`, for requests a page makes by itself (a poll for new flags):
    they do not keep the login alive, and without one they answer 401, not a redirect."""
    caller = _login_of(request, db, now, activity=False)
    if caller is None:
        raise HTTPException(401, "the login has ended")
    return caller


def _clinic(db: Session, slug: str, caller: Caller) -> Clinic:
    row = clinic_rows.by_slug(db, slug)
    if row is None or row.id not in caller.clinic_ids:
        raise HTTPException(404, "not found")
    return Clinic(row.id, row.slug, row.name, row.timezone, caller)


ApiCaller = Annotated[Caller, Depends(api_caller)]
PollCaller = Annotated[Caller, Depends(poll_caller)]
PageCaller = Annotated[Caller, Depends(page_caller)]
KeyCaller = Annotated[Caller, Depends(key_caller)]


def api_clinic(slug: str, db: DB, caller: ApiCaller) -> Clinic:
    return _clinic(db, slug, caller)


def page_clinic(slug: str, db: DB, caller: PageCaller) -> Clinic:
    return _clinic(db, slug, caller)


def poll_clinic(slug: str, db: DB, caller: PollCaller) -> Clinic:
    return _clinic(db, slug, caller)


def _admin(clinic: Clinic) -> Clinic:
    if not clinic.is_admin:
        raise HTTPException(403, "only the clinic's admins may do this")
    return clinic


def api_admin_clinic(clinic: Annotated[Clinic, Depends(api_clinic)]) -> Clinic:
    return _admin(clinic)


def page_admin_clinic(clinic: Annotated[Clinic, Depends(page_clinic)]) -> Clinic:
    return _admin(clinic)


ApiClinic = Annotated[Clinic, Depends(api_clinic)]
PollClinic = Annotated[Clinic, Depends(poll_clinic)]
PageClinic = Annotated[Clinic, Depends(page_clinic)]
ApiAdminClinic = Annotated[Clinic, Depends(api_admin_clinic)]
AdminClinic = Annotated[Clinic, Depends(page_admin_clinic)]


async def checked_form(request: Request, caller: PageCaller) -> FormData:
    """The POSTed form of a page, once its ``csrf_token`` field matches the login's."""
    form = await request.form()
    offered = form.get(CSRF_FIELD)
    if not csrf_matches(caller, offered if isinstance(offered, str) else None):
        raise HTTPException(403, "this form is out of date or not ours: reload the page")
    for name, value in form.multi_items():
        if isinstance(value, str) and "\x00" in value:
            raise HTTPException(422, f"{name}: a NUL character is not allowed")
    return form


Form = Annotated[FormData, Depends(checked_form)]


def login_url(next_path: str) -> str:
    return f"/login?next={quote(safe_next(next_path))}"


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path on this site only (never ``//host`` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def text_catalogue(request: Request) -> Catalogue:
    """The app's message catalogue (the texts we send, e.g. a staff text's emergency line)."""
    return request.app.state.followup.catalogue


Texts = Annotated[Catalogue, Depends(text_catalogue)]
