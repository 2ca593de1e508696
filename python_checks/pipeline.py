"""The main job, write-audit-publish.

1. Write: check the inputs against their contract, then `dbt build` (seeds,
   models, data tests) into the Spark catalog.
2. Audit: export the marts as candidates, measure data quality (metrics
   against their thresholds, every test outcome, freshness), write the quality
   report. Always, whatever the build did.
3. Publish: only when no error gate tripped, the candidates replace
   OUTPUT_DIR/marts and the report is written. Otherwise they go to
   OUTPUT_DIR/unpublished/, a set published earlier stays as it was, and the
   last line names every tripped gate.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_checks.artifacts import Outcome
from python_checks.inputs import CheckedInputs, check_inputs, prepare_output_dir, sources
from python_checks.project import (
    DbtInvocation,
    PipelineError,
    export_models,
    first_error_line,
    invoke_dbt,
    port_open,
    published_tables,
    spark_dir,
    target_dir,
)

#: Where a run whose gate tripped leaves its candidate exports.
UNPUBLISHED = "unpublished"


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
    steps: list[StepTiming] = field(default_factory=list)
    quality: dict[str, Any] | None = None
    report: Path | None = None
    published: bool = False
    output_dir: Path | None = None

    @property
    def gates(self) -> list[str]:
        return list(self.quality["gates"]) if self.quality else ["no quality report"]

    @property
    def exit_code(self) -> int:
        """0 all good; 1 warnings with --strict; 2 any error gate."""
        return int(self.quality["exit_code"]) if self.quality else 2


def has_inputs(data_dir: Path) -> bool:
    return all((data_dir / spec.file_name).exists() for spec in sources().values())


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


def check_engine(target: str) -> None:
    if target == "local":
        check_metastore_free()
    else:
        check_thrift_reachable()


def count_tests(results: list[Outcome]) -> dict[str, int]:
    """Test outcomes of dbt's run results, by status."""
    counts = {"pass": 0, "warn": 0, "fail": 0, "error": 0, "skipped": 0}
    for record in results:
        if record.kind in {"test", "unit_test"}:
            counts[record.status] = counts.get(record.status, 0) + 1
    return counts


#: What the last clean build left, for state selection.
STATE_FILES = ("manifest.json", "sources.json", "vars.json", "inputs.json")
QUALITY_OVERRIDES = "quality_threshold_overrides"


def state_dir(target: str) -> Path:
    """Where the last build of this warehouse left the artifacts that dbt's
    state selection compares with: manifest.json, sources.json, the vars."""
    return spark_dir() / "state" / target


def selection(state: Path, dbt_vars: dict, full_refresh: bool,
              inputs: CheckedInputs) -> list[str]:
    """dbt's own state selection, against the artifacts the warehouse's last
    clean build left: only what a fresher source (a file delivered since) or a
    modified node (model, macro, seed, config) reaches, plus the validated
    transactions and what reads them for a backfill, plus qa_metrics when only
    the threshold overrides changed. Empty (build everything) on the first
    build, a full refresh, other vars (dbt does not compare vars), or input
    files that did not only grow (one removed, or replaced by an older copy: no
    source is fresher, yet the tables are stale). `state`: the folder of the
    last clean build's artifacts."""
    if full_refresh or any(not (state / name).exists() for name in STATE_FILES):
        return []
    saved, now = json.loads((state / "vars.json").read_text()), _compared(dbt_vars)
    judged_only = {**saved, QUALITY_OVERRIDES: None} == {**now, QUALITY_OVERRIDES: None}
    if not judged_only:
        return []
    before = json.loads((state / "inputs.json").read_text())
    files = _input_files(inputs)
    if any(path not in files or (files[path] != seen and files[path][1] <= seen[1])
           for path, seen in before.items()):
        return []
    chosen = ["source_status:fresher+", "state:modified+"]
    if dbt_vars.get("backfill_months"):
        chosen.append("int_transactions_validated+")
    if saved.get(QUALITY_OVERRIDES) != now.get(QUALITY_OVERRIDES):
        chosen.append("qa_metrics")
    return ["--select", *chosen, "--state", str(state)]


def _input_files(inputs: CheckedInputs) -> dict[str, list[float]]:
    """Each input file: [bytes, modification time]."""
    return {str(file.path): [file.bytes, file.modified] for file in inputs.files}


def remember_state(target: str, dbt_vars: dict, fresh_sources: Path | None,
                   inputs: CheckedInputs) -> None:
    """After a clean build (every selected model built, no test failed): this
    is what the warehouse now holds."""
    state = state_dir(target)
    if fresh_sources is None or not (target_dir() / "manifest.json").exists():
        return
    state.mkdir(parents=True, exist_ok=True)
    shutil.copy(target_dir() / "manifest.json", state / "manifest.json")
    shutil.copy(fresh_sources, state / "sources.json")
    (state / "vars.json").write_text(json.dumps(_compared(dbt_vars), sort_keys=True))
    (state / "inputs.json").write_text(json.dumps(_input_files(inputs), sort_keys=True))


