"""The stakeholder report: Q1–Q5 answered in words, tables and charts.

`write_report` reads what `billups run` exports (OUTPUT_DIR/marts/<mart>.csv and
OUTPUT_DIR/quality/row_ledger.csv) plus dbt's run_results.json and manifest.json
(for each mart's build and test status), and writes

- OUTPUT_DIR/report.md      Markdown, charts referenced as charts/<name>.png
- OUTPUT_DIR/report.html    the same report, self-contained (inline CSS, charts
                            embedded as base64 data URIs, no external resources)
- OUTPUT_DIR/charts/*.png   the charts

Every figure names the mart it was drawn from and whether that mart's dbt tests
passed in the run. A mart that is missing, empty or lacks a contract column is
reported as such in its section; the rest of the report is still written.
"""

from __future__ import annotations

import csv
import json
import math
import re
import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from python_checks.document import DPI, Document, render_html, render_markdown

PROJECT_NAME = "billups_analytics"

# The export contract (SPEC "Mart columns"): the columns the report reads.
MART_COLUMNS: dict[str, tuple[str, ...]] = {
    "top_merchants_by_month_city": (
        "month", "month_label", "city_id", "rank", "merchant_id", "merchant_name",
        "purchase_total", "no_of_sales"),
    "avg_sale_by_merchant_state": (
        "rank", "merchant_id", "merchant_name", "state_id", "average_amount", "no_of_sales",
        "purchase_total"),
    "top_hours_by_category": (
        "category", "rank", "hour", "hour_label", "purchase_total", "no_of_sales"),
    "popular_merchant_cities": (
        "merchant_rank", "merchant_id", "merchant_name", "merchant_transactions", "city_id",
        "city_transactions", "city_share", "rank_in_city", "registered_city_id"),
    "city_category_mix": (
        "city_id", "category", "no_of_sales", "city_share", "overall_share", "lift"),
    "city_category_association": (
        "n", "n_cities", "n_categories", "chi_square", "degrees_of_freedom", "cramers_v",
        "cramers_v_corrected", "strength", "excluded_unknown_city_rows"),
    "advice_cities": (
        "rank", "city_id", "approved_amount", "approved_share", "approved_count",
        "average_ticket", "distinct_merchants", "amount_per_merchant", "growth_rate",
        "all_rows_amount"),
    "advice_categories": (
        "rank", "category", "approved_amount", "approved_share", "approved_count",
        "average_ticket", "distinct_merchants", "amount_per_merchant", "all_rows_amount"),
    "advice_months": (
        "month", "month_label", "approved_amount", "approved_count", "observed_days",
        "amount_per_observed_day", "seasonality_index", "is_partial_month"),
    "advice_hours": ("hour", "hour_label", "approved_amount", "approved_count", "approved_share"),
    "advice_opening_window": (
        "opening_hour", "closing_hour", "hours_open", "coverage", "coverage_target"),
    "advice_installments": (
        "scenario", "plan_type", "installments", "approved_exposure", "all_rows_exposure",
        "approved_count", "average_ticket", "p_default", "expected_profit_rate",
        "expected_profit", "single_payment_profit", "break_even_uplift", "is_recommended"),
}
REPORT_MARTS = tuple(MART_COLUMNS)

# Text columns: read as strings so '0900' and ids keep their exact spelling.
_TEXT_COLUMNS = ("merchant_id", "merchant_name", "category", "month_label", "hour_label",
                 "scenario", "plan_type", "strength", "month")

# Choices the report itself makes (listed in the assumptions section).
Q1_CITIES = 4               # panels in the Q1 chart: the largest cities
Q2_MIN_SALES = 30           # Q2 table: pairs with at least this many sales
HEATMAP_CITIES = 15         # Q4b heat map: the largest cities by number of sales
TOP_CITIES_SHOWN = 10       # Q5a table and chart

_ACCENT = "#2f6db5"
_MUTED = "#b8c4d6"
_NEGATIVE = "#c0504d"
_CAPTION_GREY = "#555555"


