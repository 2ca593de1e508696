"""Reference solution for `make bench`: the Billups case solved the way public
solutions solve it, as one hand-written PySpark DataFrame script (no dbt).

This is the honest baseline the dbt project is compared with, not a straw man
and not tuned either: the same cleaning rules and answers (SPEC.md), the same
Spark settings as the dbt `local` profile (profiles/profiles.yml), one
SparkSession, the DataFrame API, the small merchant lookup broadcast as any
notebook would, and each answer its own query on the joined DataFrame, with
nothing cached. Small statistics (chi-square, the opening window, the
installment model) are finished in the driver on tables of a few hundred rows.
Each answer is written as CSV (coalesce(1)) to OUT_DIR/<mart name>/, with the
columns of the dbt mart of the same name.

    python bench/reference_pyspark.py --data-dir data/raw --out-dir /tmp/reference

DATA_DIR holds historical_transactions.parquet (a file or a folder of part
files) and merchants.csv.
"""

from __future__ import annotations

import argparse
import math
import time
from decimal import ROUND_HALF_UP, Decimal, localcontext
from pathlib import Path

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

PROJECT_DIR = Path(__file__).resolve().parents[1]
MONEY = "decimal(18,2)"

# The analysts' assumptions, as in dbt_project.yml vars and
# seeds/installment_scenarios.csv.
TOP_MERCHANTS = 5
TOP_HOURS = 3
TOP_POPULAR_MERCHANTS = 10
STRENGTH_THRESHOLDS = {"weak": 0.1, "moderate": 0.3, "strong": 0.5}
OPENING_COVERAGE_TARGET = Decimal("0.80")
GROSS_MARGIN = Decimal("0.25")
MONTHLY_DEFAULT_RATE = Decimal("0.229")
SHARE_PAID_BEFORE_DEFAULT = Decimal("0.5")
MAX_INSTALLMENTS = 36
SCENARIOS = (("monthly", "monthly"), ("flat", "flat"))  # (scenario, default-rate basis)


def spark_session() -> SparkSession:
    """The dbt `local` profile's Spark settings (without the Hive catalog)."""
    log4j = PROJECT_DIR / "profiles" / "log4j2.properties"
    return (
        SparkSession.builder.master("local[*]")
        .appName("billups-reference")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.adaptive.coalescePartitions.enabled", "true")
        .config("spark.sql.files.maxPartitionBytes", "16m")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={log4j}")
        .getOrCreate()
    )


# ------------------------------------------------------------------ load + clean

def load_sales(spark: SparkSession, data_dir: Path) -> DataFrame:
    """Valid transactions, cleaned per SPEC, joined with the merchant names."""
    raw = spark.read.parquet(str(data_dir / "historical_transactions.parquet"))
    purchase_ts = F.try_to_timestamp(F.trim(F.col("purchase_date").cast("string")),
                                     F.lit("yyyy-MM-dd HH:mm:ss"))
    amount = F.col("purchase_amount").cast("double")
    # Rejected: a date that does not parse, an amount null, NaN, infinite or too
    # large for decimal(18,2).
    valid = (purchase_ts.isNotNull() & amount.isNotNull() & ~F.isnan(amount)
             & ~amount.isin(float("inf"), float("-inf"))
             & amount.try_cast(MONEY).isNotNull())
    transactions = raw.where(valid).select(
        F.nullif(F.trim("merchant_id"), F.lit("")).alias("merchant_id"),
        F.coalesce(F.nullif(F.trim("category"), F.lit("")), F.lit("Unknown category"))
        .alias("category"),
        F.col("city_id").cast("bigint").alias("city_id"),
        F.col("state_id").cast("bigint").alias("state_id"),
        F.col("installments").cast("bigint").alias("installments"),
        amount.cast(MONEY).alias("purchase_amount"),
        (F.upper(F.trim("authorized_flag")) == "Y").alias("is_authorized"),
        F.to_date(purchase_ts).alias("purchase_date"),
        F.trunc(purchase_ts, "month").alias("month"),
        F.hour(purchase_ts).alias("hour"),
    )

    # One row per trimmed merchant id: its only non-blank name, else the id.
    merchants = (
        spark.read.option("header", True).csv(str(data_dir / "merchants.csv"))
        .select(F.nullif(F.trim("merchant_id"), F.lit("")).alias("merchant_id"),
                F.nullif(F.trim("merchant_name"), F.lit("")).alias("merchant_name"),
                F.trim("city_id").try_cast("bigint").alias("city_id"))
        .where(F.col("merchant_id").isNotNull())
        .groupBy("merchant_id")
        .agg(F.countDistinct("merchant_name").alias("names"),
             F.min("merchant_name").alias("only_name"),
             F.max("city_id").alias("registered_city_id"))
        .select("merchant_id", "registered_city_id",
                F.when(F.col("names") == 1, F.col("only_name")).alias("lookup_name"))
    )
    return (
        transactions.join(F.broadcast(merchants), "merchant_id", "left")
        .withColumn("merchant_name",
                    F.when(F.col("merchant_id").isNull(), F.lit("Unknown merchant"))
                    .otherwise(F.coalesce("lookup_name", "merchant_id")))
        .drop("lookup_name")
    )


