"""The clinic's texts over JSON: every text in every locale with the wording in use (the
default or the clinic's own) and what it costs, and a preview of a draft filled with sample
data and checked by the rules of ``followup templates check``. Both read only: wording is
changed on the dashboard's wording page, by the clinic's admins."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from followup.desk import wording
from followup.desk.errors import DeskError, NotFound
from followup.web.api import responses
from followup.web.api.fields import Input
from followup.web.dashboard.wording import catalogue_of
from followup.web.deps import DB, ApiClinic

router = APIRouter(prefix="/api/v1/clinics/{slug}", tags=["texts"], responses=responses.CLINIC)


class TemplateOut(BaseModel):
    key: str
    locale: str
    source: Literal["default", "clinic"] = Field(
        description="whose wording is in use: the catalogue's default or the clinic's own"
    )
    text: str = Field(description="the template text in use, with its {{ placeholders }}")
    default_text: str
    segments: int = Field(description="SMS segments of the text filled with sample data")
    encoding: Literal["GSM-7", "UCS-2"]


class PreviewIn(Input):
    key: str = Field(min_length=1, max_length=64)
    locale: str = Field(min_length=1, max_length=16)
    text: str | None = Field(
        default=None, max_length=wording.MAX_TEXT,
        description="a draft to preview; omitted: the text in use",
    )  # fmt: skip


class PreviewOut(BaseModel):
    key: str
    locale: str
    rendered: str = Field(description="the text filled with sample data and the clinic's own "
                          "name, phone and emergency number")  # fmt: skip
    segments: int
    encoding: Literal["GSM-7", "UCS-2"]
    characters: int
    problems: list[str] = Field(description="what the check refuses; empty: it may be saved")


@router.get("/templates", response_model=list[TemplateOut], summary="List the clinic's texts")
def list_templates(request: Request, clinic: ApiClinic, db: DB) -> list[TemplateOut]:
    return [_template(e) for e in wording.entries(db, clinic.id, catalogue_of(request))]


def _template(e: wording.Entry) -> TemplateOut:
    return TemplateOut(
        key=e.key, locale=e.locale, source=e.source, text=e.text, default_text=e.default,
        segments=e.preview.segments, encoding=e.preview.encoding,
    )  # fmt: skip


@router.post("/templates/preview", response_model=PreviewOut, summary="Preview a text")
def preview_template(request: Request, body: PreviewIn, clinic: ApiClinic, db: DB) -> PreviewOut:
    """A draft (or the text in use) filled with sample data, its segments and encoding, and
    the check's problems. Writes nothing. 422 for a key or locale the clinic has no text of."""
    try:
        shown = wording.preview(db, clinic.id, catalogue_of(request), body.key, body.locale,
                                body.text)  # fmt: skip
    except NotFound:
        raise DeskError("key", f"no text {body.key!r} in locale {body.locale!r}") from None
    return PreviewOut(key=body.key, locale=body.locale, rendered=shown.text,
                      segments=shown.segments, encoding=shown.encoding,
                      characters=shown.characters, problems=list(shown.problems))  # fmt: skip
