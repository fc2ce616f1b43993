"""Input types the API's routes share, stricter than pydantic's defaults where those would
accept what the OpenAPI document says is wrong."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator, field_validator


def _is_number(value: Any) -> bool:
    """Whether pydantic would read ``value`` as a number (``5``, ``"0.5"``, ``"2.9e-192"``,
    ``"inf"``): an ISO date or time never parses as a float."""
    if isinstance(value, int | float):
        return True
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return False
    return True


def _iso_only(value: Any) -> Any:
    """pydantic reads a number ("0.5", 1700000000) as Unix time; the document says an
    ISO 8601 date-time, so a number is refused rather than read as 1970."""
    if _is_number(value):
        raise ValueError("an ISO 8601 date-time with its offset, e.g. 2026-03-10T14:00:00Z")
    return value


#: an ISO 8601 date-time with its offset
IsoTime = Annotated[AwareDatetime, BeforeValidator(_iso_only)]


def _date_only(value: Any) -> Any:
    """As :func:`_iso_only`, for a calendar date: ``until=0`` is not 1970-01-01."""
    if _is_number(value):
        raise ValueError("an ISO 8601 date, e.g. 2026-03-10")
    return value


#: an ISO 8601 calendar date (``2026-03-10``)
IsoDate = Annotated[date, BeforeValidator(_date_only)]


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple):
        return any(_has_nul(v) for v in value)
    return False


class Input(BaseModel):
    """What every JSON body of the API is read into: a text holding a NUL character is
    refused (422 naming the field), since PostgreSQL text cannot store one and the write
    would otherwise fail as a 500."""

    @field_validator("*", mode="after")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        if _has_nul(value):
            raise ValueError("a NUL character is not allowed")
        return value
