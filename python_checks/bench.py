"""`make bench`: time the pipeline on the full-scale synthetic set and on a 4x
set, against a hand-written PySpark script (bench/reference_pyspark.py), and
write the table to bench/results/ as JSON and Markdown.

Per scale, each step is a fresh process with its own Spark warehouse and dbt
target, so one step's JVM warm-up or cache never helps another:

* generate: python_checks.generate at rows x scale, then the transactions split
  into two part files (every month but the last, and the last month);
* main job: `billups run --full-refresh` (build, tests, exports, quality check,
  report), wall time and the peak memory of its whole process tree (the Spark
  JVM is a child);
* model build / tests: `dbt run --full-refresh` then `dbt test` on their own,
  with the time of each model from run_results.json;
* incremental: the last month's part file removed, a full build, the file put
  back, then `dbt run` - the one-month refresh a daily load would do;
* reference: bench/reference_pyspark.py, whose Q1-Q3 answers are compared with
  the exported marts.

Ratios are taken within one run of this command (these machines are noisy).
The 4x scale runs the main job and the reference only unless --all-steps.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from python_checks.project import PROFILES_DIR, PROJECT_DIR

TX = "historical_transactions.parquet"
TARGETS = {
    "main_vs_reference": 0.6,
    "models_vs_reference": 0.4,
    "incremental_vs_full_models": 0.2,
    "main_4x_vs_1x": 4.5,
}


# ---------------------------------------------------------------- processes

def _tree_rss_bytes(root_pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root_pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while stack:
        pid = stack.pop()
        try:
            with open(f"/proc/{pid}/statm") as handle:
                total += int(handle.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        stack.extend(children.get(pid, []))
    return total


def run_step(name: str, command: list[str], env: dict[str, str], log_dir: Path) -> dict[str, Any]:
    """Run one command; wall time, exit code, peak process-tree memory, log files."""
    log_dir.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    print(f"  {name}: {' '.join(command[:6])}{' ...' if len(command) > 6 else ''}", flush=True)
    started = time.perf_counter()
    with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=env, stdout=out, stderr=err)
        peak = [0]
        done = threading.Event()

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], _tree_rss_bytes(process.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        code = process.wait()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - started
    result = {"seconds": round(seconds, 1), "exit_code": code,
              "peak_rss_gib": round(peak[0] / 2**30, 2)}
    status = "ok" if code == 0 else f"exit {code}"
    print(f"    {seconds:.1f}s, peak {result['peak_rss_gib']} GiB, {status}", flush=True)
    if code != 0:
        tail = (stdout_path.read_text()[-1500:] + stderr_path.read_text()[-1500:]).strip()
        result["error_tail"] = tail
    return result


def step_env(root: Path) -> dict[str, str]:
    """A process environment with its own Spark dir, dbt target and logs."""
    return {
        **os.environ,
        "BILLUPS_SPARK_DIR": str(root / "spark"),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_PROFILES_DIR": str(PROFILES_DIR),
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
    }


def dbt_command(*args: str, data_dir: Path) -> list[str]:
    dbt = Path(sys.executable).parent / "dbt"
    return [str(dbt), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir",
            str(PROFILES_DIR), "--target", "local", "--vars",
            json.dumps({"data_dir": str(data_dir)})]


def node_times(run_results: Path) -> dict[str, float]:
    """Execution time per model (seconds) from a run_results.json."""
    if not run_results.exists():
        return {}
    results = json.loads(run_results.read_text())["results"]
    return {r["unique_id"].split(".")[-1]: round(r["execution_time"], 1)
            for r in results if r["unique_id"].startswith("model.")}


def test_counts(run_results: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    if run_results.exists():
        for r in json.loads(run_results.read_text())["results"]:
            counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


# ---------------------------------------------------------------- data

def prepare_data(scale_dir: Path, rows: int, keep: bool) -> dict[str, Any]:
    """Generate the set (timed), split its transactions by month into two part
    files; returns the paths and the generation time."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from python_checks.generate import generate

    generated = scale_dir / "generated"
    data = scale_dir / "data"
    last_part = scale_dir / "last_month.parquet"
    manifest = generated / "manifest.json"
    seconds = None
    if not (keep and manifest.exists()
            and json.loads(manifest.read_text())["transactions"]["rows"] == rows):
        shutil.rmtree(scale_dir, ignore_errors=True)
        print(f"  generate {rows:,} rows", flush=True)
        started = time.perf_counter()
        generate(generated, rows=rows)
        seconds = round(time.perf_counter() - started, 1)
        print(f"    {seconds}s", flush=True)
    if not (data / TX / "part-00000.parquet").exists() or not last_part.exists():
        shutil.rmtree(data, ignore_errors=True)
        (data / TX).mkdir(parents=True)
        shutil.copy(generated / "merchants.csv", data / "merchants.csv")
        table = pq.read_table(generated / TX)
        month = pc.utf8_slice_codeunits(table.column("purchase_date"), 0, 7)
        last = pc.max(pc.filter(month, pc.less_equal(month, "2018-02"))).as_py()
        is_last = pc.fill_null(pc.equal(month, pa.scalar(last)), False)
        pq.write_table(table.filter(pc.invert(is_last)), data / TX / "part-00000.parquet",
                       row_group_size=1_000_000)
        pq.write_table(table.filter(is_last), last_part, row_group_size=1_000_000)
        (scale_dir / "last_month.txt").write_text(last)
    return {"data": data, "last_part": last_part, "generate_s": seconds,
            "last_month": (scale_dir / "last_month.txt").read_text()}


