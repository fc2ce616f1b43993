"""Child processes the tests start run the code under test, wherever they start."""

from __future__ import annotations

import subprocess
import sys

from support.processes import FOLLOWUP, clean_env

import followup


def test_a_child_started_elsewhere_imports_the_followup_under_test(tmp_path):
    # a working directory offering a different followup package
    impostor = tmp_path / "followup"
    (impostor / "cli").mkdir(parents=True)
    (impostor / "__init__.py").write_text("IMPOSTOR = True\n")
    (impostor / "cli" / "__init__.py").write_text("")
    (impostor / "cli" / "__main__.py").write_text("print('impostor')\n")
    probe = subprocess.run(
        [sys.executable, "-c", "import followup; print(followup.__file__)"],
        cwd=tmp_path, env=clean_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert probe.stdout.strip() == followup.__file__
    help_ = subprocess.run(
        [*FOLLOWUP, "--help"], cwd=tmp_path, env=clean_env(), capture_output=True, text=True
    )
    assert help_.returncode == 0
    assert "impostor" not in help_.stdout
    assert "Usage" in help_.stdout