def _compared(dbt_vars: dict) -> dict:
    """The vars that decide what the tables hold (a backfill names months to
    redo, not a rule)."""
    return {key: value for key, value in dbt_vars.items() if key != "backfill_months"}


UNFINISHED = "build.unfinished"


def clear_unowned_folders() -> list[str]:
    """A build killed while Spark wrote a table leaves the table's folder but
    not the table (dbt-spark drops a parquet table before it creates it again),
    and Spark will not create a table where a folder exists
    (LOCATION_ALREADY_EXISTS). After such a build: remove the warehouse folders
    that no table of the metastore owns. Local target only: dbt's Spark session
    runs in this process (the freshness check started it)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.active()
    removed = []
    for schema in sorted((spark_dir() / "warehouse").glob("*.db")):
        if not spark.catalog.databaseExists(schema.stem):
            continue
        owned = {row.tableName.lower() for row in spark.sql(f"show tables in `{schema.stem}`")
                 .collect()}
        for folder in sorted(schema.iterdir()):
            if folder.is_dir() and folder.name.lower() not in owned:
                shutil.rmtree(folder)
                removed.append(f"{schema.stem}.{folder.name}")
    return removed


def build(target: str, dbt_vars: dict, args: list[str], full_refresh: bool,
          inputs: CheckedInputs, echo: Callable[[str], None] = print,
          ) -> tuple[list[Outcome], list[dict[str, Any]]]:
    """`dbt source freshness`, then `dbt build` of what changed (selection), then
    the quality models it skipped (an upstream test that failed skips what
    depends on its model; the audit must run anyway). Returns the build's
    results and the freshness results."""
    from python_checks.quality import freshness

    fresh = freshness(target, dbt_vars)
    fresh_sources = target_dir() / "sources.json"
    kept = shutil.copy(fresh_sources, target_dir() / "sources.fresh.json") \
        if fresh_sources.exists() else None
    # The state says what the warehouse holds: not true while this build runs,
    # and not kept after a build that failed or was killed (the next run
    # rebuilds everything). This build compares with it where it was moved.
    previous = target_dir() / "previous_state"
    shutil.rmtree(previous, ignore_errors=True)
    if state_dir(target).exists():
        shutil.move(state_dir(target), previous)
    chosen = selection(previous, dbt_vars, full_refresh, inputs)
    unfinished = spark_dir() / UNFINISHED
    if unfinished.exists() and target == "local":
        removed = clear_unowned_folders()
        echo(f"    the last build did not finish: removed {len(removed)} table folder(s) "
             f"it left without a table{': ' + ', '.join(removed) if removed else ''}")
    unfinished.parent.mkdir(parents=True, exist_ok=True)
    unfinished.touch()
    built: DbtInvocation = invoke_dbt(["build", *chosen, *args], target=target,
                                      dbt_vars=dbt_vars)
    unfinished.unlink()
    if not built.results and not built.success:
        raise PipelineError("dbt build stopped before running: " + first_error_line(built.error))
    results = built.results
    if not any(record.status in {"error", "fail"} for record in results):
        remember_state(target, dbt_vars, Path(kept) if kept else None, inputs)
    skipped = [record.name for record in results
               if record.kind == "model" and record.name.startswith("qa_")
               and record.status == "skipped"]
    if skipped:
        audit = invoke_dbt(["build", "--select", *skipped, "--exclude-resource-type",
                            "unit_test"], target=target, dbt_vars=dbt_vars)
        redone = {record.unique_id: record for record in audit.results}
        results = [redone.pop(record.unique_id, record) for record in results]
        results += list(redone.values())
    return results, fresh


def exportable(names: list[str], results: list[Outcome]) -> list[str]:
    """The models to export: built by this run, or not selected (unchanged
    since the build that made them); not those that failed or were skipped."""
    failed = {record.name for record in results
              if record.kind == "model" and record.status in {"error", "skipped"}}
    return [name for name in names if name not in failed]


def publish(candidate: Path, output_dir: Path) -> None:
    """Replace the published set with the candidate: each file or folder is
    renamed into place (atomic on one filesystem), the marts last."""
    for item in sorted(candidate.iterdir(), key=lambda path: path.name == "marts"):
        destination = output_dir / item.name
        if destination.is_dir() and item.is_dir():
            retired = output_dir / f".{item.name}.old"
            shutil.rmtree(retired, ignore_errors=True)
            destination.rename(retired)
            item.rename(destination)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            os.replace(item, destination)
    shutil.rmtree(candidate, ignore_errors=True)


def hold_back(candidate: Path, output_dir: Path, gates: list[str]) -> Path:
    """Keep a tripped run's candidates in OUTPUT_DIR/unpublished/, with why."""
    unpublished = output_dir / UNPUBLISHED
    shutil.rmtree(unpublished, ignore_errors=True)
    candidate.rename(unpublished)
    (unpublished / "NOT_PUBLISHED.txt").write_text(
        "These exports were not published: the run's quality gate tripped.\n"
        + "".join(f"- {gate}\n" for gate in gates)
        + f"The quality report says why: {output_dir / 'quality' / 'quality_report.html'}\n",
        encoding="utf-8")
    return unpublished


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
    """Check inputs, `dbt build`, audit, publish on a pass (module docstring).

    The month-partitioned tables are incremental: without `full_refresh` only
    the months of newer input files, and those of the var backfill_months,
    are rewritten. Unit tests run on static fixtures, so a production run
    leaves them to CI unless `unit_tests` asks for them.
    """
    from python_checks.quality import collect_quality, write_quality_report
    from python_checks.report import save_run_artifacts, write_report

    summary = RunSummary(output_dir=output_dir)
    data_dir, output_dir = data_dir.resolve(), output_dir.resolve()

    def step(name: str, action: Callable[[], Any]) -> Any:
        echo(f"==> {name}")
        started = time.perf_counter()
        value = action()
        elapsed = time.perf_counter() - started
        summary.steps.append(StepTiming(name, elapsed))
        echo(f"    {name}: done in {elapsed:.1f}s")
        return value

    inputs: CheckedInputs = step("check inputs", lambda: check_inputs(data_dir))
    prepare_output_dir(output_dir)
    check_engine(target)
    dbt_vars = {"data_dir": str(data_dir), **(extra_vars or {})}

    args = ["--full-refresh"] if full_refresh else []
    if not unit_tests:
        args += ["--exclude-resource-type", "unit_test"]
    results, fresh = step("dbt build (what changed: seeds, models, tests)",
                          lambda: build(target, dbt_vars, args, full_refresh, inputs, echo))
    summary.tests = count_tests(results)
    # The build's artifacts, for the report and the quality report (the export
    # and the checks below are dbt invocations that replace target/).
    artifacts = save_run_artifacts(target_dir(), output_dir / "dbt")

    candidate = output_dir / ".candidate"
    shutil.rmtree(candidate, ignore_errors=True)
    all_marts, quality_tables = published_tables()
    marts = exportable(all_marts, results)
    files = {name: candidate / "marts" / f"{name}.csv" for name in marts}
    files.update({name: output_dir / "quality" / f"{file}.csv"
                  for name, file in quality_tables.items()})
    exported = step("export (candidates and quality tables)", lambda: export_models(
        files, output_dir / ".export", target=target, dbt_vars=dbt_vars))
    summary.mart_rows = {name: exported[name] for name in marts}

    def audit() -> None:
        timings = {timing.name: round(timing.seconds, 1) for timing in summary.steps}
        summary.quality = collect_quality(
            output_dir, inputs, results, target=target, dbt_vars=dbt_vars, strict=strict,
            timings=timings, artifacts_dir=output_dir / "dbt", expected_marts=all_marts,
            fresh=fresh)
        write_quality_report(summary.quality, output_dir)

    step("check data quality", audit)
    summary.ledger = summary.quality["ledger"]
    if summary.exit_code == 2:
        hold_back(candidate, output_dir, summary.gates)
        return summary

    def report() -> None:
        summary.report = write_report(candidate, artifacts, dbt_vars,
                                      quality_dir=output_dir / "quality",
                                      manifest=output_dir / "dbt" / "manifest.json").markdown
        publish(candidate, output_dir)
        summary.report = output_dir / summary.report.name
        summary.published = True

    step("publish (marts, report)", report)
    shutil.rmtree(output_dir / UNPUBLISHED, ignore_errors=True)
    return summary


