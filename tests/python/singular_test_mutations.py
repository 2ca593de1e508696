"""Prove that the singular dbt tests (tests/*.sql) can fail: on a project the
pipeline has built, break the table one test guards, run that test, expect it
to fail, and put the table back.

test_end_to_end.py runs this in a subprocess, on the Spark directory of its
pipeline run (BILLUPS_SPARK_DIR, DBT_TARGET_PATH and DBT_LOG_PATH are set):

    python tests/python/singular_test_mutations.py DATA_DIR

It prints one line per test and exits 1 when a test passed on its broken table
(or failed on the intact one).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from python_checks.project import invoke_dbt  # noqa: E402


@dataclass(frozen=True)
class Mutation:
    """How to break `table` so that `test` must fail: keep the rows where
    `keep` holds (SQL; {intact} names the intact copy) and replace columns by
    expressions."""

    test: str
    table: str
    keep: str = "true"
    replace: dict[str, str] = field(default_factory=dict)


MUTATIONS = (
    # A rank left out: the ranks are no longer 1..k.
    Mutation("assert_popular_merchants_are_the_top_n", "billups_marts.popular_merchant_cities",
             keep="merchant_rank != 2"),
    # The first month loses its leaders: city-months without a rank-1 row.
    Mutation("assert_q1_rank_one_is_the_city_month_leader",
             "billups_marts.top_merchants_by_month_city",
             keep="not (rank = 1 and month = (select min(month) from {intact}))"),
    # A window one hour longer than needed (or, when open all day, opened an
    # hour later than the earliest equal window).
    Mutation("assert_opening_window_is_minimal", "billups_marts.advice_opening_window",
             replace={
                 "hours_open": "if(hours_open < 24, hours_open + 1, hours_open)",
                 "opening_hour": "if(hours_open < 24, opening_hour, (opening_hour + 1) % 24)",
             }),
    # Rejected rows of one reason lost: raw != cleaned + rejected.
    Mutation("assert_every_input_row_is_cleaned_or_rejected", "billups_quality.qa_rejected_rows",
             keep="not (source_name = 'transactions' and reason_code = (select min(reason_code)"
                  " from {intact} where source_name = 'transactions'))"),
)


INTACT = "default.singular_test_intact_copy"


def dbt_test_statuses(tests: list[str], dbt_vars: dict) -> dict[str, str]:
    """`dbt test --select` the tests; their status (pass, fail, error) by name."""
    outcome = invoke_dbt(["test", "--select", *tests], dbt_vars=dbt_vars, quiet=True)
    if not outcome.results:
        raise SystemExit(f"dbt test did not run: {outcome.error}")
    return {record.unique_id.split(".")[-1]: record.status
            for record in outcome.results if record.kind == "test"}


def main(data_dir: str) -> int:
    dbt_vars = {"data_dir": data_dir}
    names = [mutation.test for mutation in MUTATIONS]
    intact = dbt_test_statuses(names, dbt_vars)
    problems = [f"{name}: {intact.get(name, 'not run')} on the intact tables"
                for name in names if intact.get(name) != "pass"]

    # dbt's embedded session, started by the dbt test above, is this process's.
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    for mutation in MUTATIONS:
        columns = spark.table(mutation.table).columns
        select = ", ".join(f"{mutation.replace[c]} as {c}" if c in mutation.replace else c
                           for c in columns)
        keep = mutation.keep.format(intact=INTACT)
        spark.sql(f"drop table if exists {INTACT}")
        spark.sql(f"create table {INTACT} using parquet as select * from {mutation.table}")
        try:
            spark.sql(f"insert overwrite table {mutation.table} "
                      f"select {select} from {INTACT} where {keep}")
            status = dbt_test_statuses([mutation.test], dbt_vars)[mutation.test]
        finally:
            spark.sql(f"insert overwrite table {mutation.table} select * from {INTACT}")
            spark.sql(f"drop table {INTACT}")
        print(f"{mutation.test}: {status} on a broken {mutation.table}")
        if status != "fail":
            problems.append(f"{mutation.test}: {status} on a broken {mutation.table}")

    restored = dbt_test_statuses(names, dbt_vars)
    problems += [f"{name}: {restored.get(name, 'not run')} after the tables were restored"
                 for name in names if restored.get(name) != "pass"]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
