"""Independent test oracle: the cleaning rules and marts Q1-Q5 in pandas/pyarrow.

This module re-implements ``shared/SPEC.md`` without Spark or dbt, so the
end-to-end test can compare the real pipeline's CSV exports with an answer
computed a second, independent way. It favours being obviously right over being
fast; ~50k rows take well under a few seconds.

Conventions of the frames returned here:

* money is held as exact integer cents (``amount_cents``, ``total_cents``) for
  arithmetic and exposed as :class:`decimal.Decimal` with two places
  (``purchase_amount``, ``purchase_total``, ``average_amount``);
* ``city_id`` / ``state_id`` are pandas nullable ``Int64``;
* text keys are ``object`` columns holding ``str`` or ``None``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from pandas.api.types import is_datetime64_any_dtype, is_numeric_dtype

TRANSACTIONS_FILE = "historical_transactions.parquet"
MERCHANTS_FILE = "merchants.csv"

# Only the columns the oracle needs; the files may hold more (they are ignored).
TRANSACTION_COLUMNS: tuple[str, ...] = (
    "authorized_flag",
    "city_id",
    "category",
    "merchant_id",
    "purchase_date",
    "state_id",
    "purchase_amount",
)
MERCHANT_COLUMNS: tuple[str, ...] = ("merchant_id", "merchant_name")

# Order matters: the first matching reason wins.
REJECTION_REASONS: tuple[str, ...] = (
    "missing_purchase_date",
    "invalid_purchase_date",
    "missing_purchase_amount",
    "non_finite_purchase_amount",
    # Not in the brief's list, but the pipeline has it: a finite amount whose
    # cents do not fit decimal(18,2) is quarantined rather than overflowing.
    "purchase_amount_out_of_range",
)

UNKNOWN_CATEGORY = "Unknown category"
UNKNOWN_MERCHANT = "Unknown merchant"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S"

Q1_COLUMNS: list[str] = [
    "month",
    "month_label",
    "city_id",
    "rank",
    "merchant_id",
    "merchant_name",
    "purchase_total",
    "no_of_sales",
]
Q2_COLUMNS: list[str] = [
    "rank",
    "merchant_id",
    "merchant_name",
    "state_id",
    "average_amount",
    "no_of_sales",
    "purchase_total",
]
Q3_COLUMNS: list[str] = [
    "category",
    "rank",
    "hour",
    "hour_label",
    "purchase_total",
    "no_of_sales",
]

Q1_TOP_N = 5
Q3_TOP_N = 3

_CENT = Decimal("0.01")
# decimal(18,2) holds |x| < 1e16. Doubles are 2 apart near 1e16, so "x >= 1e16"
# on the double is exactly "HALF_UP(x, 2) does not fit".
_DECIMAL_18_2_LIMIT = 1e16
# Fixed English abbreviations: strftime('%b') would depend on the locale.
_MONTH_ABBR = np.array(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
)
# Spark's trim() removes only the space character (not tabs or newlines); mirror it.
_TRIM_CHARS = " "


# --------------------------------------------------------------------------- loading


def load_inputs(data_dir: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Read the two input files from ``data_dir`` by column name.

    ``purchase_amount`` comes back as an Arrow-backed ``double[pyarrow]`` column
    so that a null stays distinguishable from NaN (a numpy float column cannot
    tell them apart). ``merchants.csv`` is read with every column as text and
    blanks kept as ``''``; :func:`clean` and :func:`merchant_names` handle them.
    """
    data_dir = Path(data_dir)
    transactions_path = data_dir / TRANSACTIONS_FILE
    merchants_path = data_dir / MERCHANTS_FILE

    # read_table accepts a single file or a folder of part files.
    table = pq.read_table(transactions_path)
    _require_columns(transactions_path, table.column_names, TRANSACTION_COLUMNS)
    transactions = pd.DataFrame(
        {
            "authorized_flag": _arrow_text(table.column("authorized_flag")),
            "city_id": _arrow_int(table.column("city_id")),
            "category": _arrow_text(table.column("category")),
            "merchant_id": _arrow_text(table.column("merchant_id")),
            "purchase_date": _arrow_text(table.column("purchase_date")),
            "state_id": _arrow_int(table.column("state_id")),
            "purchase_amount": pd.Series(
                pd.arrays.ArrowExtensionArray(table.column("purchase_amount").cast(pa.float64()))
            ),
        }
    )

    # Optional for Q1-Q3 (which ignore it), needed by the Q5 installment model;
    # clean() carries it through when present.
    if "installments" in table.column_names:
        transactions["installments"] = _arrow_int(table.column("installments"))

    merchants = pd.read_csv(merchants_path, dtype=str, keep_default_na=False)
    _require_columns(merchants_path, list(merchants.columns), MERCHANT_COLUMNS)
    return transactions, merchants


def _require_columns(path: Path, present: list[str], required: tuple[str, ...]) -> None:
    missing = [name for name in required if name not in present]
    if missing:
        raise ValueError(f"{path}: missing required column(s) {', '.join(missing)}")


def _arrow_text(column: pa.ChunkedArray) -> pd.Series:
    """Arrow column -> object Series of ``str`` / ``None``."""
    return pd.Series(column.cast(pa.string()).to_pylist(), dtype=object)