# ---------------------------------------------------------------- answers

def _read_csv_dir(path: Path) -> list[dict[str, str]]:
    """Rows of a CSV file, or of the part files of a Spark CSV folder."""
    files = [path] if path.is_file() else sorted(path.glob("part-*.csv"))
    rows: list[dict[str, str]] = []
    for file in files:
        with open(file, newline="") as handle:
            rows += list(csv.DictReader(handle))
    return rows


def _norm(value: str) -> str:
    try:
        return format(Decimal(value).normalize(), "f") if value != "" else ""
    except InvalidOperation:
        return value


def compare_answers(marts_dir: Path, reference_dir: Path) -> dict[str, Any]:
    """Q1-Q3 of the reference against the exported marts: same rows, exactly."""
    checks = {
        "top_merchants_by_month_city": ["month", "city_id", "rank", "merchant_id",
                                        "merchant_name", "purchase_total", "no_of_sales"],
        "avg_sale_by_merchant_state": ["rank", "merchant_id", "merchant_name", "state_id",
                                       "average_amount", "no_of_sales", "purchase_total"],
        "top_hours_by_category": ["category", "rank", "hour", "purchase_total", "no_of_sales"],
    }
    outcome: dict[str, Any] = {"match": True, "details": {}}
    for mart, columns in checks.items():
        ours = {tuple(_norm(r[c]) for c in columns)
                for r in _read_csv_dir(marts_dir / f"{mart}.csv")}
        theirs = {tuple(_norm(r[c]) for c in columns)
                  for r in _read_csv_dir(reference_dir / mart)}
        same = ours == theirs
        outcome["match"] &= same
        detail = f"{len(ours)} rows, {'same' if same else 'DIFFERENT'}"
        if not same:
            only = sorted(ours - theirs)[:1] + sorted(theirs - ours)[:1]
            detail += f"; first differences (ours, reference): {only}"
        outcome["details"][mart] = detail
    return outcome


# ---------------------------------------------------------------- one scale