@dataclass
class ReportPaths:
    """What `write_report` wrote."""

    markdown: Path
    html: Path
    charts: list[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- #
# Formatting for humans
# --------------------------------------------------------------------------- #

def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_int(value: Any) -> str:
    """1234567 -> '1,234,567'."""
    return "–" if _missing(value) else f"{round(float(value)):,}"


def fmt_amount(value: Any, decimals: int = 0) -> str:
    """Money with thousands separators: 1234567.891 -> '1,234,568'."""
    return "–" if _missing(value) else f"{float(value):,.{decimals}f}"


def fmt_compact(value: Any) -> str:
    """Large amounts in prose and on bars: 21979580633 -> '22.0 bn', 68891733 -> '68.9 M'."""
    if _missing(value):
        return "–"
    number = float(value)
    size = abs(number)
    if size >= 1e9:
        return f"{number / 1e9:,.1f} bn"
    if size >= 1e6:
        return f"{number / 1e6:,.1f} M"
    if size >= 1e4:
        return f"{number / 1e3:,.1f} k"
    return f"{number:,.0f}"


def fmt_pct(value: Any, signed: bool = False) -> str:
    """A fraction as a percent with 1 decimal: 0.1645 -> '16.4%'."""
    if _missing(value):
        return "–"
    number = round(float(value) * 100, 1) + 0.0  # + 0.0 turns -0.0 into 0.0
    return f"{number:+,.1f}%" if signed else f"{number:,.1f}%"


def fmt_hour(hour: Any) -> str:
    return "–" if _missing(hour) else f"{int(hour) % 24:02d}:00"


def fmt_window(opening: int, closing: int) -> str:
    return f"{fmt_hour(opening)}–{'24:00' if closing in (0, 24) else fmt_hour(closing)}"


def city_label(city_id: Any) -> str:
    if _missing(city_id) or int(city_id) == -1:
        return "Unknown city"
    return f"City {int(city_id)}"


def state_label(state_id: Any) -> str:
    if _missing(state_id) or int(state_id) == -1:
        return "Unknown state"
    return f"State {int(state_id)}"


def category_label(category: Any) -> str:
    if _missing(category):
        return "Unknown category"
    text = str(category)
    return text if " " in text else f"Category {text}"


def merchant_label(merchant_id: Any, merchant_name: Any, width: int | None = None) -> str:
    """The resolved name; the id when the name is the id (unresolved); null id -> unknown."""
    if _missing(merchant_id):
        label = "Unknown merchant" if _missing(merchant_name) else str(merchant_name)
    elif _missing(merchant_name) or str(merchant_name) == str(merchant_id):
        label = str(merchant_id)
    else:
        label = str(merchant_name)
    if width and len(label) > width:
        label = label[: width - 1] + "…"
    return label


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _as_bool(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip().str.lower()
    return text.isin(["true", "1", "yes", "y", "t"]).fillna(False).astype(bool)


def _num(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    frame = frame.copy()
    for column in columns:
        frame[column] = pd.to_numeric(frame[column], errors="coerce")
    return frame


def _extreme_row(frame: pd.DataFrame, column: str, mart: str, largest: bool = True) -> pd.Series:
    """The row with the largest (or smallest) value of a numeric column. A column
    with no number at all (empty or text cells, coerced to NaN by _num) is a
    mart the section cannot read: say which mart and column, rather than let
    pandas pick a row from nothing."""
    values = frame[column]
    if not values.notna().any():
        raise ValueError(f"mart `{mart}` has no numeric value in column `{column}` "
                         f"({len(values)} row(s), all empty or not a number)")
    return frame.loc[values.idxmax() if largest else values.idxmin()]


# --------------------------------------------------------------------------- #
# Marts and their dbt status
# --------------------------------------------------------------------------- #

@dataclass
class Mart:
    """One exported mart, or why it cannot be used."""

    name: str
    frame: pd.DataFrame | None
    problem: str | None = None

    @property
    def rows(self) -> int:
        return 0 if self.frame is None else len(self.frame)


def load_mart(marts_dir: Path, name: str) -> Mart:
    path = marts_dir / f"{name}.csv"
    if not path.exists():
        return Mart(name, None, f"was not found ({path.name} is not in {marts_dir}): it was "
                                "not built or not exported in this run")
    try:
        header = pd.read_csv(path, nrows=0).columns
        frame = pd.read_csv(path, dtype={c: "string" for c in _TEXT_COLUMNS if c in header})
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        return Mart(name, None, f"could not be read ({exc})")
    lacking = [c for c in MART_COLUMNS.get(name, ()) if c not in frame.columns]
    if lacking:
        return Mart(name, None, f"lacks the contract column(s) {', '.join(lacking)}")
    if frame.empty:
        return Mart(name, None, "is empty (0 rows)")
    return Mart(name, frame)


@dataclass
class MartStatus:
    """The outcome of a mart's build and its tests in one dbt run."""

    mart: str
    known: bool = True          # False: no run_results.json to read
    build: str | None = None    # success / error / skipped; None: not in the results
    passed: int = 0
    warned: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def tests(self) -> int:
        return self.passed + self.warned + self.skipped + len(self.failed)

    @property
    def label(self) -> str:
        """'tests passed (12 of 12)', 'tests failed (1 of 12: ...)', ..."""
        if not self.known:
            return "test status unknown (no dbt run results)"
        if self.build == "error":
            return "build failed in this run"
        if self.build == "skipped":
            return "not built in this run (skipped after an upstream failure)"
        if self.failed:
            names = ", ".join(self.failed[:2]) + (", …" if len(self.failed) > 2 else "")
            return f"tests failed in this run ({len(self.failed)} of {self.tests}: {names})"
        if self.build is None and not self.tests:
            return "not in this run's dbt results"
        if not self.tests:
            return "built in this run, no tests ran"
        extra = []
        if self.warned:
            extra.append(f"{self.warned} warned")
        if self.skipped:
            extra.append(f"{self.skipped} skipped")
        more = f", {', '.join(extra)}" if extra else ""
        return f"tests passed in this run ({self.passed} of {self.tests}{more})"


def _test_name(test_id: str, node: dict[str, Any] | None) -> str:
    if node and node.get("name"):
        return str(node["name"])
    parts = test_id.split(".")
    if parts[0] == "test" and len(parts) >= 4 and re.fullmatch(r"[0-9a-f]{10}", parts[-1]):
        return parts[-2]
    return parts[-1]


def _test_models(test_id: str, node: dict[str, Any] | None, marts: Iterable[str]) -> list[str]:
    """Model names a test checks: the manifest's attached_node, else its model parents;
    without a manifest, guessed from the id."""
    if node:
        attached = node.get("attached_node")
        parents = [attached] if attached else node.get("depends_on", {}).get("nodes", [])
        return [p.split(".")[-1] for p in parents if str(p).startswith("model.")]
    parts = test_id.split(".")
    if parts[0] == "unit_test" and len(parts) >= 4:
        return [parts[2]]
    found = [mart for mart in marts if mart in test_id]
    return [max(found, key=len)] if found else []


def mart_statuses(run_results: Path | None, marts: Sequence[str] = REPORT_MARTS
                  ) -> dict[str, MartStatus]:
    """Each mart's build status and test outcomes from run_results.json, mapping tests
    to models through the manifest.json beside it."""
    if run_results is None or not Path(run_results).exists():
        return {mart: MartStatus(mart, known=False) for mart in marts}
    run_results = Path(run_results)
    records = json.loads(run_results.read_text()).get("results", [])
    manifest_path = run_results.parent / "manifest.json"
    manifest: dict[str, Any] = (json.loads(manifest_path.read_text())
                                if manifest_path.exists() else {})
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    statuses = {mart: MartStatus(mart) for mart in marts}
    for record in records:
        unique_id = str(record.get("unique_id", ""))
        status = str(record.get("status", "")).lower()
        if unique_id.startswith("model."):
            model = unique_id.split(".")[-1]
            if model in statuses:
                statuses[model].build = status
            continue
        if not unique_id.startswith(("test.", "unit_test.")):
            continue
        node = nodes.get(unique_id)
        for model in _test_models(unique_id, node, marts):
            if model not in statuses:
                continue
            target = statuses[model]
            if status in {"fail", "error", "runtime error"}:
                target.failed.append(_test_name(unique_id, node))
            elif status == "warn":
                target.warned += 1
            elif status == "skipped":
                target.skipped += 1
            else:
                target.passed += 1
    return statuses


# --------------------------------------------------------------------------- #
# Charts (matplotlib's object API on the Agg canvas: no pyplot global state)
# --------------------------------------------------------------------------- #

def _figure(width: float, height: float, caption: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    # The source caption is the figure's x label, so the layout keeps room for it.
    fig.supxlabel(textwrap.fill(caption.replace("`", ""), width=int(width * 15)), x=0.01,
                  ha="left",
                  fontsize=8, color=_CAPTION_GREY)
    return fig


def _save(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def _style(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=9)


def _compact_axis(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda value, _pos: fmt_compact(value))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)


def _pct_axis(ax: Any, axis: str = "y", decimals: int = 0) -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda value, _pos: f"{value * 100:.{decimals}f}%")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)


# --------------------------------------------------------------------------- #
# The report
# --------------------------------------------------------------------------- #

@dataclass
class _Context:
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
        path = _save(fig, self.charts_dir / f"{name}.png")
        self.charts.append(path)
        self.doc.figure(path, alt, caption)


def _guarded(ctx: _Context, key: str, builder: Callable[[_Context], None]) -> None:
    """Run one section; data the section cannot read (e.g. a mart of nulls) is said in
    the section instead of stopping the whole report."""
    try:
        builder(ctx)
    except Exception as exc:  # noqa: BLE001 - reported in the section itself
        ctx.doc.note(f"This part could not be written from the exported marts: "
                     f"{type(exc).__name__}: {exc}.")
        ctx.glance.append(f"**{key}** could not be written ({type(exc).__name__}: {exc}).")


def _unavailable_answer(ctx: _Context, *names: str) -> str:
    missing = [n for n in names if ctx.marts[n].frame is None]
    return "not available in this run (" + ", ".join(
        f"mart `{n}` {ctx.marts[n].problem.split(' (')[0] if ctx.marts[n].problem else ''}"
        for n in missing) + ")."


def _largest_cities(ctx: _Context, count: int) -> tuple[list[int], str]:
    """The largest known cities: by all-rows amount from advice_cities when it exists, else
    by the Q1 mart's own top-5 totals over the whole period (a proxy)."""
    if ctx.marts["advice_cities"].frame is not None:
        cities = _num(ctx.frame("advice_cities"), "city_id", "all_rows_amount")
        cities = cities[cities["city_id"].notna() & (cities["city_id"] != -1)]
        ranked = cities.sort_values(["all_rows_amount", "city_id"], ascending=[False, True])
        return ([int(c) for c in ranked["city_id"].head(count)],
                "largest cities by total purchase amount, all rows (from `advice_cities`)")
    top = _num(ctx.frame("top_merchants_by_month_city"), "city_id", "purchase_total")
    top = top[top["city_id"].notna() & (top["city_id"] != -1)]
    totals = top.groupby("city_id")["purchase_total"].sum().reset_index()
    ranked = totals.sort_values(["purchase_total", "city_id"], ascending=[False, True])
    return ([int(c) for c in ranked["city_id"].head(count)],
            "largest cities by the summed sales of their monthly top-5 merchants (a proxy: "
            "`advice_cities` is not available)")


def _section_q1(ctx: _Context) -> None:
    doc = ctx.doc
    doc.heading(2, "Q1. Top 5 merchants by purchase amount, per month and city")
    mart = "top_merchants_by_month_city"
    if not ctx.available(mart):
        ctx.glance.append("**Q1** " + _unavailable_answer(ctx, mart))
        return
    top = _num(ctx.frame(mart), "city_id", "rank", "purchase_total", "no_of_sales")
    top["month"] = pd.to_datetime(top["month"], errors="coerce")
    months = top.drop_duplicates("month").sort_values("month")
    city_months = top.drop_duplicates(["month", "city_id"]).shape[0]
    leaders = top[top["rank"] == 1]
    leader_counts = leaders.groupby(["merchant_id", "merchant_name"], dropna=False).size()
    leader_counts = leader_counts.sort_values(ascending=False)
    (best_id, best_name), best_n = leader_counts.index[0], int(leader_counts.iloc[0])
    cities, how = _largest_cities(ctx, Q1_CITIES)
    latest, latest_label, skipped = _q1_month(ctx, top, months, cities)
    latest_rows = top[(top["month"] == latest) & top["city_id"].isin(cities)]
    first = latest_rows[latest_rows["city_id"] == cities[0]].sort_values("rank") \
        if cities else latest_rows.iloc[0:0]
    if len(first):
        lead = first.iloc[0]
        sentence = (
            f"In {latest_label}, the largest city, {city_label(cities[0])}, was led by "
            f"**{merchant_label(lead['merchant_id'], lead['merchant_name'])}** with "
            f"{fmt_compact(lead['purchase_total'])} of purchases "
            f"({fmt_int(lead['no_of_sales'])} sales). Over the whole period "
            f"({months['month_label'].iloc[0]}–{months['month_label'].iloc[-1]}, "
            f"{_plural(int(top['city_id'].nunique()), 'city', 'cities')}, "
            f"{city_months:,} city-months), "
            f"**{merchant_label(best_id, best_name)}** is the number-1 merchant in "
            f"{best_n:,} city-months ({fmt_pct(best_n / city_months)})."
        )
    else:
        sentence = (f"The mart ranks the top 5 merchants in {city_months:,} city-months; "
                    f"{merchant_label(best_id, best_name)} leads {best_n:,} of them.")
    doc.answer(sentence)
    ctx.glance.append("**Q1** " + sentence)
    later = (f" Later months ({', '.join(skipped)}) are partial or lack these cities, so "
             "they are left out of this view." if skipped else "")
    doc.para(f"The table and chart show {latest_label}, the most recent full month, for the "
             f"{len(cities)} {how}; unknown cities are left out of this selection.{later} "
             f"Every month and city is in `marts/{mart}.csv` ({len(top):,} rows).")
    rows = []
    for city in cities:
        for _, row in latest_rows[latest_rows["city_id"] == city].sort_values("rank").iterrows():
            rows.append([city_label(city), fmt_int(row["rank"]),
                         merchant_label(row["merchant_id"], row["merchant_name"]),
                         fmt_amount(row["purchase_total"]), fmt_int(row["no_of_sales"])])
    doc.table(["City", "Rank", "Merchant", "Purchase total", "Sales"], rows,
              [False, True, False, True, True])
    if not cities or latest_rows.empty:
        return
    _chart_q1(ctx, latest_rows, cities, latest_label, mart)


def _q1_month(ctx: _Context, top: pd.DataFrame, months: pd.DataFrame, cities: list[int]
              ) -> tuple[Any, str, list[str]]:
    """The month the Q1 view shows: the latest month that is not partial (per
    advice_months) and has rows for the largest city; the later months it skipped."""
    partial: set[str] = set()
    if ctx.marts["advice_months"].frame is not None:
        flags = ctx.frame("advice_months")
        partial = set(flags.loc[_as_bool(flags["is_partial_month"]), "month_label"].astype(str))
    present = set(top.loc[top["city_id"] == cities[0], "month"]) if cities else set()
    ordered = list(months[["month", "month_label"]].itertuples(index=False))[::-1]
    skipped: list[str] = []
    for month, label in ordered:
        if str(label) not in partial and (not present or month in present):
            return month, str(label), skipped[::-1]
        skipped.append(str(label))
    month, label = ordered[0]
    return month, str(label), []


def _chart_q1(ctx: _Context, rows: pd.DataFrame, cities: list[int], label: str,
              mart: str) -> None:
    sources = [mart] + (["advice_cities"] if ctx.marts["advice_cities"].frame is not None
                        else [])
    caption = f"Source: {ctx.source(*sources)}."
    ncols = 2 if len(cities) > 1 else 1
    nrows = math.ceil(len(cities) / ncols)
    fig = _figure(11, 2.3 * nrows + 1.2, caption)
    axes = np.atleast_1d(fig.subplots(nrows, ncols)).ravel()
    appearances = rows.groupby("merchant_id", dropna=False)["city_id"].nunique()
    shared = [m for m in appearances.index if appearances[m] > 1]
    palette = ["#2f6db5", "#e07b39", "#3a9e6a", "#8c5bb5", "#c9a227", "#c0504d", "#4bacc6"]
    colours = {m: palette[i % len(palette)] for i, m in enumerate(shared)}
    vmax = float(rows["purchase_total"].max())
    for ax, city in zip(axes, cities, strict=False):
        data = rows[rows["city_id"] == city].sort_values("rank", ascending=False)
        labels = [f"{int(r['rank'])}. {merchant_label(r['merchant_id'], r['merchant_name'], 26)}"
                  for _, r in data.iterrows()]
        bar_colours = [colours.get(m, _MUTED) for m in data["merchant_id"]]
        ax.barh(labels, data["purchase_total"], color=bar_colours)
        for y, (_, r) in enumerate(data.iterrows()):
            ax.text(r["purchase_total"] + vmax * 0.01, y,
                    f"{fmt_compact(r['purchase_total'])} · {fmt_int(r['no_of_sales'])} sales",
                    va="center", fontsize=8)
        ax.set_xlim(0, vmax * 1.45)
        ax.set_title(city_label(city), fontsize=11, loc="left", fontweight="bold")
        _compact_axis(ax)
        _style(ax)
    for ax in axes[len(cities):]:
        ax.set_visible(False)
    note = " (same colour = same merchant in several of these cities)" if shared else ""
    fig.suptitle(f"Q1 · Top 5 merchants by purchase amount in {label}, "
                 f"{len(cities)} largest cities{note}", fontsize=12, x=0.01, ha="left")
    ctx.chart("q1_top_merchants_largest_cities", fig,
              f"Top 5 merchants in {label} for the {len(cities)} largest cities",
              f"Top 5 merchants by purchase amount in {label} in the {len(cities)} largest "
              f"cities. {caption}")


def _section_q2(ctx: _Context) -> None:
    doc = ctx.doc
    doc.heading(2, "Q2. Average sale amount of each merchant in each state")
    mart = "avg_sale_by_merchant_state"
    if not ctx.available(mart):
        ctx.glance.append("**Q2** " + _unavailable_answer(ctx, mart))
        return
    avg = _num(ctx.frame(mart), "rank", "state_id", "average_amount", "no_of_sales",
               "purchase_total").sort_values("rank")
    pairs, merchants = len(avg), int(avg["merchant_id"].nunique(dropna=False))
    states = int(avg["state_id"].nunique(dropna=False))
    per_merchant = avg.groupby("merchant_id", dropna=False)["state_id"].nunique(dropna=False)
    one_state = float((per_merchant == 1).mean())
    weighted = float(avg["purchase_total"].sum() / avg["no_of_sales"].sum())
    median = float(avg["average_amount"].median())
    steady = avg[avg["no_of_sales"] >= Q2_MIN_SALES].sort_values("rank")
    first = avg.iloc[0]
    sentence = (
        f"{pairs:,} merchant–state pairs ({merchants:,} merchants in {states:,} states, "
        f"{fmt_pct(one_state)} of merchants selling in one state only). The typical pair "
        f"averages {fmt_amount(median, 2)} per sale (median; {fmt_amount(weighted, 2)} over "
        f"all sales). The highest average, {fmt_amount(first['average_amount'], 2)}, is "
        f"{merchant_label(first['merchant_id'], first['merchant_name'])} in "
        f"{state_label(first['state_id'])} on {_plural(int(first['no_of_sales']), 'sale')}"
    )
    if len(steady):
        lead = steady.iloc[0]
        sentence += (
            f"; among pairs with at least {Q2_MIN_SALES} sales it is "
            f"**{merchant_label(lead['merchant_id'], lead['merchant_name'])}** in "
            f"{state_label(lead['state_id'])}: {fmt_amount(lead['average_amount'], 2)} over "
            f"{fmt_int(lead['no_of_sales'])} sales."
        )
    else:
        sentence += "."
    doc.answer(sentence)
    ctx.glance.append("**Q2** " + sentence)
    doc.para(f"Averages built on one or two sales are noisy, so the table lists the highest "
             f"averages among pairs with at least {Q2_MIN_SALES} sales (the mart's own rank "
             f"is kept). Every pair is in `marts/{mart}.csv`.")
    shown = steady.head(10) if len(steady) else avg.head(10)
    doc.table(["Mart rank", "Merchant", "State", "Average sale", "Sales", "Purchase total"],
              [[fmt_int(r["rank"]), merchant_label(r["merchant_id"], r["merchant_name"]),
                state_label(r["state_id"]), fmt_amount(r["average_amount"], 2),
                fmt_int(r["no_of_sales"]), fmt_amount(r["purchase_total"])]
               for _, r in shown.iterrows()],
              [True, False, False, True, True, True])


def _section_q3(ctx: _Context) -> None:
    doc = ctx.doc
    doc.heading(2, "Q3. Top 3 hours by purchase amount, per category")
    mart = "top_hours_by_category"
    if not ctx.available(mart):
        ctx.glance.append("**Q3** " + _unavailable_answer(ctx, mart))
        return
    hours = _num(ctx.frame(mart), "rank", "hour", "purchase_total", "no_of_sales")
    hours = hours.sort_values(["category", "rank"], na_position="last")
    categories = list(dict.fromkeys(hours["category"]))
    peaks = []
    for category in categories:
        data = hours[hours["category"] == category]
        top = data.iloc[0]
        others = " and ".join(fmt_hour(h) for h in data["hour"].iloc[1:])
        peaks.append(f"{category_label(category)} at **{fmt_hour(top['hour'])}** "
                     f"({fmt_compact(top['purchase_total'])})"
                     + (f", then {others}" if others else ""))
    sentence = "Sales peak at: " + "; ".join(peaks) + "."
    doc.answer(sentence)
    ctx.glance.append("**Q3** " + sentence)
    doc.table(["Category", "Rank", "Hour", "Purchase total", "Sales"],
              [[category_label(r["category"]), fmt_int(r["rank"]),
                f"{fmt_hour(r['hour'])}–{fmt_hour((int(r['hour']) + 1) % 24)}",
                fmt_amount(r["purchase_total"]), fmt_int(r["no_of_sales"])]
               for _, r in hours.iterrows()],
              [False, True, False, True, True])
    caption = f"Source: {ctx.source(mart)}."
    fig = _figure(11, 3.9, caption)
    axes = np.atleast_1d(fig.subplots(1, len(categories)))
    for ax, category in zip(axes, categories, strict=True):
        data = hours[hours["category"] == category].sort_values("rank")
        labels = [f"#{int(r)}\n{fmt_hour(h)}" for r, h in zip(data["rank"], data["hour"],
                                                                strict=True)]
        colours = [_ACCENT if r == 1 else _MUTED for r in data["rank"]]
        ax.bar(labels, data["purchase_total"], color=colours)
        for x, value in enumerate(data["purchase_total"]):
            ax.text(x, value, fmt_compact(value), ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, float(data["purchase_total"].max()) * 1.15)
        ax.set_title(category_label(category), fontsize=10, fontweight="bold")
        _compact_axis(ax, "y")
        _style(ax)
    fig.suptitle("Q3 · Top 3 hours of the day by purchase amount, per category "
                 "(each panel has its own scale)", fontsize=12, x=0.01, ha="left")
    ctx.chart("q3_top_hours_by_category", fig, "Top 3 hours per category",
              f"Top 3 hours by purchase amount for each category. {caption}")


def _section_q4(ctx: _Context) -> None:
    doc = ctx.doc
    doc.heading(2, "Q4. Where are the most popular merchants, and does location "
                "correlate with category?")
    doc.heading(3, "Q4a. Where the most popular merchants sell")
    mart = "popular_merchant_cities"
    if ctx.available(mart):
        _q4a(ctx, mart)
    else:
        ctx.glance.append("**Q4a** " + _unavailable_answer(ctx, mart))
    doc.heading(3, "Q4b. Location and category")
    if ctx.available("city_category_mix", "city_category_association"):
        _q4b(ctx)
    else:
        ctx.glance.append("**Q4b** " + _unavailable_answer(
            ctx, "city_category_mix", "city_category_association"))


def _q4a(ctx: _Context, mart: str) -> None:
    doc = ctx.doc
    pop = _num(ctx.frame(mart), "merchant_rank", "merchant_transactions", "city_id",
               "city_transactions", "city_share", "rank_in_city", "registered_city_id")
    pop = pop.sort_values(["merchant_rank", "city_transactions", "city_id"],
                          ascending=[True, False, True])
    merchants = pop.drop_duplicates("merchant_rank")
    total = float(merchants["merchant_transactions"].sum())
    by_city = pop.groupby("city_id", dropna=False)["city_transactions"].sum()
    by_city = by_city.sort_values(ascending=False)
    top_two = by_city.head(2)
    first = pop[pop["merchant_rank"] == merchants["merchant_rank"].iloc[0]]
    lead_city = first.iloc[0]
    lead_name = merchant_label(lead_city["merchant_id"], lead_city["merchant_name"])
    leaders_of_city = int(pop.groupby("merchant_rank").first()["rank_in_city"].eq(1).sum())
    sentence = (
        f"The {len(merchants)} most popular merchants (by number of transactions, "
        f"{fmt_int(total)} in all) sell mostly in "
        + " and ".join(f"{city_label(c)} ({fmt_pct(v / total)})" for c, v in top_two.items())
        + f". The most popular, **{lead_name}** "
        f"({fmt_int(lead_city['merchant_transactions'])} "
        f"transactions in {_plural(len(first), 'city', 'cities')}), makes "
        f"{fmt_pct(lead_city['city_share'])} of them in {city_label(lead_city['city_id'])}. "
        f"{leaders_of_city} of the {len(merchants)} "
        f"{'is' if leaders_of_city == 1 else 'are'} the number-1 merchant (by count) of "
        f"their own top city."
    )
    doc.answer(sentence)
    ctx.glance.append("**Q4a** " + sentence)
    rows = []
    for rank, data in pop.groupby("merchant_rank", sort=True):
        first_city, head = data.iloc[0], data.head(2)
        second = (f"{city_label(head.iloc[1]['city_id'])} ({fmt_pct(head.iloc[1]['city_share'])})"
                  if len(head) > 1 else "–")
        rows.append([fmt_int(rank),
                     merchant_label(first_city["merchant_id"], first_city["merchant_name"]),
                     fmt_int(first_city["merchant_transactions"]), fmt_int(len(data)),
                     f"{city_label(first_city['city_id'])} ({fmt_pct(first_city['city_share'])})",
                     fmt_int(first_city["rank_in_city"]), second,
                     city_label(first_city["registered_city_id"])])
    doc.table(["Rank", "Merchant", "Transactions", "Cities", "Top city (share)",
               "Rank in top city", "Second city (share)", "Registered city"], rows,
              [True, False, True, True, False, True, False, False])
    # Chart: each merchant's transactions split by the cities that matter most overall.
    shown = [c for c in by_city.index[:6]]
    caption = f"Source: {ctx.source(mart)}."
    fig = _figure(11, 0.42 * len(merchants) + 2.2, caption)
    ax = fig.subplots()
    palette = ["#2f6db5", "#e07b39", "#3a9e6a", "#8c5bb5", "#c9a227", "#4bacc6"]
    labels = [f"{int(r['merchant_rank'])}. "
              + merchant_label(r["merchant_id"], r["merchant_name"], 26)
              for _, r in merchants.iterrows()][::-1]
    left = np.zeros(len(merchants))
    order = list(merchants["merchant_rank"])[::-1]
    for i, city in enumerate([*shown, "other"]):
        shares = []
        for rank in order:
            data = pop[pop["merchant_rank"] == rank]
            if city == "other":
                shares.append(float(data.loc[~data["city_id"].isin(shown), "city_share"].sum()))
            else:
                match = data[data["city_id"] == city] if not _missing(city) \
                    else data[data["city_id"].isna()]
                shares.append(float(match["city_share"].sum()))
        colour = palette[i % len(palette)] if city != "other" else "#d9dde3"
        name = city_label(city) if city != "other" else "Other cities"
        ax.barh(labels, shares, left=left, color=colour, label=name, edgecolor="white")
        for y, (x0, share) in enumerate(zip(left, shares, strict=True)):
            if share >= 0.07:
                ax.text(x0 + share / 2, y, fmt_pct(share), ha="center", va="center",
                        fontsize=7.5, color="white" if city != "other" else "#333333")
        left += np.array(shares)
    ax.set_xlim(0, 1)
    _pct_axis(ax, "x")
    ax.set_xlabel("share of the merchant's transactions", fontsize=9)
    ax.legend(ncols=7, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              frameon=False)
    _style(ax)
    ax.set_title(f"Q4a · Where the {len(merchants)} most popular merchants sell "
                 "(share of each merchant's transactions by city)", fontsize=12)
    ctx.chart("q4a_popular_merchant_cities", fig, "Popular merchants by city",
              f"The {len(merchants)} most popular merchants' transactions split by city. "
              f"{caption}")


def _q4b(ctx: _Context) -> None:
    doc = ctx.doc
    mix = _num(ctx.frame("city_category_mix"), "city_id", "no_of_sales", "city_share",
               "overall_share", "lift")
    assoc = _num(ctx.frame("city_category_association"), "n", "n_cities", "n_categories",
                 "chi_square", "degrees_of_freedom", "cramers_v", "cramers_v_corrected",
                 "excluded_unknown_city_rows").iloc[0]
    strength = str(ctx.frame("city_category_association")["strength"].iloc[0])
    known = mix[mix["city_id"].notna() & (mix["city_id"] != -1)]
    size = known.groupby("city_id")["no_of_sales"].sum().sort_values(ascending=False)
    big = known[known["city_id"].isin(size.index[:30]) & (known["lift"] > 0)]
    extreme = big.loc[(np.log(big["lift"].clip(lower=1e-9))).abs().idxmax()] \
        if len(big) else None
    sentence = (
        f"Location and category are associated, **{strength}**: Cramér's V = "
        f"{assoc['cramers_v']:.3f} (bias-corrected {assoc['cramers_v_corrected']:.3f}; "
        f"0 = no association, 1 = each city sells one category) over "
        f"{fmt_int(assoc['n'])} transactions in {fmt_int(assoc['n_cities'])} cities and "
        f"{fmt_int(assoc['n_categories'])} categories (chi-square "
        f"{fmt_amount(assoc['chi_square'])}, {fmt_int(assoc['degrees_of_freedom'])} degrees "
        f"of freedom)."
    )
    if extreme is not None:
        sentence += (
            f" The strongest tilt among the 30 largest cities: {city_label(extreme['city_id'])} "
            f"makes {fmt_pct(extreme['city_share'])} of its sales in "
            f"{category_label(extreme['category'])} against {fmt_pct(extreme['overall_share'])} "
            f"overall (lift {extreme['lift']:.2f})."
        )
    doc.answer(sentence)
    ctx.glance.append("**Q4b** " + sentence)
    doc.para(f"{fmt_int(assoc['excluded_unknown_city_rows'])} transactions with an unknown "
             "city are left out of the statistic. Lift = the city's share of a category "
             "divided by the category's overall share (1.00 = the same as everywhere).")
    cities = list(size.index[:HEATMAP_CITIES])
    categories = sorted(mix["category"].dropna().unique(),
                        key=lambda c: (c == "Unknown category", c))
    share = known.pivot_table(index="city_id", columns="category", values="city_share",
                              aggfunc="sum").reindex(index=cities, columns=categories)
    lift = known.pivot_table(index="city_id", columns="category", values="lift",
                             aggfunc="sum").reindex(index=cities, columns=categories)
    overall = known.groupby("category")["overall_share"].first().reindex(categories)
    doc.table(["City", "Sales", *[category_label(c) for c in categories]],
              [[city_label(c), fmt_int(size[c]),
                *[f"{fmt_pct(share.loc[c, k])} (×{lift.loc[c, k]:.2f})" for k in categories]]
               for c in cities]
              + [["All cities", fmt_int(size.sum()),
                  *[fmt_pct(overall[k]) for k in categories]]],
              [False, True, *[True] * len(categories)])
    _chart_q4b(ctx, cities, categories, share, lift, overall, assoc, strength)


def _chart_q4b(ctx: _Context, cities: list[Any], categories: list[str], share: pd.DataFrame,
               lift: pd.DataFrame, overall: pd.Series, assoc: pd.Series, strength: str) -> None:
    from matplotlib.colors import TwoSlopeNorm

    caption = f"Source: {ctx.source('city_category_mix', 'city_category_association')}."
    fig = _figure(9.5, 0.42 * (len(cities) + 1) + 2.4, caption)
    ax = fig.subplots()
    values = np.log2(lift.to_numpy(dtype=float).clip(1e-3))
    values = np.vstack([values, np.zeros(len(categories))])
    bound = max(0.5, min(3.0, float(np.nanmax(np.abs(values)))))
    image = ax.imshow(values, cmap="RdBu_r", norm=TwoSlopeNorm(0, -bound, bound),
                      aspect="auto")
    for i in range(len(cities) + 1):
        for j, category in enumerate(categories):
            if i < len(cities):
                value, ratio = share.iloc[i, j], lift.iloc[i, j]
                text = "–" if _missing(value) else f"{fmt_pct(value)}  ×{ratio:.2f}"
            else:
                text = fmt_pct(overall[category])
            dark = abs(values[i, j]) > bound * 0.55 if not np.isnan(values[i, j]) else False
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if dark else "#1f2328",
                    fontweight="bold" if i == len(cities) else "normal")
    ax.set_xticks(range(len(categories)), [category_label(c) for c in categories], fontsize=9)
    ax.set_yticks(range(len(cities) + 1), [city_label(c) for c in cities] + ["All cities"],
                  fontsize=9)
    ax.xaxis.tick_top()
    ax.axhline(len(cities) - 0.5, color="#1f2328", linewidth=1)
    bar = fig.colorbar(image, ax=ax, shrink=0.8, pad=0.02)
    ticks = [t for t in (-3, -2, -1, 0, 1, 2, 3) if abs(t) <= bound]
    bar.set_ticks(ticks, labels=[f"×{2.0 ** t:g}" for t in ticks])
    bar.set_label("lift vs the overall mix (log scale)", fontsize=9)
    ax.set_title(f"Q4b · Category mix of the {len(cities)} largest cities (share of the city's "
                 f"sales, ×lift)\nCramér's V = {assoc['cramers_v']:.3f}: {strength}",
                 fontsize=11.5)
    ctx.chart("q4b_city_category_mix", fig, "City by category heat map",
              f"Share of each city's transactions by category, coloured by lift against the "
              f"overall mix, for the {len(cities)} cities with the most sales. {caption}")


def _section_q5(ctx: _Context) -> None:
    doc = ctx.doc
    doc.heading(2, "Q5. Advice for a new merchant")
    doc.para("Q5 ranks by **approved** transactions (the closer proxy of revenue); the "
             "all-rows figure is shown beside it where the mart has it.")
    for title, names, builder in (
        ("Q5a. Which cities to focus on", ("advice_cities",), _q5a),
        ("Q5b. Which categories to sell", ("advice_categories",), _q5b),
        ("Q5c. Months with interesting behaviour", ("advice_months",), _q5c),
        ("Q5d. Opening and closing hours", ("advice_hours", "advice_opening_window"), _q5d),
        ("Q5e. Should the merchant accept installments?", ("advice_installments",), _q5e),
    ):
        doc.heading(3, title)
        key = title.split(".")[0]
        if ctx.available(*names):
            _guarded(ctx, key, builder)
        else:
            ctx.glance.append(f"**{key}** " + _unavailable_answer(ctx, *names))


def _q5a(ctx: _Context) -> None:
    doc = ctx.doc
    mart = "advice_cities"
    cities = _num(ctx.frame(mart), "rank", "city_id", "approved_amount", "approved_share",
                  "approved_count", "average_ticket", "distinct_merchants",
                  "amount_per_merchant", "growth_rate", "all_rows_amount").sort_values("rank")
    top = cities.head(TOP_CITIES_SHOWN)
    first = top.iloc[0]
    rest = ", ".join(f"{city_label(r['city_id'])} ({fmt_pct(r['approved_share'])})"
                     for _, r in top.iloc[1:3].iterrows())
    top5 = float(cities.head(5)["approved_share"].sum())
    growing = top.dropna(subset=["growth_rate"]).sort_values("growth_rate", ascending=False)
    sentence = (
        f"**{city_label(first['city_id'])}** brings {fmt_pct(first['approved_share'])} of "
        f"approved sales ({fmt_compact(first['approved_amount'])} over "
        f"{fmt_int(first['approved_count'])} approved transactions, "
        f"{fmt_int(first['distinct_merchants'])} merchants)"
        + (f", followed by {rest}" if rest else "")
        + f". The top 5 cities bring {fmt_pct(top5)} of approved sales."
    )
    if len(growing):
        fastest = growing.iloc[0]
        sentence += (f" Fastest growing of the top {len(top)}: "
                     f"{city_label(fastest['city_id'])} "
                     f"({fmt_pct(fastest['growth_rate'], signed=True)} per day, last 3 full "
                     f"months vs the 3 before).")
    doc.answer(sentence)
    ctx.glance.append("**Q5a** " + sentence)
    doc.table(["Rank", "City", "Approved amount", "Share", "Approved sales", "Average ticket",
               "Merchants", "Amount per merchant", "Growth", "All-rows amount"],
              [[fmt_int(r["rank"]), city_label(r["city_id"]), fmt_amount(r["approved_amount"]),
                fmt_pct(r["approved_share"]), fmt_int(r["approved_count"]),
                fmt_amount(r["average_ticket"], 2), fmt_int(r["distinct_merchants"]),
                fmt_amount(r["amount_per_merchant"]), fmt_pct(r["growth_rate"], signed=True),
                fmt_amount(r["all_rows_amount"])] for _, r in top.iterrows()],
              [True, False, True, True, True, True, True, True, True, True])
    caption = f"Source: {ctx.source(mart)}."
    fig = _figure(10, 0.4 * len(top) + 2.0, caption)
    ax = fig.subplots()
    data = top.iloc[::-1]
    ax.barh([city_label(c) for c in data["city_id"]], data["approved_share"],
            color=[_ACCENT if i == len(data) - 1 else _MUTED for i in range(len(data))])
    vmax = float(data["approved_share"].max())
    for y, (_, r) in enumerate(data.iterrows()):
        growth = "" if _missing(r["growth_rate"]) else \
            f" · growth {fmt_pct(r['growth_rate'], signed=True)}"
        ax.text(r["approved_share"] + vmax * 0.01, y,
                f"{fmt_pct(r['approved_share'])} · {fmt_compact(r['approved_amount'])}{growth}",
                va="center", fontsize=8)
    ax.set_xlim(0, vmax * 1.6)
    _pct_axis(ax, "x")
    ax.set_xlabel("share of approved purchase amount", fontsize=9)
    _style(ax)
    ax.set_title(f"Q5a · The {len(top)} cities with the most approved sales", fontsize=12)
    ctx.chart("q5a_top_cities", fig, "Top cities by approved sales",
              f"Share of approved sales of the top {len(top)} cities, with growth per day "
              f"(last 3 full months vs the 3 before). {caption}")


def _q5b(ctx: _Context) -> None:
    doc = ctx.doc
    cats = _num(ctx.frame("advice_categories"), "rank", "approved_amount", "approved_share",
                "approved_count", "average_ticket", "distinct_merchants",
                "amount_per_merchant", "all_rows_amount").sort_values("rank")
    first = cats.iloc[0]
    per_merchant = cats.sort_values("amount_per_merchant", ascending=False).iloc[0]
    sentence = (
        f"**{category_label(first['category'])}** brings {fmt_pct(first['approved_share'])} "
        f"of approved sales ({fmt_compact(first['approved_amount'])})"
        + "".join(f", {category_label(r['category'])} {fmt_pct(r['approved_share'])}"
                  for _, r in cats.iloc[1:].iterrows())
        + f". Per merchant, {category_label(per_merchant['category'])} earns the most "
        f"({fmt_compact(per_merchant['amount_per_merchant'])} of approved sales per merchant)."
    )
    doc.answer(sentence)
    ctx.glance.append("**Q5b** " + sentence)
    doc.table(["Rank", "Category", "Approved amount", "Share", "Approved sales",
               "Average ticket", "Merchants", "Amount per merchant", "All-rows amount"],
              [[fmt_int(r["rank"]), category_label(r["category"]),
                fmt_amount(r["approved_amount"]), fmt_pct(r["approved_share"]),
                fmt_int(r["approved_count"]), fmt_amount(r["average_ticket"], 2),
                fmt_int(r["distinct_merchants"]), fmt_amount(r["amount_per_merchant"]),
                fmt_amount(r["all_rows_amount"])] for _, r in cats.iterrows()],
              [True, False, True, True, True, True, True, True, True])


def _q5c(ctx: _Context) -> None:
    doc = ctx.doc
    mart = "advice_months"
    months = _num(ctx.frame(mart), "approved_amount", "approved_count", "observed_days",
                  "amount_per_observed_day", "seasonality_index")
    months["partial"] = _as_bool(months["is_partial_month"])
    months["month"] = pd.to_datetime(months["month"], errors="coerce")
    months = months.sort_values("month").reset_index(drop=True)
    full = months[~months["partial"]] if (~months["partial"]).any() else months
    high = _extreme_row(full, "seasonality_index", mart)
    low = _extreme_row(full, "seasonality_index", mart, largest=False)
    partial = months[months["partial"]]
    sentence = (
        f"The strongest month is **{high['month_label']}** (index "
        f"{high['seasonality_index']:.2f}: {fmt_compact(high['amount_per_observed_day'])} of "
        f"approved sales per observed day, {fmt_pct(high['seasonality_index'] - 1, True)} "
        f"against the mean month); the weakest is **{low['month_label']}** "
        f"({low['seasonality_index']:.2f}, {fmt_pct(low['seasonality_index'] - 1, True)})."
    )
    same = full[full["month"].dt.month == high["month"].month]
    if len(same) > 1:
        sentence += (f" {high['month_label'].split()[0]} appears {len(same)} times in the "
                     "data, so the seasonal reading rests on more than one year.")
    elif len(full) <= 14:
        sentence += (" The data cover little more than a year, so a peak may be seasonal "
                     "or part of a trend.")
    if len(partial):
        sentence += (" Partial months (" + ", ".join(partial["month_label"]) +
                     ") are compared per observed day.")
    doc.answer(sentence)
    ctx.glance.append("**Q5c** " + sentence)
    doc.table(["Month", "Approved amount", "Approved sales", "Observed days",
               "Amount per observed day", "Index (1.00 = mean)", "Partial"],
              [[str(r["month_label"]), fmt_amount(r["approved_amount"]),
                fmt_int(r["approved_count"]), fmt_int(r["observed_days"]),
                fmt_amount(r["amount_per_observed_day"]), f"{r['seasonality_index']:.2f}",
                "partial" if r["partial"] else ""] for _, r in months.iterrows()],
              [False, True, True, True, True, True, False])
    caption = f"Source: {ctx.source(mart)}."
    fig = _figure(11, 4.6, caption)
    ax = fig.subplots()
    labels = [str(label).replace(" ", "\n") for label in months["month_label"]]
    colours = [_ACCENT if v >= 1 else _MUTED for v in months["seasonality_index"]]
    bars = ax.bar(labels, months["amount_per_observed_day"], color=colours,
                  edgecolor="#1f2328", linewidth=0)
    for bar_, is_partial in zip(bars, months["partial"], strict=True):
        if is_partial:
            bar_.set_hatch("///")
            bar_.set_edgecolor("#1f2328")
            bar_.set_linewidth(0.6)
    # The mean month's amount per observed day: what index 1.00 stands for.
    implied = months["amount_per_observed_day"] / months["seasonality_index"].where(
        months["seasonality_index"] > 0)
    mean = float(implied.median()) if implied.notna().any() else \
        float(months["amount_per_observed_day"].mean())
    ax.axhline(mean, color="#1f2328", linestyle="--", linewidth=1)
    ax.text(len(months) - 0.5, mean, " mean month\n (index 1.00)", va="center", ha="left",
            fontsize=8)
    top = float(months["amount_per_observed_day"].max())
    for x, (_, r) in enumerate(months.iterrows()):
        text = f"{r['seasonality_index']:.2f}" + ("\npartial" if r["partial"] else "")
        ax.text(x, r["amount_per_observed_day"] + top * 0.01, text, ha="center",
                va="bottom", fontsize=8, zorder=3,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 0.5, "alpha": 0.85})
    ax.set_ylim(0, top * 1.18)
    ax.set_xlim(-0.6, len(months) + 0.9)
    _compact_axis(ax, "y")
    ax.set_ylabel("approved amount per observed day", fontsize=9)
    _style(ax)
    ax.set_title("Q5c · Monthly seasonality: approved sales per observed day "
                 "(label = index vs the mean month; hatched = partial month)", fontsize=11.5)
    ctx.chart("q5c_monthly_seasonality", fig, "Monthly seasonality",
              f"Approved purchase amount per observed day by month, with the seasonality "
              f"index. {caption}")


