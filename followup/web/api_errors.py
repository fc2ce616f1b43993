"""How the clinic side answers what it refuses: JSON for the API and FHIR paths, a page for
the dashboard. A desk action's bad input is a 422 naming its field, like FastAPI's own
validation errors, so a client reads both the same way; a row not in the clinic is a 404."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import (
    http_exception_handler,
    request_validation_exception_handler,
)
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.routing import Match

from followup.desk.errors import Conflict, DeskError, NotFound
from followup.web.deps import LoginRequired, login_url
from followup.web.pages import page

_TITLES = {
    401: "Please log in", 403: "Not allowed", 404: "Not found", 405: "Not allowed",
    409: "Already done", 413: "Too large", 422: "Please check the form", 429: "Too many requests",
}  # fmt: skip


def _is_api(request: Request) -> bool:
    path = request.url.path
    return path.startswith(("/api/", "/fhir", "/openapi.json")) or (
        "application/json" in request.headers.get("accept", "")
        and "text/html" not in request.headers.get("accept", "")
    )


def _html(request: Request, status: int, message: str) -> Response:
    title = _TITLES.get(status, "Something went wrong")
    return page(request, "error.html", status_code=status, title=title, message=message)


def allowed_methods(request: Request) -> str:
    """Every method some route serves at this path. Starlette's 405 names only the methods
    of the first route that matched the path, but FastAPI makes one route per method (a
    ``GET`` and a ``PUT`` of one resource), so a client would be told too few."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": ""})
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def to_login(request: Request, exc: LoginRequired) -> Response:
        return RedirectResponse(login_url(exc.next_path), status_code=303)

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": "not found"}, status_code=404)
        return _html(request, 404, "There is no such page in this clinic.")

    @app.exception_handler(Conflict)
    async def conflict(request: Request, exc: Conflict) -> Response:
        if _is_api(request):
            return JSONResponse({"detail": exc.reason}, status_code=409)
        return _html(request, 409, exc.reason[:1].upper() + exc.reason[1:] + ".")

    @app.exception_handler(DeskError)
    async def refused(request: Request, exc: DeskError) -> Response:
        if _is_api(request):
            detail = [{"loc": ["body", exc.field], "msg": exc.reason, "type": "value_error"}]
            return JSONResponse({"detail": detail}, status_code=422)
        return _html(request, 422, f"{exc.field}: {exc.reason}")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if exc.status_code == 405:
            exc.headers = {**(exc.headers or {}), "Allow": allowed_methods(request)}
        if _is_api(request):
            return await http_exception_handler(request, exc)
        return _html(request, exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        if _is_api(request):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:])}: {e.get('msg')}"
            for e in exc.errors()
        )
        return _html(request, 422, problems or "The form has a field we cannot read.")
