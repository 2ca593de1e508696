"""The main job: check the inputs, build and test everything with dbt, export
the marts as CSV, and summarise what happened to every input row."""

from __future__ import annotations

import csv
import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_checks.project import (
    MARTS,
    DbtInvocation,
    PipelineError,
    export_models,
    first_error_line,
    invoke_dbt,
    port_open,
    spark_dir,
)

TRANSACTIONS_FILE = "historical_transactions.parquet"
MERCHANTS_FILE = "merchants.csv"


@dataclass
class StepTiming:
    name: str
    seconds: float


@dataclass
class RunSummary:
    """Everything the final summary prints; also what tests assert on."""

    ledger: list[dict[str, Any]] = field(default_factory=list)
    mart_rows: dict[str, int] = field(default_factory=dict)
    tests: dict[str, int] = field(default_factory=dict)
    failed_tests: list[str] = field(default_factory=list)
    failed_nodes: list[str] = field(default_factory=list)
    steps: list[StepTiming] = field(default_factory=list)
    build_ok: bool = False
    quality: dict[str, Any] | None = None
    report: Path | None = None

    @property
    def ok(self) -> bool:
        return self.build_ok and not self.failed_nodes and self.tests.get("fail", 0) == 0 \
            and self.tests.get("error", 0) == 0

    @property
    def exit_code(self) -> int:
        """0 all good; 1 warnings with --strict; 2 any error (the quality gate's codes)."""
        if not self.ok or self.quality is None:
            return 2
        return int(self.quality["exit_code"])


def input_paths(data_dir: Path) -> dict[str, Path]:
    return {"transactions": data_dir / TRANSACTIONS_FILE, "merchants": data_dir / MERCHANTS_FILE}


def has_inputs(data_dir: Path) -> bool:
    return all(path.exists() for path in input_paths(data_dir).values())


def check_inputs(data_dir: Path) -> dict[str, Path]:
    """Fail early, in one line, on a missing input (dbt re-checks the columns)."""
    paths = input_paths(data_dir)
    for name, path in paths.items():
        if not path.exists():
            raise PipelineError(
                f"input file not found: {path} ({name}). Pass --data-dir DIR holding "
                f"{TRANSACTIONS_FILE} and {MERCHANTS_FILE}, or generate a synthetic set "
                f"with `billups generate --out {data_dir}`."
            )
        if path.is_dir() and not any(path.rglob("*.parquet")):
            raise PipelineError(f"input folder {path} ({name}) holds no parquet part files.")
    return paths


LOCK_WAIT_SECONDS = 20


def check_metastore_free() -> None:
    """Derby lets one JVM at a time open the metastore. Probe its lock file so a
    second run on the same directory gets a clear message, not a Java trace."""
    lock = spark_dir() / "metastore_db" / "dbex.lck"
    if not lock.exists():
        return
    # The JVM of a run that just ended can hold the lock a few seconds after
    # its Python process has exited: back-to-back runs wait for it.
    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    with open(lock, "a") as handle:
        while True:
            try:
                fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if time.monotonic() >= deadline:
                    raise PipelineError(
                        f"the Spark metastore in {spark_dir()} is in use by another process "
                        "(a dbt or billups run on the same project). Wait for it to finish, "
                        "or give this run its own directory: BILLUPS_SPARK_DIR=/some/other/dir."
                    ) from exc
                time.sleep(1)
                continue
            fcntl.lockf(handle, fcntl.LOCK_UN)
            return


def check_thrift_reachable() -> None:
    """The cluster target talks to a Spark Thrift Server: say how to get one
    when nothing listens, instead of dbt's connection retries and trace."""
    host = os.environ.get("BILLUPS_THRIFT_HOST", "127.0.0.1")
    port = int(os.environ.get("BILLUPS_THRIFT_PORT", "10000"))
    if not port_open(host, port, timeout=5):
        raise PipelineError(
            f"cannot reach the Spark Thrift Server at {host}:{port} (target cluster): start "
            "the local one with `make cluster-up`, or point BILLUPS_THRIFT_HOST / "
            "BILLUPS_THRIFT_PORT at yours."
        )


def summarise_results(results: list[dict[str, Any]], summary: RunSummary) -> None:
    """Count test outcomes and collect failures from dbt's run_results.json."""
    counts = {"pass": 0, "warn": 0, "fail": 0, "error": 0, "skipped": 0}
    for record in results:
        unique_id: str = record["unique_id"]
        status: str = record["status"]
        if unique_id.startswith(("test.", "unit_test.")):
            key = "skipped" if status == "skipped" else status
            counts[key] = counts.get(key, 0) + 1
            if status in {"fail", "error"}:
                summary.failed_tests.append(f"{unique_id}: {record.get('message') or status}")
        elif status == "error":
            summary.failed_nodes.append(f"{unique_id}: {record.get('message')}")
    summary.tests = counts