# ------------------------------------------------------------------ helpers

def save(frame: DataFrame, out_dir: Path, name: str, *order: str | F.Column) -> None:
    """One CSV file per answer, in reading order when `order` is given."""
    if order:
        frame = frame.orderBy(*order)
    (frame.coalesce(1).write.mode("overwrite")
     .options(header=True, nullValue="", emptyValue="", dateFormat="yyyy-MM-dd")
     .csv(str(out_dir / name)))


def share(part: str | F.Column, whole: str | F.Column, scale: int = 0) -> F.Column:
    """Exact decimal division, half-up to 6 dp (counts: scale 0, money: scale 2);
    null over a zero whole, as the marts' nullif (Spark 4's ANSI mode would fail
    the whole script on one city without approved sales)."""
    part = F.col(part) if isinstance(part, str) else part
    whole = F.col(whole) if isinstance(whole, str) else whole
    decimal = f"decimal(38,{scale})"
    return part.cast(decimal) / F.nullif(whole.cast(decimal), F.lit(0))


def approved(column: str) -> F.Column:
    return F.sum(F.when(F.col("is_authorized"), F.col(column)).otherwise(0))


def average(total: str, count: str) -> F.Column:
    """Rounded to cents; null without rows to average (see share)."""
    return F.round(F.col(total) / F.nullif(F.col(count), F.lit(0)), 2).cast(MONEY)


def hour_label(column: str) -> F.Column:
    return F.format_string("%02d00", F.col(column))


# ------------------------------------------------------------------ Q1-Q3

def q1_top_merchants_by_month_city(sales: DataFrame) -> DataFrame:
    by_total = Window.partitionBy("month", "city_id").orderBy(
        F.desc("purchase_total"), F.asc_nulls_last("merchant_id"))
    return (
        sales.groupBy("month", "city_id", "merchant_id", "merchant_name")
        .agg(F.sum("purchase_amount").alias("purchase_total"), F.count("*").alias("no_of_sales"))
        .withColumn("rank", F.row_number().over(by_total))
        .where(F.col("rank") <= TOP_MERCHANTS)
        .select("month", F.date_format("month", "MMM yyyy").alias("month_label"), "city_id",
                "rank", "merchant_id", "merchant_name", "purchase_total", "no_of_sales")
    )


