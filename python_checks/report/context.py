"""What every section of the report works with: the marts, their dbt status,
the document being written and the charts drawn."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from python_checks.document import Document
from python_checks.report.charts import save_figure
from python_checks.report.formats import numeric
from python_checks.report.marts import Mart, MartStatus


@dataclass
class ReportContext:
    output_dir: Path
    charts_dir: Path
    marts: dict[str, Mart]
    statuses: dict[str, MartStatus]
    doc: Document
    run_results: Path | None = None
    project_dir: Path | None = None
    charts: list[Path] = field(default_factory=list)
    glance: list[str] = field(default_factory=list)

    def frame(self, name: str) -> pd.DataFrame:
        frame = self.marts[name].frame
        assert frame is not None
        return frame

    def available(self, *names: str) -> bool:
        """True when every mart is usable; otherwise says which is not, in the section."""
        missing = [self.marts[n] for n in names if self.marts[n].frame is None]
        for mart in missing:
            self.doc.note(f"Not available in this run: mart `{mart.name}` {mart.problem} "
                          f"(dbt: {self.statuses[mart.name].label}).")
        return not missing

    def source(self, *names: str) -> str:
        """'mart `x` (tests passed in this run (12 of 12))' for a caption."""
        return "; ".join(f"mart `{n}`: {self.statuses[n].label}" for n in names)

    def chart(self, name: str, fig: Any, alt: str, caption: str) -> None:
        path = save_figure(fig, self.charts_dir / f"{name}.png")
        self.charts.append(path)
        self.doc.figure(path, alt, caption)


def guarded(ctx: ReportContext, key: str, builder: Callable[[ReportContext], None]) -> None:
    """Run one section; data the section cannot read (e.g. a mart of nulls) is said in
    the section instead of stopping the whole report."""
    try:
        builder(ctx)
    except Exception as exc:  # noqa: BLE001 - reported in the section itself
        ctx.doc.note(f"This part could not be written from the exported marts: "
                     f"{type(exc).__name__}: {exc}.")
        ctx.glance.append(f"**{key}** could not be written ({type(exc).__name__}: {exc}).")


def unavailable_answer(ctx: ReportContext, *names: str) -> str:
    missing = [n for n in names if ctx.marts[n].frame is None]
    return "not available in this run (" + ", ".join(
        f"mart `{n}` {ctx.marts[n].problem.split(' (')[0] if ctx.marts[n].problem else ''}"
        for n in missing) + ")."


def largest_cities(ctx: ReportContext, count: int) -> tuple[list[int], str]:
    """The largest known cities: by all-rows amount from advice_cities when it exists, else
    by the Q1 mart's own top-5 totals over the whole period (a proxy)."""
    if ctx.marts["advice_cities"].frame is not None:
        cities = numeric(ctx.frame("advice_cities"), "city_id", "all_rows_amount")
        cities = cities[cities["city_id"].notna() & (cities["city_id"] != -1)]
        ranked = cities.sort_values(["all_rows_amount", "city_id"], ascending=[False, True])
        return ([int(c) for c in ranked["city_id"].head(count)],
                "largest cities by total purchase amount, all rows (from `advice_cities`)")
    top = numeric(ctx.frame("top_merchants_by_month_city"), "city_id", "purchase_total")
    top = top[top["city_id"].notna() & (top["city_id"] != -1)]
    totals = top.groupby("city_id")["purchase_total"].sum().reset_index()
    ranked = totals.sort_values(["purchase_total", "city_id"], ascending=[False, True])
    return ([int(c) for c in ranked["city_id"].head(count)],
            "largest cities by the summed sales of their monthly top-5 merchants (a proxy: "
            "`advice_cities` is not available)")


