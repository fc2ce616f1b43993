"""Every router of the clinic side, in the order the app includes them: pages, then the
JSON API. Add a router here and it is served, documented in /openapi.json (API routers),
and walked by the tenant-isolation test (tests/web/test_isolation.py)."""

from __future__ import annotations

from fastapi import APIRouter

from followup.web.api import fhir, me, sessions
from followup.web.api import flags as api_flags
from followup.web.api import replies as api_replies
from followup.web.api import reports as api_reports
from followup.web.dashboard import flags, login, patients, replies, reports

ROUTERS: list[APIRouter] = [
    login.router,
    flags.router,
    patients.router,
    reports.router,
    me.router,
    sessions.router,
    api_flags.router,
    api_reports.router,
    fhir.router,
    replies.router,
    api_replies.router,
]
