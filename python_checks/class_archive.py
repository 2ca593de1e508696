"""A class-data-sharing archive for the Spark driver JVM: a faster start.

Every dbt command on the `local` target starts a JVM that loads and verifies
tens of thousands of Spark, Hive, Derby and Parquet classes before its first
statement returns. A dynamic CDS archive (JDK 13+) holds those classes already
parsed and verified: measured on the 2-core machine, from creating the session
to the first result of a parquet count, 11.6-12.0 s without it and 7.1-7.4 s
with it (three runs each, alternated).

`make setup` writes the archive once per virtualenv (`billups class-archive`):
a small Spark workload touching what a dbt run touches (the Hive metastore,
CSV and parquet sources, partitioned writes, aggregates, windows, joins, file
listings) runs with -XX:ArchiveClassesAtExit, and the JVM dumps the classes it
loaded when it exits. The `local` profile passes -XX:SharedArchiveFile. The
JVM checks the archive against its own build and class path and runs without
it, silently, when the file is missing or does not match (another pyspark,
another JDK): a stale archive costs the seconds back, never a failure.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

# JVM options that keep the archive's checks quiet: a missing or mismatched
# archive is not an error, and dumping one logs a line per class it skips.
QUIET = "-Xlog:cds=off -Xlog:cds+dynamic=off"


def archive_path() -> Path:
    """Where the archive lives: in the virtualenv whose pyspark jars it holds
    (BILLUPS_CLASS_ARCHIVE overrides)."""
    return Path(os.environ.get("BILLUPS_CLASS_ARCHIVE", Path(sys.prefix) / "spark-classes.jsa"))


# What a dbt build does, in small: the statements load the classes of each
# kind of work (reading, writing, planning, code generation, shuffles).
WORKLOAD = [
    "create database if not exists warm",
    "create table warm.raw_csv using csv options (path '{root}/in/csv', header 'true')",
    "create table warm.raw_parquet using parquet options (path '{root}/in/parquet')",
    "describe table extended warm.raw_parquet",
    "create or replace view warm.typed as select id, try_cast(amount as decimal(18, 2)) as amount,"
    " try_to_timestamp(ts, 'yyyy-MM-dd HH:mm:ss') as ts, _metadata.file_path as source_file"
    " from warm.raw_parquet",
    "create table warm.monthly using parquet partitioned by (month) as"
    " select id % 7 as city, count(*) as n, sum(amount) as total,"
    " sum(cast(xxhash64(id, amount, ts) as decimal(38, 0))) as h,"
    " cast(date_trunc('month', ts) as date) as month from warm.typed group by id % 7, 5",
    "insert overwrite table warm.monthly partition (month)"
    " select city, n, total, h, month from warm.monthly where month = date'2018-01-01'",
    "alter table warm.monthly set tblproperties ('warm.stamp' = 'x')",
    "show tblproperties warm.monthly",
    "show partitions warm.monthly",
    "create table warm.ranked using parquet as"
    " select /*+ broadcast(c) */ m.*, c.name, row_number() over (partition by m.month"
    " order by m.total desc) as rank, to_json(named_struct('n', m.n)) as j"
    " from warm.monthly m left join warm.raw_csv c on m.city = cast(c.id as int)",
    "select city, month, count(*) from warm.monthly group by grouping sets ((city, month),"
    " (month))",
    "select percentile_approx(total, 0.5), corr(n, total), stddev(total) from warm.ranked",
    "select count(*), max(modificationTime) from binaryFile.`{root}/warehouse/warm.db/monthly`",
    "drop table warm.ranked",
]


def build(echo=print) -> Path | None:
    """Write the archive for this virtualenv's pyspark and Java; returns its
    path, or None (with one line saying why) when the JVM cannot dump one."""
    from pyspark.sql import SparkSession

    target = archive_path()
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.unlink(missing_ok=True)
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="billups-cds-"))
    log4j = Path(__file__).resolve().parent.parent / "profiles" / "log4j2.properties"
    try:
        # The same driver options as the `local` profile, so the same classes load.
        spark = (
            SparkSession.builder.master("local[2]")
            .appName("billups-class-archive")
            .config("spark.sql.warehouse.dir", f"{root}/warehouse")
            .config("spark.hadoop.javax.jdo.option.ConnectionURL",
                    f"jdbc:derby:;databaseName={root}/metastore_db;create=true")
            .config("spark.driver.extraJavaOptions",
                    f"-XX:+UseParallelGC -Dderby.system.home={root}"
                    f" -Dderby.stream.error.file={root}/derby.log"
                    f" -Dlog4j2.configurationFile={log4j}"
                    f" -XX:ArchiveClassesAtExit={partial} {QUIET}")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "2")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .enableHiveSupport()
            .getOrCreate()
        )
        rows = spark.sql(
            "select id, cast(id * 1.5 as string) as amount, concat('2018-0', 1 + id % 2,"
            " '-15 1', id % 10, ':00:00') as ts, concat('name ', id) as name from range(200)"
        )
        rows.write.parquet(f"{root}/in/parquet")
        rows.write.option("header", "true").csv(f"{root}/in/csv")
        for statement in WORKLOAD:
            spark.sql(statement.format(root=root)).collect()
        # The JVM dumps the archive as it exits, which it does when pyspark
        # closes its standard input: wait for it, or the file is half written.
        gateway = spark.sparkContext._gateway
        spark.stop()
        gateway.shutdown()
        gateway.proc.stdin.close()
        gateway.proc.wait(timeout=300)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if not partial.exists() or partial.stat().st_size == 0:
        echo(f"class archive: the JVM wrote none ({partial}); Spark starts without it")
        return None
    partial.replace(target)
    echo(f"class archive: {target} ({target.stat().st_size / 2**20:.0f} MiB) "
         f"in {time.perf_counter() - started:.1f}s")
    return target