def _arrow_int(column: pa.ChunkedArray) -> pd.Series:
    """Arrow column -> nullable ``Int64`` Series."""
    return pd.Series(column.cast(pa.int64()).to_pylist(), dtype="Int64")


# --------------------------------------------------------------------------- cleaning


def _trimmed_or_none(values: pd.Series) -> pd.Series:
    """Trim spaces; null, non-text or blank-after-trim becomes ``None`` (object dtype)."""
    text = pd.Series(values, dtype=object)
    # .str.strip leaves NaN for None and for non-str values.
    stripped = text.str.strip(_TRIM_CHARS)
    keep = stripped.notna() & (stripped != "")
    return stripped.astype(object).where(keep, None)


def _double_to_cents(value: float) -> int:
    """Exact cents of a double, as Spark's ``cast(double as decimal(18,2))``.

    Spark goes through the double's shortest decimal text and rounds HALF_UP;
    ``repr`` is Python's shortest text, so 1.005 -> 1.01 even though the binary
    value is 1.00499999...; ``round(x * 100)`` would give 1.00 here.
    """
    cents = Decimal(repr(value)).quantize(_CENT, rounding=ROUND_HALF_UP).scaleb(2)
    return int(cents)


def _cents_to_decimal(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2).quantize(_CENT)


def _decimals(cents: pd.Series) -> list[Decimal]:
    return [_cents_to_decimal(value) for value in cents]


def merchant_names(merchants: pd.DataFrame) -> dict[str, str]:
    """Resolved display name per trimmed ``merchant_id`` listed in ``merchants.csv``.

    Exactly one distinct non-blank (trimmed) name -> that name; no name, or
    several different names (a conflict) -> the id itself. Rows with a blank id
    are ignored. Ids absent from the file are resolved by the caller (to the id).
    """
    frame = pd.DataFrame(
        {
            "merchant_id": _trimmed_or_none(merchants["merchant_id"]),
            "merchant_name": _trimmed_or_none(merchants["merchant_name"]),
        }
    ).dropna(subset=["merchant_id"])

    resolved = {merchant_id: merchant_id for merchant_id in frame["merchant_id"].unique()}
    named = frame.dropna(subset=["merchant_name"]).drop_duplicates()
    per_id = named.groupby("merchant_id")["merchant_name"].agg(["nunique", "first"])
    single = per_id[per_id["nunique"] == 1]
    resolved.update(zip(single.index, single["first"], strict=True))
    return resolved


def conflicting_merchant_ids(merchants: pd.DataFrame) -> set[str]:
    """Trimmed ids that carry more than one distinct non-blank name."""
    frame = pd.DataFrame(
        {
            "merchant_id": _trimmed_or_none(merchants["merchant_id"]),
            "merchant_name": _trimmed_or_none(merchants["merchant_name"]),
        }
    ).dropna()
    per_id = frame.groupby("merchant_id")["merchant_name"].nunique()
    return set(per_id[per_id > 1].index)


