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
- ``elapsed``: an exact duration. The aftercare note uses it ("30 minutes after the session").

Priorities decide who wins when the per-patient caps force a choice (a reminder for a booked
appointment outranks a late check-in). Steps anchored on the session must have priorities that
do not rise with their offset, so allocating by priority never reorders a session's texts.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

from followup.outbound.timing import Caps

ANCHORS = ("completed", "next_appointment")
CLOCKS = ("local", "elapsed")
_DURATION = re.compile(r"^\s*(-)?\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*$")
_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")

#: regions after which the 24 h check-in also asks about breathing (pneumothorax is rare and
#: known from needling of these regions; clinical.md section 1)
BREATHING_REGIONS = frozenset(
    {
        "chest",
        "chest_wall",
        "thoracic",
        "upper_back",
        "neck",
        "shoulder",
        "shoulders",
        "trapezius",
        "upper_trapezius",
        "scapula",
        "rhomboid",
        "rhomboids",
        "ribs",
        "intercostal",
        "pectoral",
        "pectoralis",
    }
)


class CarePlanError(ValueError):
    """A care plan file is invalid; the message names the file and the field."""


@dataclass(frozen=True)
class Step:
    key: str
    template: str
    anchor: str
    offset: timedelta
    clock: str
    #: how long after its due time the text is still worth sending
    window: timedelta
    priority: int
    #: steps of an earlier session that a newer completed session replaces
    supersedable: bool = True
    #: the text that introduces the service (who is texting, STOP/HELP): until a patient has
    #: had any text, this step is never too late; its window counts from when it can go
    first: bool = False
    #: for next_appointment steps: do not send later than this before the appointment
    lead: timedelta = timedelta(0)
    #: use another template when any of these regions was treated
    regions_template: str | None = None
    regions: frozenset[str] = frozenset()

    def template_for(self, treated: frozenset[str]) -> str:
        if self.regions_template and treated & self.regions:
            return self.regions_template
        return self.template


@dataclass(frozen=True)
class CarePlan:
    steps: tuple[Step, ...]
    max_per_day: int = 1
    max_per_week: int = 3
    source: str = "default"
    by_key: Mapping[str, Step] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {s.key: s for s in self.steps})

    @cached_property
    def caps(self) -> Caps:
        return Caps(self.max_per_day, self.max_per_week)


