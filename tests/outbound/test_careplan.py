"""Care plans from files: validated, with errors that name the file and the field."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from followup.outbound.careplan import (
    DEFAULT_PLAN,
    CarePlanError,
    load_plan_file,
    parse_duration,
    parse_plan,
    plan_to_data,
)


def test_the_default_plan_follows_the_clinical_defaults():
    steps = {s.key: s for s in DEFAULT_PLAN.steps}
    assert list(steps) == ["aftercare", "checkin_24h", "checkin_72h", "reminder"]
    assert steps["checkin_24h"].offset == timedelta(days=1)
    assert steps["checkin_72h"].offset == timedelta(days=3)
    assert steps["reminder"].anchor == "next_appointment"
    assert steps["reminder"].offset == timedelta(days=-1)
    assert steps["reminder"].priority > steps["checkin_72h"].priority
    assert (DEFAULT_PLAN.max_per_day, DEFAULT_PLAN.max_per_week) == (1, 3)
    assert steps["checkin_24h"].template_for(frozenset({"neck"})) == "checkin_24h_breathing"
    assert steps["checkin_24h"].template_for(frozenset({"calf"})) == "checkin_24h"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("24h", timedelta(hours=24)),
        ("3d", timedelta(days=3)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("-1d", timedelta(days=-1)),
    ],
)
def test_durations(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "1w", "h", "24", "-", "1.5h"])
def test_bad_durations_are_rejected(text):
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_plan_round_trips_through_its_stored_form():
    assert parse_plan(plan_to_data(DEFAULT_PLAN), "default") == DEFAULT_PLAN


def test_a_toml_plan_file_is_loaded(tmp_path: Path):
    path = tmp_path / "plan.toml"
    path.write_text(
        "[limits]\nmax_per_day = 1\nmax_per_week = 2\n\n"
        '[[steps]]\nkey = "aftercare"\noffset = "1h"\nclock = "elapsed"\npriority = 90\n\n'
        '[[steps]]\nkey = "checkin_24h"\noffset = "1d"\nwindow = "12h"\npriority = 60\n'
    )
    plan = load_plan_file(path)
    assert [s.key for s in plan.steps] == ["aftercare", "checkin_24h"]
    assert plan.max_per_week == 2
    assert plan.steps[1].window == timedelta(hours=12)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"steps": []}, "steps: expected a non-empty list"),
        ({"steps": [{"key": "a", "offset": "1h"}], "extra": 1}, "unknown field"),
        ({"steps": [{"key": "A!", "offset": "1h"}]}, "steps[0].key"),
        ({"steps": [{"key": "a"}]}, "steps[0] (a).offset: required"),
        ({"steps": [{"key": "a", "offset": "soon"}]}, "steps[0] (a).offset: expected a duration"),
        ({"steps": [{"key": "a", "offset": "-1h"}]}, "cannot come before"),
        ({"steps": [{"key": "a", "offset": "1h", "anchor": "lunch"}]}, "steps[0] (a).anchor"),
        ({"steps": [{"key": "a", "offset": "1h", "clock": "wall"}]}, "steps[0] (a).clock"),
        ({"steps": [{"key": "a", "offset": "1h", "priority": "high"}]}, "priority"),
        ({"steps": [{"key": "a", "offset": "1h"}, {"key": "a", "offset": "2h"}]}, "duplicate"),
        ({"steps": [{"key": "a", "offset": "1h"}], "limits": {"max_per_day": 0}}, "max_per_day"),
        (
            {
                "steps": [{"key": "a", "offset": "1h"}],
                "limits": {"max_per_day": 3, "max_per_week": 2},
            },
            "max_per_week",
        ),
        (
            {
                "steps": [
                    {"key": "a", "offset": "1h", "priority": 10},
                    {"key": "b", "offset": "1d", "priority": 20},
                ]
            },
            "steps (b).priority",
        ),
        ({"steps": [{"key": "a", "offset": "1h", "regions": ["neck"]}]}, "go together"),
    ],
)
def test_invalid_plans_name_the_file_and_field(data, message, tmp_path: Path):
    path = tmp_path / "clinic-plan.json"
    path.write_text(json.dumps(data))
    with pytest.raises(CarePlanError) as info:
        load_plan_file(path)
    assert str(info.value).startswith(f"{path}: ")
    assert message in str(info.value)


def test_a_file_that_is_not_toml_says_so(tmp_path: Path):
    path = tmp_path / "plan.toml"
    path.write_text("[[steps]\nkey=")
    with pytest.raises(CarePlanError, match=r"plan.toml: not valid toml"):
        load_plan_file(path)


def test_a_missing_file_says_so(tmp_path: Path):
    with pytest.raises(CarePlanError, match="cannot read"):
        load_plan_file(tmp_path / "nope.toml")


def test_only_one_session_step_can_be_first():
    two = {"steps": [{"key": "a", "offset": "1h", "first": True, "priority": 9},
                     {"key": "b", "offset": "2h", "first": True, "priority": 8}]}  # fmt: skip
    with pytest.raises(CarePlanError, match="only one step can be first"):
        parse_plan(two, "p")
    appt = {"steps": [{"key": "r", "offset": "-1d", "anchor": "next_appointment", "first": True}]}
    with pytest.raises(CarePlanError, match=r"steps\[0\] \(r\).first"):
        parse_plan(appt, "p")
    assert [s.key for s in DEFAULT_PLAN.steps if s.first] == ["aftercare"]
