"""The report's charts: matplotlib's object API on the Agg canvas (no pyplot
global state), one PNG per chart, each captioned with the marts behind it."""

from __future__ import annotations

import math
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from python_checks.document import DPI
from python_checks.report.formats import (
    category_label,
    city_label,
    fmt_compact,
    fmt_int,
    fmt_pct,
    is_missing,
    merchant_label,
)

if TYPE_CHECKING:
    from python_checks.report.context import ReportContext

ACCENT = "#2f6db5"
MUTED = "#b8c4d6"
NEGATIVE = "#c0504d"
CAPTION_GREY = "#555555"


def figure(width: float, height: float, caption: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    # The source caption is the figure's x label, so the layout keeps room for it.
    fig.supxlabel(textwrap.fill(caption.replace("`", ""), width=int(width * 15)), x=0.01,
                  ha="left",
                  fontsize=8, color=CAPTION_GREY)
    return fig


def save_figure(fig: Any, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI, facecolor="white")
    return path


def style_axes(ax: Any) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.tick_params(labelsize=9)


def compact_axis(ax: Any, axis: str = "x") -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda value, _pos: fmt_compact(value))
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)


def pct_axis(ax: Any, axis: str = "y", decimals: int = 0) -> None:
    from matplotlib.ticker import FuncFormatter

    formatter = FuncFormatter(lambda value, _pos: f"{value * 100:.{decimals}f}%")
    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(formatter)



def chart_q1(ctx: ReportContext, rows: pd.DataFrame, cities: list[int], label: str,
              mart: str) -> None:
    sources = [mart] + (["advice_cities"] if ctx.marts["advice_cities"].frame is not None
                        else [])
    caption = f"Source: {ctx.source(*sources)}."
    ncols = 2 if len(cities) > 1 else 1
    nrows = math.ceil(len(cities) / ncols)
    fig = figure(11, 2.3 * nrows + 1.2, caption)
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
        bar_colours = [colours.get(m, MUTED) for m in data["merchant_id"]]
        ax.barh(labels, data["purchase_total"], color=bar_colours)
        for y, (_, r) in enumerate(data.iterrows()):
            ax.text(r["purchase_total"] + vmax * 0.01, y,
                    f"{fmt_compact(r['purchase_total'])} · {fmt_int(r['no_of_sales'])} sales",
                    va="center", fontsize=8)
        ax.set_xlim(0, vmax * 1.45)
        ax.set_title(city_label(city), fontsize=11, loc="left", fontweight="bold")
        compact_axis(ax)
        style_axes(ax)
    for ax in axes[len(cities):]:
        ax.set_visible(False)
    note = " (same colour = same merchant in several of these cities)" if shared else ""
    fig.suptitle(f"Q1 · Top 5 merchants by purchase amount in {label}, "
                 f"{len(cities)} largest cities{note}", fontsize=12, x=0.01, ha="left")
    ctx.chart("q1_top_merchants_largest_cities", fig,
              f"Top 5 merchants in {label} for the {len(cities)} largest cities",
              f"Top 5 merchants by purchase amount in {label} in the {len(cities)} largest "
              f"cities. {caption}")


def chart_q4b(ctx: ReportContext, cities: list[Any], categories: list[str], share: pd.DataFrame,
               lift: pd.DataFrame, overall: pd.Series, assoc: pd.Series, strength: str) -> None:
    from matplotlib.colors import TwoSlopeNorm

    caption = f"Source: {ctx.source('city_category_mix', 'city_category_association')}."
    fig = figure(9.5, 0.42 * (len(cities) + 1) + 2.4, caption)
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
                text = "–" if is_missing(value) else f"{fmt_pct(value)}  ×{ratio:.2f}"
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


def chart_q5e(ctx: ReportContext, plans: pd.DataFrame, scenarios: list[str], single_rate: float,
               mart: str) -> None:
    caption = f"Source: {ctx.source(mart)}."
    fig = figure(11, 4.8, caption)
    ax = fig.subplots()
    markers = ["o", "s", "^", "D"]
    colours = [NEGATIVE, ACCENT, "#3a9e6a", "#8c5bb5"]
    counts = sorted(int(c) for c in plans["installments"].dropna().unique())
    for i, scenario in enumerate(scenarios):
        rows = plans[plans["scenario"] == scenario].sort_values("installments")
        ax.plot(rows["installments"], rows["expected_profit_rate"], marker=markers[i % 4],
                color=colours[i % 4], label=f"{scenario}", linewidth=1.8, markersize=5)
    ax.axhline(0, color="#1f2328", linewidth=1.2)
    ax.axhspan(-1, 0, color=NEGATIVE, alpha=0.06, linewidth=0)
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
    pct_axis(ax, "y")
    ax.set_xlabel("number of monthly installments", fontsize=9)
    ax.set_ylabel("expected profit per unit of sale", fontsize=9)
    ax.legend(title="default scenario", fontsize=8.5, title_fontsize=8.5, frameon=False,
              loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=max(1, len(scenarios)))
    style_axes(ax)
    ax.set_title("Q5e · Expected profit rate of installment plans, by scenario "
                 "(below zero = the plan loses money)", fontsize=12)
    ctx.chart("q5e_installment_profit_rate", fig, "Installment profit rate by plan",
              f"Expected profit rate per installment plan under each default scenario, with "
              f"the break-even (zero) and single-payment lines. {caption}")