def _window_hours(opening: int, closing: int) -> list[int]:
    length = (closing - opening) % 24 or 24
    return [(opening + i) % 24 for i in range(length)]


def _runs(hours: Iterable[int]) -> list[tuple[int, int]]:
    """Contiguous runs of hours on the 0..23 axis as (start, end exclusive)."""
    runs: list[tuple[int, int]] = []
    for hour in sorted(set(hours)):
        if runs and runs[-1][1] == hour:
            runs[-1] = (runs[-1][0], hour + 1)
        else:
            runs.append((hour, hour + 1))
    return runs


def _q5d(ctx: _Context) -> None:
    doc = ctx.doc
    hours = _num(ctx.frame("advice_hours"), "hour", "approved_amount", "approved_count",
                 "approved_share").sort_values("hour")
    window = _num(ctx.frame("advice_opening_window"), "opening_hour", "closing_hour",
                  "hours_open", "coverage", "coverage_target").iloc[0]
    opening, closing = int(window["opening_hour"]), int(window["closing_hour"])
    inside = _window_hours(opening, closing)
    peak = _extreme_row(hours, "approved_share", "advice_hours")
    crosses = " (the window crosses midnight)" if closing != 0 and closing < opening else ""
    sentence = (
        f"Open **{fmt_window(opening, closing)}** ({fmt_int(window['hours_open'])} hours)"
        f"{crosses}: the shortest daily window that holds at least "
        f"{fmt_pct(window['coverage_target'])} of approved sales covers "
        f"{fmt_pct(window['coverage'])}. The busiest hour is {fmt_hour(peak['hour'])} "
        f"({fmt_pct(peak['approved_share'])} of approved sales)."
    )
    doc.answer(sentence)
    ctx.glance.append("**Q5d** " + sentence)
    doc.table(["Opening", "Closing", "Hours open", "Coverage", "Coverage target"],
              [[fmt_hour(opening), fmt_hour(closing) if closing else "24:00",
                fmt_int(window["hours_open"]), fmt_pct(window["coverage"]),
                fmt_pct(window["coverage_target"])]],
              [False, False, True, True, True])
    doc.para("Closing is exclusive: closing at 22:00 means the last hour served is "
             "21:00–22:00. The share of each hour is in the chart and in "
             "`marts/advice_hours.csv`.")
    caption = f"Source: {ctx.source('advice_hours', 'advice_opening_window')}."
    fig = _figure(11, 4.4, caption)
    ax = fig.subplots()
    full = hours.set_index("hour").reindex(range(24))
    shares = full["approved_share"].fillna(0).to_numpy()
    colours = [_ACCENT if h in inside else _MUTED for h in range(24)]
    for start, end in _runs(inside):  # two spans when the window crosses midnight
        ax.axvspan(start - 0.5, end - 0.5, color="#f4d35e", alpha=0.3, linewidth=0)
    ax.bar(range(24), shares, color=colours, zorder=2)
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=9)
    ax.set_xlim(-0.6, 23.6)
    ax.set_ylim(0, float(shares.max()) * 1.28)
    ax.set_xlabel("hour of the day (bar = sales from hh:00 to hh:59)", fontsize=9)
    ax.set_ylabel("share of approved amount", fontsize=9)
    _pct_axis(ax, "y", decimals=1)
    ax.text(0.5, 0.97, f"open {fmt_window(opening, closing)} · {fmt_int(window['hours_open'])} "
            f"h · {fmt_pct(window['coverage'])} of approved sales (target "
            f"{fmt_pct(window['coverage_target'])})", transform=ax.transAxes, ha="center",
            va="top", fontsize=9, bbox={"facecolor": "white", "edgecolor": "#d0d7de"})
    _style(ax)
    ax.set_title("Q5d · Approved sales by hour, with the recommended opening window shaded",
                 fontsize=12)
    ctx.chart("q5d_hours_opening_window", fig, "Hour profile and opening window",
              f"Share of approved sales by hour; shaded: the opening window. {caption}")


