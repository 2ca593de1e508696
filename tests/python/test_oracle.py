"""Unit tests of the test oracle itself, on tiny hand-built input files.

The inputs are written as real files (parquet + csv, with the real column sets)
and read back through ``oracle.load_inputs``, so reading is tested too.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
from decimal import Decimal
from pathlib import Path
from typing import Any

import oracle
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

TRANSACTION_SCHEMA = pa.schema(
    [
        ("authorized_flag", pa.string()),
        ("customer_id", pa.string()),
        ("city_id", pa.int64()),
        ("installments", pa.int64()),
        ("category", pa.string()),
        ("merchant_category_id", pa.int64()),
        ("merchant_id", pa.string()),
        ("month_lag", pa.int64()),
        ("purchase_date", pa.string()),
        ("state_id", pa.int64()),
        ("subsector_id", pa.int64()),
        ("purchase_amount", pa.float64()),
    ]
)

MERCHANT_HEADER = [
    "merchant_name",
    "merchant_id",
    "merchant_group_id",
    "merchant_category_id",
    "subsector_id",
    "numerical_1",
    "numerical_2",
    "most_recent_sales_range",
    "most_recent_purchases_range",
    "avg_sales_lag3",
    "avg_purchases_lag3",
    "active_months_lag3",
    "avg_sales_lag6",
    "avg_purchases_lag6",
    "active_months_lag6",
    "avg_sales_lag12",
    "avg_purchases_lag12",
    "active_months_lag12",
    "city_id",
    "state_id",
]

JAN_2017 = "2017-01-15 10:00:00"
_UNSET = object()


def txn(
    merchant_id: str | None = "M_1",
    amount: float | None = 10.0,
    *,
    purchase_date: Any = JAN_2017,
    city_id: int | None = 1,
    state_id: int | None = 9,
    category: Any = "A",
    authorized_flag: str = "Y",
) -> dict[str, Any]:
    """One transaction row with all 12 source columns."""
    return {
        "authorized_flag": authorized_flag,
        "customer_id": "C_ID_0000000001",
        "city_id": city_id,
        "installments": 0,
        "category": category,
        "merchant_category_id": 705,
        "merchant_id": merchant_id,
        "month_lag": -2,
        "purchase_date": purchase_date,
        "state_id": state_id,
        "subsector_id": 33,
        "purchase_amount": amount,
    }


def merchant(merchant_id: str, merchant_name: str) -> dict[str, str]:
    """One merchants.csv row; the columns the oracle ignores get plausible values."""
    row = {name: "" for name in MERCHANT_HEADER}
    row.update(
        merchant_name=merchant_name,
        merchant_id=merchant_id,
        merchant_group_id="8353",
        merchant_category_id="705",
        subsector_id="33",
        numerical_1="-0.05",
        numerical_2="-0.05",
        most_recent_sales_range="E",
        most_recent_purchases_range="E",
        avg_purchases_lag3="inf",
        avg_purchases_lag6="inf",
        avg_purchases_lag12="inf",
        city_id="-1",
        state_id="-1",
    )
    return row


DEFAULT_MERCHANTS = [merchant(f"M_{i}", f"Name {i} inc") for i in range(1, 10)]


def write_inputs(
    directory: Path,
    transactions: list[dict[str, Any]],
    merchants: list[dict[str, str]] | None = None,
    schema: pa.Schema = TRANSACTION_SCHEMA,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pylist(transactions, schema=schema)
    pq.write_table(table, directory / oracle.TRANSACTIONS_FILE)
    with open(directory / oracle.MERCHANTS_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MERCHANT_HEADER)
        writer.writeheader()
        writer.writerows(DEFAULT_MERCHANTS if merchants is None else merchants)
    return directory


def run_clean(
    tmp_path: Path,
    transactions: list[dict[str, Any]],
    merchants: list[dict[str, str]] | None = None,
) -> tuple[pd.DataFrame, dict[str, int]]:
    data_dir = write_inputs(tmp_path / "data", transactions, merchants)
    return oracle.clean(*oracle.load_inputs(data_dir))


def records(frame: pd.DataFrame, columns: list[str]) -> list[tuple[Any, ...]]:
    """Rows as tuples with pandas' missing markers turned into None."""
    return [
        tuple(None if value is None or value is pd.NA else value for value in row)
        for row in frame[columns].itertuples(index=False, name=None)
    ]


# --------------------------------------------------------------------------- loading


