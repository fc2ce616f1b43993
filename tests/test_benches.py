"""The benchmarks still measure: each runs at a tiny size, in a child process on the code
under test, and must exit 0 with figures in its JSON.

A bench checks what it measured (every text sent, every reply stored) and exits non-zero
when it did not, so a change that stops a bench from working fails here, not at the next
person's ``make bench``. Tiny sizes say nothing about speed; the figures are in
docs/benchmarks.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.processes import clean_env

ROOT = Path(__file__).resolve().parents[1]

BENCHES = {
    "dispatch": ["--backends", "sqlite", "--messages", "100", "--repeat", "1", "--latency",
                 "0", "--due-sizes", "2000", "--query-repeat", "3"],
    "plan": ["--backends", "sqlite", "--sizes", "300", "--import-rows", "300", "--repeat", "1"],
    "webhook": ["--quick", "--backend", "sqlite", "--patients", "100"],
    "replies": [],
}  # fmt: skip


def _numbers(value) -> list[float]:
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, dict):
        return [n for v in value.values() for n in _numbers(v)]
    if isinstance(value, list):
        return [n for v in value for n in _numbers(v)]
    return []


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_each_benchmark_runs_and_writes_its_figures(name, tmp_path):
    out = tmp_path / f"{name}.json"
    env = clean_env()
    # a bench imports its neighbours (benchdb), as ``python bench/x.py`` allows without
    # the safe path the children here run with
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "bench"), env["PYTHONPATH"]])
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / f"{name}.py"), *BENCHES[name], "--json", str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = _numbers(json.loads(out.read_text()))
    assert figures and any(n > 0 for n in figures)
