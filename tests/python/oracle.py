"""Independent test oracle: the cleaning rules and marts Q1-Q3 in pandas/pyarrow.

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

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

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