def q2_avg_sale_by_merchant_state(sales: DataFrame) -> DataFrame:
    by_average = Window.orderBy(F.desc("average_amount"), F.asc_nulls_last("merchant_id"),
                                F.asc_nulls_last("state_id"))
    return (
        sales.groupBy("merchant_id", "merchant_name", "state_id")
        .agg(F.sum("purchase_amount").alias("purchase_total"), F.count("*").alias("no_of_sales"))
        .withColumn("average_amount", average("purchase_total", "no_of_sales"))
        .withColumn("rank", F.row_number().over(by_average))
        .select("rank", "merchant_id", "merchant_name", "state_id", "average_amount",
                "no_of_sales", "purchase_total")
    )


def q3_top_hours_by_category(sales: DataFrame) -> DataFrame:
    by_total = Window.partitionBy("category").orderBy(F.desc("purchase_total"), F.asc("hour"))
    return (
        sales.groupBy("category", "hour")
        .agg(F.sum("purchase_amount").alias("purchase_total"), F.count("*").alias("no_of_sales"))
        .withColumn("rank", F.row_number().over(by_total))
        .where(F.col("rank") <= TOP_HOURS)
        .select("category", "rank", "hour", hour_label("hour").alias("hour_label"),
                "purchase_total", "no_of_sales")
    )


# ------------------------------------------------------------------ Q4

def q4a_popular_merchant_cities(sales: DataFrame) -> DataFrame:
    """The top N merchants by transaction count and the cities they sell in."""
    merchant_city = (
        sales.groupBy("merchant_id", "merchant_name", "registered_city_id", "city_id")
        .agg(F.count("*").alias("city_transactions"))
        .withColumn("rank_in_city", F.row_number().over(
            Window.partitionBy("city_id").orderBy(F.desc("city_transactions"),
                                                  F.asc_nulls_last("merchant_id"))))
    )
    top = (
        sales.groupBy(F.col("merchant_id").alias("top_id"))
        .agg(F.count("*").alias("merchant_transactions"))
        .withColumn("merchant_rank", F.row_number().over(
            Window.orderBy(F.desc("merchant_transactions"), F.asc_nulls_last("top_id"))))
        .where(F.col("merchant_rank") <= TOP_POPULAR_MERCHANTS)
    )
    return (
        merchant_city.join(top, merchant_city["merchant_id"].eqNullSafe(top["top_id"]))
        .select("merchant_rank", "merchant_id", "merchant_name", "merchant_transactions",
                "city_id", "city_transactions",
                share("city_transactions", "merchant_transactions").alias("city_share"),
                "rank_in_city", "registered_city_id")
    )


def q4b_city_category(sales: DataFrame) -> tuple[DataFrame, DataFrame]:
    """City x category mix (known cities) and the chi-square test of independence,
    Cramer's V and its bias-corrected version (Bergsma 2013), in the driver."""
    spark = sales.sparkSession
    unknown_city = F.col("city_id").isNull() | (F.col("city_id") == -1)
    counts = (sales.where(~unknown_city).groupBy("city_id", "category")
              .agg(F.count("*").alias("no_of_sales")).toPandas())
    table = counts.pivot_table(index="city_id", columns="category", values="no_of_sales",
                               fill_value=0, aggfunc="sum")
    observed = table.to_numpy(dtype=float)
    city_sales, category_sales = observed.sum(axis=1), observed.sum(axis=0)
    n = float(observed.sum())
    expected = city_sales[:, None] * category_sales[None, :] / n
    chi_square = float(((observed - expected) ** 2 / expected).sum())
    r, k = table.shape
    dof = (r - 1) * (k - 1)
    cramers_v = math.sqrt(chi_square / (n * min(r - 1, k - 1))) if min(r, k) > 1 else None
    corrected = None
    if n > 1:
        phi2 = max(0.0, chi_square / n - dof / (n - 1))
        r_c, k_c = r - (r - 1) ** 2 / (n - 1), k - (k - 1) ** 2 / (n - 1)
        if min(r_c, k_c) - 1 > 0:
            corrected = math.sqrt(phi2 / (min(r_c, k_c) - 1))
    if corrected is None:
        strength = "undefined"
    elif corrected < STRENGTH_THRESHOLDS["weak"]:
        strength = "negligible"
    elif corrected < STRENGTH_THRESHOLDS["moderate"]:
        strength = "weak"
    elif corrected < STRENGTH_THRESHOLDS["strong"]:
        strength = "moderate"
    else:
        strength = "strong"
    excluded = sales.where(unknown_city).count()

    mix_rows = []
    for i, city in enumerate(table.index):
        for j, category in enumerate(table.columns):
            cell = observed[i, j]
            mix_rows.append((int(city), str(category), int(cell), float(cell / city_sales[i]),
                             float(category_sales[j] / n),
                             float(cell * n / (city_sales[i] * category_sales[j]))))
    mix = spark.createDataFrame(
        mix_rows, "city_id bigint, category string, no_of_sales bigint, city_share double, "
                  "overall_share double, lift double")
    association = spark.createDataFrame(
        [(int(n), r, k, chi_square, dof, cramers_v, corrected, strength, excluded)],
        "n bigint, n_cities int, n_categories int, chi_square double, degrees_of_freedom int, "
        "cramers_v double, cramers_v_corrected double, strength string, "
        "excluded_unknown_city_rows bigint")
    return mix, association