def test_columns_are_read_by_name_and_extra_columns_ignored(tmp_path: Path) -> None:
    shuffled = pa.schema([*reversed(list(TRANSACTION_SCHEMA)), pa.field("extra", pa.string())])
    row = {**txn(), "extra": "ignored"}
    cleaned, _ = oracle.clean(*oracle.load_inputs(write_inputs(tmp_path, [row], schema=shuffled)))
    assert records(cleaned, ["merchant_id", "merchant_name", "city_id", "purchase_amount"]) == [
        ("M_1", "Name 1 inc", 1, Decimal("10.00"))
    ]


def test_missing_required_column_names_file_and_column(tmp_path: Path) -> None:
    schema = pa.schema([field for field in TRANSACTION_SCHEMA if field.name != "purchase_date"])
    rows = [{k: v for k, v in txn().items() if k != "purchase_date"}]
    data_dir = write_inputs(tmp_path, rows, schema=schema)
    with pytest.raises(ValueError, match=r"historical_transactions\.parquet.*purchase_date"):
        oracle.load_inputs(data_dir)


# --------------------------------------------------------------------------- rejections


def test_each_rejection_reason_and_its_precedence(tmp_path: Path) -> None:
    rows = [
        txn(purchase_date=None),  # missing
        txn(purchase_date="   "),  # blank after trim -> missing
        txn(purchase_date=None, amount=None),  # both bad: the date reason wins
        txn(purchase_date="not a date"),
        txn(purchase_date="2017-02-30 10:00:00"),  # no such calendar day
        txn(purchase_date="2017-01-05 24:00:00"),
        txn(purchase_date="2017-01-05 10:00:60"),  # pandas alone would roll this over
        txn(purchase_date="2017-1-5 10:00:00"),  # unpadded: not 'yyyy-MM-dd'
        txn(purchase_date="2017-01-05"),  # date only
        txn(purchase_date="2017-01-05T10:00:00"),
        txn(purchase_date="bad", amount=math.nan),  # date reason wins over amount
        txn(amount=None),
        txn(amount=math.nan),
        txn(amount=math.inf),
        txn(amount=-math.inf),
        txn(purchase_date=" 2017-01-05 10:00:00 ", amount=1.0),  # padded but valid
        txn(amount=0.0),  # odd but valid
        txn(amount=-5.0),  # odd but valid
        txn(amount=1e16),  # does not fit decimal(18,2)
        txn(amount=-2e17),
        txn(amount=9_999_999_999_999_998.0),  # the largest double that fits
    ]
    cleaned, rejected = run_clean(tmp_path, rows)
    assert rejected == {
        "missing_purchase_date": 3,
        "invalid_purchase_date": 8,
        "missing_purchase_amount": 1,
        "non_finite_purchase_amount": 3,
        "purchase_amount_out_of_range": 2,
    }
    assert len(cleaned) + sum(rejected.values()) == len(rows)
    assert cleaned["purchase_amount"].tolist() == [
        Decimal("1.00"),
        Decimal("0.00"),
        Decimal("-5.00"),
        Decimal("9999999999999998.00"),
    ]
    assert cleaned["purchase_ts"].iloc[0] == pd.Timestamp("2017-01-05 10:00:00")


def test_amounts_become_exact_cents_half_up_on_the_decimal_text(tmp_path: Path) -> None:
    # 1.005 and 2.675 are just below .xx5 in binary; Spark rounds their decimal
    # text half-up, so they go up. 0.1 + 0.2 prints as 0.30000000000000004.
    rows = [txn(amount=value) for value in (1.005, 2.675, 0.1 + 0.2, -1.005, 0.1, 0.1, 0.1)]
    cleaned, _ = run_clean(tmp_path, rows)
    assert cleaned["amount_cents"].tolist() == [101, 268, 30, -101, 10, 10, 10]
    assert cleaned["purchase_amount"].tolist()[:4] == [
        Decimal("1.01"),
        Decimal("2.68"),
        Decimal("0.30"),
        Decimal("-1.01"),
    ]


# --------------------------------------------------------------------------- attributes


def test_null_and_blank_category_become_unknown(tmp_path: Path) -> None:
    rows = [txn(category=value) for value in (None, "", "   ", " B ", "C")]
    cleaned, _ = run_clean(tmp_path, rows)
    assert cleaned["category"].tolist() == [
        "Unknown category",
        "Unknown category",
        "Unknown category",
        "B",
        "C",
    ]


