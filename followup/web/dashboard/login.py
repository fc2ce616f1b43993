"""Logging in and out, and the page of clinics an account sees.

The login form has a CSRF token of its own before anyone is signed in (a cookie and a hidden
field that must match), so another site cannot sign a browser into an account of its
choosing. Wrong e-mail and wrong password get the same answer; too many failures get a
"try again after" answer without checking the password at all
(:mod:`followup.access.throttle`).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from followup.access import accounts
from followup.store import clinics as clinic_rows
from followup.web.deps import (
    COOKIE,
    DB,
    Now,
    PageClinic,
    checked_form,
    page_caller,
    safe_next,
)
from followup.web.pages import page

router = APIRouter(include_in_schema=False)

#: the login form's own CSRF cookie (there is no login session yet to hold a token)
LOGIN_CSRF = "followup_login_csrf"


def secure_cookies(request: Request) -> bool:
    """Secure cookies over https: as this server sees it, or as the public URL says."""
    public = request.app.state.followup.public_url or ""
    return request.url.scheme == "https" or public.startswith("https://")


def _login_page(
    request: Request, *, next_path: str, error: str | None = None, email: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:  # fmt: skip
    token = secrets.token_urlsafe(32)
    response = page(
        request, "login.html", login_csrf=token, next=safe_next(next_path), error=error,
        email=email, status_code=status_code,
    )  # fmt: skip
    response.set_cookie(
        LOGIN_CSRF, token, max_age=3600, httponly=True, samesite="strict",
        secure=secure_cookies(request), path="/login",
    )  # fmt: skip
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/") -> HTMLResponse:
    return _login_page(request, next_path=next)


@router.post("/login", response_class=HTMLResponse, response_model=None)
def log_in(
    request: Request,
    db: DB,
    now: Now,
    email: Annotated[str, Form(max_length=1000)] = "",
    password: Annotated[str, Form(max_length=4000)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> HTMLResponse | RedirectResponse:
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not expected or not hmac.compare_digest(expected.encode(), csrf_token.encode()):
        return _login_page(request, next_path=next, email=email, status_code=403,
                           error="The form was out of date. Please log in again.")  # fmt: skip
    client = request.client.host if request.client else "unknown"
    try:
        login = accounts.log_in(db, email, password, now, client=client)
    except accounts.Throttled as throttled:
        db.commit()
        error = f"Too many failed logins. {str(throttled).capitalize()}."
        return _login_page(request, next_path=next, email=email, status_code=429, error=error)
    db.commit()
    if login is None:
        return _login_page(request, next_path=next, email=email, status_code=401,
                           error="That e-mail and password do not match an account.")  # fmt: skip
    response = RedirectResponse(safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE, login.token, max_age=int(accounts.LIFETIME.total_seconds()), httponly=True,
        samesite="lax", secure=secure_cookies(request), path="/",
    )  # fmt: skip
    response.delete_cookie(LOGIN_CSRF, path="/login")
    return response


@router.post("/logout")
async def log_out(request: Request, db: DB, now: Now) -> RedirectResponse:
    caller = page_caller(request, db, now)
    await checked_form(request, caller)
    accounts.log_out(db, request.cookies.get(COOKIE), now)
    db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/", response_class=HTMLResponse, response_model=None)
def home(request: Request, db: DB, now: Now) -> HTMLResponse | RedirectResponse:
    """The clinics an account sees; straight to the flags of the only one."""
    caller = page_caller(request, db, now)
    clinics = clinic_rows.by_ids(db, caller.clinic_ids)
    if len(clinics) == 1:
        return RedirectResponse(f"/clinics/{clinics[0].slug}/flags", status_code=303)
    return page(request, "home.html", caller=caller, clinics=clinics)


@router.get("/account", response_class=HTMLResponse)
def account(request: Request, db: DB, now: Now) -> HTMLResponse:
    """The account and every clinic it sees (the home page without its shortcut)."""
    caller = page_caller(request, db, now)
    clinics = clinic_rows.by_ids(db, caller.clinic_ids)
    return page(request, "home.html", caller=caller, clinics=clinics)


@router.get("/clinics/{slug}", response_model=None)
def clinic_home(clinic: PageClinic) -> RedirectResponse:
    return RedirectResponse(f"/clinics/{clinic.slug}/flags", status_code=303)
