"""Care plans: which texts a patient gets after a session, when, and how much each one matters.

A plan is a list of steps plus the clinic's message limits. The default plan follows
clinical.md section 2 (aftercare the same day, check-ins at 24 h and 72 h, a reminder the day
before a booked appointment). A clinic can replace it with a TOML or JSON file, validated here
with errors that name the file and the field; the validated plan is stored on the clinic row
as JSON, so every worker sees the same plan.

Two clocks, chosen per step, because "+24 h" across a DST change is ambiguous:

- ``local``: the same local wall-clock time, whole days (and hours) later in the patient's zone.
  Check-ins and reminders use it: "tomorrow at the time you left the clinic" is what a patient
  expects, and no calendar day is ever lost or doubled on a DST weekend.
- ``elapsed``: an exact duration. The aftercare note uses it (right after the session).

Safety texts come first. The aftercare (the only early emergency advice) and the breathing
check-in (the 24 h check-in's variant after the chest wall, upper back, neck or shoulder) are
marked ``safety``: they are placed before every other text, the caps never hold them back
(clinical.md section 4: with the patient's consent the caps are a courtesy, and they must
never drop a safety text), and when any other limit does (quiet hours, a window), staff are
alerted. Among the other texts, priorities decide who wins when the caps force a choice (a
reminder for a booked appointment outranks a late check-in). Steps anchored on the session
must have safety and priorities that do not rise with their offset, so allocating in that
order never reorders a session's texts.

The aftercare may go until 21:00 (``send_window``): the TCPA's limit for texts is 08:00-21:00
recipient local time (47 CFR 64.1200(c)(1)), so a session ending at 19:45 gets its emergency
advice the same evening; every other text keeps the clinic's quiet hours.

A breathing check-in nobody answers gets one ``nudge`` (the ``[nudge]`` table: how long to
wait, how long the nudge may take, how long before staff are told); see
:mod:`followup.outbound.nudges`. Region names go through the region table of
:mod:`followup.outbound.regions`, which a plan extends in ``[regions]``.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from followup.outbound.plan_types import (
    ANCHORS,
    CLOCKS,
    KEY,
    NUDGE_STEP,
    SAFETY,
    TCPA_WINDOW,
    CarePlan,
    CarePlanError,
    Nudge,
    Step,
    format_duration,
    format_window,
    parse_duration,
    parse_nudge,
    parse_window,
    plan_to_data,
)
from followup.outbound.regions import (
    BREATHING_REGIONS,
    DEFAULT_TABLE,
    TABLE,
    RegionTable,
    normalise,
)

__all__ = [
    "ANCHORS",
    "CLOCKS",
    "DEFAULT_PLAN",
    "DEFAULT_PLAN_DATA",
    "EVENING_WINDOW",
    "NUDGE_STEP",
    "SAFETY",
    "TCPA_WINDOW",
    "CarePlan",
    "CarePlanError",
    "Nudge",
    "Step",
    "format_duration",
    "format_window",
    "load_plan_file",
    "parse_duration",
    "parse_plan",
    "parse_plan_bytes",
    "parse_window",
    "plan_for",
    "plan_to_data",
]

#: the aftercare's sending hours: it is the only early emergency advice, so it may go until
#: 21:00, the end of the hours the TCPA allows (47 CFR 64.1200(c)(1))
EVENING_WINDOW = "08:00-21:00"

DEFAULT_PLAN_DATA: dict[str, Any] = {
    "limits": {"max_per_day": 1, "max_per_week": 3, "safety_hold": "1h"},
    "nudge": {"after": "4h", "window": "16h", "answer_within": "4h", "template": "nudge"},
    "steps": [
        {
            "key": "aftercare",
            "template": "aftercare",
            "anchor": "completed",
            "offset": "0m",
            "clock": "elapsed",
            "window": "24h",
            "priority": 90,
            "first": True,
            "safety": True,
            "send_window": EVENING_WINDOW,
            "max_age": "3d",
        },
        {
            "key": "checkin_24h",
            "template": "checkin_24h",
            "anchor": "completed",
            "offset": "1d",
            "clock": "local",
            "window": "20h",
            "priority": 60,
            "regions_template": "checkin_24h_breathing",
            "regions": sorted(BREATHING_REGIONS),
            "safety": "regions",
            "nudge": True,
        },
        {
            "key": "checkin_72h",
            "template": "checkin_72h",
            "anchor": "completed",
            "offset": "3d",
            "clock": "local",
            "window": "36h",
            "priority": 50,
        },
        {
            "key": "reminder",
            "template": "reminder",
            "anchor": "next_appointment",
            "offset": "-1d",
            "clock": "local",
            "window": "22h",
            "lead": "2h",
            "priority": 100,
            "supersedable": False,
        },
    ],
}


def _whole(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


_STEP_FIELDS = {
    "key", "template", "anchor", "offset", "clock", "window", "priority", "supersedable",
    "lead", "regions_template", "regions", "first", "safety", "nudge", "send_window", "max_age",
}  # fmt: skip
_LIMIT_FIELDS = {"max_per_day", "max_per_week", "safety_hold"}
#: how far the safety of a step ranks: it must not rise with the offset of a session's steps
_SAFETY_RANK = {"no": 0, "regions": 1, "always": 2}


def parse_plan(data: Any, source: str = "<plan>") -> CarePlan:
    """Validate plain data (from TOML, JSON or the database) into a :class:`CarePlan`.

    Fields added after a clinic stored its plan take defaults that keep the plan working
    and safe: the ``first`` step is a safety text and may go until 21:00, a step with a
    regions variant has a safety variant that is nudged, ``[nudge]`` and ``[regions]`` take
    the defaults above."""

    def err(where: str, what: str) -> CarePlanError:
        return CarePlanError(f"{source}: {where}: {what}")

    if not isinstance(data, Mapping):
        raise err("top level", "expected a table with 'steps' and optional 'limits'")
    unknown = set(data) - {"steps", "limits", "nudge", "regions"}
    if unknown:
        raise err("top level", f"unknown field(s) {sorted(unknown)}")
    limits = data.get("limits", {}) or {}
    if not isinstance(limits, Mapping):
        raise err("limits", "expected a table")
    if set(limits) - _LIMIT_FIELDS:
        raise err("limits", f"unknown field(s) {sorted(set(limits) - _LIMIT_FIELDS)}")
    max_day = limits.get("max_per_day", 1)
    max_week = limits.get("max_per_week", 3)
    for name, value in (("max_per_day", max_day), ("max_per_week", max_week)):
        if not _whole(value, 1, 20):
            raise err(f"limits.{name}", f"expected a whole number from 1 to 20, got {value!r}")
    if max_week < max_day:
        raise err("limits.max_per_week", "must not be smaller than limits.max_per_day")
    try:
        safety_hold = parse_duration(limits.get("safety_hold", "1h"))
    except ValueError as exc:
        raise err("limits.safety_hold", str(exc)) from None
    if safety_hold < timedelta(0):
        raise err("limits.safety_hold", "must not be negative")
    nudge = parse_nudge(data.get("nudge", {}), err)
    region_names = _parse_regions(data.get("regions", {}), err)

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise err("steps", "expected a non-empty list of steps")
    steps: list[Step] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_steps):
        step = _parse_step(i, raw, err, region_names)
        if step.key in seen:
            raise err(f"steps[{i}] ({step.key}).key", "duplicate step key")
        seen.add(step.key)
        steps.append(step)
    table = RegionTable(region_names) if region_names else DEFAULT_TABLE
    steps = [replace(s, region_table=table) for s in steps]

    firsts = [s.key for s in steps if s.first]
    if len(firsts) > 1:
        raise err("steps", f"only one step can be first, not {firsts}")
    nudged = [s.key for s in steps if s.nudge]
    if len(nudged) > 1:
        raise err("steps", f"only one step can be nudged (a nudge goes at most once), not {nudged}")
    if nudged and NUDGE_STEP in seen:
        raise err(f"steps ({NUDGE_STEP}).key", f"{NUDGE_STEP!r} is the nudge's own key")
    session_steps = sorted((s for s in steps if s.anchor == "completed"), key=lambda s: s.offset)
    for before, after in pairwise(session_steps):
        if _SAFETY_RANK[after.safety] > _SAFETY_RANK[before.safety]:
            raise err(
                f"steps ({after.key}).safety",
                f"a later step cannot be more of a safety text than the earlier step "
                f"{before.key!r} ({after.safety!r} after {before.safety!r}), or safety texts "
                "placed first could reorder the texts",
            )
        if after.safety == before.safety and after.priority > before.priority:
            raise err(
                f"steps ({after.key}).priority",
                f"must not exceed the priority of the earlier step {before.key!r} "
                f"({after.priority} > {before.priority}), or caps could reorder the texts",
            )
    return CarePlan(
        steps=tuple(steps),
        max_per_day=max_day,
        max_per_week=max_week,
        source=source,
        safety_hold=safety_hold,
        nudge=nudge,
        region_names=region_names,
    )


def _parse_step(i: int, raw: Any, err: Any, region_names: Mapping[str, str]) -> Step:
    where = f"steps[{i}]"
    if not isinstance(raw, Mapping):
        raise err(where, "expected a table")
    if set(raw) - _STEP_FIELDS:
        raise err(where, f"unknown field(s) {sorted(set(raw) - _STEP_FIELDS)}")
    key = raw.get("key")
    if not isinstance(key, str) or not KEY.match(key):
        raise err(f"{where}.key", "expected lower-case letters, digits and _ (max 32)")
    where = f"steps[{i}] ({key})"
    template = raw.get("template", key)
    if not isinstance(template, str) or not KEY.match(template):
        raise err(f"{where}.template", f"expected a template key, got {template!r}")
    anchor = raw.get("anchor", "completed")
    if anchor not in ANCHORS:
        raise err(f"{where}.anchor", f"expected one of {ANCHORS}, got {anchor!r}")
    clock = raw.get("clock", "local")
    if clock not in CLOCKS:
        raise err(f"{where}.clock", f"expected one of {CLOCKS}, got {clock!r}")
    durations: dict[str, timedelta] = {}
    for name, default in (("offset", None), ("window", "24h"), ("lead", "0m")):
        value = raw.get(name, default)
        if value is None:
            raise err(f"{where}.{name}", "required")
        try:
            durations[name] = parse_duration(value)
        except ValueError as exc:
            raise err(f"{where}.{name}", str(exc)) from None
    if anchor == "completed" and durations["offset"] < timedelta(0):
        raise err(f"{where}.offset", "a step anchored on the session cannot come before it")
    if durations["window"] <= timedelta(0):
        raise err(f"{where}.window", "must be positive")
    if durations["lead"] < timedelta(0):
        raise err(f"{where}.lead", "must not be negative")
    priority = raw.get("priority", 50)
    if not _whole(priority, 0, 1000):
        raise err(f"{where}.priority", f"expected a whole number 0-1000, got {priority!r}")
    supersedable = raw.get("supersedable", anchor == "completed")
    if not isinstance(supersedable, bool):
        raise err(f"{where}.supersedable", "expected true or false")
    first = raw.get("first", False)
    if not isinstance(first, bool):
        raise err(f"{where}.first", "expected true or false")
    if first and anchor != "completed":
        raise err(f"{where}.first", "the first text must be anchored on the session")
    regions_template = raw.get("regions_template")
    regions = raw.get("regions", [])
    if regions_template is not None and (
        not isinstance(regions_template, str) or not KEY.match(regions_template)
    ):
        raise err(f"{where}.regions_template", "expected a template key")
    if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
        raise err(f"{where}.regions", "expected a list of region names")
    if bool(regions_template) != bool(regions):
        raise err(f"{where}.regions", "regions and regions_template go together")
    table = RegionTable(region_names) if region_names else DEFAULT_TABLE
    resolved: set[str] = set()
    for name in regions:
        if not normalise(name):
            raise err(f"{where}.regions", f"{name!r} is not a region name")
        # a name the table does not know is kept as written: a session naming it is unknown
        # to the table, so it gets the variant anyway (fail safe)
        resolved.add(table.region(name) or normalise(name))

    safety = raw.get("safety", "always" if first else ("regions" if regions_template else "no"))
    safety = {True: "always", False: "no"}.get(safety, safety)
    if safety not in SAFETY:
        raise err(f"{where}.safety", f"expected true, false or 'regions', got {safety!r}")
    if safety == "regions" and not regions_template:
        raise err(f"{where}.safety", "'regions' needs regions and a regions_template")
    if safety != "no" and anchor != "completed":
        raise err(f"{where}.safety", "a safety text must be anchored on the session")
    nudge = raw.get("nudge", safety == "regions")
    if not isinstance(nudge, bool):
        raise err(f"{where}.nudge", "expected true or false")
    if nudge and safety == "no":
        raise err(f"{where}.nudge", "only a safety text is nudged")
    window_raw = raw.get("send_window", EVENING_WINDOW if safety == "always" else "clinic")
    send_window = None
    if window_raw != "clinic":
        try:
            send_window = parse_window(window_raw)
        except ValueError as exc:
            raise err(f"{where}.send_window", str(exc)) from None
    # the first text is never too late, so it needs an age limit of its own: a plan stored
    # before max_age existed gets the default one day
    max_age_raw = raw.get("max_age", FIRST_MAX_AGE if first else None)
    max_age = None
    if max_age_raw not in (None, "none"):
        try:
            max_age = parse_duration(max_age_raw)
        except ValueError as exc:
            raise err(f"{where}.max_age", str(exc)) from None
        if max_age <= timedelta(0):
            raise err(f"{where}.max_age", 'must be positive (or "none")')
    return Step(
        key=key,
        template=template,
        anchor=anchor,
        offset=durations["offset"],
        clock=clock,
        window=durations["window"],
        priority=priority,
        supersedable=supersedable,
        first=first,
        lead=durations["lead"],
        regions_template=regions_template,
        regions=frozenset(resolved),
        safety=safety,
        nudge=nudge,
        send_window=send_window,
        max_age=max_age,
    )


#: the age limit of the first text when a plan does not give one: three days, the soreness
#: window (and past the two days in which a pneumothorax shows); an older visit, imported
#: late, gets no aftercare, and a patient never texted then gets nothing of that session
FIRST_MAX_AGE = "3d"


def _parse_regions(raw: Any, err: Any) -> dict[str, str]:
    """``[regions]``: a clinic's own names for regions of the table (``scm = "neck"``)."""
    if not isinstance(raw, Mapping):
        raise err("regions", "expected a table of name = region")
    names: dict[str, str] = {}
    regions = sorted(set(TABLE.values()))
    for name, region in raw.items():
        key = normalise(name) if isinstance(name, str) else ""
        if not key:
            raise err(f"regions.{name}", "expected a region name")
        target = TABLE.get(normalise(region)) if isinstance(region, str) else None
        if target is None:
            raise err(
                f"regions.{name}",
                f"{region!r} is not a region of the table; expected one of {', '.join(regions)}",
            )
        names[key] = target
    return names


def load_plan_file(path: Path) -> CarePlan:
    """Read and validate a plan from a ``.toml`` or ``.json`` file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CarePlanError(f"{path}: cannot read: {exc.strerror}") from None
    return parse_plan_bytes(raw, "json" if path.suffix.lower() == ".json" else "toml", str(path))


def parse_plan_bytes(raw: bytes, fmt: str, source: str) -> CarePlan:
    """Read and validate a plan written as ``fmt`` (``"toml"`` or ``"json"``); ``source``
    names it in the errors (a file, an upload)."""
    try:
        data = json.loads(raw) if fmt == "json" else tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CarePlanError(f"{source}: not valid {fmt}: {exc}") from None
    return parse_plan(data, source=source)


DEFAULT_PLAN = parse_plan(DEFAULT_PLAN_DATA, source="default")


def plan_for(stored: Mapping[str, Any] | None) -> CarePlan:
    """The plan stored on a clinic row, or the default when it has none."""
    return DEFAULT_PLAN if not stored else parse_plan(stored, source="clinic care_plan")
