"""The region table (followup.outbound.regions): names normalised, aliases, fail safe."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from followup.outbound.careplan import DEFAULT_PLAN, CarePlanError, parse_plan, plan_to_data
from followup.outbound.regions import (
    BREATHING,
    BREATHING_REGIONS,
    DEFAULT_TABLE,
    TABLE,
    RegionTable,
    normalise,
)

CHECKIN = DEFAULT_PLAN.by_key["checkin_24h"]


@pytest.mark.parametrize(
    ("name", "region"),
    [
        ("thoracic_spine", "upper_back"),
        ("Thoracic spine", "upper_back"),
        ("T-spine", "upper_back"),
        ("traps", "shoulder"),
        ("L upper traps", "shoulder"),
        ("right_upper_trapezius", "shoulder"),
        ("Trapezius (left)", "shoulder"),
        ("rhomboid", "upper_back"),
        ("Rhomboids", "upper_back"),
        ("levator scapulae", "shoulder"),
        ("infraspinatus", "shoulder"),
        ("supraspinatus", "shoulder"),
        ("subscapularis", "shoulder"),
        ("teres major", "shoulder"),
        ("lats", "shoulder"),
        ("Latissimus dorsi", "shoulder"),
        ("serratus anterior", "chest_wall"),
        ("pecs", "chest_wall"),
        ("pectoralis-minor", "chest_wall"),
        ("intercostals", "chest_wall"),
        ("ribs", "chest_wall"),
        ("scalenes", "neck"),
        ("cervical", "neck"),
        ("paraspinals", "upper_back"),
        ("bilateral neck", "neck"),
        ("lumbar", "lower_back"),
        ("glutes", "hip"),
        ("hamstrings", "thigh"),
        ("quads", "thigh"),
        ("calves", "lower_leg"),
        ("Calf", "lower_leg"),
        ("forearm", "forearm"),
        ("feet", "foot"),
    ],
)
def test_a_name_means_its_region_however_it_is_written(name: str, region: str) -> None:
    assert DEFAULT_TABLE.region(name) == region


@pytest.mark.parametrize("name", ["", "  ", "-", "left", "t4", "knuckle_of_doom"])
def test_names_the_table_does_not_know(name: str) -> None:
    assert DEFAULT_TABLE.region(name) is None


def test_every_alias_is_normalised_and_means_a_region_of_the_table() -> None:
    for name, region in TABLE.items():
        assert normalise(name) == name, name
        assert region in BREATHING, name
    # the regions over or near the lung are exactly those clinical.md names, and the
    # lower back of the quadratus lumborum's twelfth rib
    assert {
        "neck", "upper_back", "shoulder", "chest_wall", "quadratus_lumborum"
    } == BREATHING_REGIONS  # fmt: skip


@pytest.mark.parametrize(
    ("regions", "breathing"),
    [
        ({"neck"}, True),
        ({"thoracic_spine"}, True),
        ({"traps"}, True),
        ({"rhomboid"}, True),
        (set(), True),  # nothing written: fail safe
        ({"t4"}, True),  # unknown: fail safe
        ({"calf", "t4"}, True),
        ({"calf"}, False),
        ({"lumbar", "glutes", "hamstrings"}, False),
        ({"calf", "neck"}, True),
    ],
)
def test_the_breathing_question_follows_the_table_and_fails_safe(regions, breathing) -> None:
    template = CHECKIN.template_for(frozenset(regions))
    assert (template == "checkin_24h_breathing") == breathing
    assert CHECKIN.is_safety(frozenset(regions)) == breathing


LOW_RISK = sorted(n for n, r in TABLE.items() if not BREATHING[r])
ANY = sorted(TABLE)


@given(st.lists(st.sampled_from(LOW_RISK), min_size=1, max_size=4), st.sampled_from(ANY))
def test_adding_a_region_never_removes_the_breathing_question(low, extra) -> None:
    """Monotone: more treated regions can only add the question, never take it away."""
    base = frozenset(low)
    assert CHECKIN.template_for(base) == "checkin_24h"
    if CHECKIN.uses_regions_template(base):
        pytest.fail("low-risk regions alone asked about breathing")
    with_extra = CHECKIN.uses_regions_template(base | {extra})
    assert with_extra == BREATHING[TABLE[extra]]


@given(
    st.sampled_from(ANY),
    st.sampled_from(["", "left ", "Right-", "L ", "bilateral_"]),
    st.sampled_from(["", "s"]),
    st.sampled_from(["lower", "upper", "title"]),
)
def test_case_sides_and_plurals_never_change_the_region(name, side, plural, case) -> None:
    written = getattr(f"{side}{name.replace('_', ' ')}{plural}", case)()
    if plural and DEFAULT_TABLE.region(name + "s") not in (None, TABLE[name]):
        return  # the plural is a name of its own
    assert DEFAULT_TABLE.region(written) == TABLE[name]


def test_a_clinic_extends_the_table_in_its_plan() -> None:
    data = plan_to_data(DEFAULT_PLAN)
    data["regions"] = {"SCM muscle": "neck", "Psoas major": "hip"}
    plan = parse_plan(data, "clinic.toml")
    checkin = plan.by_key["checkin_24h"]
    assert plan.regions.region("scm_muscle") == "neck"
    assert checkin.template_for(frozenset({"scm muscle"})) == "checkin_24h_breathing"
    assert checkin.template_for(frozenset({"psoas_major"})) == "checkin_24h"
    assert plan.regions.unknown(["psoas_major", "t4"]) == ["t4"]
    assert parse_plan(plan_to_data(plan), "clinic.toml") == plan
    # the default plan's table knows neither
    assert DEFAULT_TABLE.unknown(["scm_muscle"]) == ["scm_muscle"]


@pytest.mark.parametrize(
    ("regions", "message"),
    [
        ({"scm": "nek"}, "clinic.json: regions.scm: 'nek' is not a region of the table"),
        ({"scm": 3}, "regions.scm"),
        ({"": "neck"}, "regions.: expected a region name"),
        (["scm"], "regions: expected a table"),
    ],
)
def test_a_clinics_region_names_are_checked(regions, message) -> None:
    data = {**plan_to_data(DEFAULT_PLAN), "regions": regions}
    with pytest.raises(CarePlanError) as info:
        parse_plan(data, "clinic.json")
    assert message in str(info.value)


def test_old_region_names_in_a_stored_plan_still_work() -> None:
    old = {
        "steps": [
            {"key": "aftercare", "offset": "30m", "clock": "elapsed", "priority": 90,
             "first": True},
            {"key": "checkin_24h", "offset": "1d", "priority": 60,
             "regions_template": "checkin_24h_breathing",
             "regions": ["chest", "shoulders", "upper_trapezius", "scapula", "ribs", "pectoral"]},
        ]
    }  # fmt: skip
    plan = parse_plan(old, "clinic care_plan")
    checkin = plan.by_key["checkin_24h"]
    assert checkin.regions == {"chest_wall", "shoulder", "upper_back"}
    assert checkin.template_for(frozenset({"Thoracic"})) == "checkin_24h_breathing"
    assert RegionTable().region("upper_trapezius") == "shoulder"