def bench_scale(scale: int, rows: int, work: Path, all_steps: bool, skip_reference: bool,
                keep: bool) -> dict[str, Any]:
    print(f"== scale {scale}x ({rows:,} rows)", flush=True)
    scale_dir = work / f"scale_{scale}x"
    data = prepare_data(scale_dir, rows, keep)
    result: dict[str, Any] = {"scale": scale, "rows": rows, "generate_s": data["generate_s"],
                              "steps": {}}
    steps = result["steps"]
    logs = scale_dir / "logs"
    billups = str(Path(sys.executable).parent / "billups")

    shutil.copy(data["last_part"], data["data"] / TX / "part-00001.parquet")
    main_root = scale_dir / "main"
    shutil.rmtree(main_root, ignore_errors=True)
    help_text = subprocess.run([billups, "run", "--help"], capture_output=True, text=True).stdout
    command = [billups, "run", "--data-dir", str(data["data"]), "--output-dir",
               str(main_root / "output")]
    if "--full-refresh" in help_text:
        command.append("--full-refresh")
    steps["main"] = run_step("main_job", command, step_env(main_root), logs)

    if all_steps:
        models_root = scale_dir / "models"
        shutil.rmtree(models_root, ignore_errors=True)
        env = step_env(models_root)
        steps["models"] = run_step("dbt_run_full", dbt_command(
            "run", "--full-refresh", data_dir=data["data"]), env, logs)
        steps["models"]["model_times"] = node_times(models_root / "target" / "run_results.json")
        steps["tests"] = run_step("dbt_test", dbt_command(
            "test", "--exclude-resource-type", "unit_test", data_dir=data["data"]), env, logs)
        steps["tests"]["outcomes"] = test_counts(models_root / "target" / "run_results.json")
        if steps["tests"]["exit_code"] == 1 and "error" not in steps["tests"]["outcomes"] \
                and "fail" not in steps["tests"]["outcomes"]:
            steps["tests"]["exit_code"] = 0  # dbt exits 1 on warnings only

        # The one-month refresh: the last month's part file arrives after a
        # build of everything before it.
        (data["data"] / TX / "part-00001.parquet").unlink()
        incremental_root = scale_dir / "incremental"
        shutil.rmtree(incremental_root, ignore_errors=True)
        env = step_env(incremental_root)
        steps["incremental_setup"] = run_step("dbt_run_without_last_month", dbt_command(
            "run", "--full-refresh", data_dir=data["data"]), env, logs)
        shutil.copy(data["last_part"], data["data"] / TX / "part-00001.parquet")
        steps["incremental"] = run_step("dbt_run_incremental", dbt_command(
            "run", data_dir=data["data"]), env, logs)
        steps["incremental"]["model_times"] = node_times(
            incremental_root / "target" / "run_results.json")
        steps["incremental"]["month"] = data["last_month"]

    if not skip_reference:
        reference_out = scale_dir / "reference_output"
        shutil.rmtree(reference_out, ignore_errors=True)
        steps["reference"] = run_step("reference_pyspark", [
            sys.executable, str(PROJECT_DIR / "bench" / "reference_pyspark.py"),
            "--data-dir", str(data["data"]), "--out-dir", str(reference_out),
        ], step_env(scale_dir / "reference"), logs)
        if steps["reference"]["exit_code"] == 0 and steps["main"]["exit_code"] == 0:
            result["answers"] = compare_answers(main_root / "output" / "marts", reference_out)
    main_s = steps["main"]["seconds"]
    result["rows_per_s"] = round(rows / main_s) if main_s else None
    return result


# ---------------------------------------------------------------- report