def clean(
    transactions: pd.DataFrame, merchants: pd.DataFrame
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Apply the cleaning rules; return the cleaned rows and rejected counts per reason.

    ``rejected_counts`` has every reason in :data:`REJECTION_REASONS` (zero included).
    The cleaned frame has ``purchase_ts``, ``purchase_month`` (first day, as a
    datetime64), ``purchase_hour``, ``amount_cents`` (int64), ``purchase_amount``
    (Decimal), ``category``, ``merchant_id``, ``merchant_name``, ``city_id``,
    ``state_id`` and ``authorized_flag``.
    """
    transactions = transactions.reset_index(drop=True)

    date_text = _trimmed_or_none(transactions["purchase_date"])
    parsed = pd.to_datetime(date_text, format=TIMESTAMP_FORMAT, errors="coerce")
    # pandas accepts unpadded fields ('2017-1-5 1:2:3') and rolls second 60 over
    # into the next minute; Spark's fixed-width, strict 'yyyy-MM-dd HH:mm:ss'
    # rejects both. Keeping only values that print back to the same text closes
    # that gap. (NaT prints as NaN, which never equals the text.)
    round_trips = parsed.dt.strftime(TIMESTAMP_FORMAT) == date_text
    parsed = parsed.where(round_trips)

    # pa.array on an Arrow-backed Series keeps null and NaN apart; on a plain
    # float Series pandas semantics apply and NaN already counts as null.
    amounts = pa.array(transactions["purchase_amount"], type=pa.float64())
    amount_is_null = pc.is_null(amounts, nan_is_null=False).to_numpy(zero_copy_only=False)
    amount_is_finite = pc.is_finite(amounts).fill_null(False).to_numpy(zero_copy_only=False)
    amount_too_large = (
        pc.greater_equal(pc.abs(amounts), _DECIMAL_18_2_LIMIT)
        .fill_null(False)
        .to_numpy(zero_copy_only=False)
    )

    conditions = [
        date_text.isna().to_numpy(),
        parsed.isna().to_numpy(),
        amount_is_null,
        ~amount_is_finite,
        amount_too_large,
    ]
    reason = np.select(conditions, list(REJECTION_REASONS), default="")
    rejected_counts = {name: int((reason == name).sum()) for name in REJECTION_REASONS}

    keep = reason == ""
    kept = transactions.loc[keep].reset_index(drop=True)
    purchase_ts = parsed.loc[keep].reset_index(drop=True)
    kept_amounts = amounts.filter(pa.array(keep)).to_numpy(zero_copy_only=False)
    amount_cents = pd.Series([_double_to_cents(float(x)) for x in kept_amounts], dtype="int64")

    category = _trimmed_or_none(kept["category"]).fillna(UNKNOWN_CATEGORY)
    merchant_id = _trimmed_or_none(kept["merchant_id"])
    # Listed id -> resolved name; id absent from merchants.csv -> the id; null -> Unknown.
    merchant_name = merchant_id.map(merchant_names(merchants)).fillna(merchant_id)
    merchant_name = merchant_name.where(merchant_id.notna(), UNKNOWN_MERCHANT)

    cleaned = pd.DataFrame(
        {
            "authorized_flag": kept["authorized_flag"],
            "purchase_ts": purchase_ts,
            "purchase_month": purchase_ts.dt.to_period("M").dt.to_timestamp(),
            "purchase_hour": purchase_ts.dt.hour.astype("int64"),
            "amount_cents": amount_cents,
            "purchase_amount": _decimals(amount_cents),
            "category": category.astype(object),
            "merchant_id": merchant_id,
            "merchant_name": merchant_name.astype(object),
            "city_id": kept["city_id"].astype("Int64"),
            "state_id": kept["state_id"].astype("Int64"),
        }
    )
    if "installments" in kept:  # optional input column, see load_inputs
        cleaned["installments"] = kept["installments"].astype("Int64")
    return cleaned, rejected_counts


# --------------------------------------------------------------------------- marts


def _half_up_divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """Integer ``numerator / denominator`` rounded HALF_UP (ties away from zero), exactly."""
    numerator = numerator.astype("int64")
    denominator = denominator.astype("int64")
    magnitude = (2 * np.abs(numerator) + denominator) // (2 * denominator)
    return np.sign(numerator) * magnitude


def _sales_by(cleaned: pd.DataFrame, keys: list[str], *, with_name: bool) -> pd.DataFrame:
    """Sum of cents and row count per ``keys``; null keys form their own group."""
    aggregations: dict[str, tuple[str, str]] = {
        "total_cents": ("amount_cents", "sum"),
        "no_of_sales": ("amount_cents", "size"),
    }
    if with_name:
        # One name per merchant_id by construction, so 'first' is the name.
        aggregations["merchant_name"] = ("merchant_name", "first")
    grouped = cleaned.groupby(keys, dropna=False, sort=False).agg(**aggregations).reset_index()
    # groupby(dropna=False) hands a text key back as a 'str' column with NaN
    # for null; restore the object-with-None convention.
    for key in keys:
        column = grouped[key]
        if not (is_numeric_dtype(column) or is_datetime64_any_dtype(column)):
            text = column.astype(object)
            grouped[key] = text.where(text.notna(), None)
    return grouped


def _rank_within(ordered: pd.DataFrame, partition: list[str]) -> pd.Series:
    """1-based ``row_number()`` of already-ordered rows within each partition."""
    return ordered.groupby(partition, dropna=False, sort=False).cumcount() + 1


def q1_top_merchants_by_month_city(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Top 5 merchants by purchase total for each (month, city_id).

    Ties: ``merchant_id`` ascending, the null id ('Unknown merchant') last.
    Sorted by month, city_id (nulls last), rank.
    """
    sales = _sales_by(cleaned, ["purchase_month", "city_id", "merchant_id"], with_name=True)
    sales["merchant_is_null"] = sales["merchant_id"].isna()
    # na_position='last' puts the null city last and (with merchant_is_null)
    # the null merchant last within its tie.
    ordered = sales.sort_values(
        ["purchase_month", "city_id", "total_cents", "merchant_is_null", "merchant_id"],
        ascending=[True, True, False, True, True],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    ordered["rank"] = _rank_within(ordered, ["purchase_month", "city_id"])
    top = ordered[ordered["rank"] <= Q1_TOP_N].reset_index(drop=True)

    month = top["purchase_month"]
    abbreviation = pd.Series(_MONTH_ABBR[month.dt.month.to_numpy() - 1], dtype=object)
    month_label = abbreviation + " " + month.dt.year.astype(str).astype(object)
    return pd.DataFrame(
        {
            "month": month.dt.date,
            "month_label": month_label,
            "city_id": top["city_id"],
            "rank": top["rank"].astype("int64"),
            "merchant_id": top["merchant_id"].astype(object),
            "merchant_name": top["merchant_name"].astype(object),
            "purchase_total": _decimals(top["total_cents"]),
            "no_of_sales": top["no_of_sales"].astype("int64"),
        },
        columns=Q1_COLUMNS,
    )


def q2_avg_sale_by_merchant_state(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Average sale per (merchant_id, state_id), ranked over the whole table.

    ``average_amount`` = purchase_total / no_of_sales rounded HALF_UP to cents.
    Rank: average desc, merchant_id asc nulls last, state_id asc nulls last.
    """
    sales = _sales_by(cleaned, ["merchant_id", "state_id"], with_name=True)
    sales["average_cents"] = _half_up_divide(
        sales["total_cents"].to_numpy(), sales["no_of_sales"].to_numpy()
    )
    sales["merchant_is_null"] = sales["merchant_id"].isna()
    sales["state_is_null"] = sales["state_id"].isna()
    ordered = sales.sort_values(
        ["average_cents", "merchant_is_null", "merchant_id", "state_is_null", "state_id"],
        ascending=[False, True, True, True, True],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)

    return pd.DataFrame(
        {
            "rank": np.arange(1, len(ordered) + 1, dtype="int64"),
            "merchant_id": ordered["merchant_id"].astype(object),
            "merchant_name": ordered["merchant_name"].astype(object),
            "state_id": ordered["state_id"],
            "average_amount": _decimals(ordered["average_cents"]),
            "no_of_sales": ordered["no_of_sales"].astype("int64"),
            "purchase_total": _decimals(ordered["total_cents"]),
        },
        columns=Q2_COLUMNS,
    )


def q3_top_hours_by_category(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Top 3 hours of the day by purchase total for each category; tie: earlier hour."""
    sales = _sales_by(cleaned, ["category", "purchase_hour"], with_name=False)
    ordered = sales.sort_values(
        ["category", "total_cents", "purchase_hour"],
        ascending=[True, False, True],
        kind="mergesort",
    ).reset_index(drop=True)
    ordered["rank"] = _rank_within(ordered, ["category"])
    top = ordered[ordered["rank"] <= Q3_TOP_N].reset_index(drop=True)

    hour = top["purchase_hour"].astype("int64")
    return pd.DataFrame(
        {
            "category": top["category"].astype(object),
            "rank": top["rank"].astype("int64"),
            "hour": hour,
            "hour_label": hour.map(lambda h: f"{h:02d}00").astype(object),
            "purchase_total": _decimals(top["total_cents"]),
            "no_of_sales": top["no_of_sales"].astype("int64"),
        },
        columns=Q3_COLUMNS,
    )


# --------------------------------------------------------------------------- Q4 and Q5
#
# The same conventions, plus: shares, lifts, indexes and rates are exact
# fractions rounded HALF_UP to 6 places (``Decimal``), as the SQL's decimal
# divisions are; the association statistics are floats (the SQL uses doubles,
# compare them with a tolerance); booleans are Python ``bool``.

Q4A_COLUMNS: list[str] = [
    "merchant_rank",
    "merchant_id",
    "merchant_name",
    "merchant_transactions",
    "city_id",
    "city_transactions",
    "city_share",
    "rank_in_city",
    "registered_city_id",
]
Q4B_MIX_COLUMNS: list[str] = [
    "city_id",
    "category",
    "no_of_sales",
    "city_share",
    "overall_share",
    "lift",
]
Q4B_ASSOCIATION_COLUMNS: list[str] = [
    "n",
    "n_cities",
    "n_categories",
    "chi_square",
    "degrees_of_freedom",
    "cramers_v",
    "cramers_v_corrected",
    "strength",
    "excluded_unknown_city_rows",
]
Q5_CITIES_COLUMNS: list[str] = [
    "rank",
    "city_id",
    "approved_amount",
    "approved_share",
    "approved_count",
    "average_ticket",
    "distinct_merchants",
    "amount_per_merchant",
    "growth_rate",
    "all_rows_amount",
]
Q5_CATEGORIES_COLUMNS: list[str] = [
    "rank",
    "category",
    "approved_amount",
    "approved_share",
    "approved_count",
    "average_ticket",
    "distinct_merchants",
    "amount_per_merchant",
    "all_rows_amount",
]
Q5_MONTHS_COLUMNS: list[str] = [
    "month",
    "month_label",
    "approved_amount",
    "approved_count",
    "observed_days",
    "amount_per_observed_day",
    "seasonality_index",
    "is_partial_month",
]
Q5_HOURS_COLUMNS: list[str] = [
    "hour",
    "hour_label",
    "approved_amount",
    "approved_count",
    "approved_share",
]
Q5_WINDOW_COLUMNS: list[str] = [
    "opening_hour",
    "closing_hour",
    "hours_open",
    "coverage",
    "coverage_target",
]
Q5_INSTALLMENTS_COLUMNS: list[str] = [
    "scenario",
    "plan_type",
    "installments",
    "approved_exposure",
    "all_rows_exposure",
    "approved_count",
    "average_ticket",
    "p_default",
    "expected_profit_rate",
    "expected_profit",
    "single_payment_profit",
    "break_even_uplift",
    "is_recommended",
]

# Defaults of the dbt vars (dbt_project.yml); the end-to-end test passes the
# project's actual values.
TOP_POPULAR_MERCHANTS = 10
ASSOCIATION_STRENGTH_THRESHOLDS: dict[str, float] = {"weak": 0.1, "moderate": 0.3, "strong": 0.5}
OPENING_COVERAGE_TARGET = Decimal("0.80")
GROSS_MARGIN = Decimal("0.25")
MONTHLY_DEFAULT_RATE = Decimal("0.229")
SHARE_PAID_BEFORE_DEFAULT = Decimal("0.5")
MAX_INSTALLMENTS = 36
# The seed installment_scenarios as delivered.
INSTALLMENT_SCENARIOS: tuple[dict[str, str], ...] = (
    {"scenario": "monthly", "default_rate_basis": "monthly", "default_rate_source": "var",
     "default_rate": "0.229"},
    {"scenario": "flat", "default_rate_basis": "flat", "default_rate_source": "var",
     "default_rate": "0.229"},
)

RATIO_PLACES = 6
_SURVIVAL_PLACES = 18  # the SQL's exact (1 - rate)^n keeps 18 places at each step
_PROFIT_RATE_PLACES = 24
_PLAN_ORDER = {"single": 0, "installments": 1, "unknown": 2}


def _half_up(value: Fraction, places: int) -> Decimal:
    """An exact fraction rounded HALF_UP (ties away from zero) to ``places`` decimals."""
    scaled = value * 10**places
    magnitude = (2 * abs(scaled.numerator) + scaled.denominator) // (2 * scaled.denominator)
    sign = -1 if scaled < 0 else 1
    return Decimal(sign * magnitude).scaleb(-places).quantize(Decimal(1).scaleb(-places))


def _ratio(numerator: int | Fraction, denominator: int | Fraction,
           places: int = RATIO_PLACES) -> Decimal | None:
    """``numerator / denominator`` rounded HALF_UP; None when the denominator is 0."""
    if denominator == 0:
        return None
    return _half_up(Fraction(numerator) / Fraction(denominator), places)


def _money(cents: int) -> Decimal:
    return _cents_to_decimal(int(cents))


def _is_known_city(city_id: Any) -> bool:
    return city_id is not None and city_id is not pd.NA and int(city_id) != -1


def _none_if_na(value: Any) -> Any:
    return None if value is None or value is pd.NA else value


def _key(value: Any) -> Any:
    """A group key as plain Python: None for any missing marker, int for integers."""
    value = _none_if_na(value)
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, (int, np.integer)):
        return int(value)
    return value


def _with_flags(cleaned: pd.DataFrame) -> pd.DataFrame:
    """The cleaned rows with ``is_approved`` (upper(trim(flag)) = 'Y', as staging
    does) and ``purchase_date`` (the calendar day of purchase_ts)."""
    flag = pd.Series(cleaned["authorized_flag"], dtype=object)
    frame = cleaned.copy()
    frame["is_approved"] = [
        isinstance(value, str) and value.strip(_TRIM_CHARS).upper() == "Y" for value in flag
    ]
    frame["purchase_date"] = cleaned["purchase_ts"].dt.normalize()
    return frame


def _sort_key_nulls_last(value: Any) -> tuple[int, Any]:
    value = _none_if_na(value)
    return (1, 0) if value is None else (0, value)


def _month_label(month: pd.Timestamp) -> str:
    return f"{_MONTH_ABBR[month.month - 1]} {month.year}"


# ------------------------------------------------------------------ Q4a


def registered_cities(merchants: pd.DataFrame) -> dict[str, int | None]:
    """``registered_city_id`` per trimmed merchant id: the largest integer
    ``city_id`` of its merchants.csv rows (text that is not an integer is null)."""
    ids = _trimmed_or_none(merchants["merchant_id"])
    cities: dict[str, list[int]] = {}
    for merchant_id, text in zip(ids, merchants["city_id"], strict=True):
        if merchant_id is None:
            continue
        known = cities.setdefault(merchant_id, [])
        with contextlib.suppress(ValueError):
            known.append(int(str(text).strip(_TRIM_CHARS)))
    return {merchant_id: max(known) if known else None for merchant_id, known in cities.items()}


def q4a_popular_merchant_cities(
    cleaned: pd.DataFrame, merchants: pd.DataFrame, top_n: int = TOP_POPULAR_MERCHANTS
) -> pd.DataFrame:
    """Top ``top_n`` merchants by transaction count (tie: merchant_id, null last)
    and their cities, with each merchant's rank among all merchants of the city."""
    pairs = _sales_by(cleaned, ["merchant_id", "city_id"], with_name=True)
    pairs["merchant_is_null"] = pairs["merchant_id"].isna()
    in_city = pairs.sort_values(
        ["city_id", "no_of_sales", "merchant_is_null", "merchant_id"],
        ascending=[True, False, True, True],
        na_position="last",
        kind="mergesort",
    ).reset_index(drop=True)
    in_city["rank_in_city"] = _rank_within(in_city, ["city_id"])

    totals = in_city.groupby("merchant_id", dropna=False, sort=False)["no_of_sales"].sum()
    merchant_rows = sorted(
        ((_key(merchant_id), int(count)) for merchant_id, count in totals.items()),
        key=lambda item: (-item[1], *_sort_key_nulls_last(item[0])),
    )[:top_n]
    registered = registered_cities(merchants)

    rows = []
    for merchant_rank, (merchant_id, merchant_total) in enumerate(merchant_rows, start=1):
        mine = in_city[
            in_city["merchant_id"].isna()
            if merchant_id is None
            else in_city["merchant_id"] == merchant_id
        ]
        for record in mine.itertuples(index=False):
            rows.append(
                {
                    "merchant_rank": merchant_rank,
                    "merchant_id": merchant_id,
                    "merchant_name": record.merchant_name,
                    "merchant_transactions": merchant_total,
                    "city_id": _key(record.city_id),
                    "city_transactions": int(record.no_of_sales),
                    "city_share": _ratio(int(record.no_of_sales), merchant_total),
                    "rank_in_city": int(record.rank_in_city),
                    "registered_city_id": None if merchant_id is None
                    else registered.get(merchant_id),
                }
            )
    rows.sort(key=lambda row: (row["merchant_rank"], -row["city_transactions"],
                               *_sort_key_nulls_last(row["city_id"])))
    return pd.DataFrame(rows, columns=Q4A_COLUMNS)


# ------------------------------------------------------------------ Q4b


def _city_category_grid(cleaned: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Counts over the full known-city x category grid, and the unknown-city rows."""
    known = cleaned[[_is_known_city(value) for value in cleaned["city_id"]]]
    excluded = len(cleaned) - len(known)
    counts = known.groupby(["city_id", "category"]).size()
    cities = sorted(int(city) for city in known["city_id"].unique())
    categories = sorted(known["category"].unique())
    grid = pd.DataFrame(
        [
            {"city_id": city, "category": category,
             "no_of_sales": int(counts.get((city, category), 0))}
            for city in cities
            for category in categories
        ],
        columns=["city_id", "category", "no_of_sales"],
    )
    return grid, excluded


def q4b_city_category_mix(cleaned: pd.DataFrame) -> pd.DataFrame:
    """City x category counts (known cities only, full grid) with the city's mix,
    the overall mix and the lift n_ij * n / (n_i * n_j)."""
    grid, _ = _city_category_grid(cleaned)
    city_sales = grid.groupby("city_id")["no_of_sales"].sum()
    category_sales = grid.groupby("category")["no_of_sales"].sum()
    total = int(grid["no_of_sales"].sum())
    rows = []
    for record in grid.itertuples(index=False):
        row_total = int(city_sales[record.city_id])
        column_total = int(category_sales[record.category])
        rows.append(
            {
                "city_id": record.city_id,
                "category": record.category,
                "no_of_sales": record.no_of_sales,
                "city_share": _ratio(record.no_of_sales, row_total),
                "overall_share": _ratio(column_total, total),
                "lift": _ratio(record.no_of_sales * total, row_total * column_total),
            }
        )
    return pd.DataFrame(rows, columns=Q4B_MIX_COLUMNS)


def q4b_city_category_association(
    cleaned: pd.DataFrame,
    thresholds: dict[str, float] | None = None,
) -> pd.DataFrame:
    """Chi-square, Cramer's V and the bias-corrected V (Bergsma 2013) of the
    known-city x category table, in numpy floats; one row."""
    thresholds = thresholds or ASSOCIATION_STRENGTH_THRESHOLDS
    grid, excluded = _city_category_grid(cleaned)
    table = grid.pivot(index="city_id", columns="category", values="no_of_sales").to_numpy(
        dtype=float
    ) if len(grid) else np.zeros((0, 0))
    n = int(table.sum())
    r, k = table.shape
    chi_square = 0.0
    if n:
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
        chi_square = float(((table - expected) ** 2 / expected).sum())
    min_dimension = min(r - 1, k - 1)
    cramers_v = math.sqrt(chi_square / (n * min_dimension)) if n and min_dimension > 0 else None
    corrected = None
    if n > 1:
        phi_square = max(0.0, chi_square / n - (r - 1) * (k - 1) / (n - 1))
        r_corrected = r - (r - 1) ** 2 / (n - 1)
        k_corrected = k - (k - 1) ** 2 / (n - 1)
        denominator = min(r_corrected, k_corrected) - 1
        if denominator > 0:
            corrected = math.sqrt(phi_square / denominator)
    if corrected is None:
        strength = "undefined"
    elif corrected < thresholds["weak"]:
        strength = "negligible"
    elif corrected < thresholds["moderate"]:
        strength = "weak"
    elif corrected < thresholds["strong"]:
        strength = "moderate"
    else:
        strength = "strong"
    return pd.DataFrame(
        [
            {
                "n": n,
                "n_cities": r,
                "n_categories": k,
                "chi_square": chi_square,
                "degrees_of_freedom": max(r - 1, 0) * max(k - 1, 0),
                "cramers_v": cramers_v,
                "cramers_v_corrected": corrected,
                "strength": strength,
                "excluded_unknown_city_rows": excluded,
            }
        ],
        columns=Q4B_ASSOCIATION_COLUMNS,
    )


# ------------------------------------------------------------------ Q5


def _approved_measures(frame: pd.DataFrame, key: str) -> dict[Any, dict[str, Any]]:
    """Per value of ``key`` (null kept as a group): approved cents and count,
    distinct approved merchants (the null id counts as one), all-rows cents."""
    measures: dict[Any, dict[str, Any]] = {}
    for value, group in frame.groupby(key, dropna=False, sort=False):
        approved = group[group["is_approved"]]
        merchants = approved["merchant_id"]
        measures[_key(value)] = {
            "approved_cents": int(approved["amount_cents"].sum()),
            "approved_count": len(approved),
            "distinct_merchants": int(merchants.dropna().nunique()) + int(merchants.isna().any()),
            "all_rows_cents": int(group["amount_cents"].sum()),
        }
    return measures


def _ranked_advice(measures: dict[Any, dict[str, Any]], key: str) -> list[dict[str, Any]]:
    total = sum(item["approved_cents"] for item in measures.values())
    ordered = sorted(
        measures.items(),
        key=lambda item: (-item[1]["approved_cents"], *_sort_key_nulls_last(item[0])),
    )
    rows = []
    for rank, (value, item) in enumerate(ordered, start=1):
        average = _ratio(item["approved_cents"], item["approved_count"], 0)
        per_merchant = _ratio(item["approved_cents"], item["distinct_merchants"], 0)
        rows.append(
            {
                "rank": rank,
                key: value,
                "approved_amount": _money(item["approved_cents"]),
                "approved_share": _ratio(item["approved_cents"], total),
                "approved_count": item["approved_count"],
                "average_ticket": None if average is None else _money(int(average)),
                "distinct_merchants": item["distinct_merchants"],
                "amount_per_merchant": None if per_merchant is None
                else _money(int(per_merchant)),
                "all_rows_amount": _money(item["all_rows_cents"]),
            }
        )
    return rows


def _month_coverage(frame: pd.DataFrame) -> pd.DataFrame:
    """Per purchase month: observed days (any row), calendar days, partial flag."""
    months = frame.groupby("purchase_month").agg(
        observed_days=("purchase_date", "nunique"),
    ).reset_index()
    months["calendar_days"] = months["purchase_month"].dt.days_in_month
    months["is_partial_month"] = months["observed_days"] < months["calendar_days"]
    return months


def q5_advice_months(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Per month: approved amount and count, observed days, amount per observed
    day (cents, half-up) and the index against the mean full month."""
    frame = _with_flags(cleaned)
    months = _month_coverage(frame)
    approved = frame[frame["is_approved"]].groupby("purchase_month")["amount_cents"]
    approved_cents = approved.sum()
    approved_count = approved.size()
    records = []
    for month in months.itertuples(index=False):
        cents = int(approved_cents.get(month.purchase_month, 0))
        per_day = int(_ratio(cents, int(month.observed_days), 0))
        records.append((month, cents, per_day))
    full = [per_day for month, _, per_day in records if not month.is_partial_month]
    rows = []
    for month, cents, per_day in records:
        rows.append(
            {
                "month": month.purchase_month.date(),
                "month_label": _month_label(month.purchase_month),
                "approved_amount": _money(cents),
                "approved_count": int(approved_count.get(month.purchase_month, 0)),
                "observed_days": int(month.observed_days),
                "amount_per_observed_day": _money(per_day),
                "seasonality_index": _ratio(per_day * len(full), sum(full)) if full else None,
                "is_partial_month": bool(month.is_partial_month),
            }
        )
    return pd.DataFrame(rows, columns=Q5_MONTHS_COLUMNS)


def q5_advice_cities(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Per city: approved measures ranked by approved amount (tie: city_id, null
    last) and the per-day growth of the last 3 full months over the 3 before."""
    frame = _with_flags(cleaned)
    rows = _ranked_advice(_approved_measures(frame, "city_id"), "city_id")

    months = _month_coverage(frame)
    full = months[~months["is_partial_month"]].sort_values("purchase_month", ascending=False)
    growth: dict[Any, Decimal | None] = {}
    if len(full) >= 6:
        recent, prior = full.iloc[:3], full.iloc[3:6]
        recent_days = int(recent["observed_days"].sum())
        prior_days = int(prior["observed_days"].sum())
        approved = frame[frame["is_approved"]]
        for city_id, group in approved.groupby("city_id", dropna=False, sort=False):
            recent_cents = int(group[group["purchase_month"].isin(recent["purchase_month"])]
                               ["amount_cents"].sum())
            prior_cents = int(group[group["purchase_month"].isin(prior["purchase_month"])]
                              ["amount_cents"].sum())
            if prior_cents > 0:
                growth[_key(city_id)] = _ratio(
                    recent_cents * prior_days - prior_cents * recent_days,
                    prior_cents * recent_days,
                )
    for row in rows:
        row["growth_rate"] = growth.get(row["city_id"])
    return pd.DataFrame(rows, columns=Q5_CITIES_COLUMNS)


def q5_advice_categories(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Per category: approved measures ranked by approved amount (tie: category)."""
    frame = _with_flags(cleaned)
    rows = _ranked_advice(_approved_measures(frame, "category"), "category")
    return pd.DataFrame(rows, columns=Q5_CATEGORIES_COLUMNS)


def _hourly_approved(cleaned: pd.DataFrame) -> tuple[list[int], list[int]]:
    frame = _with_flags(cleaned)
    approved = frame[frame["is_approved"]].groupby("purchase_hour")["amount_cents"]
    cents, counts = approved.sum(), approved.size()
    return ([int(cents.get(hour, 0)) for hour in range(24)],
            [int(counts.get(hour, 0)) for hour in range(24)])


def q5_advice_hours(cleaned: pd.DataFrame) -> pd.DataFrame:
    """All 24 hours: approved amount, count and share of the day."""
    cents, counts = _hourly_approved(cleaned)
    total = sum(cents)
    return pd.DataFrame(
        [
            {
                "hour": hour,
                "hour_label": f"{hour:02d}00",
                "approved_amount": _money(cents[hour]),
                "approved_count": counts[hour],
                "approved_share": _ratio(cents[hour], total),
            }
            for hour in range(24)
        ],
        columns=Q5_HOURS_COLUMNS,
    )


def q5_advice_opening_window(
    cleaned: pd.DataFrame, coverage_target: Decimal = OPENING_COVERAGE_TARGET
) -> pd.DataFrame:
    """Brute force over the 24 x 24 circular windows: the shortest holding at
    least ``coverage_target`` of the approved amount; tie: more amount, then
    the earlier opening hour."""
    cents, _ = _hourly_approved(cleaned)
    total = sum(cents)
    target = Fraction(coverage_target)
    best: tuple[int, int, int] | None = None  # (hours_open, -amount, opening)
    for opening in range(24):
        for length in range(1, 25):
            amount = sum(cents[(opening + offset) % 24] for offset in range(length))
            if amount >= target * total:
                candidate = (length, -amount, opening)
                best = candidate if best is None or candidate < best else best
    if best is None:
        return pd.DataFrame([], columns=Q5_WINDOW_COLUMNS)
    length, negative_amount, opening = best
    return pd.DataFrame(
        [
            {
                "opening_hour": opening,
                "closing_hour": (opening + length) % 24,
                "hours_open": length,
                "coverage": _ratio(-negative_amount, total),
                "coverage_target": _half_up(target, RATIO_PLACES),
            }
        ],
        columns=Q5_WINDOW_COLUMNS,
    )


def _default_probability(basis: str, rate: Decimal, installments: int) -> Decimal | None:
    """p(n): 'monthly' 1 - (1 - rate)^n taken in 18-place steps (as the SQL does,
    each product rounded HALF_UP); 'flat' the rate."""
    if basis == "flat":
        return rate
    if basis != "monthly":
        return None
    survival = Decimal(1)
    for _ in range(installments):
        survival = (survival * (1 - rate)).quantize(
            Decimal(1).scaleb(-_SURVIVAL_PLACES), rounding=ROUND_HALF_UP
        )
    return 1 - survival


def q5_advice_installments(
    cleaned: pd.DataFrame,
    scenarios: Iterable[dict[str, str]] = INSTALLMENT_SCENARIOS,
    *,
    gross_margin: Decimal = GROSS_MARGIN,
    monthly_default_rate: Decimal = MONTHLY_DEFAULT_RATE,
    share_paid_before_default: Decimal = SHARE_PAID_BEFORE_DEFAULT,
    max_installments: int = MAX_INSTALLMENTS,
) -> pd.DataFrame:
    """The SPEC installment model per scenario: one row per installments value
    seen (2..max), plus the single and unknown rows, always present."""
    frame = _with_flags(cleaned)
    values = frame["installments"]

    def plan_of(value: Any) -> tuple[str, int | None]:
        value = _none_if_na(value)
        if value in (0, 1):
            return "single", None
        if value is not None and 2 <= value <= max_installments:
            return "installments", int(value)
        return "unknown", None

    plans = [plan_of(value) for value in values]
    frame["plan_type"] = [plan for plan, _ in plans]
    frame["plan_installments"] = [count for _, count in plans]
    plan_rows: dict[tuple[str, int | None], dict[str, int]] = {
        ("single", None): {"approved": 0, "all": 0, "count": 0},
        ("unknown", None): {"approved": 0, "all": 0, "count": 0},
    }
    for plan_type, count, cents, approved in zip(
        frame["plan_type"], frame["plan_installments"], frame["amount_cents"],
        frame["is_approved"], strict=True
    ):
        key = (plan_type, _key(count))
        totals = plan_rows.setdefault(key, {"approved": 0, "all": 0, "count": 0})
        totals["all"] += int(cents)
        if approved:
            totals["approved"] += int(cents)
            totals["count"] += 1

    six = Decimal(1).scaleb(-RATIO_PLACES)
    rows = []
    for scenario in scenarios:
        rate = (monthly_default_rate if scenario["default_rate_source"] == "var"
                else Decimal(scenario["default_rate"])).quantize(six, rounding=ROUND_HALF_UP)
        for (plan_type, count), totals in plan_rows.items():
            exposure = _money(totals["approved"])
            if plan_type == "unknown":
                p_default = profit_rate = None
            else:
                p_default = (Decimal(0) if plan_type == "single"
                             else _default_probability(scenario["default_rate_basis"], rate,
                                                       int(count)))
                profit_rate = None if p_default is None else (
                    gross_margin - p_default * (1 - share_paid_before_default)
                ).quantize(Decimal(1).scaleb(-_PROFIT_RATE_PLACES), rounding=ROUND_HALF_UP)
            average = _ratio(totals["approved"], totals["count"], 0)
            rows.append(
                {
                    "scenario": scenario["scenario"],
                    "plan_type": plan_type,
                    "installments": count,
                    "approved_exposure": exposure,
                    "all_rows_exposure": _money(totals["all"]),
                    "approved_count": totals["count"],
                    "average_ticket": None if average is None else _money(int(average)),
                    "p_default": None if p_default is None
                    else _half_up(Fraction(p_default), RATIO_PLACES),
                    "expected_profit_rate": None if profit_rate is None
                    else _half_up(Fraction(profit_rate), RATIO_PLACES),
                    "expected_profit": None if profit_rate is None
                    else _half_up(Fraction(exposure) * Fraction(profit_rate), 2),
                    "single_payment_profit": None if plan_type == "unknown"
                    else _half_up(Fraction(exposure) * Fraction(gross_margin), 2),
                    "break_even_uplift": _half_up(
                        Fraction(gross_margin) / Fraction(profit_rate) - 1, RATIO_PLACES
                    ) if profit_rate is not None and profit_rate > 0 else None,
                    "is_recommended": None if profit_rate is None else bool(profit_rate > 0),
                }
            )
    rows.sort(key=lambda row: (row["scenario"], _PLAN_ORDER[row["plan_type"]],
                               *_sort_key_nulls_last(row["installments"])))
    return pd.DataFrame(rows, columns=Q5_INSTALLMENTS_COLUMNS)
