"""The ``followup`` command: thin commands that parse, call a package and print."""

from followup.cli.main import main

__all__ = ["main"]