def _counts_text(counts: list[int]) -> str:
    """[2] -> '2-installment plans'; [2, 3, 4] -> '2–4-installment plans'."""
    if not counts:
        return "no installment plan"
    if len(counts) == 1:
        return f"{counts[0]}-installment plans"
    if counts == list(range(counts[0], counts[-1] + 1)):
        return f"plans of {counts[0]}–{counts[-1]} installments"
    return "plans of " + ", ".join(str(c) for c in counts) + " installments"


def _scenario_order(scenarios: list[str], project_dir: Path | None) -> list[str]:
    """The scenarios in the order of seeds/installment_scenarios.csv (the case-study
    reading first), then any other in the mart's order."""
    seed = project_dir / "seeds" / "installment_scenarios.csv" if project_dir else None
    if seed is None or not seed.exists():
        return scenarios
    with open(seed, newline="") as handle:
        order = [row.get("scenario", "") for row in csv.DictReader(handle)]
    return sorted(scenarios, key=lambda s: order.index(s) if s in order else len(order))


def _q5e(ctx: _Context) -> None:
    doc = ctx.doc
    mart = "advice_installments"
    inst = _num(ctx.frame(mart), "installments", "approved_exposure", "all_rows_exposure",
                "approved_count", "average_ticket", "p_default", "expected_profit_rate",
                "expected_profit", "single_payment_profit", "break_even_uplift")
    inst["recommended"] = _as_bool(inst["is_recommended"])
    scenarios = _scenario_order(list(dict.fromkeys(inst["scenario"])), ctx.project_dir)
    plans = inst[inst["plan_type"] == "installments"].sort_values("installments")
    single = inst[inst["plan_type"] == "single"]
    single_rate = (float(single["expected_profit_rate"].iloc[0]) if len(single)
                   else float("nan"))
    base = inst[inst["scenario"] == scenarios[0]]
    exposure_all = float(base[base["plan_type"] != "unknown"]["approved_exposure"].sum())
    exposure_plans = float(base[base["plan_type"] == "installments"]["approved_exposure"].sum())
    parts = [f"Single payments earn {fmt_pct(single_rate)} of the sale."]
    for scenario in scenarios:
        rows = plans[plans["scenario"] == scenario]
        good = rows[rows["expected_profit_rate"] > 0]
        counts = [int(c) for c in good["installments"]]
        text = _counts_text(counts)
        if counts and len(counts) == len(rows):
            rates = sorted(set(good["expected_profit_rate"].round(4)))
            rate_text = (fmt_pct(rates[0]) if len(rates) == 1
                         else f"{fmt_pct(rates[0])}–{fmt_pct(rates[-1])}")
            parts.append(f"Under the `{scenario}` scenario every plan stays profitable "
                         f"({rate_text} of the sale), still below single payment.")
        elif counts:
            best = good.iloc[0]
            uplift = ("" if _missing(best["break_even_uplift"]) else
                      f", and need {fmt_pct(best['break_even_uplift'])} more sales to match "
                      "single payment")
            parts.append(f"**Only {text} stay profitable under the `{scenario}` scenario** "
                         f"({fmt_pct(best['expected_profit_rate'])} of the sale at "
                         f"{int(best['installments'])} installments{uplift}); longer plans "
                         "lose money.")
        else:
            parts.append(f"Under the `{scenario}` scenario no installment plan is profitable.")
    parts.append(f"Installment plans are {fmt_pct(exposure_plans / exposure_all)} of approved "
                 "sales. Advice: prefer single payments; accept installments only on the "
                 "plans marked recommended below, and only if they bring extra sales.")
    sentence = " ".join(parts)
    doc.answer(sentence)
    ctx.glance.append("**Q5e** " + sentence)
    headers = ["Plan", "Approved exposure", "Approved sales"]
    for scenario in scenarios:
        headers += [f"{scenario}: p(default)", f"{scenario}: profit rate"]
    rows_out = []
    ordered = pd.concat([single, plans, inst[inst["plan_type"] == "unknown"]])
    for key, group in ordered.groupby(["plan_type", "installments"], dropna=False, sort=False):
        plan_type, count = key
        first = group.iloc[0]
        name = (f"{int(count)} installments" if plan_type == "installments"
                else "single payment" if plan_type == "single" else "unknown (excluded)")
        row = [name, fmt_amount(first["approved_exposure"]), fmt_int(first["approved_count"])]
        for scenario in scenarios:
            match = group[group["scenario"] == scenario]
            if match.empty:
                row += ["–", "–"]
                continue
            r = match.iloc[0]
            verdict = ("" if _missing(r["expected_profit_rate"]) else
                       " ✓" if r["recommended"] else " ✗")
            row += [fmt_pct(r["p_default"]), fmt_pct(r["expected_profit_rate"]) + verdict]
        rows_out.append(row)
    doc.table(headers, rows_out, [False, True, True] + [True, True] * len(scenarios))
    doc.para("✓ = recommended by the mart (the plan makes money on its own: expected profit "
             "rate > 0); ✗ = the plan loses money. Profit rate = expected profit per unit of "
             "sale; single payments carry no credit risk.")
    _chart_q5e(ctx, plans, scenarios, single_rate, mart)


