"""Starting followup in a child process that runs the code under test.

``python -m followup.cli`` puts its working directory first on ``sys.path``, so a child could
import another ``followup`` than the one the in-process tests import (another checkout, an
installed copy). Children get ``PYTHONSAFEPATH`` (no working directory on the path) and a
``PYTHONPATH`` naming the folder this process imported ``followup`` from.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import followup

FOLLOWUP = [sys.executable, "-m", "followup.cli"]
#: the folder holding the ``followup`` package under test
SOURCE_ROOT = str(Path(followup.__file__).resolve().parent.parent)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without followup's or Twilio's settings, set up so that a
    child imports the ``followup`` under test; ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOLLOWUP_", "TWILIO_"))}
    path = [SOURCE_ROOT, *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(path))
    env["PYTHONSAFEPATH"] = "1"
    return {**env, **extra}
