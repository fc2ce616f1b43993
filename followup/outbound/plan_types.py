"""The care plan's types: steps, the nudge, the plan, and how durations and sending hours are
written in a plan file. Pure.

Apart from :mod:`followup.outbound.careplan` (which reads plan files into these) so that each
module stays small; import them from there.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cached_property
from typing import Any

from followup.outbound.regions import DEFAULT_TABLE, RegionTable
from followup.outbound.timing import Caps, SendWindow

ANCHORS = ("completed", "next_appointment")
CLOCKS = ("local", "elapsed")
#: how much of a safety text is a safety text: never, always, or when its regions variant goes
SAFETY = ("no", "always", "regions")
_DURATION = re.compile(r"^\s*(-)?\s*(?:(\d+)d)?\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*$")
#: a step or template key
KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_NUDGE_FIELDS = {"after", "window", "answer_within", "template"}
_HHMM = r"([01][0-9]|2[0-4]):([0-5][0-9])"
_WINDOW = re.compile(rf"^\s*{_HHMM}\s*-\s*{_HHMM}\s*$")
#: the hours the TCPA allows texts in, recipient local time (47 CFR 64.1200(c)(1)); a step's
#: own send window must lie inside them
TCPA_WINDOW = SendWindow(8 * 60, 21 * 60)
#: the outbox step of a nudge (one per session at most)
NUDGE_STEP = "nudge"


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
    #: use another template when any of these regions was treated (or an unknown one, or none)
    regions_template: str | None = None
    regions: frozenset[str] = frozenset()
    #: a safety text ("always"), one when its regions variant goes ("regions"), or not ("no")
    safety: str = "no"
    #: an unanswered safety text of this step gets the plan's nudge
    nudge: bool = False
    #: the step's own sending hours, instead of the clinic's (None: the clinic's)
    send_window: SendWindow | None = None
    #: a session that ended longer ago than this gets no such text ("too old"): importing a
    #: visit from months ago must not text its aftercare now (None: no limit)
    max_age: timedelta | None = None
    region_table: RegionTable = field(default=DEFAULT_TABLE, compare=False, repr=False)

    def uses_regions_template(self, treated: frozenset[str]) -> bool:
        """Whether the regions variant goes for these treated region names. Fail safe: a
        name the region table does not know, or no name at all, counts as in ``regions``."""
        if not self.regions_template:
            return False
        found = self.region_table.treated(treated)
        return found.fail_safe or bool(found.regions & self.regions)

    def template_for(self, treated: frozenset[str]) -> str:
        if self.uses_regions_template(treated):
            return self.regions_template  # type: ignore[return-value]
        return self.template

    def is_safety(self, treated: frozenset[str]) -> bool:
        """Whether this step's text for these regions is a safety text."""
        if self.safety == "always":
            return True
        return self.safety == "regions" and self.uses_regions_template(treated)

    def is_safety_template(self, template: str) -> bool:
        """Whether a text of this step sent with ``template`` was a safety text."""
        if self.safety == "always":
            return True
        return self.safety == "regions" and template == self.regions_template


@dataclass(frozen=True)
class Nudge:
    """The one reminder an unanswered safety check-in gets, and when staff are told."""

    #: a check-in with no reply this long after it was sent gets the nudge
    after: timedelta = timedelta(hours=4)
    #: how long after it is due the nudge is still worth sending (quiet hours defer it)
    window: timedelta = timedelta(hours=16)
    #: a nudge with no reply this long after it was sent: a flag for staff and an alert
    answer_within: timedelta = timedelta(hours=4)
    template: str = "nudge"


