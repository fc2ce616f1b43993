"""The clinics the tests of replies and consent start from (:class:`support.webhooks.Clinics`)."""

from __future__ import annotations

import pytest
from support.webhooks import Clinics

from followup.runtime import Runtime


@pytest.fixture
def clinics(runtime: Runtime) -> Clinics:
    return Clinics(runtime)