def _chart_q5e(ctx: _Context, plans: pd.DataFrame, scenarios: list[str], single_rate: float,
               mart: str) -> None:
    caption = f"Source: {ctx.source(mart)}."
    fig = _figure(11, 4.8, caption)
    ax = fig.subplots()
    markers = ["o", "s", "^", "D"]
    colours = [_NEGATIVE, _ACCENT, "#3a9e6a", "#8c5bb5"]
    counts = sorted(int(c) for c in plans["installments"].dropna().unique())
    for i, scenario in enumerate(scenarios):
        rows = plans[plans["scenario"] == scenario].sort_values("installments")
        ax.plot(rows["installments"], rows["expected_profit_rate"], marker=markers[i % 4],
                color=colours[i % 4], label=f"{scenario}", linewidth=1.8, markersize=5)
    ax.axhline(0, color="#1f2328", linewidth=1.2)
    ax.axhspan(-1, 0, color=_NEGATIVE, alpha=0.06, linewidth=0)
    right = (max(counts) if counts else 2) + 0.5
    ax.text(right, 0, "break-even (no profit)", va="bottom", ha="right", fontsize=8.5)
    if not math.isnan(single_rate):
        ax.axhline(single_rate, color="#3a9e6a", linestyle="--", linewidth=1.2)
        ax.text(right, single_rate, f"single payment ({fmt_pct(single_rate)})", va="bottom",
                ha="right", fontsize=8.5, color="#2b7a50")
    low = float(np.nanmin([plans["expected_profit_rate"].min(), 0]))
    high = float(np.nanmax([plans["expected_profit_rate"].max(), single_rate, 0]))
    pad = (high - low) * 0.12 or 0.05
    ax.set_ylim(low - pad, high + pad)
    if counts:
        ax.set_xticks(counts)
        ax.set_xlim(min(counts) - 0.5, right)
    _pct_axis(ax, "y")
    ax.set_xlabel("number of monthly installments", fontsize=9)
    ax.set_ylabel("expected profit per unit of sale", fontsize=9)
    ax.legend(title="default scenario", fontsize=8.5, title_fontsize=8.5, frameon=False,
              loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=max(1, len(scenarios)))
    _style(ax)
    ax.set_title("Q5e · Expected profit rate of installment plans, by scenario "
                 "(below zero = the plan loses money)", fontsize=12)
    ctx.chart("q5e_installment_profit_rate", fig, "Installment profit rate by plan",
              f"Expected profit rate per installment plan under each default scenario, with "
              f"the break-even (zero) and single-payment lines. {caption}")