@dataclass(frozen=True)
class CarePlan:
    steps: tuple[Step, ...]
    max_per_day: int = 1
    max_per_week: int = 3
    source: str = "default"
    #: a safety text a limit holds back longer than this past its due time alerts staff
    safety_hold: timedelta = timedelta(hours=1)
    nudge: Nudge = Nudge()
    #: the clinic's own region names (name -> region of the table)
    region_names: Mapping[str, str] = field(default_factory=dict)
    by_key: Mapping[str, Step] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_key", {s.key: s for s in self.steps})

    @cached_property
    def caps(self) -> Caps:
        return Caps(self.max_per_day, self.max_per_week)

    @cached_property
    def regions(self) -> RegionTable:
        """The region table of this plan: the built-in one and the clinic's names."""
        return RegionTable(self.region_names) if self.region_names else DEFAULT_TABLE

    @cached_property
    def nudged(self) -> Step | None:
        """The step whose unanswered safety texts are nudged, if any."""
        return next((s for s in self.steps if s.nudge), None)


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


def parse_window(text: Any) -> SendWindow:
    """``"08:00-21:00"`` -> SendWindow; ValueError unless it lies within the TCPA's hours."""
    m = _WINDOW.match(text) if isinstance(text, str) else None
    start = int(m.group(1)) * 60 + int(m.group(2)) if m else -1
    end = int(m.group(3)) * 60 + int(m.group(4)) if m else -1
    if not m or not 0 <= start < end <= 24 * 60:
        raise ValueError(f"expected hours such as '08:00-21:00' or 'clinic', got {text!r}")
    if start < TCPA_WINDOW.start or end > TCPA_WINDOW.end:
        raise ValueError(
            f"{text!r} reaches outside 08:00-21:00, the hours US rules (TCPA, 47 CFR "
            "64.1200(c)(1)) allow texts in"
        )
    return SendWindow(start, end)


def format_window(window: SendWindow) -> str:
    def hhmm(minutes: int) -> str:
        return f"{minutes // 60:02d}:{minutes % 60:02d}"

    return f"{hhmm(window.start)}-{hhmm(window.end)}"


def parse_nudge(raw: Any, err: Any) -> Nudge:
    """``[nudge]`` of a plan file; ``err(where, what)`` makes the error to raise."""
    if not isinstance(raw, Mapping):
        raise err("nudge", "expected a table")
    if set(raw) - _NUDGE_FIELDS:
        raise err("nudge", f"unknown field(s) {sorted(set(raw) - _NUDGE_FIELDS)}")
    defaults = Nudge()
    values: dict[str, Any] = {}
    for name in ("after", "window", "answer_within"):
        if name not in raw:
            continue
        try:
            values[name] = parse_duration(raw[name])
        except ValueError as exc:
            raise err(f"nudge.{name}", str(exc)) from None
        if values[name] <= timedelta(0):
            raise err(f"nudge.{name}", "must be positive")
    template = raw.get("template", defaults.template)
    if not isinstance(template, str) or not KEY.match(template):
        raise err("nudge.template", f"expected a template key, got {template!r}")
    return Nudge(**values, template=template)


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
            "safety": {"always": True, "no": False}.get(s.safety, s.safety),
            "nudge": s.nudge,
            "send_window": format_window(s.send_window) if s.send_window else "clinic",
        }
        if s.first:
            d["first"] = True
        if s.max_age is not None:
            d["max_age"] = format_duration(s.max_age)
        if s.lead:
            d["lead"] = format_duration(s.lead)
        if s.regions_template:
            d["regions_template"] = s.regions_template
            d["regions"] = sorted(s.regions)
        steps.append(d)
    n = plan.nudge
    data: dict[str, Any] = {
        "limits": {
            "max_per_day": plan.max_per_day,
            "max_per_week": plan.max_per_week,
            "safety_hold": format_duration(plan.safety_hold),
        },
        "nudge": {
            "after": format_duration(n.after),
            "window": format_duration(n.window),
            "answer_within": format_duration(n.answer_within),
            "template": n.template,
        },
        "steps": steps,
    }
    if plan.region_names:
        data["regions"] = dict(sorted(plan.region_names.items()))
    return data
