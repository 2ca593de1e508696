"""The report's sections: Q1-Q5 answered in words, a table and a chart each,
then the assumptions, parameters, data quality and sources."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from python_checks.report.charts import (
    ACCENT,
    MUTED,
    chart_q1,
    chart_q4b,
    chart_q5e,
    compact_axis,
    figure,
    pct_axis,
    style_axes,
)
from python_checks.report.context import (
    ReportContext,
    guarded,
    largest_cities,
    unavailable_answer,
)
from python_checks.report.formats import (
    as_bool,
    category_label,
    city_label,
    extreme_row,
    fmt_amount,
    fmt_compact,
    fmt_hour,
    fmt_int,
    fmt_pct,
    fmt_window,
    is_missing,
    merchant_label,
    numeric,
    plural,
    state_label,
)

# Choices the report itself makes (listed in the assumptions section).
Q1_CITIES = 4               # panels in the Q1 chart: the largest cities
Q2_MIN_SALES = 30           # Q2 table: pairs with at least this many sales
HEATMAP_CITIES = 15         # Q4b heat map: the largest cities by number of sales
TOP_CITIES_SHOWN = 10       # Q5a table and chart


def _section_q1(ctx: ReportContext) -> None:
    doc = ctx.doc
    doc.heading(2, "Q1. Top 5 merchants by purchase amount, per month and city")
    mart = "top_merchants_by_month_city"
    if not ctx.available(mart):
        ctx.glance.append("**Q1** " + unavailable_answer(ctx, mart))
        return
    top = numeric(ctx.frame(mart), "city_id", "rank", "purchase_total", "no_of_sales")
    top["month"] = pd.to_datetime(top["month"], errors="coerce")
    months = top.drop_duplicates("month").sort_values("month")
    city_months = top.drop_duplicates(["month", "city_id"]).shape[0]
    leaders = top[top["rank"] == 1]
    leader_counts = leaders.groupby(["merchant_id", "merchant_name"], dropna=False).size()
    leader_counts = leader_counts.sort_values(ascending=False)
    (best_id, best_name), best_n = leader_counts.index[0], int(leader_counts.iloc[0])
    cities, how = largest_cities(ctx, Q1_CITIES)
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
            f"{plural(int(top['city_id'].nunique()), 'city', 'cities')}, "
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
    chart_q1(ctx, latest_rows, cities, latest_label, mart)


def _q1_month(ctx: ReportContext, top: pd.DataFrame, months: pd.DataFrame, cities: list[int]
              ) -> tuple[Any, str, list[str]]:
    """The month the Q1 view shows: the latest month that is not partial (per
    advice_months) and has rows for the largest city; the later months it skipped."""
    partial: set[str] = set()
    if ctx.marts["advice_months"].frame is not None:
        flags = ctx.frame("advice_months")
        partial = set(flags.loc[as_bool(flags["is_partial_month"]), "month_label"].astype(str))
    present = set(top.loc[top["city_id"] == cities[0], "month"]) if cities else set()
    ordered = list(months[["month", "month_label"]].itertuples(index=False))[::-1]
    skipped: list[str] = []
    for month, label in ordered:
        if str(label) not in partial and (not present or month in present):
            return month, str(label), skipped[::-1]
        skipped.append(str(label))
    month, label = ordered[0]
    return month, str(label), []


def _section_q2(ctx: ReportContext) -> None:
    doc = ctx.doc
    doc.heading(2, "Q2. Average sale amount of each merchant in each state")
    mart = "avg_sale_by_merchant_state"
    if not ctx.available(mart):
        ctx.glance.append("**Q2** " + unavailable_answer(ctx, mart))
        return
    avg = numeric(ctx.frame(mart), "rank", "state_id", "average_amount", "no_of_sales",
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
        f"{state_label(first['state_id'])} on {plural(int(first['no_of_sales']), 'sale')}"
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


def _section_q3(ctx: ReportContext) -> None:
    doc = ctx.doc
    doc.heading(2, "Q3. Top 3 hours by purchase amount, per category")
    mart = "top_hours_by_category"
    if not ctx.available(mart):
        ctx.glance.append("**Q3** " + unavailable_answer(ctx, mart))
        return
    hours = numeric(ctx.frame(mart), "rank", "hour", "purchase_total", "no_of_sales")
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
    fig = figure(11, 3.9, caption)
    axes = np.atleast_1d(fig.subplots(1, len(categories)))
    for ax, category in zip(axes, categories, strict=True):
        data = hours[hours["category"] == category].sort_values("rank")
        labels = [f"#{int(r)}\n{fmt_hour(h)}" for r, h in zip(data["rank"], data["hour"],
                                                                strict=True)]
        colours = [ACCENT if r == 1 else MUTED for r in data["rank"]]
        ax.bar(labels, data["purchase_total"], color=colours)
        for x, value in enumerate(data["purchase_total"]):
            ax.text(x, value, fmt_compact(value), ha="center", va="bottom", fontsize=8)
        ax.set_ylim(0, float(data["purchase_total"].max()) * 1.15)
        ax.set_title(category_label(category), fontsize=10, fontweight="bold")
        compact_axis(ax, "y")
        style_axes(ax)
    fig.suptitle("Q3 · Top 3 hours of the day by purchase amount, per category "
                 "(each panel has its own scale)", fontsize=12, x=0.01, ha="left")
    ctx.chart("q3_top_hours_by_category", fig, "Top 3 hours per category",
              f"Top 3 hours by purchase amount for each category. {caption}")


def _section_q4(ctx: ReportContext) -> None:
    doc = ctx.doc
    doc.heading(2, "Q4. Where are the most popular merchants, and does location "
                "correlate with category?")
    doc.heading(3, "Q4a. Where the most popular merchants sell")
    mart = "popular_merchant_cities"
    if ctx.available(mart):
        _q4a(ctx, mart)
    else:
        ctx.glance.append("**Q4a** " + unavailable_answer(ctx, mart))
    doc.heading(3, "Q4b. Location and category")
    if ctx.available("city_category_mix", "city_category_association"):
        _q4b(ctx)
    else:
        ctx.glance.append("**Q4b** " + unavailable_answer(
            ctx, "city_category_mix", "city_category_association"))


def _q4a(ctx: ReportContext, mart: str) -> None:
    doc = ctx.doc
    pop = numeric(ctx.frame(mart), "merchant_rank", "merchant_transactions", "city_id",
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
        f"transactions in {plural(len(first), 'city', 'cities')}), makes "
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
    fig = figure(11, 0.42 * len(merchants) + 2.2, caption)
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
                match = data[data["city_id"] == city] if not is_missing(city) \
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
    pct_axis(ax, "x")
    ax.set_xlabel("share of the merchant's transactions", fontsize=9)
    ax.legend(ncols=7, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.13),
              frameon=False)
    style_axes(ax)
    ax.set_title(f"Q4a · Where the {len(merchants)} most popular merchants sell "
                 "(share of each merchant's transactions by city)", fontsize=12)
    ctx.chart("q4a_popular_merchant_cities", fig, "Popular merchants by city",
              f"The {len(merchants)} most popular merchants' transactions split by city. "
              f"{caption}")


def _q4b(ctx: ReportContext) -> None:
    doc = ctx.doc
    mix = numeric(ctx.frame("city_category_mix"), "city_id", "no_of_sales", "city_share",
               "overall_share", "lift")
    assoc = numeric(ctx.frame("city_category_association"), "n", "n_cities", "n_categories",
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
    chart_q4b(ctx, cities, categories, share, lift, overall, assoc, strength)


def _section_q5(ctx: ReportContext) -> None:
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
            guarded(ctx, key, builder)
        else:
            ctx.glance.append(f"**{key}** " + unavailable_answer(ctx, *names))


def _q5a(ctx: ReportContext) -> None:
    doc = ctx.doc
    mart = "advice_cities"
    cities = numeric(ctx.frame(mart), "rank", "city_id", "approved_amount", "approved_share",
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
    fig = figure(10, 0.4 * len(top) + 2.0, caption)
    ax = fig.subplots()
    data = top.iloc[::-1]
    ax.barh([city_label(c) for c in data["city_id"]], data["approved_share"],
            color=[ACCENT if i == len(data) - 1 else MUTED for i in range(len(data))])
    vmax = float(data["approved_share"].max())
    for y, (_, r) in enumerate(data.iterrows()):
        growth = "" if is_missing(r["growth_rate"]) else \
            f" · growth {fmt_pct(r['growth_rate'], signed=True)}"
        ax.text(r["approved_share"] + vmax * 0.01, y,
                f"{fmt_pct(r['approved_share'])} · {fmt_compact(r['approved_amount'])}{growth}",
                va="center", fontsize=8)
    ax.set_xlim(0, vmax * 1.6)
    pct_axis(ax, "x")
    ax.set_xlabel("share of approved purchase amount", fontsize=9)
    style_axes(ax)
    ax.set_title(f"Q5a · The {len(top)} cities with the most approved sales", fontsize=12)
    ctx.chart("q5a_top_cities", fig, "Top cities by approved sales",
              f"Share of approved sales of the top {len(top)} cities, with growth per day "
              f"(last 3 full months vs the 3 before). {caption}")


def _q5b(ctx: ReportContext) -> None:
    doc = ctx.doc
    cats = numeric(ctx.frame("advice_categories"), "rank", "approved_amount", "approved_share",
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


def _q5c(ctx: ReportContext) -> None:
    doc = ctx.doc
    mart = "advice_months"
    months = numeric(ctx.frame(mart), "approved_amount", "approved_count", "observed_days",
                  "amount_per_observed_day", "seasonality_index")
    months["partial"] = as_bool(months["is_partial_month"])
    months["month"] = pd.to_datetime(months["month"], errors="coerce")
    months = months.sort_values("month").reset_index(drop=True)
    full = months[~months["partial"]] if (~months["partial"]).any() else months
    high = extreme_row(full, "seasonality_index", mart)
    low = extreme_row(full, "seasonality_index", mart, largest=False)
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
    fig = figure(11, 4.6, caption)
    ax = fig.subplots()
    labels = [str(label).replace(" ", "\n") for label in months["month_label"]]
    colours = [ACCENT if v >= 1 else MUTED for v in months["seasonality_index"]]
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
    compact_axis(ax, "y")
    ax.set_ylabel("approved amount per observed day", fontsize=9)
    style_axes(ax)
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


def _q5d(ctx: ReportContext) -> None:
    doc = ctx.doc
    hours = numeric(ctx.frame("advice_hours"), "hour", "approved_amount", "approved_count",
                 "approved_share").sort_values("hour")
    window = numeric(ctx.frame("advice_opening_window"), "opening_hour", "closing_hour",
                  "hours_open", "coverage", "coverage_target").iloc[0]
    opening, closing = int(window["opening_hour"]), int(window["closing_hour"])
    inside = _window_hours(opening, closing)
    peak = extreme_row(hours, "approved_share", "advice_hours")
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
    fig = figure(11, 4.4, caption)
    ax = fig.subplots()
    full = hours.set_index("hour").reindex(range(24))
    shares = full["approved_share"].fillna(0).to_numpy()
    colours = [ACCENT if h in inside else MUTED for h in range(24)]
    for start, end in _runs(inside):  # two spans when the window crosses midnight
        ax.axvspan(start - 0.5, end - 0.5, color="#f4d35e", alpha=0.3, linewidth=0)
    ax.bar(range(24), shares, color=colours, zorder=2)
    ax.set_xticks(range(24), [f"{h:02d}" for h in range(24)], fontsize=9)
    ax.set_xlim(-0.6, 23.6)
    ax.set_ylim(0, float(shares.max()) * 1.28)
    ax.set_xlabel("hour of the day (bar = sales from hh:00 to hh:59)", fontsize=9)
    ax.set_ylabel("share of approved amount", fontsize=9)
    pct_axis(ax, "y", decimals=1)
    ax.text(0.5, 0.97, f"open {fmt_window(opening, closing)} · {fmt_int(window['hours_open'])} "
            f"h · {fmt_pct(window['coverage'])} of approved sales (target "
            f"{fmt_pct(window['coverage_target'])})", transform=ax.transAxes, ha="center",
            va="top", fontsize=9, bbox={"facecolor": "white", "edgecolor": "#d0d7de"})
    style_axes(ax)
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


def _q5e(ctx: ReportContext) -> None:
    doc = ctx.doc
    mart = "advice_installments"
    inst = numeric(ctx.frame(mart), "installments", "approved_exposure", "all_rows_exposure",
                "approved_count", "average_ticket", "p_default", "expected_profit_rate",
                "expected_profit", "single_payment_profit", "break_even_uplift")
    inst["recommended"] = as_bool(inst["is_recommended"])
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
            uplift = ("" if is_missing(best["break_even_uplift"]) else
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
            verdict = ("" if is_missing(r["expected_profit_rate"]) else
                       " ✓" if r["recommended"] else " ✗")
            row += [fmt_pct(r["p_default"]), fmt_pct(r["expected_profit_rate"]) + verdict]
        rows_out.append(row)
    doc.table(headers, rows_out, [False, True, True] + [True, True] * len(scenarios))
    doc.para("✓ = recommended by the mart (the plan makes money on its own: expected profit "
             "rate > 0); ✗ = the plan loses money. Profit rate = expected profit per unit of "
             "sale; single payments carry no credit risk.")
    chart_q5e(ctx, plans, scenarios, single_rate, mart)




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


def _section_parameters(ctx: ReportContext, parameters: dict[str, Any], project_dir: Path) -> None:
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


def _section_quality(ctx: ReportContext, ledger_path: Path) -> None:
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


def _section_sources(ctx: ReportContext, run_results: Path | None) -> None:
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

