"""What a staff action refuses, named by the field at fault so an API answers 422 with it
and a page shows it beside the input."""

from __future__ import annotations


class DeskError(Exception):
    """Bad input for an action: ``field`` is the input's name, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(DeskError):
    """No such row in this clinic. A row of another clinic is not found either: a caller
    never learns that it exists."""

    def __init__(self, what: str, reason: str = "not found") -> None:
        super().__init__(what, reason)


class Conflict(DeskError):
    """The action was already done, or the row moved on (a flag acknowledged or closed by
    someone else first): the caller's view is out of date, nothing was changed."""
