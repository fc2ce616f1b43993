"""``python -m followup.cli``: the same as the ``followup`` command."""

from followup.cli.main import main

main()