def test_merchant_name_resolution(tmp_path: Path) -> None:
    merchants = [
        merchant("M_1", "Alice inc"),
        merchant("M_2", "Bob inc"),  # conflict: two different names
        merchant("M_2", "Bob 2 inc"),
        merchant("M_3", ""),  # only a blank name
        merchant("M_4", "Dan inc"),  # same name twice after trim: no conflict
        merchant("M_4", " Dan inc "),
        merchant("M_5", "   "),  # a blank and a real name: the real one
        merchant("M_5", "Eve inc"),
        merchant("  M_6 ", "Fay inc"),  # stray spaces around the id
        merchant("   ", "Nobody inc"),  # blank id: ignored
    ]
    assert oracle.merchant_names(pd.DataFrame(merchants, dtype=str)) == {
        "M_1": "Alice inc",
        "M_2": "M_2",
        "M_3": "M_3",
        "M_4": "Dan inc",
        "M_5": "Eve inc",
        "M_6": "Fay inc",
    }
    assert oracle.conflicting_merchant_ids(pd.DataFrame(merchants, dtype=str)) == {"M_2"}

    ids = [" M_1 ", "M_2", "M_3", "M_4", "M_5", "M_6", "M_7", None, "  "]
    cleaned, _ = run_clean(tmp_path, [txn(merchant_id=i) for i in ids], merchants)
    assert records(cleaned, ["merchant_id", "merchant_name"]) == [
        ("M_1", "Alice inc"),  # transaction id trimmed too
        ("M_2", "M_2"),
        ("M_3", "M_3"),
        ("M_4", "Dan inc"),
        ("M_5", "Eve inc"),
        ("M_6", "Fay inc"),
        ("M_7", "M_7"),  # absent from merchants.csv
        (None, "Unknown merchant"),
        (None, "Unknown merchant"),  # blank id is a null id
    ]


def test_month_and_hour_have_no_timezone_shift(tmp_path: Path) -> None:
    cleaned, _ = run_clean(tmp_path, [txn(purchase_date="2017-12-31 23:59:59")])
    assert cleaned["purchase_month"].iloc[0] == pd.Timestamp("2017-12-01")
    assert cleaned["purchase_hour"].iloc[0] == 23


# --------------------------------------------------------------------------- Q1


Q1_KEY = ["month", "city_id", "rank", "merchant_id", "merchant_name", "purchase_total"]


def test_q1_ties_break_on_merchant_id_with_null_id_last(tmp_path: Path) -> None:
    rows = [
        txn("M_2", 10.0),
        txn(None, 5.0),
        txn("M_1", 10.0),
        txn("  ", 5.0),  # blank id joins the null-id group: 10.00 in total
        txn("M_3", 20.0),
    ]
    cleaned, _ = run_clean(tmp_path, rows)
    q1 = oracle.q1_top_merchants_by_month_city(cleaned)
    assert list(q1.columns) == oracle.Q1_COLUMNS
    jan = dt.date(2017, 1, 1)
    assert records(q1, [*Q1_KEY, "no_of_sales"]) == [
        (jan, 1, 1, "M_3", "Name 3 inc", Decimal("20.00"), 1),
        (jan, 1, 2, "M_1", "Name 1 inc", Decimal("10.00"), 1),
        (jan, 1, 3, "M_2", "Name 2 inc", Decimal("10.00"), 1),
        (jan, 1, 4, None, "Unknown merchant", Decimal("10.00"), 2),
    ]


def test_q1_keeps_top_5_and_cities_with_fewer_merchants(tmp_path: Path) -> None:
    # City 2 has 7 merchants (amounts 1..7), city 3 only two, city -1 and the
    # null city are groups of their own.
    rows = [txn(f"M_{i}", float(i), city_id=2) for i in range(1, 8)]
    rows += [txn("M_1", 3.0, city_id=3), txn("M_2", 4.0, city_id=3)]
    rows += [txn("M_1", 1.0, city_id=-1), txn("M_1", 2.0, city_id=None)]
    cleaned, _ = run_clean(tmp_path, rows)
    q1 = oracle.q1_top_merchants_by_month_city(cleaned)
    assert records(q1, ["city_id", "rank", "merchant_id", "purchase_total"]) == [
        (-1, 1, "M_1", Decimal("1.00")),
        (2, 1, "M_7", Decimal("7.00")),
        (2, 2, "M_6", Decimal("6.00")),
        (2, 3, "M_5", Decimal("5.00")),
        (2, 4, "M_4", Decimal("4.00")),
        (2, 5, "M_3", Decimal("3.00")),
        (3, 1, "M_2", Decimal("4.00")),
        (3, 2, "M_1", Decimal("3.00")),
        (None, 1, "M_1", Decimal("2.00")),  # null city sorts last
    ]