# --------------------------------------------------------------------------- #
# Assumptions, parameters, data quality, sources
# --------------------------------------------------------------------------- #

SPEC_ASSUMPTIONS = (
    "Q1–Q4 use every recorded transaction, approved or denied (the attempt happened); "
    "Q5 ranks by approved transactions (`authorized_flag = 'Y'`) and shows the all-rows "
    "figure beside it.",
    "Geography is the transaction's `city_id` / `state_id` (where the sale happened), not "
    "the merchant's registered one; -1 or null is shown as unknown and kept.",
    "No de-duplication: identical rows are separate attempts. Rows whose date does not "
    "parse or whose amount is null, NaN or infinite are rejected with a reason (see data "
    "quality); nothing is dropped silently.",
    "Money is `decimal(18,2)`; sums are exact and averages and shares are rounded half-up.",
    "A null or blank category is `Unknown category`; merchant names come from merchants.csv "
    "when the id has exactly one name, else the id itself; a null id is `Unknown merchant`.",
    "Time is the source wall-clock time (no time-zone shift); months are year-months "
    "(Jan 2017 and Jan 2018 differ).",
    "Rankings are deterministic (`row_number()` with explicit tie-breaks, nulls last).",
    "Installments: 0 and 1 are single payments; 2–36 are plans; anything else is unknown "
    "and excluded from the installment model only.",
    "Installment model: gross profit 25% of the sale, equal monthly installments, a "
    "defaulting customer has paid half of the price; default probability "
    "p(n) = 1 − (1 − rate)^n for n monthly installments when the rate is read per month, "
    "or p = rate for every plan when read as a lifetime rate; expected profit rate = "
    "margin − (1 − share paid) · p, i.e. 0.25 − 0.5 · p(n) with the case-study values.",
)

