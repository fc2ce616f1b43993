"""The clinic reports' four charts, drawn from :class:`~followup.desk.metrics.Metrics` with
:func:`~followup.desk.charts.column_chart`. Each chart's description says its figure in
words (what a screen reader reads); the page's tables give every value. Pure."""

from __future__ import annotations

from dataclasses import dataclass

from followup.desk.charts import Series, column_chart
from followup.desk.metrics import KIND_NAMES, KINDS, Metrics


@dataclass(frozen=True)
class Drawn:
    svg: str
    summary: str


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def _period_words(m: Metrics) -> str:
    return f"the last {m.days} days, per {m.by}"


def delivery(m: Metrics) -> Drawn:
    total = m.delivery_total
    known = total.delivered + total.undelivered + total.failed
    if known + total.awaiting == 0:
        summary = f"No text was sent in {_period_words(m)}."
    elif known == 0:
        summary = f"{total.awaiting} texts sent in {_period_words(m)}, none with a receipt yet."
    else:
        summary = (
            f"{_percent(total.rate)}% delivered of {known} texts with a carrier's receipt in "
            f"{_period_words(m)}; {total.awaiting} awaiting one."
        )
    svg = column_chart(
        chart_id="delivery", title="Delivery rate", summary=summary,
        categories=[d.label for d in m.delivery],
        series=[Series("Delivered", tuple(_percent(d.rate) for d in m.delivery), "bar-a")],
        y_label="Delivered (%)", x_label=f"{m.by.capitalize()} sent", unit="%", high=100,
    )  # fmt: skip
    return Drawn(svg, summary)


def replies(m: Metrics) -> Drawn:
    total = m.replies_total
    summary = (
        f"No check-in was sent in {_period_words(m)}."
        if total.sent == 0
        else f"{_percent(total.rate)}% of {total.sent} check-ins answered in {_period_words(m)}."
    )
    svg = column_chart(
        chart_id="replies", title="Reply rate to check-ins", summary=summary,
        categories=[r.label for r in m.replies],
        series=[Series("Answered", tuple(_percent(r.rate) for r in m.replies), "bar-b")],
        y_label="Answered (%)", x_label=f"{m.by.capitalize()} sent", unit="%", high=100,
    )  # fmt: skip
    return Drawn(svg, summary)


def flags(m: Metrics) -> Drawn:
    per_kind = {k: sum(getattr(f, k) for f in m.flags) for k in KINDS}
    total = sum(per_kind.values())
    summary = (
        f"No flag was raised in {_period_words(m)}."
        if total == 0
        else f"{total} flags raised in {_period_words(m)}: "
        + ", ".join(f"{per_kind[k]} {KIND_NAMES[k].lower()}" for k in KINDS)
        + "."
    )
    svg = column_chart(
        chart_id="flags", title="Flags raised, by kind", summary=summary,
        categories=[f.label for f in m.flags],
        series=[Series(KIND_NAMES[k], tuple(float(getattr(f, k)) for f in m.flags), f"kind-{k}")
                for k in KINDS],
        y_label="Flags raised", x_label=f"{m.by.capitalize()} raised", stacked=True,
        has_data=total > 0,
    )  # fmt: skip
    return Drawn(svg, summary)


def acknowledgement(m: Metrics) -> Drawn:
    done = [a for a in m.acknowledgement if a.acknowledged]
    summary = (
        f"No flag raised in {_period_words(m)} has been acknowledged."
        if not done
        else "Median minutes to acknowledge: "
        + ", ".join(f"{KIND_NAMES[a.kind].lower()} {a.median_minutes:.0f}" for a in done)
        + "."
    )
    figures = m.acknowledgement
    svg = column_chart(
        chart_id="ack", title="Time to acknowledge a flag", summary=summary,
        categories=[KIND_NAMES[a.kind] for a in figures],
        series=[Series("Median", tuple(a.median_minutes for a in figures), "bar-a"),
                Series("90th percentile", tuple(a.p90_minutes for a in figures), "bar-b")],
        y_label="Minutes", x_label="Kind of flag", unit=" min",
    )  # fmt: skip
    return Drawn(svg, summary)


def all_charts(m: Metrics) -> dict[str, Drawn]:
    return {"delivery": delivery(m), "replies": replies(m), "flags": flags(m),
            "acknowledgement": acknowledgement(m)}  # fmt: skip