def ratios(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_scale = {r["scale"]: r for r in results}
    out: dict[str, Any] = {}
    one = by_scale.get(1) or results[0]
    steps = one["steps"]
    reference = steps.get("reference", {}).get("seconds")
    if reference:
        out["main_vs_reference"] = round(steps["main"]["seconds"] / reference, 2)
        if "models" in steps:
            out["models_vs_reference"] = round(steps["models"]["seconds"] / reference, 2)
    if "incremental" in steps and "models" in steps:
        out["incremental_vs_full_models"] = round(
            steps["incremental"]["seconds"] / steps["models"]["seconds"], 2)
    if 1 in by_scale and 4 in by_scale:
        out["main_4x_vs_1x"] = round(
            by_scale[4]["steps"]["main"]["seconds"] / by_scale[1]["steps"]["main"]["seconds"], 2)
    return {name: {"value": value, "target": TARGETS[name],
                   "status": "PASS" if value <= TARGETS[name] else "FAIL"}
            for name, value in out.items()}


def machine() -> dict[str, Any]:
    def version(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60)
            return (done.stdout + done.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"

    import pyspark
    from dbt.version import __version__ as dbt_version

    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    commit = version(["git", "-C", str(PROJECT_DIR), "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "-C", str(PROJECT_DIR), "status", "--porcelain",
                            "--untracked-files=no"], capture_output=True, text=True).stdout
    return {"cores": os.cpu_count(), "memory_gib": round(memory, 1),
            "python": platform.python_version(), "java": version(["java", "-version"]),
            "pyspark": pyspark.__version__, "dbt_core": dbt_version,
            "git_commit": commit + ("+uncommitted" if dirty.strip() else "")}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Benchmark {report['started_at']}", "",
             "Machine: " + ", ".join(f"{k} {v}" for k, v in report["machine"].items()), "",
             "| scale | rows | generate s | main job s | model build s | tests s | "
             "one-month incremental s | reference s | rows/s (main) | peak GiB main / ref | "
             "answers match |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in report["scales"]:
        steps = r["steps"]

        def sec(name: str, steps: dict = steps) -> str:
            step = steps.get(name)
            if not step:
                return "-"
            return f"{step['seconds']}" + ("" if step["exit_code"] == 0 else " (failed)")

        peak = (f"{steps['main']['peak_rss_gib']} / "
                f"{steps.get('reference', {}).get('peak_rss_gib', '-')}")
        answers = r.get("answers", {}).get("match")
        lines.append(
            f"| {r['scale']}x | {r['rows']:,} | {r['generate_s'] or '(kept)'} | {sec('main')} | "
            f"{sec('models')} | {sec('tests')} | {sec('incremental')} | {sec('reference')} | "
            f"{r['rows_per_s'] or '-':,} | {peak} | "
            f"{'-' if answers is None else ('yes' if answers else 'NO')} |")
    lines += ["", "| target | value | limit | status |", "|---|---:|---:|---|"]
    for name, check in report["ratios"].items():
        lines.append(f"| {name} | {check['value']} | {check['target']} | {check['status']} |")
    for r in report["scales"]:
        for step in ("models", "incremental"):
            times = r["steps"].get(step, {}).get("model_times")
            if not times:
                continue
            what = ("dbt run --full-refresh" if step == "models"
                    else "dbt run after the last month arrives")
            lines += ["", f"### {r['scale']}x: time per model, {step} ({what})",
                      "", "| model | s |", "|---|---:|"]
            lines += [f"| {name} | {seconds} |" for name, seconds in
                      sorted(times.items(), key=lambda item: -item[1])]
        if r.get("answers"):
            lines += ["", f"### {r['scale']}x: reference answers vs marts", ""]
            lines += [f"- {mart}: {detail}" for mart, detail in r["answers"]["details"].items()]
    failed = [f"{r['scale']}x {name}" for r in report["scales"]
              for name, step in r["steps"].items() if step["exit_code"] != 0]
    if failed:
        lines += ["", "Failed steps: " + ", ".join(failed)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from python_checks.generate import FULL_ROWS

    parser = argparse.ArgumentParser(prog="python -m python_checks.bench",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1,4", help="comma-separated multiples of the "
                        "full-scale set (7,274,367 rows)")
    parser.add_argument("--rows", type=int, help="rows of the 1x set (a quick small run)")
    parser.add_argument("--work-dir", type=Path, default=PROJECT_DIR / "bench" / "work")
    parser.add_argument("--results-dir", type=Path, default=PROJECT_DIR / "bench" / "results")
    parser.add_argument("--all-steps", action="store_true",
                        help="model build, tests and incremental at every scale, not only 1x")
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--keep-data", action="store_true",
                        help="reuse the generated sets of an earlier bench run")
    args = parser.parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    base_rows = args.rows or FULL_ROWS
    report: dict[str, Any] = {"started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                              "machine": machine(), "scales": []}
    for scale in scales:
        report["scales"].append(bench_scale(
            scale, base_rows * scale, args.work_dir, all_steps=args.all_steps or scale == 1,
            skip_reference=args.skip_reference, keep=args.keep_data))
    report["ratios"] = ratios(report["scales"])
    text = markdown(report)
    print("\n" + text)
    args.results_dir.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for name in (f"bench-{stamp}", "latest"):
        (args.results_dir / f"{name}.json").write_text(json.dumps(report, indent=2) + "\n")
        (args.results_dir / f"{name}.md").write_text(text)
    print(f"written to {args.results_dir}/bench-{stamp}.{{json,md}} and latest.{{json,md}}")
    failed = any(step["exit_code"] != 0 for r in report["scales"] for step in r["steps"].values())
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
