"""Incremental builds and determinism, on the real pipeline (`billups run`).

* Incremental: the input folder first holds every month but the last; a second
  run after the last month's part file arrives must rewrite exactly that month
  of int_transactions_validated (the watermark: a file newer than the newest
  loaded) and end with marts, cleaned rows, quarantine and quality metrics
  equal, row for row, to a full refresh of the same inputs. A run with nothing
  new rewrites no month; a backfill (`--months`, the var backfill_months)
  rewrites the named month from every input file, even after its partition was
  emptied outside dbt; vars and a new merchants.csv reach the marts without
  rewriting a month; a removed part file trips the reconciliation gate until
  `--full-refresh`.
* Determinism: the marts are identical whatever spark.sql.shuffle.partitions is
  and however the input rows are ordered or split into part files.

Each run is a subprocess with its own Spark warehouse, metastore and dbt target.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from canonical import diff_marts, mart_hashes
from conftest import REPO_ROOT, isolated_env

from python_checks.generate import generate

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("incremental")]

ROWS = 20_000
SEED = 23
TX = "historical_transactions.parquet"
TIMEOUT_SECONDS = 30 * 60


def billups_run(data_dir: Path, root: Path, *extra: str, shuffle_partitions: int = 8,
                expect_exit: int = 0) -> subprocess.CompletedProcess[str]:
    """`billups run` on data_dir with its own Spark dir under root; fails the
    test with the output's tail when it does not exit with expect_exit."""
    env = {**isolated_env(root), "BILLUPS_SHUFFLE_PARTITIONS": str(shuffle_partitions)}
    command = [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
               "--output-dir", str(root / "output"), *extra]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_SECONDS, check=False)
    if result.returncode != expect_exit:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}, expected {expect_exit}\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}", pytrace=False)
    return result


def stored(root: Path, schema: str, table: str) -> Path:
    """The folder of table billups_<schema>.<table> in the run's warehouse."""
    return root / "spark" / "warehouse" / f"billups_{schema}.db" / table


def validated_rows(root: Path) -> pd.DataFrame:
    """int_transactions_validated as stored (every partition, the null month
    included), with purchase_month as text."""
    partitioning = ds.partitioning(pa.schema([("purchase_month", pa.string())]), flavor="hive")
    frame = ds.dataset(stored(root, "intermediate", "int_transactions_validated"),
                       partitioning=partitioning).to_table().to_pandas()
    frame["purchase_month"] = frame["purchase_month"].replace("__HIVE_DEFAULT_PARTITION__", None)
    return frame


def loaded_months(root: Path) -> dict[str, str]:
    """When each month of int_transactions_validated was last written
    (its loaded_at), by month ('null' for the rows whose date does not parse)."""
    frame = validated_rows(root)
    loaded = frame.groupby(frame["purchase_month"].fillna("null"))["loaded_at"].agg(["min", "max"])
    assert (loaded["min"] == loaded["max"]).all(), "a month written by two runs"
    return {month: str(value) for month, value in loaded["max"].items()}