DEFAULT_PLAN_DATA: dict[str, Any] = {
    "limits": {"max_per_day": 1, "max_per_week": 3},
    "steps": [
        {
            "key": "aftercare",
            "template": "aftercare",
            "anchor": "completed",
            "offset": "30m",
            "clock": "elapsed",
            "window": "24h",
            "priority": 90,
            "first": True,
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


def parse_duration(text: str) -> timedelta:
    """``"30m"``, ``"24h"``, ``"1d"``, ``"1d12h"``, ``"-1d"`` -> timedelta."""
    m = _DURATION.match(text) if isinstance(text, str) else None
    if not m or not any(m.group(i) for i in (2, 3, 4)):
        raise ValueError(f"expected a duration such as '30m', '24h', '3d' or '-1d', got {text!r}")
    sign = -1 if m.group(1) else 1
    days, hours, minutes = (int(m.group(i) or 0) for i in (2, 3, 4))
    return sign * timedelta(days=days, hours=hours, minutes=minutes)


def format_duration(td: timedelta) -> str:
    sign = "-" if td < timedelta(0) else ""
    total = abs(int(td.total_seconds())) // 60
    days, rest = divmod(total, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days}d" if days else "",
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
    ]
    return sign + ("".join(parts) or "0m")


def parse_plan(data: Any, source: str = "<plan>") -> CarePlan:
    """Validate plain data (from TOML, JSON or the database) into a :class:`CarePlan`."""

    def err(where: str, what: str) -> CarePlanError:
        return CarePlanError(f"{source}: {where}: {what}")

    if not isinstance(data, Mapping):
        raise err("top level", "expected a table with 'steps' and optional 'limits'")
    unknown = set(data) - {"steps", "limits"}
    if unknown:
        raise err("top level", f"unknown field(s) {sorted(unknown)}")
    limits = data.get("limits", {}) or {}
    if not isinstance(limits, Mapping):
        raise err("limits", "expected a table")
    if set(limits) - {"max_per_day", "max_per_week"}:
        raise err(
            "limits", f"unknown field(s) {sorted(set(limits) - {'max_per_day', 'max_per_week'})}"
        )
    max_day = limits.get("max_per_day", 1)
    max_week = limits.get("max_per_week", 3)
    for name, value in (("max_per_day", max_day), ("max_per_week", max_week)):
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 20:
            raise err(f"limits.{name}", f"expected a whole number from 1 to 20, got {value!r}")
    if max_week < max_day:
        raise err("limits.max_per_week", "must not be smaller than limits.max_per_day")

    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise err("steps", "expected a non-empty list of steps")
    steps: list[Step] = []
    seen: set[str] = set()
    allowed = {
        "key", "template", "anchor", "offset", "clock", "window", "priority",
        "supersedable", "lead", "regions_template", "regions", "first",
    }  # fmt: skip
    for i, raw in enumerate(raw_steps):
        where = f"steps[{i}]"
        if not isinstance(raw, Mapping):
            raise err(where, "expected a table")
        if set(raw) - allowed:
            raise err(where, f"unknown field(s) {sorted(set(raw) - allowed)}")
        key = raw.get("key")
        if not isinstance(key, str) or not _KEY.match(key):
            raise err(f"{where}.key", "expected lower-case letters, digits and _ (max 32)")
        where = f"steps[{i}] ({key})"
        if key in seen:
            raise err(f"{where}.key", "duplicate step key")
        seen.add(key)
        template = raw.get("template", key)
        if not isinstance(template, str) or not _KEY.match(template):
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
        if not isinstance(priority, int) or isinstance(priority, bool) or not 0 <= priority <= 1000:
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
            not isinstance(regions_template, str) or not _KEY.match(regions_template)
        ):
            raise err(f"{where}.regions_template", "expected a template key")
        if not isinstance(regions, list) or not all(isinstance(r, str) for r in regions):
            raise err(f"{where}.regions", "expected a list of region names")
        if bool(regions_template) != bool(regions):
            raise err(f"{where}.regions", "regions and regions_template go together")
        steps.append(
            Step(
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
                regions=frozenset(r.strip().lower() for r in regions),
            )
        )

    firsts = [s.key for s in steps if s.first]
    if len(firsts) > 1:
        raise err("steps", f"only one step can be first, not {firsts}")
    session_steps = sorted((s for s in steps if s.anchor == "completed"), key=lambda s: s.offset)
    for before, after in pairwise(session_steps):
        if after.priority > before.priority:
            raise err(
                f"steps ({after.key}).priority",
                f"must not exceed the priority of the earlier step {before.key!r} "
                f"({after.priority} > {before.priority}), or caps could reorder the texts",
            )
    return CarePlan(steps=tuple(steps), max_per_day=max_day, max_per_week=max_week, source=source)


def plan_to_data(plan: CarePlan) -> dict[str, Any]:
    """The JSON-able form stored on the clinic row (round-trips through :func:`parse_plan`)."""
    steps = []
    for s in plan.steps:
        d: dict[str, Any] = {
            "key": s.key,
            "template": s.template,
            "anchor": s.anchor,
            "offset": format_duration(s.offset),
            "clock": s.clock,
            "window": format_duration(s.window),
            "priority": s.priority,
            "supersedable": s.supersedable,
        }
        if s.first:
            d["first"] = True
        if s.lead:
            d["lead"] = format_duration(s.lead)
        if s.regions_template:
            d["regions_template"] = s.regions_template
            d["regions"] = sorted(s.regions)
        steps.append(d)
    return {
        "limits": {"max_per_day": plan.max_per_day, "max_per_week": plan.max_per_week},
        "steps": steps,
    }


def load_plan_file(path: Path) -> CarePlan:
    """Read and validate a plan from a ``.toml`` or ``.json`` file."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CarePlanError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise CarePlanError(
            f"{path}: not valid {path.suffix.lstrip('.') or 'TOML'}: {exc}"
        ) from None
    return parse_plan(data, source=str(path))


DEFAULT_PLAN = parse_plan(DEFAULT_PLAN_DATA, source="default")


def plan_for(stored: Mapping[str, Any] | None) -> CarePlan:
    """The plan stored on a clinic row, or the default when it has none."""
    return DEFAULT_PLAN if not stored else parse_plan(stored, source="clinic care_plan")
