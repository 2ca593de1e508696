"""Where the dbt project lives and how dbt is invoked from Python.

Every entry point (the `billups` CLI, the tests) goes through `dbt_env` and
`invoke_dbt`, so they all see the same profiles, the same isolated Spark
directory and the same quiet Spark logging.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_checks import class_archive
from python_checks.artifacts import Outcome, load_manifest, marts, outcomes, quality_tables

PROJECT_DIR = Path(__file__).resolve().parent.parent
PROFILES_DIR = PROJECT_DIR / "profiles"

def spark_dir() -> Path:
    """The directory holding the session's warehouse and Derby metastore."""
    return Path(os.environ.get("BILLUPS_SPARK_DIR", PROJECT_DIR / ".spark")).resolve()


def target_dir() -> Path:
    """dbt's artifacts folder (run_results.json, manifest.json); DBT_TARGET_PATH
    moves it, e.g. so a test run leaves the project's own target/ alone."""
    path = Path(os.environ.get("DBT_TARGET_PATH", "target"))
    return path if path.is_absolute() else PROJECT_DIR / path


def dbt_env() -> dict[str, str]:
    """Environment variables the profile reads, with absolute defaults.

    Absolute paths matter: dbt may be started from any working directory, and
    a relative warehouse path would land wherever that is.
    """
    spark = spark_dir()
    spark.mkdir(parents=True, exist_ok=True)
    return {
        "BILLUPS_SPARK_DIR": str(spark),
        "BILLUPS_LOG4J_CONFIG": os.environ.get(
            "BILLUPS_LOG4J_CONFIG", str(PROFILES_DIR / "log4j2.properties")
        ),
        # The VM's hostname resolves to a loopback address; say so up front
        # instead of letting Spark warn about it on every start.
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        "DBT_PROFILES_DIR": os.environ.get("DBT_PROFILES_DIR", str(PROFILES_DIR)),
        "BILLUPS_CLASS_ARCHIVE": str(class_archive.archive_path()),
    }


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError:
        return False
    return True


class PipelineError(Exception):
    """A problem the user can fix; its message is one actionable line."""


@dataclass
class DbtInvocation:
    """The outcome of one dbt command run in-process."""

    args: list[str]
    success: bool
    results: list[Outcome] = field(default_factory=list)
    error: str | None = None
    agate_table: Any = None  # the rows of a `dbt show`


def invoke_dbt(args: list[str], *, target: str = "local", dbt_vars: dict | None = None,
               quiet: bool = False) -> DbtInvocation:
    """Run one dbt command through dbt's Python entry point.

    dbt runs in this process, so the embedded Spark session (and its JVM) is
    started once and reused by the following commands.
    """
    from dbt.cli.main import dbtRunner  # imported lazily: dbt is slow to import

    # pyspark logs every failed query with its full Java stack trace as JSON
    # before dbt reports the same error in one line: keep only dbt's line.
    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        logging.getLogger(name).disabled = True

    os.environ.update(dbt_env())
    full = [
        *args,
        "--project-dir", str(PROJECT_DIR),
        "--profiles-dir", os.environ["DBT_PROFILES_DIR"],
        "--target", target,
    ]
    if dbt_vars:
        full += ["--vars", json.dumps(dbt_vars)]
    if quiet:
        full = ["--quiet", *full]
    run_results = target_dir() / "run_results.json"
    run_results.unlink(missing_ok=True)  # never read a previous run's results
    result = dbtRunner().invoke(full)
    records: list[Outcome] = []
    if result.result is not None and args[0] in {"build", "test", "run"}:
        records = outcomes(run_results)
    error = None if result.exception is None else str(result.exception)
    table = None
    if args[0] == "show" and result.result is not None and result.result.results:
        table = result.result.results[0].agate_table
    return DbtInvocation(args=full, success=bool(result.success), results=records, error=error,
                         agate_table=table)


def first_error_line(error: str | None) -> str:
    """The line of a dbt error that says what is wrong, without dbt's framing
    ('Compilation Error in operation ...', '> in macro ...')."""
    for line in (error or "").splitlines():
        line = line.strip()
        if line and not line.startswith((">", "Compilation Error", "Runtime Error",
                                         "Database Error")):
            return line
    return "see the dbt output above"


def published_tables(manifest_json: Path | None = None) -> tuple[list[str], dict[str, str]]:
    """What a run exports, from the manifest (the exposures): the marts in
    order, and the quality tables with their CSV names."""
    manifest = load_manifest(manifest_json or target_dir() / "manifest.json")
    return ([model.name for model in marts(manifest)],
            {model.name: model.export_name for model in quality_tables(manifest)})


def collect_part_files(part_dir: Path, target: Path) -> int:
    """Join Spark's part-*.csv files of one export under a single header."""
    target.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(target, "w", newline="") as sink:
        header_written = False
        for part in sorted(part_dir.glob("part-*.csv")):
            with open(part, newline="") as source:
                lines = source.readlines()
            if not lines:
                continue
            if not header_written:
                sink.write(lines[0])
                header_written = True
            sink.writelines(lines[1:])
            count += len(lines) - 1
    return count


def export_models(files: dict[str, Path], staging: Path, *, target: str = "local",
                  dbt_vars: dict | None = None) -> dict[str, int]:
    """Export models to CSV files (model name -> file) through the export_models
    macro; returns the data rows written per model."""
    shutil.rmtree(staging, ignore_errors=True)
    args = json.dumps({"models": list(files), "out_dir": str(staging)})
    outcome = invoke_dbt(["run-operation", "export_models", "--args", args],
                         target=target, dbt_vars=dbt_vars, quiet=True)
    if not outcome.success:
        raise PipelineError(f"export failed: {first_error_line(outcome.error)}")
    rows = {name: collect_part_files(staging / name, path) for name, path in files.items()}
    shutil.rmtree(staging, ignore_errors=True)
    return rows