def read_rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def run_pipeline(
    data_dir: Path,
    output_dir: Path,
    target: str = "local",
    echo: Callable[[str], None] = print,
    strict: bool = False,
    extra_vars: dict | None = None,
    full_refresh: bool = False,
    unit_tests: bool = False,
) -> RunSummary:
    """Check inputs, `dbt build`, export the marts, then check data quality.

    The month-partitioned tables are incremental: without `full_refresh` only
    the months of newer input files, and those of the var backfill_months,
    are rewritten. Unit
    tests run on static fixtures, so a production run leaves them to CI unless
    `unit_tests` asks for them.
    """
    summary = RunSummary()
    data_dir, output_dir = data_dir.resolve(), output_dir.resolve()

    def step(name: str, action: Callable[[], Any]) -> Any:
        echo(f"==> {name}")
        started = time.perf_counter()
        value = action()
        elapsed = time.perf_counter() - started
        summary.steps.append(StepTiming(name, elapsed))
        echo(f"    {name}: done in {elapsed:.1f}s")
        return value

    inputs = step("check inputs", lambda: check_inputs(data_dir))
    if target == "local":
        check_metastore_free()
    else:
        check_thrift_reachable()
    dbt_vars = {"data_dir": str(data_dir), **(extra_vars or {})}

    build_args = ["build"]
    if full_refresh:
        build_args.append("--full-refresh")
    if not unit_tests:
        build_args += ["--exclude-resource-type", "unit_test"]
    build: DbtInvocation = step(
        "dbt build (seeds, models, tests)",
        lambda: invoke_dbt(build_args, target=target, dbt_vars=dbt_vars),
    )
    # Keep the build's run_results.json + manifest.json for the report: the
    # export's run-operation below replaces target/run_results.json.
    from python_checks.project import target_dir
    from python_checks.report import save_run_artifacts

    build_artifacts = save_run_artifacts(target_dir(), output_dir / "dbt")
    summarise_results(build.results, summary)
    summary.build_ok = build.success or (not summary.failed_nodes and not summary.failed_tests
                                         and build.error is None and bool(build.results))
    if not build.results:
        raise PipelineError("dbt build stopped before running: " + first_error_line(build.error))
    # A failed model or an error test upstream skips what depends on it:
    # exporting the marts then would be a silent partial result.
    if not summary.failed_nodes and not summary.tests.get("skipped"):
        summary.mart_rows = step("export marts", lambda: export_models(
            {name: output_dir / "marts" / f"{name}.csv" for name in MARTS},
            output_dir / ".export", target=target, dbt_vars=dbt_vars,
        ))

    def check() -> None:
        from python_checks.quality import collect_quality, write_quality_report

        timings = {step.name: round(step.seconds, 1) for step in summary.steps}
        summary.quality = collect_quality(output_dir, inputs, build.results, target=target,
                                          dbt_vars=dbt_vars, strict=strict, timings=timings,
                                          artifacts_dir=output_dir / "dbt")
        write_quality_report(summary.quality, output_dir)

    try:
        step("check data quality", check)
    except PipelineError as exc:
        # Without the quality tables (a failed build skipped them) there is no
        # report, but the build's own failures above still decide the exit code.
        echo(f"    no quality report: {exc}")
    summary.ledger = [
        {**row, "row_count": int(row["row_count"])}
        for row in read_rows(output_dir / "quality" / "row_ledger.csv")
    ]

    def report() -> None:
        from python_checks.report import write_report

        summary.report = write_report(output_dir, build_artifacts, dbt_vars).markdown

    if summary.mart_rows:  # no report on marts this run did not export
        try:
            step("report", report)
        except Exception as exc:  # noqa: BLE001 - the marts are exported; say so, go on
            echo(f"    no report: {type(exc).__name__}: {exc}")
    return summary


def format_summary(summary: RunSummary, output_dir: Path) -> str:
    """The end-of-run table: rows in/out per reason, marts, tests, timings."""
    lines = ["", "billups run summary", "-" * 64]
    for source in ("transactions", "merchants"):
        rows = [row for row in summary.ledger if row["source_name"] == source]
        if not rows:
            continue
        total = sum(row["row_count"] for row in rows)
        cleaned = sum(row["row_count"] for row in rows if row["reason_code"] == "cleaned")
        lines.append(f"{source:<14} read {total:>12,}   cleaned {cleaned:>12,}   "
                     f"rejected {total - cleaned:>10,}")
        by_reason: dict[str, int] = {}
        for row in rows:
            if row["reason_code"] != "cleaned":
                by_reason[row["reason_code"]] = by_reason.get(row["reason_code"], 0) + \
                    row["row_count"]
        for reason, count in sorted(by_reason.items()):
            lines.append(f"{'':<14}   rejected: {reason:<32} {count:>10,}")
    if summary.mart_rows:
        lines.append("marts")
        for name, count in summary.mart_rows.items():
            lines.append(f"  {name:<34} {count:>10,} rows  "
                         f"{output_dir / 'marts' / (name + '.csv')}")
    tests = summary.tests
    lines.append(
        f"tests          {tests.get('pass', 0)} passed, {tests.get('warn', 0)} warned, "
        f"{tests.get('fail', 0) + tests.get('error', 0)} failed"
        + (f", {tests['skipped']} skipped" if tests.get("skipped") else "")
    )
    for failure in summary.failed_tests + summary.failed_nodes:
        lines.append(f"  FAILED {failure}")
    lines.append("time           " + " | ".join(
        f"{step.name} {step.seconds:.1f}s" for step in summary.steps))
    if summary.quality is not None:
        from python_checks.quality import format_table

        lines += ["-" * 64, format_table(summary.quality),
                  f"quality report: {output_dir / 'quality' / 'quality_report.html'}"]
    if summary.report is not None:
        lines.append(f"report: {summary.report} (and report.html, charts/)")
    lines.append("-" * 64)
    verdict = {0: "OK", 1: "WARNINGS (--strict)", 2: "FAILED: see the failures above"}
    lines.append(verdict[summary.exit_code])
    return "\n".join(lines)