def rewritten(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The months a run wrote: new, or with another loaded_at than before."""
    return sorted(month for month, loaded in after.items() if before.get(month) != loaded)


def as_content(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's rows, input files by name, sorted on every column: equal
    frames mean equal content, row for row."""
    frame["source_file"] = frame["source_file"].str.rsplit("/", n=1).str[-1]
    columns = sorted(frame.columns)
    return frame[columns].sort_values(columns).reset_index(drop=True).astype(str)


def cleaned_rows(root: Path) -> pd.DataFrame:
    """Every validated row, without the load stamps (when the month was
    written, when the file copy was made)."""
    frame = validated_rows(root).drop(columns=["loaded_at", "source_file_modified_at"])
    return as_content(frame)


def quality_metrics(root: Path) -> pd.DataFrame:
    """qa_metrics as stored: value, denominator and status per metric."""
    frame = pq.read_table(stored(root, "quality", "qa_metrics")).to_pandas()
    return frame.set_index("metric_name").sort_index()[["metric_value", "denominator", "status"]]


def quarantine_rows(root: Path) -> pd.DataFrame:
    """qa_rejected_rows as stored."""
    return as_content(pq.read_table(stored(root, "quality", "qa_rejected_rows")).to_pandas())


def restore_name(marts: Path, copy: Path, renamed: str, original: str) -> None:
    """Copy the exported marts to `copy` (replacing it) with a renamed
    merchant's original name put back."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(marts, copy)
    for path in copy.glob("*.csv"):
        path.write_text(path.read_text().replace(renamed, original))


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One dirty generated set, its transactions split by month into
    part-00000 (every month but the last) and part-00001 (the last month)."""
    root = tmp_path_factory.mktemp("incremental_data")
    generate(root / "generated", rows=ROWS, seed=SEED, dirty=True)
    table = pq.read_table(root / "generated" / TX)
    months = pd.to_datetime(table.column("purchase_date").to_pandas(), errors="coerce",
                            format="%Y-%m-%d %H:%M:%S").dt.strftime("%Y-%m")
    # The last month of the expected period (the dirty set also plants a few
    # timestamps years ahead): a month of real volume arrives last.
    last_month = months[months <= "2018-02"].max()
    is_last = pa.array((months == last_month).to_numpy())
    base = root / "base"
    (base / TX).mkdir(parents=True)
    shutil.copy(root / "generated" / "merchants.csv", base / "merchants.csv")
    pq.write_table(table.filter(pa.compute.invert(is_last)), base / TX / "part-00000.parquet")
    last_part = root / "part-00001.parquet"
    pq.write_table(table.filter(is_last), last_part)
    full = root / "full"
    shutil.copytree(base, full)
    shutil.copy(last_part, full / TX / "part-00001.parquet")
    return {"root": root, "base": base, "full": full, "last_part": last_part,
            "last_month": last_month, "table": table}


@pytest.fixture(scope="module")
def full_refresh(dataset: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference: a full refresh of all inputs."""
    root = tmp_path_factory.mktemp("full_refresh")
    billups_run(dataset["full"], root, "--full-refresh")
    return root


def assert_same_as(root: Path, reference: Path) -> None:
    """Marts, validated rows, quarantine and quality metrics equal the reference's."""
    assert diff_marts(reference / "output" / "marts", root / "output" / "marts") == ""
    pd.testing.assert_frame_equal(cleaned_rows(root), cleaned_rows(reference))
    pd.testing.assert_frame_equal(quarantine_rows(root), quarantine_rows(reference))
    pd.testing.assert_frame_equal(quality_metrics(root), quality_metrics(reference))


def test_incremental_build_after_a_new_month_equals_a_full_refresh(
    dataset: dict, full_refresh: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("incremental")
    data = root / "data"
    shutil.copytree(dataset["base"], data)
    billups_run(data, root)
    first_marts = root / "first_marts"
    shutil.copytree(root / "output" / "marts", first_marts)
    every_month = loaded_months(root)

    # A new part file: its month, and only that one, is loaded.
    shutil.copy(dataset["last_part"], data / TX / "part-00001.parquet")
    before = loaded_months(root)
    billups_run(data, root)
    month = f"{dataset['last_month']}-01"
    assert rewritten(before, loaded_months(root)) == [month]
    assert_same_as(root, full_refresh)

    # Nothing new: no month rewritten, nothing changed.
    before = loaded_months(root)
    billups_run(data, root)
    assert rewritten(before, loaded_months(root)) == []
    assert_same_as(root, full_refresh)

    # A backfill of a named month rewrites it from every input file, here
    # after its partition was emptied outside dbt; no other month moves.
    for path in (stored(root, "intermediate", "int_transactions_validated")
                 / "purchase_month=2017-03-01").glob("*.parquet"):
        path.unlink()
    before = loaded_months(root)
    billups_run(data, root, "--months", "2017-03")
    assert rewritten(before, loaded_months(root)) == ["2017-03-01"]
    assert_same_as(root, full_refresh)

    # A new merchants.csv (one merchant renamed) reaches the marts without
    # rewriting a month; the marts then differ from the reference by that
    # name alone.
    merchants = pd.read_csv(data / "merchants.csv", dtype=str, keep_default_na=False)
    top = pd.read_csv(first_marts / "top_merchants_by_month_city.csv", dtype=str)
    named = top[top["merchant_name"] != top["merchant_id"]].iloc[0]
    renamed = f"{named['merchant_name']} renamed"
    merchants.loc[merchants["merchant_id"] == named["merchant_id"], "merchant_name"] = renamed
    merchants.to_csv(data / "merchants.csv", index=False)
    before = loaded_months(root)
    billups_run(data, root)
    assert rewritten(before, loaded_months(root)) == []
    shown = pd.read_csv(root / "output" / "marts" / "top_merchants_by_month_city.csv", dtype=str)
    assert set(shown.loc[shown["merchant_id"] == named["merchant_id"], "merchant_name"]) == {
        renamed}
    restored = root / "restored_marts"
    restore_name(root / "output" / "marts", restored, renamed, named["merchant_name"])
    assert diff_marts(full_refresh / "output" / "marts", restored) == ""

    # Vars of the marts and of the cleaning labels take effect without
    # rewriting a month (the marts are tables, the labels a view).
    before = loaded_months(root)
    billups_run(data, root, "--vars", '{"top_popular_merchants": 3, "max_installments": 6}')
    assert rewritten(before, loaded_months(root)) == []
    popular = pd.read_csv(root / "output" / "marts" / "popular_merchant_cities.csv")
    assert popular["merchant_rank"].max() == 3
    plans = pd.read_csv(root / "output" / "marts" / "advice_installments.csv")
    assert plans.loc[plans["plan_type"] == "installments", "installments"].max() == 6

    # A part file taken away leaves its rows in the incremental tables: the
    # ledger no longer adds up and the run says so (exit 2) until a
    # --full-refresh, which gives the first run's answers back.
    (data / TX / "part-00001.parquet").unlink()
    stale = billups_run(data, root, expect_exit=2)
    assert "transactions_unreconciled_rows" in stale.stdout + stale.stderr
    billups_run(data, root, "--full-refresh")
    assert sorted(loaded_months(root)) == sorted(every_month)
    restore_name(root / "output" / "marts", restored, renamed, named["merchant_name"])
    assert diff_marts(first_marts, restored) == ""


def reorder_columns(path: Path) -> None:
    """merchants.csv with its columns in reverse order and an extra column."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for number, row in enumerate(rows):
            writer.writerow([*reversed(row), "extra" if number == 0 else "x"])


@pytest.mark.parametrize(
    ("shuffle_partitions", "order", "parts"),
    [(3, "random", 4), (23, "reversed", 1)],
    ids=["3_partitions_random_order_4_parts_columns_reordered", "23_partitions_reversed_1_file"],
)
def test_marts_do_not_depend_on_partitions_or_row_order(
    dataset: dict, full_refresh: Path, tmp_path_factory: pytest.TempPathFactory,
    shuffle_partitions: int, order: str, parts: int,
) -> None:
    """The same answers whatever the shuffle partitions, the order of the rows,
    their split into part files, and (4 parts) the order of the columns of
    both files with an extra column each: files are read by column name."""
    root = tmp_path_factory.mktemp(f"determinism_{shuffle_partitions}")
    data = root / "data"
    (data / TX).mkdir(parents=True)
    shutil.copy(dataset["full"] / "merchants.csv", data / "merchants.csv")
    table = dataset["table"]
    if order == "random":
        positions = np.random.default_rng(SEED).permutation(table.num_rows)
        table = table.select(list(reversed(table.column_names)))
        table = table.append_column("loyalty_tier", pa.array(["gold"] * table.num_rows))
        reorder_columns(data / "merchants.csv")
    else:
        positions = np.arange(table.num_rows)[::-1]
    shuffled = table.take(pa.array(positions))
    chunks = np.array_split(np.arange(shuffled.num_rows), parts)
    for index, chunk in enumerate(chunks):
        pq.write_table(shuffled.take(pa.array(chunk)), data / TX / f"part-{index:05d}.parquet")
    billups_run(data, root, "--full-refresh", shuffle_partitions=shuffle_partitions)
    assert diff_marts(full_refresh / "output" / "marts", root / "output" / "marts") == ""
    assert mart_hashes(root / "output" / "marts") == mart_hashes(full_refresh / "output" / "marts")
    # The ledger accounts for every row of every part file.
    ledger = pd.read_csv(root / "output" / "quality" / "row_ledger.csv")
    ledger = ledger[ledger["source_name"] == "transactions"]
    per_file = ledger.groupby(ledger["source_file"].str.rsplit("/", n=1).str[-1])[
        "row_count"].sum().to_dict()
    assert per_file == {f"part-{index:05d}.parquet": len(chunk)
                        for index, chunk in enumerate(chunks)}
