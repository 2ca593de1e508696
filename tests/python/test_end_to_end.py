"""End to end: generate a dirty synthetic data set, run the real pipeline on it
(`python -m python_checks.cli run` in a subprocess, i.e. dbt on Spark) and compare
its CSV exports with the independent pandas oracle in ``oracle.py``.

The pipeline run takes minutes (a JVM, dbt build and tests); it happens once per
test session (conftest.shared_build), shared with the other modules that read
it. ``test_oracle_agrees_with_generator_manifest`` checks the oracle and the
generator against each other.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import oracle
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from conftest import SHARED_ROWS, SharedBuild, isolated_env

REPO_ROOT = Path(__file__).resolve().parents[2]
ROWS = SHARED_ROWS
PIPELINE_TIMEOUT_SECONDS = 60 * 60
OUTPUT_TAIL_CHARS = 6_000


def _project_vars() -> dict[str, Any]:
    """The vars of dbt_project.yml: the run uses their defaults, so does the oracle."""
    with open(REPO_ROOT / "dbt_project.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)["vars"]


def _seed_rows(name: str) -> list[dict[str, str]]:
    with open(REPO_ROOT / "seeds" / f"{name}.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


VARS = _project_vars()


def _var_decimal(name: str) -> Decimal:
    # dbt renders a YAML float with Python's str(), e.g. 0.80 -> '0.8'.
    return Decimal(str(VARS[name]))


# An oracle mart builder: (cleaned rows, merchants.csv as read) -> the mart.
Builder = Callable[[pd.DataFrame, pd.DataFrame], pd.DataFrame]

# Mart name -> (SPEC export columns in order, oracle builder).
MARTS: dict[str, tuple[list[str], Builder]] = {
    "top_merchants_by_month_city": (
        oracle.Q1_COLUMNS,
        lambda cleaned, _: oracle.q1_top_merchants_by_month_city(cleaned),
    ),
    "avg_sale_by_merchant_state": (
        oracle.Q2_COLUMNS,
        lambda cleaned, _: oracle.q2_avg_sale_by_merchant_state(cleaned),
    ),
    "top_hours_by_category": (
        oracle.Q3_COLUMNS,
        lambda cleaned, _: oracle.q3_top_hours_by_category(cleaned),
    ),
    "popular_merchant_cities": (
        oracle.Q4A_COLUMNS,
        lambda cleaned, merchants: oracle.q4a_popular_merchant_cities(
            cleaned, merchants, top_n=int(VARS["top_popular_merchants"])
        ),
    ),
    "city_category_mix": (
        oracle.Q4B_MIX_COLUMNS,
        lambda cleaned, _: oracle.q4b_city_category_mix(cleaned),
    ),
    "city_category_association": (
        oracle.Q4B_ASSOCIATION_COLUMNS,
        lambda cleaned, _: oracle.q4b_city_category_association(
            cleaned, VARS["association_strength_thresholds"]
        ),
    ),
    "advice_cities": (
        oracle.Q5_CITIES_COLUMNS,
        lambda cleaned, _: oracle.q5_advice_cities(cleaned),
    ),
    "advice_categories": (
        oracle.Q5_CATEGORIES_COLUMNS,
        lambda cleaned, _: oracle.q5_advice_categories(cleaned),
    ),
    "advice_months": (
        oracle.Q5_MONTHS_COLUMNS,
        lambda cleaned, _: oracle.q5_advice_months(cleaned),
    ),
    "advice_hours": (
        oracle.Q5_HOURS_COLUMNS,
        lambda cleaned, _: oracle.q5_advice_hours(cleaned),
    ),
    "advice_opening_window": (
        oracle.Q5_WINDOW_COLUMNS,
        lambda cleaned, _: oracle.q5_advice_opening_window(
            cleaned, _var_decimal("opening_coverage_target")
        ),
    ),
    "advice_installments": (
        oracle.Q5_INSTALLMENTS_COLUMNS,
        lambda cleaned, _: oracle.q5_advice_installments(
            cleaned,
            _seed_rows("installment_scenarios"),
            gross_margin=_var_decimal("gross_margin"),
            monthly_default_rate=_var_decimal("monthly_default_rate"),
            share_paid_before_default=_var_decimal("share_paid_before_default"),
            max_installments=int(VARS["max_installments"]),
        ),
    ),
}
# Compared as numbers, so '123.40' == '123.4' and '0.00' == '0'. Everything else
# (hour_label '0900', month '2017-01-01', ids, booleans 'true') is compared as text.
NUMERIC_COLUMNS = frozenset(
    {"city_id", "state_id", "rank", "hour", "purchase_total", "no_of_sales", "average_amount",
     # Q4
     "merchant_rank", "merchant_transactions", "city_transactions", "city_share",
     "rank_in_city", "registered_city_id", "overall_share", "lift", "n", "n_cities",
     "n_categories", "degrees_of_freedom", "excluded_unknown_city_rows",
     # Q5
     "approved_amount", "approved_share", "approved_count", "average_ticket",
     "distinct_merchants", "amount_per_merchant", "growth_rate", "all_rows_amount",
     "observed_days", "amount_per_observed_day", "seasonality_index", "opening_hour",
     "closing_hour", "hours_open", "coverage", "coverage_target", "installments",
     "approved_exposure", "all_rows_exposure", "p_default", "expected_profit_rate",
     "expected_profit", "single_payment_profit", "break_even_uplift"}
)
# Computed in doubles by the SQL (and rounded there to 6 dp), in numpy floats by
# the oracle: equal within FLOAT_TOLERANCE. Every other number must match exactly.
FLOAT_COLUMNS = frozenset({"chi_square", "cramers_v", "cramers_v_corrected"})
FLOAT_TOLERANCE = {"abs_tol": 2e-6, "rel_tol": 1e-9}

Row = tuple[Any, ...]


@dataclass(frozen=True)
class Generated:
    """The synthetic inputs and everything the oracle derives from them."""

    data_dir: Path
    manifest: dict[str, Any]
    raw_transaction_rows: int
    raw_merchant_rows: int
    cleaned_rows: int
    rejected: dict[str, int]
    conflicting_ids: set[str]
    marts: dict[str, pd.DataFrame]


# --------------------------------------------------------------------------- fixtures


pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("shared_build")]


@pytest.fixture(scope="module")
def generated(shared_build: SharedBuild) -> Generated:
    """The shared dirty set and everything the oracle derives from it."""
    data_dir = shared_build.data_dir
    transactions, merchants = oracle.load_inputs(data_dir)
    cleaned, rejected = oracle.clean(transactions, merchants)
    return Generated(
        data_dir=data_dir,
        manifest=shared_build.manifest,
        raw_transaction_rows=pq.ParquetFile(data_dir / oracle.TRANSACTIONS_FILE).metadata.num_rows,
        raw_merchant_rows=len(merchants),
        cleaned_rows=len(cleaned),
        rejected=rejected,
        conflicting_ids=oracle.conflicting_merchant_ids(merchants),
        marts={name: build(cleaned, merchants) for name, (_, build) in MARTS.items()},
    )


@pytest.fixture(scope="module")
def pipeline_output(shared_build: SharedBuild) -> Path:
    """The real pipeline's output on that set (`billups run --unit-tests`: the
    dbt unit tests run in the real build; production runs skip them)."""
    return shared_build.output


def _output_tails(stdout: str | bytes | None, stderr: str | bytes | None) -> str:
    def tail(text: str | bytes | None) -> str:
        if isinstance(text, bytes):
            text = text.decode(errors="replace")
        return (text or "")[-OUTPUT_TAIL_CHARS:]

    return f"--- stdout (tail) ---\n{tail(stdout)}\n--- stderr (tail) ---\n{tail(stderr)}"


# --------------------------------------------------------------------------- helpers


def _read_csv(path: Path) -> pd.DataFrame:
    assert path.is_file(), f"missing export {path}"
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _normalise(value: Any, numeric: bool | str) -> Any:
    """One cell as comparable data: None for missing, Decimal for numbers (float
    for the FLOAT_COLUMNS, numeric='float'), 'true'/'false' for booleans, else text.

    Applied to both sides, so a CSV cell ('' / '123.40' / '2017-01-01' / 'true')
    and an oracle value (None / Decimal / int / date / bool) meet in the same form.
    """
    if value is None or value is pd.NA or value == "":
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if numeric == "float":
        return float(value)
    if numeric:
        return Decimal(str(value))
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _normalised_rows(frame: pd.DataFrame, columns: list[str]) -> list[Row]:
    flags: list[bool | str] = [
        "float" if column in FLOAT_COLUMNS else column in NUMERIC_COLUMNS for column in columns
    ]
    return [
        tuple(_normalise(value, numeric) for value, numeric in zip(row, flags, strict=True))
        for row in frame[columns].itertuples(index=False, name=None)
    ]


def _same_row(actual: Row, expected: Row) -> bool:
    """Cell by cell; floats (only the FLOAT_COLUMNS become floats) within FLOAT_TOLERANCE."""
    for a, e in zip(actual, expected, strict=True):
        if isinstance(a, float) and isinstance(e, float):
            if not math.isclose(a, e, **FLOAT_TOLERANCE):
                return False
        elif a != e:
            return False
    return True


def _assert_same_rows(name: str, actual: list[Row], expected: list[Row]) -> None:
    assert len(actual) == len(expected), (
        f"{name}: pipeline has {len(actual)} rows, oracle {len(expected)}"
    )
    differing = [
        i for i, (a, e) in enumerate(zip(actual, expected, strict=True)) if not _same_row(a, e)
    ]
    if differing:
        shown = "\n".join(
            f"  data row {i}: pipeline {actual[i]}\n              oracle   {expected[i]}"
            for i in differing[:5]
        )
        pytest.fail(f"{name}: {len(differing)} of {len(expected)} rows differ\n{shown}")


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {reason: int(count) for reason, count in counts.items() if count}


def _ledger(pipeline_output: Path, source_name: str) -> dict[str, int]:
    """Row counts per reason_code for one source, summed over its files."""
    ledger = _read_csv(pipeline_output / "quality" / "row_ledger.csv")
    expected = ["source_name", "source_file", "reason_code", "row_count"]
    assert set(expected) <= set(ledger.columns), f"row_ledger.csv columns: {list(ledger)}"
    rows = ledger[ledger["source_name"] == source_name]
    return rows["row_count"].astype(int).groupby(rows["reason_code"]).sum().to_dict()


def _rows_of(frame: pd.DataFrame, ids: Iterable[str]) -> pd.DataFrame:
    return frame[frame["merchant_id"].isin(set(ids))]


# --------------------------------------------------------------------------- tests


def test_oracle_agrees_with_generator_manifest(generated: Generated) -> None:
    """Two independent counts of the same planted problems (no pipeline needed)."""
    transactions = generated.manifest["transactions"]
    assert generated.raw_transaction_rows == transactions["rows"] == ROWS
    assert generated.cleaned_rows == transactions["cleaned_rows"]
    assert _nonzero(generated.rejected) == _nonzero(transactions["rejected"])
    assert generated.raw_transaction_rows == generated.cleaned_rows + sum(
        generated.rejected.values()
    )
    merchants = generated.manifest["merchants"]
    assert generated.raw_merchant_rows == merchants["rows"]
    assert len(generated.conflicting_ids) == merchants["counts"]["conflicting_name_ids"]


@pytest.mark.parametrize("mart", list(MARTS))
def test_mart_matches_oracle(mart: str, generated: Generated, pipeline_output: Path) -> None:
    columns, _ = MARTS[mart]
    exported = _read_csv(pipeline_output / "marts" / f"{mart}.csv")
    # The SPEC columns come first, in order; more columns after them are allowed.
    assert list(exported.columns[: len(columns)]) == columns
    _assert_same_rows(
        mart,
        _normalised_rows(exported, columns),
        _normalised_rows(generated.marts[mart], columns),
    )


def test_transactions_ledger_reconciles(generated: Generated, pipeline_output: Path) -> None:
    by_reason = _ledger(pipeline_output, "transactions")
    cleaned = by_reason.pop("cleaned", 0)
    manifest = generated.manifest["transactions"]

    assert cleaned == manifest["cleaned_rows"] == generated.cleaned_rows
    assert _nonzero(by_reason) == _nonzero(manifest["rejected"]) == _nonzero(generated.rejected)
    assert generated.raw_transaction_rows == cleaned + sum(by_reason.values())


def test_merchants_ledger_accounts_for_every_row(
    generated: Generated, pipeline_output: Path
) -> None:
    """SPEC: raw rows = cleaned + rejected, per input file - merchants.csv too."""
    by_reason = _ledger(pipeline_output, "merchants")
    assert sum(by_reason.values()) == generated.raw_merchant_rows


def test_q1_has_at_most_5_contiguous_ranks_per_month_city(pipeline_output: Path) -> None:
    q1 = _read_csv(pipeline_output / "marts" / "top_merchants_by_month_city.csv")
    assert len(q1) > 0
    for (month, city_id), group in q1.groupby(["month", "city_id"], sort=False):
        ranks = sorted(int(rank) for rank in group["rank"])
        assert ranks == list(range(1, len(ranks) + 1)), (month, city_id, ranks)
        assert len(ranks) <= oracle.Q1_TOP_N, (month, city_id, ranks)


def test_conflicting_names_resolve_to_the_merchant_id(
    generated: Generated, pipeline_output: Path
) -> None:
    conflicting = generated.conflicting_ids
    assert len(conflicting) == generated.manifest["merchants"]["counts"]["conflicting_name_ids"]

    q2 = _rows_of(
        _read_csv(pipeline_output / "marts" / "avg_sale_by_merchant_state.csv"), conflicting
    )
    q1 = _rows_of(
        _read_csv(pipeline_output / "marts" / "top_merchants_by_month_city.csv"), conflicting
    )
    # Q2 has every (merchant, state) group, so a conflicting id that sells shows
    # up there; the generator makes the busiest merchant one of them.
    assert len(q2) > 0, "no conflicting-name merchant appears in Q2: the check would be vacuous"
    for mart, rows in (("Q1", q1), ("Q2", q2)):
        wrong = rows[rows["merchant_name"] != rows["merchant_id"]]
        assert wrong.empty, f"{mart} rows with a conflicting id not named by the id:\n{wrong}"


def test_singular_tests_fail_on_broken_tables(generated: Generated, pipeline_output: Path) -> None:
    """The singular dbt tests can fail: each one fails when the table it guards
    is broken (a rank dropped, a leader lost, a longer window, rejected rows
    lost), and passes again once the table is restored."""
    script = Path(__file__).with_name("singular_test_mutations.py")
    result = subprocess.run(
        [sys.executable, str(script), str(generated.data_dir)],
        cwd=REPO_ROOT,
        env=isolated_env(pipeline_output.parent),
        capture_output=True,
        text=True,
        timeout=PIPELINE_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, _output_tails(result.stdout, result.stderr)
    assert result.stdout.count(": fail on a broken ") == 4, result.stdout


def test_bench_reference_gives_the_marts_answers(
    generated: Generated, pipeline_output: Path, tmp_path: Path
) -> None:
    """`make bench` times the project against bench/reference_pyspark.py, a
    hand-written PySpark script: a fair baseline only if it gives the same 12
    answers. On this dirty set (a city without approved sales, unknown
    categories, conflicting names, rejected rows) they must equal the exported
    marts under the bench's own comparison, and that comparison must catch a
    changed value."""
    from python_checks.bench import compare_answers

    reference_dir = tmp_path / "reference"
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "reference_pyspark.py"),
         "--data-dir", str(generated.data_dir), "--out-dir", str(reference_dir)],
        cwd=tmp_path,
        env=isolated_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=PIPELINE_TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, _output_tails(result.stdout, result.stderr)
    marts_dir = pipeline_output / "marts"
    compared = compare_answers(marts_dir, reference_dir)
    assert compared["match"], compared["first_difference"]
    assert all(detail["rows"] for detail in compared["marts"].values()), compared["marts"]

    # One value off by a cent in a copy of the marts: the bench must say so.
    changed = tmp_path / "changed_marts"
    changed.mkdir()
    for path in marts_dir.glob("*.csv"):
        (changed / path.name).write_bytes(path.read_bytes())
    q2 = changed / "avg_sale_by_merchant_state.csv"
    with q2.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    rows[0]["purchase_total"] = str(Decimal(rows[0]["purchase_total"]) + Decimal("0.01"))
    with q2.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    compared = compare_answers(changed, reference_dir,
                               manifest=pipeline_output / "dbt" / "manifest.json")
    assert not compared["match"]
    assert compared["first_difference"].startswith("avg_sale_by_merchant_state: "), compared
    assert "purchase_total" in compared["first_difference"], compared