# ------------------------------------------------------------------ Q5

def q5_months(sales: DataFrame) -> DataFrame:
    """Approved sales per month, per observed day, and a seasonality index
    against the mean full month (every calendar day observed)."""
    full = ~F.col("is_partial_month")
    return (
        sales.groupBy("month").agg(
            approved("purchase_amount").alias("approved_amount"),
            F.count_if("is_authorized").alias("approved_count"),
            F.countDistinct("purchase_date").alias("observed_days"))
        .withColumn("is_partial_month", F.col("observed_days") < F.dayofmonth(F.last_day("month")))
        .withColumn("amount_per_observed_day", average("approved_amount", "observed_days"))
        .withColumn("seasonality_index", F.col("amount_per_observed_day") / F.nullif(F.avg(
            F.when(full, F.col("amount_per_observed_day"))).over(Window.partitionBy()), F.lit(0)))
        .select("month", F.date_format("month", "MMM yyyy").alias("month_label"),
                "approved_amount", "approved_count", "observed_days",
                "amount_per_observed_day", "seasonality_index", "is_partial_month")
    )


def q5_ranked(sales: DataFrame, key: str) -> DataFrame:
    """Approved sales per city or category, ranked by approved amount (Q5a, Q5b)."""
    return (
        sales.groupBy(key).agg(
            approved("purchase_amount").alias("approved_amount"),
            F.count_if("is_authorized").alias("approved_count"),
            # The null merchant id ('Unknown merchant') counts as one merchant.
            F.countDistinct(F.when(F.col("is_authorized"),
                                   F.coalesce("merchant_id", F.lit("<null>"))))
            .alias("distinct_merchants"),
            F.sum("purchase_amount").alias("all_rows_amount"))
        .withColumn("rank", F.row_number().over(
            Window.orderBy(F.desc("approved_amount"), F.asc_nulls_last(key))))
        .withColumn("approved_share", share(
            "approved_amount", F.sum("approved_amount").over(Window.partitionBy()), scale=2))
        .withColumn("average_ticket", average("approved_amount", "approved_count"))
        .withColumn("amount_per_merchant", average("approved_amount", "distinct_merchants"))
    )


