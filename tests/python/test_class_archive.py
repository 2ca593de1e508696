"""The JVM class archive `make setup` writes is one this virtualenv's Spark can use.

The profile passes it with sharing on `auto`, where a JVM that cannot map the
archive starts without it and says nothing: a broken archive would only show as
a slower start. Here the JVM is told to require it (-Xshare:on), so it refuses to
start when the archive does not match this pyspark and JDK.
"""

from __future__ import annotations

import subprocess
import sys

from python_checks import class_archive

START_SPARK = """
import sys
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[1]")
         .config("spark.driver.extraJavaOptions", sys.argv[1])
         .config("spark.ui.enabled", "false").getOrCreate())
print(spark.sql("select 40 + 2").collect()[0][0], flush=True)
spark.stop()
"""


def start_with(java_options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", START_SPARK, java_options],
                          capture_output=True, text=True, timeout=300)


def test_setup_wrote_an_archive_this_jvm_maps() -> None:
    archive = class_archive.archive_path()
    assert archive.is_file() and archive.stat().st_size > 0, (
        f"{archive} is missing: `make setup` writes it (billups class-archive)"
    )
    started = start_with(f"-Xshare:on -XX:SharedArchiveFile={archive} {class_archive.QUIET}")
    assert started.returncode == 0 and started.stdout.strip() == "42", started.stderr[-2000:]


def test_the_check_fails_on_an_archive_the_jvm_cannot_use(tmp_path) -> None:
    # The test above can fail: required sharing with an unusable archive stops the JVM.
    bogus = tmp_path / "bogus.jsa"
    bogus.write_bytes(b"not an archive" * 100)
    started = start_with(f"-Xshare:on -XX:SharedArchiveFile={bogus} {class_archive.QUIET}")
    assert started.returncode != 0 or started.stdout.strip() != "42"
