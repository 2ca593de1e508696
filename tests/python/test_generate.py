"""Tests of the synthetic data generator (python_checks/generate.py).

Manifest figures are re-derived here with pandas from the files on disk, by the SPEC's
rules, independently of the pyarrow code that computed them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from python_checks.generate import (
    FULL_ROWS,
    MERCHANT_COLUMNS,
    MIN_ROWS,
    TRANSACTION_DEFECTS,
    UNPARSEABLE_DATES,
    exact_duplicate_extra_rows,
    generate,
    parseable_dates,
)

ROWS = 20_000
SEED = 42
LAST_TIMESTAMP = "2018-02-28 23:59:59"
FILES = ("historical_transactions.parquet", "merchants.csv", "manifest.json")

EXPECTED_SCHEMA = [
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


# --------------------------------------------------------------------------------------
# Fixtures and independent (pandas) re-computation
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clean_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clean")
    generate(out, rows=ROWS, seed=SEED)
    return out


@pytest.fixture(scope="module")
def dirty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dirty")
    generate(out, rows=ROWS, seed=SEED, dirty=True)
    return out


def _manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def _transactions(out: Path) -> pd.DataFrame:
    """Transactions with arrow-backed dtypes, so a null amount stays distinct from NaN."""
    return pd.read_parquet(out / "historical_transactions.parquet", dtype_backend="pyarrow")


def _merchants(out: Path) -> pd.DataFrame:
    """merchants.csv as raw strings ('' for an empty field, spaces kept)."""
    return pd.read_csv(out / "merchants.csv", dtype=str, keep_default_na=False, na_values=[])


def _amount_flags(df: pd.DataFrame) -> dict[str, np.ndarray]:
    values = df["purchase_amount"].astype("float64[pyarrow]")
    null = values.isna().to_numpy()
    raw = pd.array(values, dtype="float64[pyarrow]").to_numpy(na_value=0.0, dtype=float)
    return {
        "null": null,
        "nan": ~null & np.isnan(raw),
        "pos_inf": ~null & (raw == np.inf),
        "neg_inf": ~null & (raw == -np.inf),
        "finite": ~null & np.isfinite(raw),
        "raw": raw,
    }


def _date_flags(df: pd.DataFrame) -> dict[str, np.ndarray]:
    dates = df["purchase_date"].astype(object)
    missing = dates.isna() | (dates.fillna("").str.strip() == "")
    parsed = pd.to_datetime(dates.where(~missing), format="%Y-%m-%d %H:%M:%S", errors="coerce")
    # pandas (like Python's strptime) accepts second 60; Spark and the SPEC do not, so a
    # value is valid only if it reads back exactly as written.
    valid = parsed.notna() & (parsed.dt.strftime("%Y-%m-%d %H:%M:%S") == dates)
    return {
        "missing": missing.to_numpy(),
        "invalid": (~missing & ~valid).to_numpy(),
        "valid": valid.to_numpy(),
        "future": (valid & (parsed > pd.Timestamp(LAST_TIMESTAMP))).to_numpy(),
    }


def _pandas_rejections(df: pd.DataFrame) -> dict[str, int]:
    dates, amounts = _date_flags(df), _amount_flags(df)
    date_ok = ~dates["missing"] & ~dates["invalid"]
    return {
        "missing_purchase_date": int(dates["missing"].sum()),
        "invalid_purchase_date": int(dates["invalid"].sum()),
        "missing_purchase_amount": int((date_ok & amounts["null"]).sum()),
        "non_finite_purchase_amount": int(
            (date_ok & (amounts["nan"] | amounts["pos_inf"] | amounts["neg_inf"])).sum()
        ),
    }


def _pandas_counts(df: pd.DataFrame, merchants: pd.DataFrame) -> dict[str, int]:
    amounts, dates = _amount_flags(df), _date_flags(df)
    category = df["category"].astype(object)
    installments = df["installments"].astype("Int64")
    merchant = df["merchant_id"].astype(object).str.strip()
    listed = set(merchants["merchant_id"].str.strip())
    plain = pd.read_parquet(Path(df.attrs["path"]))  # numpy-backed: NaN == NaN for duplicated
    return {
        "null_merchant_id": int(merchant.isna().sum()),
        "null_or_blank_category": int(
            (category.isna() | (category.fillna("x").str.strip() == "")).sum()
        ),
        "amount_le_zero": int((amounts["finite"] & (amounts["raw"] <= 0)).sum()),
        "denied": int((df["authorized_flag"] == "N").sum()),
        "unknown_city": int((df["city_id"].isna() | (df["city_id"] == -1)).sum()),
        "unknown_state": int((df["state_id"].isna() | (df["state_id"] == -1)).sum()),
        "installments_unknown": int(
            (installments.isna() | (installments < 0) | (installments > 36)).sum()
        ),
        "future_timestamp": int(dates["future"].sum()),
        "merchant_id_not_in_merchants": int((merchant.notna() & ~merchant.isin(listed)).sum()),
        "exact_duplicate_extra_rows": int(plain.duplicated().sum()),
    }


def _pandas_merchant_counts(merchants: pd.DataFrame) -> tuple[int, dict[str, int]]:
    ids = merchants["merchant_id"].str.strip()
    names = merchants["merchant_name"].str.strip().replace("", np.nan)
    per_id = names.groupby(ids).nunique(dropna=True)
    return len(per_id), {
        "conflicting_name_ids": int((per_id > 1).sum()),
        "ids_without_name": int((per_id == 0).sum()),
    }


def _read(out: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = _transactions(out)
    df.attrs["path"] = str(out / "historical_transactions.parquet")
    return df, _merchants(out)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------------------
# File format
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["clean", "dirty"])
def test_transactions_schema_and_compression(which: str, request: pytest.FixtureRequest) -> None:
    out = request.getfixturevalue(f"{which}_dir")
    path = out / "historical_transactions.parquet"
    schema = pq.read_schema(path)
    assert [(f.name, f.type) for f in schema] == EXPECTED_SCHEMA
    meta = pq.ParquetFile(path).metadata
    assert meta.num_rows == ROWS
    assert all(
        meta.row_group(g).column(c).compression == "SNAPPY"
        for g in range(meta.num_row_groups)
        for c in range(meta.num_columns)
    )


@pytest.mark.parametrize("which", ["clean", "dirty"])
def test_merchants_csv_layout(which: str, request: pytest.FixtureRequest) -> None:
    raw = (request.getfixturevalue(f"{which}_dir") / "merchants.csv").read_bytes()
    assert b"\r" not in raw and b'"' not in raw and raw.endswith(b"\n")
    lines = raw.decode().split("\n")[:-1]
    assert lines[0] == ",".join(MERCHANT_COLUMNS)
    assert len(MERCHANT_COLUMNS) == 20
    assert all(line.count(",") == 19 for line in lines)
    merchants = _merchants(request.getfixturevalue(f"{which}_dir"))
    assert list(merchants.columns) == list(MERCHANT_COLUMNS)
    assert merchants["avg_purchases_lag3"].eq("inf").any()
    assert merchants["avg_sales_lag3"].eq("").any()
    assert set(merchants["most_recent_sales_range"]) <= set("ABCDE")
    assert 0.2 < merchants["city_id"].eq("-1").mean() < 0.4


def test_manifest_file_matches_return_value(tmp_path: Path) -> None:
    manifest = generate(tmp_path, rows=MIN_ROWS, seed=7, dirty=True)
    assert _manifest(tmp_path) == manifest
    assert manifest["generator_version"] == 1
    assert manifest["files"] == {
        "transactions": "historical_transactions.parquet",
        "merchants": "merchants.csv",
    }
    assert list(manifest["transactions"]["planted"]) == list(TRANSACTION_DEFECTS)


def test_rejects_too_few_rows(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="at least"):
        generate(tmp_path, rows=MIN_ROWS - 1)


# --------------------------------------------------------------------------------------
# Determinism
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("dirty", [False, True])
def test_same_seed_gives_identical_files(tmp_path: Path, dirty: bool) -> None:
    generate(tmp_path / "a", rows=ROWS, seed=SEED, dirty=dirty)
    generate(tmp_path / "b", rows=ROWS, seed=SEED, dirty=dirty)
    for name in FILES:
        assert _sha256(tmp_path / "a" / name) == _sha256(tmp_path / "b" / name), name


def test_other_seed_gives_other_files(tmp_path: Path, clean_dir: Path) -> None:
    generate(tmp_path, rows=ROWS, seed=SEED + 1)
    for name in FILES[:2]:
        assert _sha256(tmp_path / name) != _sha256(clean_dir / name), name


# --------------------------------------------------------------------------------------
# Manifest figures, re-derived with pandas
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["clean", "dirty"])
def test_manifest_matches_files(which: str, request: pytest.FixtureRequest) -> None:
    out = request.getfixturevalue(f"{which}_dir")
    manifest = _manifest(out)
    df, merchants = _read(out)
    tx = manifest["transactions"]
    assert manifest["rows"] == tx["rows"] == len(df) == ROWS
    assert tx["rejected"] == _pandas_rejections(df)
    assert tx["cleaned_rows"] == len(df) - sum(tx["rejected"].values())
    assert tx["counts"] == _pandas_counts(df, merchants)

    distinct, counts = _pandas_merchant_counts(merchants)
    assert manifest["merchants"]["rows"] == len(merchants)
    assert manifest["merchants"]["distinct_trimmed_ids"] == distinct
    assert manifest["merchants"]["counts"] == counts


def test_every_unparseable_variant_is_rejected(tmp_path: Path) -> None:
    rows = 100_000  # ten of each defect: every unparseable string variant appears
    manifest = generate(tmp_path, rows=rows, seed=SEED, dirty=True)
    df, _ = _read(tmp_path)
    rejected = manifest["transactions"]["rejected"]
    assert rejected == _pandas_rejections(df)
    assert rejected["invalid_purchase_date"] == rows // 10_000
    invalid = df["purchase_date"][_date_flags(df)["invalid"]].astype(object)
    assert invalid.nunique() == len(UNPARSEABLE_DATES)


def test_clean_mode_has_no_defects(clean_dir: Path) -> None:
    manifest = _manifest(clean_dir)
    tx = manifest["transactions"]
    assert set(tx["rejected"].values()) == {0}
    assert tx["cleaned_rows"] == ROWS
    assert set(tx["planted"].values()) == {0}
    assert set(manifest["merchants"]["planted"].values()) == {0}
    counts = tx["counts"]
    assert counts["amount_le_zero"] == counts["future_timestamp"] == 0
    assert counts["unknown_city"] == counts["exact_duplicate_extra_rows"] == 0
    assert counts["merchant_id_not_in_merchants"] == 0
    assert manifest["merchants"]["counts"]["ids_without_name"] == 0


def test_clean_merchant_ids_all_listed(clean_dir: Path) -> None:
    df, merchants = _read(clean_dir)
    used = set(df["merchant_id"].dropna())
    listed = set(merchants["merchant_id"])
    assert used <= listed  # exact match, no trimming needed
    assert all(m == m.strip() for m in listed)
    # Scaled: ~270,189 * rows / FULL_ROWS transacting ids, the rest never transact.
    assert len(used) == round(270_189 * ROWS / FULL_ROWS)
    assert len(listed) > len(used)


def test_dirty_counts_follow_planted(dirty_dir: Path) -> None:
    manifest = _manifest(dirty_dir)
    tx = manifest["transactions"]
    planted, rejected, counts = tx["planted"], tx["rejected"], tx["counts"]
    assert min(planted.values()) >= 3
    assert rejected["missing_purchase_date"] == (
        planted["empty_purchase_date"] + planted["null_purchase_date"]
    )
    assert rejected["invalid_purchase_date"] == planted["unparseable_purchase_date"]
    assert rejected["missing_purchase_amount"] == planted["null_amount"]
    assert rejected["non_finite_purchase_amount"] == (
        planted["nan_amount"] + planted["pos_inf_amount"] + planted["neg_inf_amount"]
    )
    assert counts["amount_le_zero"] == planted["zero_amount"] + planted["negative_amount"]
    assert counts["future_timestamp"] == planted["future_timestamp"]
    assert counts["merchant_id_not_in_merchants"] == planted["unknown_merchant_id"]
    assert counts["unknown_city"] == planted["unknown_city"] + planted["null_city"]
    assert counts["exact_duplicate_extra_rows"] == planted["duplicate_rows"]
    assert counts["installments_unknown"] >= (
        planted["installments_negative"] + planted["installments_999"]
    )
    m = manifest["merchants"]
    assert m["counts"]["ids_without_name"] == m["planted"]["blank_names"]
    assert m["counts"]["conflicting_name_ids"] >= 3 + m["planted"]["conflicting_name_ids"]


def test_dirty_defects_sit_on_disjoint_rows(dirty_dir: Path) -> None:
    df, merchants = _read(dirty_dir)
    planted = _manifest(dirty_dir)["transactions"]["planted"]
    dates, amounts = _date_flags(df), _amount_flags(df)
    category = df["category"].astype(object)
    listed = set(merchants["merchant_id"].str.strip())
    merchant = df["merchant_id"].astype(object)
    non_finite = amounts["nan"] | amounts["pos_inf"] | amounts["neg_inf"]
    flags = {
        "missing_date": (dates["missing"], "empty_purchase_date", "null_purchase_date"),
        "invalid_date": (dates["invalid"], "unparseable_purchase_date"),
        "future": (dates["future"], "future_timestamp"),
        "null_amount": (amounts["null"], "null_amount"),
        "non_finite": (non_finite, "nan_amount", "pos_inf_amount", "neg_inf_amount"),
        "le_zero": (amounts["finite"] & (amounts["raw"] <= 0), "zero_amount", "negative_amount"),
        "blank_category": (
            (category.notna() & (category.fillna("x").str.strip() == "")).to_numpy(),
            "blank_category",
        ),
        "unknown_merchant": (
            (merchant.notna() & ~merchant.str.strip().isin(listed)).to_numpy(),
            "unknown_merchant_id",
        ),
        "unknown_city": ((df["city_id"] == -1).fillna(False).to_numpy(), "unknown_city"),
        "null_city": (df["city_id"].isna().to_numpy(), "null_city"),
        "negative_installments": ((df["installments"] < 0).to_numpy(), "installments_negative"),
    }
    stacked = np.stack([np.asarray(flag, dtype=bool) for flag, *_ in flags.values()])
    assert stacked.sum(axis=0).max() == 1  # no row carries two planted defects
    for flag, *names in flags.values():
        assert np.asarray(flag).sum() == sum(planted[n] for n in names), names

    # Duplicates are appended copies of rows without any planted defect.
    k = planted["duplicate_rows"]
    plain = pd.read_parquet(dirty_dir / "historical_transactions.parquet")
    assert plain.duplicated().to_numpy()[-k:].all()
    assert not stacked[:, -k:].any()


def test_dirty_merchants_need_trimming(dirty_dir: Path) -> None:
    df, merchants = _read(dirty_dir)
    planted = _manifest(dirty_dir)["merchants"]["planted"]
    raw_ids = merchants["merchant_id"]
    padded = raw_ids[raw_ids != raw_ids.str.strip()]
    assert len(padded) == planted["ids_with_stray_spaces"]
    trimmed = padded.str.strip()
    # The trimmed id is used by transactions and appears nowhere else untrimmed.
    assert not trimmed.isin(set(raw_ids)).any()
    assert trimmed.isin(set(df["merchant_id"].dropna())).all()

    blank = merchants[merchants["merchant_name"].str.strip() == ""]
    assert len(blank) == planted["blank_names"]
    assert blank["merchant_name"].eq("").any() and blank["merchant_name"].ne("").any()
    assert blank["merchant_id"].str.strip().isin(set(df["merchant_id"].dropna())).all()
    assert not merchants["merchant_name"].eq("None").any()


# --------------------------------------------------------------------------------------
# Statistical shape (clean mode)
# --------------------------------------------------------------------------------------


def test_category_follows_installments(clean_dir: Path) -> None:
    df, _ = _read(clean_dir)
    cat = df["category"].astype(object).fillna("null")
    inst = df["installments"].astype(int)
    assert set(cat[inst == 0]) == {"A"}
    assert set(cat[inst == 1]) == {"B", "null"}
    assert set(cat[inst >= 2]) == {"C"}
    assert set(inst) <= set(range(0, 13)) | {999}


def test_timestamps_and_amounts(clean_dir: Path) -> None:
    df, _ = _read(clean_dir)
    ts = pd.to_datetime(df["purchase_date"].astype(object), format="%Y-%m-%d %H:%M:%S")
    assert ts.min() >= pd.Timestamp("2017-01-01") and ts.max() <= pd.Timestamp(LAST_TIMESTAMP)
    assert ts.dt.normalize().nunique() == 424  # every day of the 14 months
    amount = df["purchase_amount"].astype(float)
    assert amount.between(200, 40_000).all()
    assert np.allclose(amount.round(2), amount)
    assert 19_000 < amount.mean() < 21_000
    assert df["month_lag"].between(-13, 0).all()
    assert df["customer_id"].str.fullmatch(r"C_ID_[0-9a-f]{10}").all()
    assert df["merchant_id"].dropna().str.fullmatch(r"M_ID_[0-9a-f]{10}").all()
    assert 0.002 < df["merchant_id"].isna().mean() < 0.01


def test_heavy_entities(clean_dir: Path) -> None:
    df, merchants = _read(clean_dir)
    cities = df["city_id"].value_counts()
    assert list(cities.index[:2]) == [69, 1]
    assert df["city_id"].nunique() <= 307 and df["city_id"].between(1, 347).all()
    denied = df["authorized_flag"].eq("N")
    assert denied[df["city_id"] == 1].mean() > 2 * denied[df["city_id"] != 1].mean()
    assert 0.07 < df["state_id"].eq(-1).mean() < 0.12
    busiest = df["merchant_id"].value_counts().index[0]
    names = merchants.loc[merchants["merchant_id"] == busiest, "merchant_name"]
    assert len(names) >= 2 and names.nunique() == len(names)  # a repeated, conflicting id
    assert names.iloc[0] == "Cesar Hall inc"


# --------------------------------------------------------------------------------------
# Helpers exposed for the checks
# --------------------------------------------------------------------------------------


def test_parseable_dates_is_calendar_strict() -> None:
    values = pa.array([
        "2017-01-05 01:02:03", "2018-02-28 23:59:59", "2017-02-29 08:15:00",
        "2017-02-30 12:00:00", "2017-04-31 09:15:00", "2017-06-15 24:00:00",
        "2017-06-15 12:30:60", "2017-13-45 25:61:00", "2017/03/04 10:00", " 2017-01-05 01:02:03",
        "2017-1-5 1:2:3", "", None,
    ])  # fmt: skip
    assert parseable_dates(values).tolist() == [True, True] + [False] * 11


def test_exact_duplicate_extra_rows_counts_nan_and_null_as_equal() -> None:
    table = pa.table({
        "customer_id": ["a", "a", "a", None, None, "b"],
        "purchase_amount": [float("nan"), float("nan"), 1.0, None, None, 1.0],
    })  # fmt: skip
    assert exact_duplicate_extra_rows(table) == 2