REPORT_CHOICES = (
    f"Q1 chart and table: the most recent full month, for the {Q1_CITIES} largest known "
    "cities (by all-rows amount in `advice_cities`).",
    f"Q2 table: the highest averages among merchant–state pairs with at least "
    f"{Q2_MIN_SALES} sales (smaller pairs are noisy); the mart ranks all pairs.",
    f"Q4b heat map: the {HEATMAP_CITIES} cities with the most transactions; the strongest "
    "tilt is searched among the 30 largest cities.",
    f"Q5a table and chart: the top {TOP_CITIES_SHOWN} cities by approved amount.",
    "Amounts are in the source currency unit; 'bn' = billion, 'M' = million, 'k' = thousand.",
)


def _read_dbt_vars(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "dbt_project.yml"
    if not path.exists():
        return {}
    try:
        import yaml
    except ImportError:  # pragma: no cover - pyyaml comes with dbt
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    variables = data.get("vars") or {}
    return dict(variables) if isinstance(variables, dict) else {}


def _run_vars(run_results: Path | None) -> dict[str, Any]:
    """The --vars the dbt run was given, as recorded in its run_results.json."""
    if run_results is None or not Path(run_results).exists():
        return {}
    try:
        args = json.loads(Path(run_results).read_text()).get("args") or {}
    except (OSError, ValueError):
        return {}
    variables = args.get("vars") or {}
    if isinstance(variables, str):
        try:
            import yaml

            variables = yaml.safe_load(variables) or {}
        except Exception:  # noqa: BLE001 - unreadable vars are simply not shown
            return {}
    return dict(variables) if isinstance(variables, dict) else {}


def _section_parameters(ctx: _Context, parameters: dict[str, Any], project_dir: Path) -> None:
    doc = ctx.doc
    doc.heading(2, "Assumptions and parameters")
    doc.heading(3, "Assumptions (the analytical contract)")
    doc.bullets(SPEC_ASSUMPTIONS)
    doc.heading(3, "Choices made in this report")
    doc.bullets(REPORT_CHOICES)
    doc.heading(3, "Parameters of this run")
    variables = _read_dbt_vars(project_dir)
    parameters = {**_run_vars(ctx.run_results), **parameters}
    names = list(variables) + [k for k in parameters if k not in variables]
    rows = []
    for name in names:
        if name in parameters:
            value, source = parameters[name], "this run"
        else:
            value, source = variables[name], "dbt_project.yml default"
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        rows.append([f"`{name}`", f"`{text}`" if text else "(empty)", source])
    window = ctx.marts["advice_opening_window"].frame
    if window is not None and "coverage_target" in window:
        rows.append(["opening-window coverage target",
                     fmt_pct(pd.to_numeric(window["coverage_target"]).iloc[0]),
                     "`advice_opening_window` mart"])
    popular = ctx.marts["popular_merchant_cities"].frame
    if popular is not None:
        rows.append(["popular merchants (Q4a top N)",
                     fmt_int(popular["merchant_rank"].nunique()), "`popular_merchant_cities` mart"])
    if rows:
        doc.table(["Parameter", "Value", "Where from"], rows)
    else:
        doc.para("No dbt vars were found (dbt_project.yml is not readable).")
    seed = project_dir / "seeds" / "installment_scenarios.csv"
    if seed.exists():
        with open(seed, newline="") as handle:
            records = list(csv.reader(handle))
        if records:
            doc.para("Installment scenarios (`seeds/installment_scenarios.csv`, editable "
                     "without touching SQL):")
            header, body = records[0], records[1:]
            doc.table(header, body)
    else:
        doc.para("Installment scenarios: `seeds/installment_scenarios.csv` is not in this "
                 "project; the scenarios are those of the `advice_installments` mart (margin "
                 "25%, default rate 22.9% per month or flat over the plan, half the price paid "
                 "before default).")


def _section_quality(ctx: _Context, ledger_path: Path) -> None:
    doc = ctx.doc
    doc.heading(2, "Data quality")
    if not ledger_path.exists():
        doc.note(f"Not available in this run: the row ledger ({ledger_path.name}) was not "
                 "exported.")
        ctx.glance.append("**Data quality** the row ledger was not exported in this run.")
        return
    ledger = pd.read_csv(ledger_path, dtype={"reason_code": "string"})
    ledger["row_count"] = pd.to_numeric(ledger["row_count"], errors="coerce").fillna(0)
    summary_rows, lines = [], []
    for source, data in ledger.groupby("source_name", sort=False):
        total = int(data["row_count"].sum())
        cleaned = int(data.loc[data["reason_code"] == "cleaned", "row_count"].sum())
        files = ", ".join(str(Path(str(f)).name) for f in data["source_file"].dropna().unique())
        summary_rows.append([str(source), files, fmt_int(total), fmt_int(cleaned),
                             fmt_int(total - cleaned),
                             fmt_pct((total - cleaned) / total) if total else "–"])
        lines.append(f"{str(source)}: {fmt_int(total)} rows in, {fmt_int(cleaned)} cleaned, "
                     f"{fmt_int(total - cleaned)} rejected")
    sentence = "; ".join(lines) + ". Every input row is either cleaned or rejected with a reason."
    doc.para(sentence)
    ctx.glance.append("**Data quality** " + sentence)
    doc.table(["Source", "File", "Rows in", "Cleaned", "Rejected", "Rejected share"],
              summary_rows, [False, False, True, True, True, True])
    rejected = ledger[ledger["reason_code"] != "cleaned"]
    if rejected.empty:
        doc.para("No row was rejected.")
    else:
        rejected = rejected.sort_values(["source_name", "row_count"], ascending=[True, False])
        doc.table(["Source", "Reason", "Description", "Rows"],
                  [[str(r["source_name"]), f"`{r['reason_code']}`",
                    str(r["reason_description"]), fmt_int(r["row_count"])]
                   for _, r in rejected.iterrows()], [False, False, False, True])
    doc.para("Odd but valid rows (denied, amount ≤ 0, unknown geography, future timestamps, "
             "unknown installments) are kept and counted by the dbt quality tests"
             + (": see `quality/quality_report.html` for every metric and threshold."
                if (ledger_path.parent / "quality_report.html").exists() else "."))


def _section_sources(ctx: _Context, run_results: Path | None) -> None:
    doc = ctx.doc
    doc.heading(2, "Sources and test status")
    where = (f"dbt results: `{run_results}`" if run_results and Path(run_results).exists()
             else "no dbt run results were given, so test status is unknown")
    doc.para(f"Each mart's CSV export and the outcome of its build and tests in this run "
             f"({where}).")
    doc.table(["Mart", "Rows", "Export", "dbt build and tests"],
              [[f"`{name}`", fmt_int(mart.rows) if mart.frame is not None else "–",
                "ok" if mart.frame is not None else f"missing: {mart.problem}",
                ctx.statuses[name].label] for name, mart in ctx.marts.items()],
              [False, True, False, False])


def write_report(output_dir: Path, run_results: Path | None, parameters: dict,
                 *, project_dir: Path | None = None,
                 quality_dir: Path | None = None) -> ReportPaths:
    """Write report.md, report.html and charts/*.png into `output_dir` from its marts/
    exports and the row ledger in `quality_dir` (default output_dir/quality), with each
    mart's test status from `run_results` (and the manifest.json beside it). `parameters`
    are the dbt vars of the run (shown beside dbt_project.yml's)."""
    if project_dir is None:
        from python_checks.project import PROJECT_DIR

        project_dir = PROJECT_DIR
    output_dir = Path(output_dir)
    charts_dir = output_dir / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    for old in charts_dir.glob("*.png"):  # never show a previous run's chart
        old.unlink()
    marts = {name: load_mart(output_dir / "marts", name) for name in REPORT_MARTS}
    statuses = mart_statuses(run_results)
    body = Document("body")
    ctx = _Context(output_dir, charts_dir, marts, statuses, body, run_results,
                   Path(project_dir))
    sections: list[Callable[[_Context], None]] = [
        _section_q1, _section_q2, _section_q3, _section_q4, _section_q5]
    for number, section in enumerate(sections, start=1):
        _guarded(ctx, f"Q{number}", section)
    _section_parameters(ctx, parameters, Path(project_dir))
    _section_quality(ctx, (quality_dir or output_dir / "quality") / "row_ledger.csv")
    _section_sources(ctx, run_results)

    title = "Billups merchant analytics: answers to Q1–Q5"
    head = Document(title)
    head.heading(1, title)
    failing = [s.mart for s in statuses.values() if s.failed or s.build in {"error", "skipped"}]
    missing = [m.name for m in marts.values() if m.frame is None]
    status = ("every mart's dbt tests passed in this run" if not failing and not missing
              and all(s.known for s in statuses.values()) else
              "; ".join(filter(None, [
                  f"tests failed or build incomplete for {', '.join(failing)}" if failing
                  else "",
                  f"not available: {', '.join(missing)}" if missing else "",
                  "test status unknown (no dbt run results)"
                  if not all(s.known for s in statuses.values()) else ""])))
    head.para(f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
              f"Status: {status}. Each section gives the answer first, then a table and a "
              f"chart; every figure names the mart behind it and its test status.")
    head.heading(2, "At a glance")
    head.bullets(ctx.glance)
    doc = Document(title, head.blocks + body.blocks)

    markdown = output_dir / "report.md"
    markdown.write_text(render_markdown(doc, output_dir), encoding="utf-8")
    html_path = output_dir / "report.html"
    html_path.write_text(render_html(doc), encoding="utf-8")
    return ReportPaths(markdown=markdown, html=html_path, charts=list(ctx.charts))


def save_run_artifacts(target: Path, dest: Path) -> Path | None:
    """Copy dbt's run_results.json and manifest.json from `target` to `dest`, so the
    report reads the build's results even after a later dbt command replaced them.
    Returns the copied run_results.json, or None when there was none."""
    source = target / "run_results.json"
    if not source.exists():
        return None
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("run_results.json", "manifest.json"):
        if (target / name).exists():
            (dest / name).write_bytes((target / name).read_bytes())
    return dest / "run_results.json"