def test_q1_same_month_of_different_years_are_different_months(tmp_path: Path) -> None:
    rows = [
        txn("M_1", 1.0, purchase_date="2018-01-03 08:00:00"),
        txn("M_1", 2.0, purchase_date="2017-01-03 08:00:00"),
        txn("M_1", 4.0, purchase_date="2017-01-31 23:59:59"),
    ]
    cleaned, _ = run_clean(tmp_path, rows)
    q1 = oracle.q1_top_merchants_by_month_city(cleaned)
    assert records(q1, ["month", "month_label", "purchase_total", "no_of_sales"]) == [
        (dt.date(2017, 1, 1), "Jan 2017", Decimal("6.00"), 2),
        (dt.date(2018, 1, 1), "Jan 2018", Decimal("1.00"), 1),
    ]


def test_q1_counts_denied_rows(tmp_path: Path) -> None:
    rows = [txn("M_1", 1.0, authorized_flag="N"), txn("M_1", 2.0)]
    cleaned, _ = run_clean(tmp_path, rows)
    q1 = oracle.q1_top_merchants_by_month_city(cleaned)
    assert records(q1, ["purchase_total", "no_of_sales"]) == [(Decimal("3.00"), 2)]


# --------------------------------------------------------------------------- Q2


def test_q2_average_is_rounded_half_up(tmp_path: Path) -> None:
    rows = [
        txn("M_1", 10.00),  # 10.005 -> 10.01
        txn("M_1", 10.01),
        txn("M_2", -10.00),  # -10.005 -> -10.01 (half-up rounds away from zero)
        txn("M_2", -10.01),
        txn("M_3", 1.00),  # 1.0033.. -> 1.00
        txn("M_3", 1.00),
        txn("M_3", 1.01),
    ]
    cleaned, _ = run_clean(tmp_path, rows)
    q2 = oracle.q2_avg_sale_by_merchant_state(cleaned)
    assert list(q2.columns) == oracle.Q2_COLUMNS
    assert records(q2, oracle.Q2_COLUMNS) == [
        (1, "M_1", "Name 1 inc", 9, Decimal("10.01"), 2, Decimal("20.01")),
        (2, "M_3", "Name 3 inc", 9, Decimal("1.00"), 3, Decimal("3.01")),
        (3, "M_2", "Name 2 inc", 9, Decimal("-10.01"), 2, Decimal("-20.01")),
    ]


def test_q2_ties_break_on_merchant_then_state_nulls_last(tmp_path: Path) -> None:
    rows = [
        txn(None, 5.0, state_id=1),
        txn("M_2", 5.0, state_id=1),
        txn("M_1", 5.0, state_id=None),
        txn("M_1", 5.0, state_id=-1),
        txn("M_1", 5.0, state_id=3),
    ]
    cleaned, _ = run_clean(tmp_path, rows)
    q2 = oracle.q2_avg_sale_by_merchant_state(cleaned)
    assert records(q2, ["rank", "merchant_id", "state_id"]) == [
        (1, "M_1", -1),
        (2, "M_1", 3),
        (3, "M_1", None),
        (4, "M_2", 1),
        (5, None, 1),
    ]


# --------------------------------------------------------------------------- Q3


def test_q3_top_3_hours_tie_on_earlier_hour(tmp_path: Path) -> None:
    def at(hour: int) -> str:
        return f"2017-03-04 {hour:02d}:30:00"

    rows = [
        txn(amount=5.0, purchase_date=at(13)),
        txn(amount=5.0, purchase_date=at(9)),  # ties with 13: 9 first
        txn(amount=9.0, purchase_date=at(0)),
        txn(amount=1.0, purchase_date=at(23)),  # fourth: cut
        txn(amount=2.0, purchase_date=at(7), category=None),
    ]
    cleaned, _ = run_clean(tmp_path, rows)
    q3 = oracle.q3_top_hours_by_category(cleaned)
    assert list(q3.columns) == oracle.Q3_COLUMNS
    assert records(q3, oracle.Q3_COLUMNS) == [
        ("A", 1, 0, "0000", Decimal("9.00"), 1),
        ("A", 2, 9, "0900", Decimal("5.00"), 1),
        ("A", 3, 13, "1300", Decimal("5.00"), 1),
        ("Unknown category", 1, 7, "0700", Decimal("2.00"), 1),
    ]
