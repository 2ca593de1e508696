"""Spark's floor on this machine, for `make bench`: what any Spark job costs
before its first row. The JVM starts (with the class archive `make setup`
writes, as the dbt `local` profile does), a session with the profile's
settings and its Hive catalog (a Derby metastore in a fresh folder) opens, and
one trivial query runs. Nothing here depends on the data.

    python bench/spark_floor.py --dir /tmp/floor
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from pyspark.sql import SparkSession

PROJECT_DIR = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, required=True, help="warehouse and metastore folder")
    args = parser.parse_args()
    started = time.perf_counter()
    folder = args.dir.resolve()
    archive = os.environ.get("BILLUPS_CLASS_ARCHIVE", str(Path(sys.prefix) / "spark-classes.jsa"))
    log4j = PROJECT_DIR / "profiles" / "log4j2.properties"
    spark = (
        SparkSession.builder.master("local[*]")
        .appName("billups-floor")
        .config("spark.driver.memory", "6g")
        .config("spark.sql.warehouse.dir", str(folder / "warehouse"))
        .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                f"jdbc:derby:;databaseName={folder}/metastore_db;create=true")
        .config("spark.driver.extraJavaOptions",
                f"-XX:+UseParallelGC -XX:SharedArchiveFile={archive} -Xlog:cds=off "
                f"-Xlog:cds+dynamic=off -Dderby.system.home={folder} "
                f"-Dlog4j2.configurationFile={log4j}")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .enableHiveSupport()
        .getOrCreate()
    )
    spark.sql("show databases").collect()  # the metastore answers
    assert spark.sql("select 1 as one").collect()[0].one == 1
    spark.stop()
    print(f"floor: session and one query in {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