def format_summary(summary: RunSummary, output_dir: Path) -> str:
    """The end-of-run table: rows in/out per reason, marts, tests, timings, and
    a last line that is the verdict (the tripped gates, when any)."""
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
    folder = output_dir / ("marts" if summary.published else f"{UNPUBLISHED}/marts")
    if summary.mart_rows:
        lines.append("marts" + ("" if summary.published else " (NOT published)"))
        for name, count in summary.mart_rows.items():
            lines.append(f"  {name:<34} {count:>10,} rows  {folder / (name + '.csv')}")
    tests = summary.tests
    lines.append(
        f"tests          {tests.get('pass', 0)} passed, {tests.get('warn', 0)} warned, "
        f"{tests.get('fail', 0) + tests.get('error', 0)} failed"
        + (f", {tests['skipped']} skipped" if tests.get("skipped") else ""))
    lines.append("time           " + " | ".join(
        f"{timing.name} {timing.seconds:.1f}s" for timing in summary.steps))
    if summary.quality is not None:
        from python_checks.quality import format_table

        lines += ["-" * 64, format_table(summary.quality),
                  f"quality report: {output_dir / 'quality' / 'quality_report.html'}"]
    if summary.report is not None:
        lines.append(f"report: {summary.report} (and report.html, charts/)")
    lines.append("-" * 64)
    lines.append(verdict(summary.exit_code, summary.gates))
    return "\n".join(lines)


def verdict(exit_code: int, gates: list[str]) -> str:
    """The last line a user reads."""
    if exit_code == 2:
        return "quality gate failed: " + "; ".join(gates)
    return "WARNINGS (--strict)" if exit_code == 1 else "OK"
