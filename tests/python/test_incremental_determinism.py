"""Incremental builds and determinism, on the real pipeline (`billups run`).

* Incremental: the input folder first holds every month but the last; a second
  run after the last month's part file arrives must rewrite exactly that month
  and end with marts and a cleaned table equal, row for row, to a full refresh
  of the same inputs. A third run with nothing new rewrites nothing and keeps
  every table rebuilt whole (stamped_table); a run with ``--months`` rewrites
  the named month from every input file, even after its partition was emptied
  outside dbt, and changes nothing either; removing the part file again
  drops the month; with ``--months`` and a new file, the file's other months
  are rewritten too. The merchants chain is rebuilt only when merchants.csv
  changes, and then only the tables that read it.
* Determinism: the marts are identical whatever spark.sql.shuffle.partitions is
  and however the input rows are ordered or split into part files.

Each run is a subprocess with its own Spark warehouse, metastore and dbt target.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from canonical import diff_marts, mart_hashes
from conftest import REPO_ROOT, isolated_env

from python_checks.generate import generate

ROWS = 20_000
SEED = 23
TX = "historical_transactions.parquet"
TIMEOUT_SECONDS = 30 * 60
MERCHANT_MODELS = ("stg_billups__merchants", "cln_merchants", "cln_merchant_name_conflicts")
# The other tables rebuilt whole, and only when an input moved (stamped_table,
# like the merchants chain).
STAMPED_MODELS = (
    "cln_rejected_rows", "cln_row_ledger", "qa_metrics", "int_sales_by_merchant_city",
    "avg_sale_by_merchant_state", "top_hours_by_category",
    "popular_merchant_cities", "city_category_mix", "city_category_association",
    "advice_cities", "advice_categories", "advice_months", "advice_hours",
    "advice_opening_window", "advice_installments",
)
# The marts that show merchant names (from cln_merchants).
NAMED_MARTS = ("top_merchants_by_month_city", "avg_sale_by_merchant_state",
               "popular_merchant_cities")


def billups_run(data_dir: Path, root: Path, *extra: str, shuffle_partitions: int = 8,
                ) -> subprocess.CompletedProcess[str]:
    """`billups run` on data_dir with its own Spark dir under root; fails the
    test with the output's tail when it does not exit 0."""
    env = {**isolated_env(root), "BILLUPS_SHUFFLE_PARTITIONS": str(shuffle_partitions)}
    command = [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
               "--output-dir", str(root / "output"), *extra]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_SECONDS, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n"
                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}", pytrace=False)
    return result


def rewritten(result: subprocess.CompletedProcess[str], model: str) -> str:
    """The months the run logged as rewritten for `model` ('' for none)."""
    for line in (result.stdout + result.stderr).splitlines():
        marker = f"{model}: rewriting "
        if marker in line:
            return line.split(marker, 1)[1].split("month(s)", 1)[1].strip()
    raise AssertionError(f"no '{model}: rewriting' line in the run's output")


def stored(root: Path, schema: str, table: str) -> Path:
    """The folder of table billups_<schema>.<table> in the run's warehouse."""
    return root / "spark" / "warehouse" / f"billups_{schema}.db" / table


def as_content(frame: pd.DataFrame) -> pd.DataFrame:
    """A table's rows, input files by name, sorted on every column: equal
    frames mean equal content, row for row."""
    frame["source_file"] = frame["source_file"].str.rsplit("/", n=1).str[-1]
    columns = sorted(frame.columns)
    return frame[columns].sort_values(columns).reset_index(drop=True).astype(str)


def quality_metrics(root: Path) -> pd.DataFrame:
    """qa_metrics as stored: value, denominator and status per metric."""
    frame = pq.read_table(stored(root, "quality", "qa_metrics")).to_pandas()
    return frame.set_index("metric_name").sort_index()[["metric_value", "denominator", "status"]]


def quarantine_rows(root: Path) -> pd.DataFrame:
    """cln_rejected_rows as stored."""
    return as_content(pq.read_table(stored(root, "cleaned", "cln_rejected_rows")).to_pandas())


def flag_months(root: Path) -> list[str]:
    """The input months of qa_transaction_flags (its partitions), sorted."""
    table = stored(root, "quality", "qa_transaction_flags")
    return sorted(path.name.split("=", 1)[1] for path in table.glob("input_month=*"))