def q5_cities(sales: DataFrame, months: list) -> DataFrame:
    """Q5a, with growth per observed day: the 3 latest full months against the
    3 full months before them (null without 6 full months)."""
    cities = q5_ranked(sales, "city_id")
    full = [row for row in months if not row.is_partial_month]
    if len(full) >= 6:
        recent, prior = full[-3:], full[-6:-3]
        recent_days = sum(row.observed_days for row in recent)
        prior_days = sum(row.observed_days for row in prior)
        in_recent = F.col("month").isin([row.month for row in recent])
        in_prior = F.col("month").isin([row.month for row in prior])
        growth = (
            sales.where(F.col("is_authorized"))
            .groupBy("city_id").agg(
                F.sum(F.when(in_recent, F.col("purchase_amount")).otherwise(0)).alias("recent"),
                F.sum(F.when(in_prior, F.col("purchase_amount")).otherwise(0)).alias("prior"))
            .select(F.col("city_id").alias("growth_city_id"),
                    F.when(F.col("prior") > 0,
                           (F.col("recent").cast("double") / recent_days)
                           / (F.col("prior").cast("double") / prior_days) - 1)
                    .alias("growth_rate"))
        )
        cities = cities.join(growth, cities["city_id"].eqNullSafe(growth["growth_city_id"]),
                             "left")
    else:
        cities = cities.withColumn("growth_rate", F.lit(None).cast("double"))
    return cities.select("rank", "city_id", "approved_amount", "approved_share",
                         "approved_count", "average_ticket", "distinct_merchants",
                         "amount_per_merchant", "growth_rate", "all_rows_amount")


def q5_hours(sales: DataFrame) -> DataFrame:
    hourly = sales.groupBy("hour").agg(approved("purchase_amount").alias("approved_amount"),
                                       F.count_if("is_authorized").alias("approved_count"))
    return (
        sales.sparkSession.range(24).select(F.col("id").cast("int").alias("hour"))
        .join(hourly, "hour", "left")
        .fillna(0, ["approved_amount", "approved_count"])
        .select("hour", hour_label("hour").alias("hour_label"), "approved_amount",
                "approved_count",
                share("approved_amount", F.sum("approved_amount").over(Window.partitionBy()),
                      scale=2).alias("approved_share"))
    )


def opening_window(hours: dict[int, Decimal]) -> dict:
    """The shortest circular window of whole hours holding the coverage target of
    the approved amount; ties: more amount, then the earlier opening."""
    total = sum(hours.values(), Decimal(0))
    for length in range(1, 25):
        best = None
        for opening in range(24):
            amount = sum((hours.get((opening + step) % 24, Decimal(0))
                          for step in range(length)), Decimal(0))
            if amount >= OPENING_COVERAGE_TARGET * total and (best is None or amount > best[1]):
                best = (opening, amount)
        if best is not None:
            return {"opening_hour": best[0], "closing_hour": (best[0] + length) % 24,
                    "hours_open": length,
                    "coverage": float(best[1] / total) if total else None,
                    "coverage_target": float(OPENING_COVERAGE_TARGET)}
    raise ValueError("no opening window")


