"""Every router of the clinic side, in the order the app includes them: pages, then the
JSON API. Add a router here and it is served, documented in /openapi.json (API routers),
and walked by the tenant-isolation test (tests/web/test_isolation.py)."""

from __future__ import annotations

from fastapi import APIRouter

from followup.web.api import fhir, me, sessions, templates
from followup.web.api import flags as api_flags
from followup.web.api import replies as api_replies
from followup.web.api import reports as api_reports
from followup.web.dashboard import careplan, flags, login, patients, replies, reports, wording
from followup.web.dashboard import settings as settings_pages

ROUTERS: list[APIRouter] = [
    login.router,
    flags.router,
    patients.router,
    replies.router,
    reports.router,
    settings_pages.router,
    careplan.router,
    wording.router,
    me.router,
    sessions.router,
    api_flags.router,
    api_reports.router,
    templates.router,
    api_replies.router,
    fhir.router,
]
