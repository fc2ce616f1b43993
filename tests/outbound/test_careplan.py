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


def test_the_default_plan_marks_its_safety_texts_and_the_evening_aftercare():
    steps = DEFAULT_PLAN.by_key
    assert steps["aftercare"].safety == "always"
    assert steps["aftercare"].offset == timedelta(0)  # right after the session
    assert (steps["aftercare"].send_window.start, steps["aftercare"].send_window.end) == (
        8 * 60,
        21 * 60,
    )
    assert steps["checkin_24h"].safety == "regions" and steps["checkin_24h"].nudge
    assert steps["checkin_24h"].send_window is None  # the clinic's quiet hours
    assert steps["reminder"].safety == "no" and steps["checkin_72h"].safety == "no"
    assert DEFAULT_PLAN.nudged is steps["checkin_24h"]
    assert DEFAULT_PLAN.nudge.after == timedelta(hours=4)
    assert DEFAULT_PLAN.safety_hold == timedelta(hours=1)


def test_a_clinic_plan_stored_before_the_safety_fields_keeps_working_and_is_safe():
    stored = {
        "limits": {"max_per_day": 1, "max_per_week": 3},
        "steps": [
            {"key": "aftercare", "offset": "30m", "clock": "elapsed", "priority": 90,
             "first": True},
            {"key": "checkin_24h", "offset": "1d", "priority": 60,
             "regions_template": "checkin_24h_breathing", "regions": ["neck"]},
            {"key": "reminder", "anchor": "next_appointment", "offset": "-1d", "priority": 100},
        ],
    }  # fmt: skip
    plan = parse_plan(stored, "clinic care_plan")
    steps = plan.by_key
    assert steps["aftercare"].safety == "always"
    assert steps["aftercare"].send_window is not None  # may go until 21:00
    assert steps["aftercare"].offset == timedelta(minutes=30)  # the clinic's own timing
    assert steps["checkin_24h"].safety == "regions" and steps["checkin_24h"].nudge
    assert steps["reminder"].safety == "no"
    assert plan.nudge == DEFAULT_PLAN.nudge
    assert parse_plan(plan_to_data(plan), "clinic care_plan") == plan


def test_a_step_can_keep_the_clinics_hours_or_set_its_own():
    data = {"steps": [{"key": "aftercare", "offset": "0m", "first": True,
                       "send_window": "clinic"}]}  # fmt: skip
    assert parse_plan(data, "p").by_key["aftercare"].send_window is None
    data["steps"][0]["send_window"] = "09:00-19:30"
    window = parse_plan(data, "p").by_key["aftercare"].send_window
    assert (window.start, window.end) == (9 * 60, 19 * 60 + 30)


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"send_window": "07:00-21:00"}, "steps[0] (a).send_window: '07:00-21:00' reaches outside"),
        ({"send_window": "08:00-22:00"}, "TCPA"),
        ({"send_window": "late"}, "steps[0] (a).send_window: expected hours"),
        ({"send_window": "20:00-09:00"}, "expected hours"),
        ({"safety": "sometimes"}, "steps[0] (a).safety: expected true, false or 'regions'"),
        ({"safety": "regions"}, "'regions' needs regions and a regions_template"),
        ({"nudge": True, "safety": False}, "steps[0] (a).nudge: only a safety text is nudged"),
        ({"nudge": "yes"}, "steps[0] (a).nudge: expected true or false"),
    ],
)
def test_invalid_safety_fields_name_the_step_and_field(step, message):
    with pytest.raises(CarePlanError) as info:
        parse_plan({"steps": [{"key": "a", "offset": "1h", **step}]}, "p")
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"limits": {"safety_hold": "soon"}}, "limits.safety_hold: expected a duration"),
        ({"limits": {"safety_hold": "-1h"}}, "limits.safety_hold: must not be negative"),
        ({"nudge": {"after": "0m"}}, "nudge.after: must be positive"),
        ({"nudge": {"window": "x"}}, "nudge.window: expected a duration"),
        ({"nudge": {"answer_within": "2h", "extra": 1}}, "nudge: unknown field(s) ['extra']"),
        ({"nudge": {"template": "No!"}}, "nudge.template"),
        ({"nudge": []}, "nudge: expected a table"),
    ],
)
def test_invalid_nudge_and_limit_settings_are_named(data, message):
    with pytest.raises(CarePlanError) as info:
        parse_plan({"steps": [{"key": "a", "offset": "1h"}], **data}, "p")
    assert message in str(info.value)


def test_safety_must_not_rise_with_the_offset_and_one_step_is_nudged():
    later_safety = {"steps": [
        {"key": "a", "offset": "1h", "priority": 90},
        {"key": "b", "offset": "1d", "priority": 60, "safety": True},
    ]}  # fmt: skip
    with pytest.raises(CarePlanError, match=r"steps \(b\).safety: a later step"):
        parse_plan(later_safety, "p")
    two_nudged = {"steps": [
        {"key": "a", "offset": "1h", "safety": True, "nudge": True, "priority": 9},
        {"key": "b", "offset": "2h", "safety": True, "nudge": True, "priority": 8},
    ]}  # fmt: skip
    with pytest.raises(CarePlanError, match="only one step can be nudged"):
        parse_plan(two_nudged, "p")
    named_nudge = {"steps": [
        {"key": "a", "offset": "1h", "safety": True, "nudge": True, "priority": 9},
        {"key": "nudge", "offset": "5h", "priority": 8},
    ]}  # fmt: skip
    with pytest.raises(CarePlanError, match=r"steps \(nudge\).key"):
        parse_plan(named_nudge, "p")
    appt = {"steps": [{"key": "r", "anchor": "next_appointment", "offset": "-1d",
                       "safety": True}]}  # fmt: skip
    with pytest.raises(CarePlanError, match="anchored on the session"):
        parse_plan(appt, "p")


def test_max_age_is_a_positive_duration_or_none_and_round_trips():
    data = plan_to_data(DEFAULT_PLAN)
    first = next(s for s in data["steps"] if s.get("first"))
    assert first["max_age"] == "3d"
    assert parse_plan(data).steps == DEFAULT_PLAN.steps
    for bad in ("0m", "-1h", "soon"):
        broken = plan_to_data(DEFAULT_PLAN)
        next(s for s in broken["steps"] if s.get("first"))["max_age"] = bad
        with pytest.raises(CarePlanError, match=r"steps\[0\] \(aftercare\)\.max_age"):
            parse_plan(broken)
    # a plan stored before max_age existed: its first step gets three days all the same
    legacy = plan_to_data(DEFAULT_PLAN)
    del next(s for s in legacy["steps"] if s.get("first"))["max_age"]
    assert next(s for s in parse_plan(legacy).steps if s.first).max_age == timedelta(days=3)
    unlimited = plan_to_data(DEFAULT_PLAN)
    next(s for s in unlimited["steps"] if s.get("first"))["max_age"] = "none"
    assert next(s for s in parse_plan(unlimited).steps if s.first).max_age is None