def installment_model(sales: DataFrame) -> DataFrame:
    """SPEC's installment model per installment count and scenario, in the driver
    (exact decimals: p(n) = 1 - (1 - rate)^n, rate = margin - p * (1 - share))."""
    plan_type = (F.when(F.col("installments").isin(0, 1), "single")
                 .when(F.col("installments").between(2, MAX_INSTALLMENTS), "installments")
                 .otherwise("unknown"))
    exposure = (
        sales.withColumn("plan_type", plan_type)
        .withColumn("n", F.when(F.col("plan_type") == "installments", F.col("installments")))
        .groupBy("plan_type", "n")
        .agg(approved("purchase_amount").alias("approved_exposure"),
             F.sum("purchase_amount").alias("all_rows_exposure"),
             F.count_if("is_authorized").alias("approved_count"))
        .collect()
    )
    plans = {(row.plan_type, row.n): row for row in exposure}
    for always in (("single", None), ("unknown", None)):
        plans.setdefault(always, None)
    cent, six = Decimal("0.01"), Decimal("0.000001")
    rows = []
    for scenario, basis in SCENARIOS:
        for (kind, n), row in sorted(plans.items(), key=lambda item: (item[0][0], item[0][1] or 0)):
            approved_exposure = row.approved_exposure if row else Decimal(0)
            count = row.approved_count if row else 0
            with localcontext() as ctx:
                ctx.prec = 50
                if kind == "single":
                    p = Decimal(0)
                elif kind == "installments":
                    p = (1 - (1 - MONTHLY_DEFAULT_RATE) ** n if basis == "monthly"
                         else MONTHLY_DEFAULT_RATE)
                else:
                    p = None
                rate = None if p is None else GROSS_MARGIN - p * (1 - SHARE_PAID_BEFORE_DEFAULT)
                rows.append((
                    scenario, kind, n, approved_exposure,
                    row.all_rows_exposure if row else Decimal(0), count,
                    (approved_exposure / count).quantize(cent, ROUND_HALF_UP) if count else None,
                    None if p is None else p.quantize(six, ROUND_HALF_UP),
                    None if rate is None else rate.quantize(six, ROUND_HALF_UP),
                    None if rate is None
                    else (approved_exposure * rate).quantize(cent, ROUND_HALF_UP),
                    None if kind == "unknown"
                    else (approved_exposure * GROSS_MARGIN).quantize(cent, ROUND_HALF_UP),
                    (GROSS_MARGIN / rate - 1).quantize(six, ROUND_HALF_UP)
                    if rate is not None and rate > 0 else None,
                    None if rate is None else rate > 0,
                ))
    return sales.sparkSession.createDataFrame(
        rows, "scenario string, plan_type string, installments bigint, "
              "approved_exposure decimal(28,2), all_rows_exposure decimal(28,2), "
              "approved_count bigint, average_ticket decimal(18,2), p_default decimal(9,6), "
              "expected_profit_rate decimal(9,6), expected_profit decimal(28,2), "
              "single_payment_profit decimal(28,2), break_even_uplift decimal(18,6), "
              "is_recommended boolean")


# ------------------------------------------------------------------ main

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, required=True,
                        help="folder with historical_transactions.parquet and merchants.csv")
    parser.add_argument("--out-dir", type=Path, required=True,
                        help="one CSV folder per answer is written here")
    args = parser.parse_args()
    started = time.perf_counter()
    spark = spark_session()
    sales = load_sales(spark, args.data_dir)
    out = args.out_dir

    save(q1_top_merchants_by_month_city(sales), out, "top_merchants_by_month_city",
         "month", "city_id", "rank")
    save(q2_avg_sale_by_merchant_state(sales), out, "avg_sale_by_merchant_state", "rank")
    save(q3_top_hours_by_category(sales), out, "top_hours_by_category", "category", "rank")
    save(q4a_popular_merchant_cities(sales), out, "popular_merchant_cities", "merchant_rank",
         F.desc("city_transactions"), "city_id")
    mix, association = q4b_city_category(sales)
    save(mix, out, "city_category_mix", "city_id", "category")
    save(association, out, "city_category_association")

    save(q5_months(sales), out, "advice_months", "month")
    months = q5_months(sales).orderBy("month").collect()
    save(q5_cities(sales, months), out, "advice_cities", "rank")
    categories = q5_ranked(sales, "category").select(
        "rank", "category", "approved_amount", "approved_share", "approved_count",
        "average_ticket", "distinct_merchants", "amount_per_merchant", "all_rows_amount")
    save(categories, out, "advice_categories", "rank")
    save(q5_hours(sales), out, "advice_hours", "hour")
    hours = q5_hours(sales).collect()
    window = opening_window({row.hour: row.approved_amount for row in hours})
    save(spark.createDataFrame([window], "opening_hour int, closing_hour int, hours_open int, "
                                        "coverage double, coverage_target double"),
         out, "advice_opening_window")
    save(installment_model(sales), out, "advice_installments")
    spark.stop()
    print(f"reference: 12 answers in {time.perf_counter() - started:.1f}s -> {out}")


if __name__ == "__main__":
    main()
