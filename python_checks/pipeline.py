"""The main job: check the inputs, build and test everything with dbt, export
the marts as CSV, and summarise what happened to every input row."""

from __future__ import annotations

import csv
import fcntl
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_checks.project import MARTS, QUALITY_EXPORTS, DbtInvocation, invoke_dbt, spark_dir

TRANSACTIONS_FILE = "historical_transactions.parquet"
MERCHANTS_FILE = "merchants.csv"


class PipelineError(Exception):
    """A problem the user can fix; its message is one actionable line."""


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

    @property
    def ok(self) -> bool:
        return self.build_ok and not self.failed_nodes and self.tests.get("fail", 0) == 0 \
            and self.tests.get("error", 0) == 0


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


def check_metastore_free() -> None:
    """Derby lets one JVM at a time open the metastore. Probe its lock file so a
    second run on the same directory gets a clear message, not a Java trace."""
    lock = spark_dir() / "metastore_db" / "dbex.lck"
    if not lock.exists():
        return
    with open(lock, "a") as handle:
        try:
            fcntl.lockf(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            raise PipelineError(
                f"the Spark metastore in {spark_dir()} is in use by another process "
                "(a dbt or billups run on the same project). Wait for it to finish, or give "
                "this run its own directory: BILLUPS_SPARK_DIR=/some/other/dir."
            ) from exc
        fcntl.lockf(handle, fcntl.LOCK_UN)


def first_error_line(error: str | None) -> str:
    """The line of a dbt error that says what is wrong, without dbt's framing
    ('Compilation Error in operation ...', '> in macro ...')."""
    for line in (error or "").splitlines():
        line = line.strip()
        if line and not line.startswith((">", "Compilation Error", "Runtime Error",
                                         "Database Error")):
            return line
    return "see the dbt output above"


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


def collect_exports(staging_dir: Path, out_dir: Path, names: dict[str, str]) -> dict[str, int]:
    """Turn Spark's <model>/part-*.csv folders into <out_dir>/<file name>.csv files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    for name, file_name in names.items():
        parts = sorted((staging_dir / name).glob("part-*.csv"))
        target = out_dir / f"{file_name}.csv"
        with open(target, "w", newline="") as sink:
            header_written = False
            count = 0
            for part in parts:
                with open(part, newline="") as source:
                    lines = source.readlines()
                if not lines:
                    continue
                if not header_written:
                    sink.write(lines[0])
                    header_written = True
                sink.writelines(lines[1:])
                count += len(lines) - 1
        rows[name] = count
    return rows


def read_ledger(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="") as handle:
        return [
            {**row, "row_count": int(row["row_count"])} for row in csv.DictReader(handle)
        ]


def run_pipeline(
    data_dir: Path,
    output_dir: Path,
    target: str = "local",
    echo: Callable[[str], None] = print,
) -> RunSummary:
    """Check inputs, `dbt build`, export marts and the row ledger as CSV."""
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

    step("check inputs", lambda: check_inputs(data_dir))
    if target == "local":
        check_metastore_free()
    dbt_vars = {"data_dir": str(data_dir)}

    build: DbtInvocation = step(
        "dbt build (seeds, models, tests)",
        lambda: invoke_dbt(["build"], target=target, dbt_vars=dbt_vars),
    )
    summarise_results(build.results, summary)
    summary.build_ok = build.success or (not summary.failed_nodes and not summary.failed_tests
                                         and build.error is None and bool(build.results))
    if not build.results:
        raise PipelineError("dbt build stopped before running: " + first_error_line(build.error))
    if summary.failed_nodes or summary.tests.get("skipped"):
        # A failed model or an error test upstream skips what depends on it:
        # exporting would be a silent partial result.
        return summary

    staging = output_dir / ".export"
    shutil.rmtree(staging, ignore_errors=True)
    export_names = MARTS + tuple(QUALITY_EXPORTS)

    def export() -> None:
        outcome = invoke_dbt(
            ["run-operation", "export_models", "--args",
             f'{{"models": {list(export_names)!r}, "out_dir": "{staging}"}}'.replace("'", '"')],
            target=target, dbt_vars=dbt_vars, quiet=True,
        )
        if not outcome.success:
            raise PipelineError(f"export failed: {first_error_line(outcome.error)}")
        summary.mart_rows = collect_exports(
            staging, output_dir / "marts", {name: name for name in MARTS}
        )
        collect_exports(staging, output_dir / "quality", QUALITY_EXPORTS)
        shutil.rmtree(staging, ignore_errors=True)

    step("export marts", export)
    summary.ledger = read_ledger(output_dir / "quality" / "row_ledger.csv")
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
    lines.append("-" * 64)
    lines.append("OK" if summary.ok else "FAILED: see the failures above")
    return "\n".join(lines)