def restore_name(marts: Path, copy: Path, renamed: str, original: str) -> None:
    """Copy the exported marts to `copy` (replacing it) with a renamed
    merchant's original name put back."""
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(marts, copy)
    for path in copy.glob("*.csv"):
        path.write_text(path.read_text().replace(renamed, original))


def without_files(frame: pd.DataFrame) -> pd.DataFrame:
    """as_content rows without the input file names, re-sorted."""
    frame = frame.drop(columns="source_file")
    return frame.sort_values(list(frame.columns)).reset_index(drop=True)


def all_months(root: Path) -> str:
    """Every purchase month of cln_transactions, as a run logs a rewrite of all."""
    return ", ".join(sorted(set(cleaned_rows(root)["purchase_month"])))


def cleaned_rows(root: Path) -> pd.DataFrame:
    """cln_transactions as stored (all partitions), without the load stamps."""
    table = stored(root, "cleaned", "cln_transactions")
    frame = pq.read_table(table, partitioning="hive").to_pandas()
    # Load stamps: when the month was written, when the file copy was made.
    frame = frame.drop(columns=["loaded_at", "source_file_modified_at"])
    frame["purchase_month"] = frame["purchase_month"].astype(str)
    return as_content(frame)


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


def test_incremental_build_after_a_new_month_equals_a_full_refresh(
    dataset: dict, full_refresh: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("incremental")
    data = root / "data"
    shutil.copytree(dataset["base"], data)
    first = billups_run(data, root)
    # A first run has no table yet: dbt builds it in full.
    assert "cln_transactions: rewriting" not in first.stdout + first.stderr
    first_marts = root / "first_marts"
    shutil.copytree(root / "output" / "marts", first_marts)

    shutil.copy(dataset["last_part"], data / TX / "part-00001.parquet")
    second = billups_run(data, root)
    month = f"{dataset['last_month']}-01"
    assert rewritten(second, "cln_transactions") == month
    assert rewritten(second, "int_sales_by_merchant_city_month") == month
    assert rewritten(second, "int_sales_by_day_hour") == month
    assert rewritten(second, "qa_transaction_flags") == month
    assert rewritten(second, "top_merchants_by_month_city") == month
    # A file only added: the months of the table's rows are not all read.
    for model in ("cln_transactions", "qa_transaction_flags"):
        assert f"{model}: 1 new input file(s), the others as at the last build" in second.stdout
    # merchants.csv did not change: the merchants chain is kept, not rebuilt.
    for model in MERCHANT_MODELS:
        assert f"{model}: inputs unchanged, table kept" in second.stdout
    for model in STAMPED_MODELS:
        assert f"{model}: inputs changed, rebuilding" in second.stdout
    assert diff_marts(full_refresh / "output" / "marts", root / "output" / "marts") == ""
    pd.testing.assert_frame_equal(cleaned_rows(root), cleaned_rows(full_refresh))
    pd.testing.assert_frame_equal(quality_metrics(root), quality_metrics(full_refresh))
    pd.testing.assert_frame_equal(quarantine_rows(root), quarantine_rows(full_refresh))

    # Nothing new: nothing rewritten, no table rebuilt, nothing changed.
    third = billups_run(data, root)
    assert rewritten(third, "cln_transactions") == ""
    assert rewritten(third, "int_sales_by_day_hour") == ""
    assert rewritten(third, "qa_transaction_flags") == ""
    assert rewritten(third, "top_merchants_by_month_city") == ""
    # Neither table built from the input read its rows to learn that.
    for model in ("cln_transactions", "qa_transaction_flags"):
        assert f"{model}: input files and rules as at the last build" in third.stdout
    for model in STAMPED_MODELS:
        assert f"{model}: inputs unchanged, table kept" in third.stdout
    assert diff_marts(full_refresh / "output" / "marts", root / "output" / "marts") == ""

    # A changed var rebuilds the models whose SQL it changes, and only those
    # (the next run, without it, rebuilds those marts back). Q1's rank limit
    # is a rule of the month-partitioned top_merchants: every month is redone.
    months = all_months(full_refresh)
    fewer = billups_run(data, root, "--vars",
                        '{"top_popular_merchants": 3, "top_merchants_per_month_city": 3}')
    assert rewritten(fewer, "cln_transactions") == ""
    assert rewritten(fewer, "top_merchants_by_month_city") == months
    for model in STAMPED_MODELS:
        verdict = ("inputs changed, rebuilding" if model == "popular_merchant_cities"
                   else "inputs unchanged, table kept")
        assert f"{model}: {verdict}" in fewer.stdout, model
    popular = pd.read_csv(root / "output" / "marts" / "popular_merchant_cities.csv")
    assert popular["merchant_rank"].max() == 3
    top = pd.read_csv(root / "output" / "marts" / "top_merchants_by_month_city.csv")
    assert top["rank"].max() == 3

    # A month asked for on the command line is rewritten even when unchanged,
    # from every input file: here its partition was emptied outside dbt, so
    # the table's rows no longer name the files that hold it.
    for path in (stored(root, "cleaned", "cln_transactions")
                 / "purchase_month=2017-03-01").glob("*.parquet"):
        path.unlink()
    fourth = billups_run(data, root, "--months", "2017-03")
    assert rewritten(fourth, "cln_transactions") == "2017-03-01"
    assert "cln_transactions: reading 2 input file(s) for them" in fourth.stdout
    assert rewritten(fourth, "int_sales_by_merchant_city_month") == "2017-03-01"
    assert rewritten(fourth, "top_merchants_by_month_city") == months
    assert diff_marts(full_refresh / "output" / "marts", root / "output" / "marts") == ""
    pd.testing.assert_frame_equal(cleaned_rows(root), cleaned_rows(full_refresh))

    # A var the cleaning rules read (rules_stamp) rewrites every month, and so
    # does the next run without it: no month is left under the other rules.
    other_rules = billups_run(data, root, "--vars", '{"max_installments": 6}')
    assert rewritten(other_rules, "cln_transactions") == months
    assert rewritten(other_rules, "int_sales_by_day_hour") == months
    assert rewritten(other_rules, "qa_transaction_flags") == ", ".join(flag_months(root))
    plans = cleaned_rows(root)["installment_plan_type"].value_counts()
    assert plans["unknown"] > cleaned_rows(full_refresh)["installment_plan_type"].value_counts()[
        "unknown"]
    back = billups_run(data, root)
    assert rewritten(back, "cln_transactions") == months
    assert diff_marts(full_refresh / "output" / "marts", root / "output" / "marts") == ""
    pd.testing.assert_frame_equal(cleaned_rows(root), cleaned_rows(full_refresh))
    pd.testing.assert_frame_equal(quality_metrics(root), quality_metrics(full_refresh))
    pd.testing.assert_frame_equal(quarantine_rows(root), quarantine_rows(full_refresh))

    # A part file taken away takes its rows with it: the emptied month's
    # partitions are dropped (insert_overwrite alone would keep them), and the
    # marts are back to those of the first run.
    (data / TX / "part-00001.parquet").unlink()
    fifth = billups_run(data, root)
    assert f"cln_transactions: rewriting 0 month(s); dropped {month}" in fifth.stdout
    assert month not in set(cleaned_rows(root)["purchase_month"])
    assert f"qa_transaction_flags: rewriting 0 month(s); dropped {month}" in fifth.stdout
    assert (f"top_merchants_by_month_city: rewriting 0 month(s); dropped {month}"
            in fifth.stdout)
    assert diff_marts(first_marts, root / "output" / "marts") == ""

    # A new merchants.csv (one merchant renamed) rebuilds the merchants chain;
    # the marts then differ from the first run's by that name alone.
    merchants = pd.read_csv(data / "merchants.csv", dtype=str, keep_default_na=False)
    top = pd.read_csv(first_marts / "top_merchants_by_month_city.csv", dtype=str)
    named = top[top["merchant_name"] != top["merchant_id"]].iloc[0]
    renamed = f"{named['merchant_name']} renamed"
    merchants.loc[merchants["merchant_id"] == named["merchant_id"], "merchant_name"] = renamed
    merchants.to_csv(data / "merchants.csv", index=False)
    sixth = billups_run(data, root)
    for model in MERCHANT_MODELS:
        assert f"{model}: inputs changed, rebuilding" in sixth.stdout
    assert rewritten(sixth, "cln_transactions") == ""
    # The quality flags read the merchant list: every input month is redone;
    # so is every month of top_merchants, which shows the names.
    assert rewritten(sixth, "qa_transaction_flags") == ", ".join(flag_months(root))
    assert rewritten(sixth, "top_merchants_by_month_city") == all_months(root)
    # Only the tables that read the merchants are rebuilt.
    for model in STAMPED_MODELS:
        reads_merchants = model in NAMED_MARTS or model.startswith(("cln_", "qa_"))
        verdict = ("inputs changed, rebuilding" if reads_merchants
                   else "inputs unchanged, table kept")
        assert f"{model}: {verdict}" in sixth.stdout, model
    shown = pd.read_csv(root / "output" / "marts" / "top_merchants_by_month_city.csv", dtype=str)
    names = set(shown.loc[shown["merchant_id"] == named["merchant_id"], "merchant_name"])
    assert names == {renamed}
    restored = root / "restored_marts"
    restore_name(root / "output" / "marts", restored, renamed, named["merchant_name"])
    assert diff_marts(first_marts, restored) == ""

    # Months named on the command line add to those the changed files need.
    # One new file now holds every row and the old ones are gone: `--months`
    # naming the last month alone still rewrites every month (a new file read
    # for the named month only would look loaded, and the next run would drop
    # the other months as those of removed files).
    for path in (data / TX).glob("*.parquet"):
        path.unlink()
    pq.write_table(dataset["table"], data / TX / "part-00002.parquet")
    seventh = billups_run(data, root, "--months", dataset["last_month"])
    assert rewritten(seventh, "cln_transactions") == all_months(full_refresh)
    eighth = billups_run(data, root)
    assert rewritten(eighth, "cln_transactions") == ""
    restore_name(root / "output" / "marts", restored, renamed, named["merchant_name"])
    assert diff_marts(full_refresh / "output" / "marts", restored) == ""
    pd.testing.assert_frame_equal(without_files(cleaned_rows(root)),
                                  without_files(cleaned_rows(full_refresh)))


@pytest.mark.parametrize(
    ("shuffle_partitions", "order", "parts"),
    [(3, "random", 4), (23, "reversed", 1)],
    ids=["3_partitions_random_order_4_parts", "23_partitions_reversed_1_file"],
)
def test_marts_do_not_depend_on_partitions_or_row_order(
    dataset: dict, full_refresh: Path, tmp_path_factory: pytest.TempPathFactory,
    shuffle_partitions: int, order: str, parts: int,
) -> None:
    root = tmp_path_factory.mktemp(f"determinism_{shuffle_partitions}")
    data = root / "data"
    (data / TX).mkdir(parents=True)
    shutil.copy(dataset["full"] / "merchants.csv", data / "merchants.csv")
    table = dataset["table"]
    if order == "random":
        positions = np.random.default_rng(SEED).permutation(table.num_rows)
    else:
        positions = np.arange(table.num_rows)[::-1]
    shuffled = table.take(pa.array(positions))
    for index, chunk in enumerate(np.array_split(np.arange(shuffled.num_rows), parts)):
        pq.write_table(shuffled.take(pa.array(chunk)), data / TX / f"part-{index:05d}.parquet")
    billups_run(data, root, "--full-refresh", shuffle_partitions=shuffle_partitions)
    assert diff_marts(full_refresh / "output" / "marts", root / "output" / "marts") == ""
    assert mart_hashes(root / "output" / "marts") == mart_hashes(full_refresh / "output" / "marts")


def test_views_use_no_var() -> None:
    """A stamped_table sees a view it reads through the view's code as written
    (macros/incremental.sql, node_state): a var in a view's SQL would change
    what the view returns without moving the stamp of the tables that read it."""
    views = []
    for path in sorted((REPO_ROOT / "models").rglob("*.sql")):
        sql = path.read_text()
        configured = "materialized=" in sql
        if "materialized='view'" in sql or ("staging" in path.parts and not configured):
            views.append(path)
    assert views, "no view found: the test no longer sees the models"
    with_var = [path.name for path in views if "var(" in path.read_text()]
    assert with_var == [], f"views that use a var: {with_var}"
