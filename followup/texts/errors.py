"""The error every part of the catalogue raises: a file that cannot be used, and why."""

from __future__ import annotations

from pathlib import Path


class TemplateError(Exception):
    """A template or locale file that cannot be used; ``str()`` names the file and the reason."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(path, reason)
        self.path = Path(path)
        self.reason = reason

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"
