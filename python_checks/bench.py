"""`make bench`: how fast the dbt project is against a hand-written PySpark
script, at the full scale (1x = 7,274,367 rows) and at 4x.

    python -m python_checks.bench [--scales 1,4] [--rows N] [--work-dir bench/work]
        [--results-dir bench/results] [--steps main,models,tests,incremental,reference]
        [--skip-reference] [--keep-data]

Per scale, each step is its own process with its own Spark warehouse, Derby
metastore, dbt target and logs (under --work-dir), so no step's JVM or cache
helps another:

a. generate: python_checks.generate.generate (fixed seed), then the
   transactions rewritten as a folder of two part files: every month but the
   last (part-00000), and the last month (part-00001);
b. main job: `billups run --full-refresh` (build, tests, export, quality,
   report): wall time and peak memory of the whole process tree (the Spark JVM
   is a child), sampled every 0.2 s;
c. model build: `dbt run --full-refresh` alone (after an untimed `dbt seed`),
   with each model's time from run_results.json;
d. tests: `dbt test` alone (data tests; unit tests excluded as in `billups run`);
e. one-month incremental refresh: part-00001 moved out, `dbt run
   --full-refresh` (setup, untimed), part-00001 moved back as a new file
   (modification time now), `dbt run` timed;
   then `dbt run` again with nothing new (a scheduled run on a day without
   input): the fixed cost of any incremental run (start-up, change checks,
   marts over all months), reported beside it, no target;
f. reference: bench/reference_pyspark.py, timed with peak memory; its answers
   compared with the exported marts.

The table goes to stdout and to RESULTS_DIR/bench-<UTC time>.{json,md} and
latest.{json,md}. A failed step is recorded (exit code, last lines of its
output) and the bench goes on; the exit code is 1 when any step failed or the
answers differ, 0 otherwise (a ratio above its target is reported, not an error).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import fcntl
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from python_checks import class_archive
from python_checks.artifacts import Outcome, outcomes
from python_checks.pipeline import count_tests
from python_checks.project import PROFILES_DIR, PROJECT_DIR

SEED = 42
TX = "historical_transactions.parquet"
MERCHANTS = "merchants.csv"
PARTS = ("part-00000.parquet", "part-00001.parquet")
SET_INFO = "bench_set.json"
#: The timed steps, in the order they run (generation always runs).
STEPS = ("loop", "main", "models", "tests", "incremental", "reference", "careful")
SAMPLE_SECONDS = 0.2
TAIL_LINES = 15
NUMERIC_TOLERANCE = 1e-6

#: ratio name -> (label, limit). The scale ratio's limit is 1.125 x the scale
#: (4.5 for 4x): at most 12.5% worse than linear.
TARGETS = {
    "main_vs_careful": ("main job / careful reference", 1.3),
    "main_vs_reference": ("main job / reference", 0.6),
    "models_vs_reference": ("model build / reference", 0.4),
    "incremental_vs_models": ("incremental / full model build", 0.2),
}
#: The analyst's loop, on LOOP_ROWS rows, against Spark's floor (same run).
LOOP_TARGETS = {
    "loop_run_vs_floor": ("`billups run` on the 20k set / Spark's floor", 3.0),
    "loop_one_mart_vs_floor": ("one-mart `dbt build -s` / Spark's floor", 1.5),
}
LOOP_ROWS = 20_000
LOOP_MART = "top_hours_by_category"
SCALE_SLACK = 1.125

#: These must be compared for "answers match" to say yes (the brief's minimum).
REQUIRED = ("top_merchants_by_month_city", "avg_sale_by_merchant_state",
            "top_hours_by_category")


# ------------------------------------------------------------------ processes

def _sample_tree(process: Any, cpu: dict[int, float]) -> int:
    """One walk of a process and all its descendants: returns their resident
    memory (bytes) and records in `cpu` the CPU seconds (user + system) so far
    of each, by pid. A process's CPU counter only grows and survives its exited
    threads, so the last sample of each holds nearly all of its CPU (the Spark
    JVM is not waited for by its parent: rusage would miss it).

    The JVM starts small commands (chmod, ls) with posix_spawn: until the exec,
    the child shares the JVM's address space and reports the same resident
    memory. Such a child (same rss and vms as its parent) is not counted, or a
    sample taken at that instant would count the JVM twice."""
    import psutil

    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    seen: dict[int, tuple[int, int, int]] = {}  # pid -> (ppid, rss, vms)
    for member in members:
        try:
            with member.oneshot():
                memory = member.memory_info()
                seen[member.pid] = (member.ppid(), memory.rss, memory.vms)
                times = member.cpu_times()
        except psutil.Error:
            continue
        cpu[member.pid] = max(cpu.get(member.pid, 0.0), times.user + times.system)
    total = 0
    for ppid, rss, vms in seen.values():
        parent = seen.get(ppid)
        if parent is not None and (parent[1], parent[2]) == (rss, vms):
            continue  # shares its parent's memory (spawned, not yet exec'd)
        total += rss
    return total


def _tail(path: Path, lines: int = TAIL_LINES) -> str:
    if not path.exists():
        return ""
    with open(path, errors="replace") as handle:
        return "".join(handle.readlines()[-lines:]).rstrip()


def _busy_share(before: Any, after: Any) -> float | None:
    """Share of the machine's CPU time that was busy between two psutil.cpu_times()."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0)
                                         - getattr(before, "iowait", 0.0))
    return round(1 - idle / total, 3) if total > 0 else None


def run_step(name: str, command: list[str], *, env: dict[str, str], log_dir: Path,
             cwd: Path = PROJECT_DIR, timeout: float | None = None) -> dict[str, Any]:
    """Run one command in its own session; wall time, exit code, peak memory and
    CPU seconds of its process tree, the machine's busy share meanwhile; on
    failure the last lines of its stderr (and stdout)."""
    import psutil

    log_dir.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    stdout_path, stderr_path = log_dir / f"{name}.out", log_dir / f"{name}.err"
    shown = " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command))
    print(f"  {name}: {shown[:150]}{' ...' if len(shown) > 150 else ''}", flush=True)
    result: dict[str, Any] = {"command": command, "log": str(stdout_path)}
    started = time.perf_counter()
    machine_before = psutil.cpu_times()
    peak = 0
    cpu: dict[int, float] = {}
    try:
        with open(stdout_path, "w") as out, open(stderr_path, "w") as err:
            process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=err,
                                       start_new_session=True)
            watched = psutil.Process(process.pid)
            done = threading.Event()
            peaks = [0]

            def sample() -> None:
                while not done.is_set():
                    peaks[0] = max(peaks[0], _sample_tree(watched, cpu))
                    done.wait(SAMPLE_SECONDS)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            try:
                code: int | str = process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _kill_group(process)
                code = "timeout"
            except BaseException:
                _kill_group(process)
                raise
            finally:
                done.set()
                sampler.join()
            peak = peaks[0]
    except OSError as exc:  # the command could not start
        code = f"not started: {exc}"
    seconds = time.perf_counter() - started
    result.update(seconds=round(seconds, 1), exit_code=code, ok=code == 0,
                  peak_rss_gib=round(peak / 2**30, 2), cpu_seconds=round(sum(cpu.values()), 1),
                  machine_busy=_busy_share(machine_before, psutil.cpu_times()))
    if code != 0:
        result["stderr_tail"] = _tail(stderr_path)
        result["stdout_tail"] = _tail(stdout_path)
    status = "ok" if code == 0 else f"FAILED (exit {code})"
    print(f"    {seconds:.1f}s, peak {result['peak_rss_gib']} GiB, "
          f"CPU {result['cpu_seconds']:.0f}s, {status}", flush=True)
    return result


def _kill_group(process: subprocess.Popen) -> None:
    """End the step's own process group (started with start_new_session)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def step_env(root: Path) -> dict[str, str]:
    """A process environment with its own Spark dir, dbt target and logs
    (tests/python/conftest.py isolated_env), and the project's profile."""
    return {
        **os.environ,
        "BILLUPS_SPARK_DIR": str(root / "spark"),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
        "DBT_PROFILES_DIR": str(PROFILES_DIR),
        "BILLUPS_LOG4J_CONFIG": os.environ.get("BILLUPS_LOG4J_CONFIG",
                                               str(PROFILES_DIR / "log4j2.properties")),
        "SPARK_LOCAL_IP": os.environ.get("SPARK_LOCAL_IP", "127.0.0.1"),
        # The reference script does not read it: it starts Spark as public
        # solutions do.
        "BILLUPS_CLASS_ARCHIVE": str(class_archive.archive_path()),
    }


def _venv_bin(name: str) -> str:
    return str(Path(sys.executable).parent / name)


def dbt_command(*args: str, data_dir: Path) -> list[str]:
    return [_venv_bin("dbt"), *args, "--project-dir", str(PROJECT_DIR), "--profiles-dir",
            str(PROFILES_DIR), "--target", "local", "--vars",
            json.dumps({"data_dir": str(data_dir)})]


def run_results(root: Path) -> list[Outcome]:
    """The results of the last dbt command in `root` (none when it left no
    readable run_results.json)."""
    try:
        return outcomes(root / "target" / "run_results.json")
    except ValueError:
        return []


def model_times(root: Path) -> dict[str, float]:
    """Execution time (s) per model of the last dbt command in `root`."""
    return {record.name: round(record.execution_time, 2)
            for record in run_results(root) if record.kind == "model"}


def test_outcomes(root: Path) -> dict[str, int]:
    return count_tests(run_results(root))


# ------------------------------------------------------------------ data

def _months(dates: Any) -> Any:
    """'yyyy-MM' of each purchase_date string that starts like a date, else null."""
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pc.cast(dates, pa.string())
    month = pc.utf8_slice_codeunits(pc.utf8_trim_whitespace(text), 0, 7)
    looks_like = pc.fill_null(pc.match_substring_regex(month, r"^\d{4}-\d{2}$"), False)
    return pc.if_else(looks_like, month, pa.scalar(None, pa.string()))


def split_by_last_month(single_file: Path, folder: Path) -> dict[str, Any]:
    """Rewrite one transactions file as `folder`/part-00000 (every month but the
    last) + part-00001 (the last month), streaming, same schema."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    source = pq.ParquetFile(single_file)
    last = None
    for batch in source.iter_batches(columns=["purchase_date"], batch_size=1_000_000):
        month = pc.max(_months(batch.column(0))).as_py()
        if month is not None and (last is None or month > last):
            last = month
    if last is None:
        raise ValueError(f"{single_file}: no purchase_date to split on")
    schema = source.schema_arrow
    folder.mkdir(parents=True)
    last_rows: list[pa.RecordBatch] = []
    rows = [0, 0]
    with pq.ParquetWriter(folder / PARTS[0], schema, compression="snappy") as writer:
        for batch in source.iter_batches(batch_size=1_000_000):
            is_last = pc.fill_null(pc.equal(_months(batch.column("purchase_date")), last), False)
            earlier = batch.filter(pc.invert(is_last))
            writer.write_batch(earlier, row_group_size=1_000_000)
            last_rows.append(batch.filter(is_last))
            rows[0] += earlier.num_rows
            rows[1] += last_rows[-1].num_rows
    pq.write_table(pa.Table.from_batches(last_rows, schema=schema), folder / PARTS[1],
                   row_group_size=1_000_000, compression="snappy")
    return {"last_month": last, "part_rows": rows}


def prepare_data(scale_dir: Path, rows: int, keep: bool, log_dir: Path,
                 timeout: float | None) -> tuple[dict[str, Any], Path | None]:
    """Generate the set (timed, in its own process) into scale_dir/data and split
    its transactions into two part files. With `keep`, reuse a set of the same
    rows and seed. Returns (the step record, the data dir or None on failure)."""
    data = scale_dir / "data"
    info_path = data / SET_INFO
    held = scale_dir / "hold" / PARTS[1]
    if held.exists():  # an interrupted incremental step: put the file back
        os.replace(held, data / TX / PARTS[1])
    if keep and info_path.exists():
        info = json.loads(info_path.read_text())
        if (info.get("rows"), info.get("seed")) == (rows, SEED) and all(
                (data / TX / part).exists() for part in PARTS) and (data / MERCHANTS).exists():
            print(f"  generate: kept {data} ({rows:,} rows, generated in "
                  f"{info['generate']['seconds']}s by an earlier run)", flush=True)
            return {**info["generate"], "kept": True, "last_month": info["last_month"],
                    "part_rows": info["part_rows"]}, data
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    code = ("import sys; from pathlib import Path; "
            "from python_checks.generate import generate; "
            "generate(Path(sys.argv[1]), rows=int(sys.argv[2]), seed=int(sys.argv[3]))")
    step = run_step("generate", [sys.executable, "-c", code, str(data), str(rows), str(SEED)],
                    env=dict(os.environ), log_dir=log_dir, timeout=timeout)
    step["kept"] = False
    if not step["ok"]:
        return step, None
    single = data / f"{TX}.single"
    os.replace(data / TX, single)
    try:
        step.update(split_by_last_month(single, data / TX))
    except Exception as exc:  # noqa: BLE001 - recorded, the scale is skipped
        step.update(ok=False, exit_code="split failed", stderr_tail=f"{type(exc).__name__}: {exc}")
        return step, None
    single.unlink()
    info_path.write_text(json.dumps({
        "rows": rows, "seed": SEED, "last_month": step["last_month"],
        "part_rows": step["part_rows"],
        "generate": {k: step[k] for k in ("seconds", "exit_code", "ok", "peak_rss_gib")},
    }, indent=2) + "\n")
    print(f"    split: {step['part_rows'][0]:,} rows before {step['last_month']}, "
          f"{step['part_rows'][1]:,} in it", flush=True)
    return step, data


# ------------------------------------------------------------------ answers

def read_answer(path: Path) -> tuple[list[str], list[dict[str, str]]] | None:
    """Header and rows of a CSV file, or of the part file(s) of a Spark CSV folder."""
    files = sorted(path.glob("part-*.csv")) if path.is_dir() else [path]
    if not files or not all(f.is_file() for f in files):
        return None
    header: list[str] = []
    rows: list[dict[str, str]] = []
    for file in files:
        with open(file, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = header or list(reader.fieldnames or [])
            rows += list(reader)
    return header, rows


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def same_value(ours: str, theirs: str) -> bool:
    """Equal text, or numbers within NUMERIC_TOLERANCE (absolute; and 1e-12
    relative, for large doubles summed in another order)."""
    if ours == theirs:
        return True
    if ours.lower() in {"true", "false"}:
        return ours.lower() == theirs.lower()
    a, b = _number(ours), _number(theirs)
    if a is None or b is None:
        return False
    return abs(a - b) <= max(NUMERIC_TOLERANCE, 1e-12 * max(abs(a), abs(b)))


def _key_value(value: str) -> str:
    number = _number(value)  # 5 and 5.0 are the same key
    return format(number, ".15g") if number is not None else value


def compare_mart(mart: str, keys: tuple[str, ...], marts_dir: Path,
                 reference_dir: Path) -> dict[str, Any]:
    """The reference's answer against the exported mart: same keys, same values."""
    ours = read_answer(marts_dir / f"{mart}.csv")
    theirs = read_answer(reference_dir / mart)
    if ours is None or theirs is None:
        where = "marts" if ours is None else "reference"
        return {"match": False, "rows": None, "first_difference": f"no {mart} in the {where}"}
    (our_header, our_rows), (their_header, their_rows) = ours, theirs
    missing = [c for c in their_header if c not in our_header]
    if missing:
        return {"match": False, "rows": len(our_rows),
                "first_difference": f"columns missing from the mart: {missing}"}
    values = [c for c in their_header if c not in keys]

    def index(rows: list[dict[str, str]]) -> dict[tuple, dict[str, str]]:
        return {tuple(_key_value(row[k]) for k in keys): row for row in rows}

    our_index, their_index = index(our_rows), index(their_rows)
    outcome: dict[str, Any] = {"match": True, "rows": len(our_rows),
                               "reference_rows": len(their_rows),
                               "compared_columns": list(their_header), "first_difference": None}
    if len(our_index) != len(our_rows) or len(their_index) != len(their_rows):
        outcome.update(match=False, first_difference=f"key {keys} is not unique "
                       f"(marts {len(our_rows) - len(our_index)} repeats, reference "
                       f"{len(their_rows) - len(their_index)})")
        return outcome
    for key in sorted(set(our_index) | set(their_index)):
        label = dict(zip(keys, key, strict=True))
        if key not in their_index or key not in our_index:
            side = "marts" if key in our_index else "reference"
            outcome.update(match=False, first_difference=f"{label} only in the {side}")
            return outcome
        for column in values:
            a, b = our_index[key][column], their_index[key][column]
            if not same_value(a, b):
                outcome.update(match=False, first_difference=(
                    f"{label} {column}: marts {a!r}, reference {b!r}"))
                return outcome
    return outcome


def compare_answers(marts_dir: Path, reference_dir: Path,
                    manifest: Path | None = None) -> dict[str, Any]:
    """Every mart of the manifest (the exposure mart_exports) against the
    reference's answer, rows matched on the mart's grain (its uniqueness test).
    The manifest defaults to the one `billups run` keeps beside the marts."""
    from python_checks.artifacts import load_manifest, marts

    found = marts(load_manifest(manifest or marts_dir.parent / "dbt" / "manifest.json"))
    details = {mart.name: compare_mart(mart.name, mart.grain, marts_dir, reference_dir)
               for mart in found}
    first = next((f"{mart}: {d['first_difference']}" for mart, d in details.items()
                  if not d["match"]), None)
    return {"match": first is None and all(m in details for m in REQUIRED),
            "first_difference": first, "marts": details}


# ------------------------------------------------------------------ one scale

def bench_scale(result: dict[str, Any], work: Path, *, keep: bool, steps_wanted: set[str],
                full_refresh_flag: bool, timeout: float | None) -> None:
    """Steps a-f at one scale (those in `steps_wanted`), recorded into `result` as
    they finish."""
    scale, rows = result["scale"], result["rows"]
    print(f"\n== scale {scale}x: {rows:,} rows", flush=True)
    scale_dir = work / f"scale_{scale}x"
    logs = scale_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    steps = result["steps"]
    steps["generate"], data = prepare_data(scale_dir, rows, keep, logs, timeout)
    if data is None:
        return
    result["last_month"] = steps["generate"]["last_month"]

    # b. the main job
    main_root = scale_dir / "main"
    if "main" in steps_wanted:
        fresh(main_root)
        command = [_venv_bin("billups"), "run", "--data-dir", str(data), "--output-dir",
                   str(main_root / "output")]
        if full_refresh_flag:
            command.append("--full-refresh")
        steps["main"] = run_step("main_job", command, env=step_env(main_root), log_dir=logs,
                                 timeout=timeout)

    # c. model build alone, d. tests alone, e. the one-month incremental refresh,
    # all in one Spark dir (the tests and the refresh read the built tables).
    models_root = scale_dir / "models"
    env = step_env(models_root)
    if steps_wanted & {"models", "tests", "incremental"}:
        fresh(models_root)
        steps["seed"] = run_step("dbt_seed", dbt_command("seed", "--full-refresh",
                                                         data_dir=data),
                                 env=env, log_dir=logs, timeout=timeout)
    if steps_wanted & {"models", "tests"}:
        steps["models"] = run_step("dbt_run_full", dbt_command("run", "--full-refresh",
                                                               data_dir=data),
                                   env=env, log_dir=logs, timeout=timeout)
        steps["models"]["model_times"] = model_times(models_root)
    if "tests" in steps_wanted:
        steps["tests"] = run_step("dbt_test", dbt_command(
            "test", "--exclude-resource-type", "unit_test", data_dir=data),
            env=env, log_dir=logs, timeout=timeout)
        outcomes = test_outcomes(models_root)
        steps["tests"]["outcomes"] = outcomes
        if steps["tests"]["exit_code"] == 1 and outcomes["pass"] + outcomes["warn"] > 0 \
                and not outcomes["error"] and not outcomes["fail"]:
            steps["tests"].update(ok=True, note="exit 1 with warnings only")
    if "incremental" in steps_wanted:
        one_month_refresh(result, data, scale_dir, env, logs, timeout)
    if "reference" in steps_wanted:
        run_script(result, "reference", "reference_pyspark.py", "answers", data, scale_dir,
                   main_root, logs, timeout)
    if "careful" in steps_wanted:
        run_script(result, "careful", "reference_careful.py", "careful_answers", data,
                   scale_dir, main_root, logs, timeout)


def one_month_refresh(result: dict[str, Any], data: Path, scale_dir: Path,
                      env: dict[str, str], logs: Path, timeout: float | None) -> None:
    """e. Build without the last month's part file (untimed), put it back, time
    the incremental `dbt run` that picks it up."""
    steps = result["steps"]
    models_root = scale_dir / "models"
    held = scale_dir / "hold" / PARTS[1]
    held.parent.mkdir(parents=True, exist_ok=True)
    os.replace(data / TX / PARTS[1], held)
    try:
        steps["incremental_setup"] = run_step(
            "dbt_run_full_without_last_month", dbt_command("run", "--full-refresh",
                                                           data_dir=data),
            env=env, log_dir=logs, timeout=timeout)
    finally:
        os.replace(held, data / TX / PARTS[1])
    # It arrives now: a new file, as a delivery would make it (a move keeps
    # the old modification time).
    os.utime(data / TX / PARTS[1])
    steps["incremental"] = run_step("dbt_run_incremental", dbt_command("run", data_dir=data),
                                    env=env, log_dir=logs, timeout=timeout)
    steps["incremental"]["model_times"] = model_times(models_root)
    steps["incremental"]["new_month"] = result["last_month"]
    steps["incremental_no_change"] = run_step(
        "dbt_run_no_change", dbt_command("run", data_dir=data),
        env=env, log_dir=logs, timeout=timeout)
    steps["incremental_no_change"]["model_times"] = model_times(models_root)
    billups_refresh(result, data, scale_dir, logs, timeout)


def billups_refresh(result: dict[str, Any], data: Path, scale_dir: Path, logs: Path,
                    timeout: float | None) -> None:
    """e'. The same month through the product: `billups run` without the last
    month's file (untimed), then with it back as a new file (timed: state
    selection builds what the fresher source reaches), then again with nothing
    new (timed: nothing to build; export, audit and report still run)."""
    steps = result["steps"]
    root = fresh(scale_dir / "billups_incremental")
    env = step_env(root)
    command = [_venv_bin("billups"), "run", "--data-dir", str(data), "--output-dir",
               str(root / "output")]
    held = scale_dir / "hold" / PARTS[1]
    os.replace(data / TX / PARTS[1], held)
    try:
        steps["billups_incremental_setup"] = run_step("billups_run_without_last_month", command,
                                                      env=env, log_dir=logs, timeout=timeout)
    finally:
        os.replace(held, data / TX / PARTS[1])
    os.utime(data / TX / PARTS[1])
    steps["billups_incremental"] = run_step("billups_run_one_month", command, env=env,
                                            log_dir=logs, timeout=timeout)
    steps["billups_no_change"] = run_step("billups_run_no_change", command, env=env,
                                          log_dir=logs, timeout=timeout)


def run_script(result: dict[str, Any], step: str, script: str, answers_key: str,
               data: Path, scale_dir: Path, main_root: Path, logs: Path,
               timeout: float | None) -> None:
    """f, g. A hand-written script of bench/ (`script`), timed as `step`, then
    its answers against the main job's marts (in result[answers_key])."""
    steps = result["steps"]
    root = fresh(scale_dir / step)
    steps[step] = run_step(Path(script).stem, [
        sys.executable, str(PROJECT_DIR / "bench" / script),
        "--data-dir", str(data), "--out-dir", str(root / "answers"),
    ], env=step_env(root), log_dir=logs, cwd=root, timeout=timeout)
    if steps[step]["ok"] and steps.get("main", {}).get("ok"):
        answers = result[answers_key] = compare_answers(main_root / "output" / "marts",
                                                        root / "answers")
        verdict = "yes" if answers["match"] else f"NO: {answers['first_difference']}"
        print(f"  {step} answers match: {verdict}", flush=True)


def bench_loop(report: dict[str, Any], work: Path, timeout: float | None) -> None:
    """The analyst's loop on a LOOP_ROWS generated set, against Spark's floor:
    the floor (a session and one query), `billups run` on a fresh Spark folder,
    then a one-mart `dbt build -s` on the tables it built; and where the run's
    time goes, statement by statement (its dbt.log)."""
    loop_dir = work / "loop"
    logs = loop_dir / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    steps: dict[str, Any] = {}
    report["loop"] = {"rows": LOOP_ROWS, "steps": steps}
    print(f"\n== loop: {LOOP_ROWS:,} rows", flush=True)
    data = loop_dir / "data"
    if not (data / SET_INFO).exists():
        from python_checks.generate import generate

        shutil.rmtree(data, ignore_errors=True)
        generate(data, rows=LOOP_ROWS, seed=SEED)
        (data / SET_INFO).write_text(json.dumps({"rows": LOOP_ROWS, "seed": SEED}))
    floor_root = fresh(loop_dir / "floor")
    steps["floor"] = run_step("spark_floor", [
        sys.executable, str(PROJECT_DIR / "bench" / "spark_floor.py"), "--dir",
        str(floor_root / "spark")], env=step_env(floor_root), log_dir=logs, timeout=timeout)
    run_root = fresh(loop_dir / "run")
    env = step_env(run_root)
    steps["run"] = run_step("loop_billups_run", [
        _venv_bin("billups"), "run", "--data-dir", str(data), "--output-dir",
        str(run_root / "output")], env=env, log_dir=logs, timeout=timeout)
    steps["run"]["statements"] = statement_breakdown(run_root / "logs" / "dbt.log")
    steps["one_mart"] = run_step("loop_one_mart", dbt_command(
        "build", "--select", LOOP_MART, data_dir=data), env=env, log_dir=logs, timeout=timeout)
    floor = _seconds(report["loop"], "floor")
    report["loop"]["targets"] = {
        name: {"label": label, "target": target, "value": _ratio(
            _seconds(report["loop"], "run" if name == "loop_run_vs_floor" else "one_mart"),
            floor)}
        for name, (label, target) in LOOP_TARGETS.items()}
    for check in report["loop"]["targets"].values():
        check["status"] = "-" if check["value"] is None else (
            "PASS" if check["value"] <= check["target"] else "FAIL")


_LOG_LINE = re.compile(r"^\S*?(\d\d:\d\d:\d\d\.\d+) \[(\w+)\s*\] \[([^\]]+)\]: (.*)$")
_ON_NODE = re.compile(r"^On ([\w.\-]+): (?:/\*.*?\*/)?\s*(.*)$")
_STATUS = re.compile(r"^SQL status: \S+ in ([0-9.]+) seconds")
#: Statement kinds, by their first words (lower case, spaces collapsed).
_KINDS = (
    ("show table extended", "list relations"), ("show tables", "list relations"),
    ("show views", "list relations"), ("show tblproperties", "table properties"),
    ("describe", "describe table"), ("create or replace temporary view", "create temp view"),
    ("create temporary view", "create temp view"), ("create or replace view", "create view"),
    ("create view", "create view"), ("create table", "create table (ctas)"),
    ("create or replace table", "create table (ctas)"), ("create schema", "create schema"),
    ("insert overwrite", "insert overwrite"), ("insert into", "insert into"),
    ("drop", "drop"), ("alter table", "alter table"), ("use ", "use"),
)


def _statement_kind(sql: str) -> str:
    text = " ".join(sql.lower().split())
    for prefix, kind in _KINDS:
        if text.startswith(prefix):
            return kind
    if text.startswith(("select", "with", "(")) and text.endswith("limit 0"):
        return "column schema (limit 0)"
    if text.startswith(("select", "with", "(")):
        return "query"
    return text.split(" ", 1)[0] or "other"


def statement_breakdown(log_path: Path) -> dict[str, Any]:
    """Every SQL statement dbt sent in one invocation (its debug log), by the
    kind of node that sent it (model, test, unit test, seed, or the relation
    cache and hooks) and the kind of statement: count and seconds. A
    statement lasts from its line until its thread's next line after dbt's
    "SQL status" (the session adapter plans in execute and runs the Spark job
    when dbt fetches the rows, after that line)."""
    if not log_path.exists():
        return {}
    open_statements: dict[str, dict[str, Any]] = {}
    table: dict[tuple[str, str], list[float]] = {}
    nodes: dict[str, set[str]] = {}

    def close(thread: str, now: float) -> None:
        statement = open_statements.pop(thread)
        node = statement["node"]
        who = node.split(".", 1)[0] if "." in node else (
            "relation cache" if node.startswith("list_") else "hooks and other")
        kind = _statement_kind(statement["sql"] or "")
        table.setdefault((who, kind), []).append(max(now - statement["start"], 0.0))
        nodes.setdefault(who, set()).add(node)

    for raw in log_path.read_text(errors="replace").splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", raw)
        match = _LOG_LINE.match(line)
        if not match:
            for statement in open_statements.values():  # SQL continues on its own lines
                if not statement["done"] and len(statement["sql"]) < 400:
                    statement["sql"] += " " + line
            continue
        hours, minutes, seconds = match.group(1).split(":")
        now = int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        thread, message = match.group(3), match.group(4)
        statement = open_statements.get(thread)
        if statement and statement["done"]:
            close(thread, now)
        if _STATUS.match(message) and thread in open_statements:
            open_statements[thread]["done"] = True
            continue
        on_node = _ON_NODE.match(message)
        if on_node and on_node.group(2) not in {"ROLLBACK", "Close", "BEGIN", "COMMIT"}:
            open_statements[thread] = {"node": on_node.group(1), "sql": on_node.group(2),
                                       "start": now, "done": False}
    rows = [{"node_kind": who, "statement": kind, "count": len(times),
             "seconds": round(sum(times), 2)} for (who, kind), times in table.items()]
    rows.sort(key=lambda row: -row["seconds"])
    return {"rows": rows, "nodes": {who: len(found) for who, found in nodes.items()},
            "statements": sum(row["count"] for row in rows),
            "seconds": round(sum(row["seconds"] for row in rows), 2)}


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


# ------------------------------------------------------------------ report

def _seconds(scale: dict[str, Any], step: str) -> float | None:
    record = scale["steps"].get(step)
    return record["seconds"] if record and record.get("ok") else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def add_measures(report: dict[str, Any]) -> None:
    """Ratios and targets per scale, rows per second, answers."""
    scales = report["scales"]
    one = next((s for s in scales if s["scale"] == 1), None)
    for s in scales:
        main = _seconds(s, "main")
        reference = _seconds(s, "reference")
        models = _seconds(s, "models")
        values = {
            "main_vs_careful": _ratio(main, _seconds(s, "careful")),
            "main_vs_reference": _ratio(main, reference),
            "models_vs_reference": _ratio(models, reference),
            "incremental_vs_models": _ratio(_seconds(s, "incremental"), models),
        }
        checks = {name: {"label": TARGETS[name][0], "value": value, "target": TARGETS[name][1]}
                  for name, value in values.items()}
        if s["scale"] != 1:
            checks["main_vs_main_1x"] = {
                "label": f"{s['scale']}x main / 1x main",
                "value": _ratio(main, _seconds(one, "main") if one else None),
                "target": round(SCALE_SLACK * s["scale"], 3)}
        for check in checks.values():
            check["status"] = "-" if check["value"] is None else (
                "PASS" if check["value"] <= check["target"] else "FAIL")
        s["targets"] = checks
        # Not a target: a run that finds nothing to rewrite is the least any
        # incremental run costs (start-up and the change checks of every
        # node), so this ratio bounds the one-month ratio from below.
        s["no_change_vs_models"] = _ratio(_seconds(s, "incremental_no_change"), models)
        s["rows_per_second_main"] = round(s["rows"] / main) if main else None
        failed = [name for name, step in s["steps"].items() if not step.get("ok")]
        s["failed_steps"] = failed


def machine_info() -> dict[str, Any]:
    import psutil
    import pyspark

    def first_line(command: list[str]) -> str:
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                  cwd=PROJECT_DIR)
            lines = (done.stdout + done.stderr).strip().splitlines()
            return lines[0] if lines else "?"
        except (OSError, subprocess.TimeoutExpired):
            return "?"

    try:
        from dbt.version import __version__ as dbt_core
    except ImportError:
        dbt_core = "?"
    try:
        from dbt.adapters.spark.__version__ import version as dbt_spark
    except ImportError:
        dbt_spark = "?"
    commit = first_line(["git", "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True, cwd=PROJECT_DIR).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "java": first_line(["java", "-version"]),
        "pyspark": pyspark.__version__,
        "dbt_core": dbt_core,
        "dbt_spark": dbt_spark,
        "git_commit": commit + (" + uncommitted changes" if dirty else ""),
        "env_overrides": {k: v for k, v in os.environ.items()
                          if k.startswith("BILLUPS_") or k.startswith("SPARK_")},
    }


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cpu_cell(record: dict[str, Any] | None) -> str:
    """'231 / 97%': CPU seconds of the step's process tree, and the share of the
    machine's CPU that was busy during it (near 100%: CPU-bound, more threads
    cannot help)."""
    if not record or record.get("cpu_seconds") is None:
        return "-"
    busy = record.get("machine_busy")
    return f"{record['cpu_seconds']:,.0f} / " + ("-" if busy is None else f"{busy:.0%}")


def loop_markdown(loop: dict[str, Any] | None) -> list[str]:
    """The analyst's loop against Spark's floor, and where the run's time goes."""
    if not loop:
        return []
    steps = loop["steps"]

    def cell(name: str) -> str:
        step = steps.get(name)
        return "-" if step is None else (_fmt(step["seconds"]) if step.get("ok")
                                         else f"FAILED ({step['exit_code']})")

    lines = ["", f"## The loop ({loop.get('rows', LOOP_ROWS):,} rows)", "",
             "| measure | s | / floor (target) |", "|---|---:|---:|",
             f"| Spark's floor (a session and one query) | {cell('floor')} | 1 |"]
    for key, name in (("loop_run_vs_floor", "run"), ("loop_one_mart_vs_floor", "one_mart")):
        check = loop.get("targets", {}).get(key)
        ratio = "-" if not check or check["value"] is None else \
            f"{check['value']:.2f} (<= {check['target']:g}) {check['status']}"
        label = check["label"] if check else key
        lines.append(f"| {label} | {cell(name)} | {ratio} |")
    statements = steps.get("run", {}).get("statements") or {}
    if statements:
        lines += ["", f"Where the run's dbt time goes: {statements['statements']} statements, "
                  f"{statements['seconds']} s of statement time (2 threads); nodes: "
                  + ", ".join(f"{n} {k}" for k, n in sorted(statements["nodes"].items())) + ".",
                  "", "| sent by | statement | count | s |", "|---|---|---:|---:|"]
        lines += [f"| {r['node_kind']} | {r['statement']} | {r['count']} | {r['seconds']} |"
                  for r in statements["rows"]]
    return lines


def markdown(report: dict[str, Any]) -> str:
    scales = report["scales"]
    head = "| measure | " + " | ".join(f"{s['scale']}x" for s in scales) + " |"
    rule = "|---|" + "---:|" * len(scales)
    lines = [f"# Benchmark {report['started_at']}", "",
             f"Machine: {report['machine']['cores']} cores, "
             f"{report['machine']['memory_gib']} GiB RAM, {report['machine']['os']}, "
             f"{report['machine']['java']}, Python {report['machine']['python']}, "
             f"pyspark {report['machine']['pyspark']}, dbt-core "
             f"{report['machine']['dbt_core']}, dbt-spark {report['machine']['dbt_spark']}; "
             f"commit {report['machine']['git_commit']}. Load average at start / end: "
             f"{report['load_average_start']} / {report.get('load_average_end', '-')}.",
             "", head, rule]

    def step_cell(s: dict[str, Any], step: str) -> str:
        record = s["steps"].get(step)
        if record is None:
            return "-"
        if not record.get("ok"):
            return f"FAILED ({record['exit_code']})"
        text = _fmt(record["seconds"])
        return text + (" (kept)" if record.get("kept") else "")

    def row(label: str, cells: list[str]) -> None:
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("rows", [_fmt(s["rows"]) for s in scales])
    for step, label in (("generate", "generation s"),
                        ("main", "main job s (`billups run --full-refresh`)"),
                        ("models", "model build s (`dbt run --full-refresh`)"),
                        ("tests", "tests s (`dbt test`)"),
                        ("incremental", "one-month incremental s (`dbt run`)"),
                        ("incremental_no_change", "no-change incremental s (`dbt run`, no new "
                                                  "input)"),
                        ("billups_incremental", "one-month `billups run` s (state selection)"),
                        ("billups_no_change", "no-change `billups run` s (state selection)"),
                        ("reference", "reference PySpark s (one query per answer)"),
                        ("careful", "careful reference PySpark s (read once, cache)")):
        row(label, [step_cell(s, step) for s in scales])
    names = list(TARGETS) + ["main_vs_main_1x"]
    for name in names:
        checks = [s.get("targets", {}).get(name) for s in scales]
        if not any(checks):
            continue
        label = next(c["label"] for c in checks if c)
        if name == "main_vs_main_1x":
            label = "Nx main / 1x main"
        cells = ["-" if c is None or c["value"] is None
                 else f"{c['value']:.2f} (<= {c['target']:g}) {c['status']}" for c in checks]
        row(label, cells)
    row("no-change / full model build (the least an incremental run costs)",
        [_fmt(s.get("no_change_vs_models"), 2) for s in scales])
    row("rows per second, main job", [_fmt(s.get("rows_per_second_main")) for s in scales])
    for step, label in (("main", "peak memory GiB, main job"),
                        ("reference", "peak memory GiB, reference")):
        row(label, [_fmt(s["steps"][step]["peak_rss_gib"], 2) if step in s["steps"] else "-"
                    for s in scales])
    for step, label in (("main", "CPU s / machine busy, main job"),
                        ("models", "CPU s / machine busy, model build"),
                        ("incremental", "CPU s / machine busy, one-month incremental"),
                        ("reference", "CPU s / machine busy, reference"),
                        ("careful", "CPU s / machine busy, careful reference")):
        row(label, [_cpu_cell(s["steps"].get(step)) for s in scales])
    tests = []
    for s in scales:
        outcome = s["steps"].get("tests", {}).get("outcomes")
        tests.append("-" if not outcome else
                     f"{outcome['pass']} pass, {outcome['warn']} warn, "
                     f"{outcome['error'] + outcome['fail']} fail/error")
    row("dbt test outcomes", tests)
    answers = []
    for s in scales:
        a = s.get("answers")
        answers.append("-" if a is None else "yes" if a["match"] else "NO")
    row("answers match (reference vs marts)", answers)
    row("answers match (careful reference vs marts)",
        ["-" if s.get("careful_answers") is None else
         "yes" if s["careful_answers"]["match"] else "NO" for s in scales])
    lines += loop_markdown(report.get("loop"))

    for s in scales:
        full = s["steps"].get("models", {}).get("model_times") or {}
        incremental = s["steps"].get("incremental", {}).get("model_times") or {}
        no_change = s["steps"].get("incremental_no_change", {}).get("model_times") or {}
        if full or incremental:
            lines += ["", f"## {s['scale']}x: time per model (s), slowest first", "",
                      "| model | full build | one-month incremental | no change |",
                      "|---|---:|---:|---:|"]
            for model in sorted(set(full) | set(incremental) | set(no_change),
                                key=lambda m: (-full.get(m, 0.0), m)):
                lines.append(f"| {model} | {_fmt(full.get(model), 2)} | "
                             f"{_fmt(incremental.get(model), 2)} | "
                             f"{_fmt(no_change.get(model), 2)} |")
            lines.append(f"| **sum** | {_fmt(sum(full.values()), 2)} | "
                         f"{_fmt(sum(incremental.values()), 2)} | "
                         f"{_fmt(sum(no_change.values()), 2)} |")
        if s.get("answers"):
            lines += ["", f"## {s['scale']}x: reference answers vs exported marts", "",
                      "| mart | rows | match | first difference |", "|---|---:|---|---|"]
            for mart, d in s["answers"]["marts"].items():
                lines.append(f"| {mart} | {_fmt(d.get('rows'))} | "
                             f"{'yes' if d['match'] else 'NO'} | "
                             f"{(d['first_difference'] or '').replace('|', '/')} |")
        failed = s.get("failed_steps") or []
        if failed:
            lines += ["", f"## {s['scale']}x: failed steps", ""]
            for name in failed:
                step = s["steps"][name]
                lines += [f"- {name}: exit {step['exit_code']} after {step.get('seconds')}s, "
                          f"log {step.get('log', '-')}"]
                for stream in ("stderr", "stdout"):
                    if step.get(f"{stream}_tail"):
                        lines += ["", f"  last lines of {stream}:", "", "```",
                                  step[f"{stream}_tail"], "```"]
    lines += ["", "Targets: main job / careful reference <= 1.3; the loop: `billups run` on "
              "the 20k set <= 3 x Spark's floor, a one-mart build <= 1.5 x the floor; earlier "
              "targets: main job / reference <= 0.6, model build / reference <= 0.4, "
              "incremental / full model build <= 0.2, Nx main / 1x main <= 1.125 N "
              "(4.5 at 4x). Answers: each reference's 12 answers against the exported marts, "
              f"same keys and values within {NUMERIC_TOLERANCE:g}."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main

def main(argv: list[str] | None = None) -> int:
    from python_checks.generate import FULL_ROWS

    parser = argparse.ArgumentParser(
        prog="python -m python_checks.bench",
        description="Benchmark the dbt project against a hand-written PySpark script.")
    parser.add_argument("--scales", default="1,4",
                        help="comma-separated multiples of the full-scale set (default 1,4)")
    parser.add_argument("--rows", type=int, default=FULL_ROWS,
                        help=f"rows of the 1x set (default {FULL_ROWS:,}); e.g. 200000 for a "
                             "quick run")
    parser.add_argument("--work-dir", type=Path, default=PROJECT_DIR / "bench" / "work",
                        help="generated sets, Spark dirs, logs (default bench/work, git-ignored)")
    parser.add_argument("--results-dir", type=Path, default=PROJECT_DIR / "bench" / "results")
    parser.add_argument("--skip-reference", action="store_true",
                        help="do not run the reference script (no ratios against it)")
    parser.add_argument("--steps", default=",".join(STEPS),
                        help="comma-separated steps to run (default all: "
                             f"{','.join(STEPS)}); e.g. main,reference for the ratio of the "
                             "main job alone")
    parser.add_argument("--keep-data", action="store_true",
                        help="reuse sets generated by an earlier run (same rows and seed)")
    parser.add_argument("--step-timeout", type=float, default=4 * 3600,
                        help="seconds before a step is stopped and recorded as failed")
    args = parser.parse_args(argv)
    try:
        scales = sorted({int(s) for s in args.scales.split(",") if s.strip()})
    except ValueError:
        parser.error(f"--scales: expected integers like 1,4, got {args.scales!r}")
    steps_wanted = {s.strip() for s in args.steps.split(",") if s.strip()}
    if args.skip_reference:
        steps_wanted.discard("reference")
    if not steps_wanted or steps_wanted - set(STEPS):
        parser.error(f"--steps: expected some of {','.join(STEPS)}, got {args.steps!r}")
    if not scales or min(scales) < 1 or args.rows < 1_000:
        parser.error("--scales must be positive integers and --rows at least 1000")

    work = args.work_dir.resolve()
    work.mkdir(parents=True, exist_ok=True)
    lock = open(work / ".bench.lock", "a+")  # noqa: SIM115 - held until the process ends
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.seek(0)
        print(f"error: another bench is running in {work} ({lock.read().strip()}); wait for "
              "it or pass another --work-dir", file=sys.stderr)
        return 2
    lock.truncate(0)
    lock.write(f"pid {os.getpid()}, started {dt.datetime.now(dt.UTC):%Y-%m-%dT%H:%M:%SZ}\n")
    lock.flush()
    started = dt.datetime.now(dt.UTC)
    report: dict[str, Any] = {
        "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "arguments": {"scales": scales, "rows_1x": args.rows, "seed": SEED,
                      "steps": sorted(steps_wanted), "keep_data": args.keep_data},
        "machine": machine_info(),
        "load_average_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "scales": [],
    }
    help_text = subprocess.run([_venv_bin("billups"), "run", "--help"], capture_output=True,
                               text=True, cwd=PROJECT_DIR).stdout
    full_refresh_flag = "--full-refresh" in help_text
    report["arguments"]["main_job_full_refresh"] = full_refresh_flag
    print(f"bench: scales {scales}, 1x = {args.rows:,} rows, work dir {work}", flush=True)
    if "loop" in steps_wanted:
        try:
            bench_loop(report, work, args.step_timeout)
        except Exception as exc:  # noqa: BLE001 - recorded; the scales still run
            traceback.print_exc()
            report["loop"] = {"steps": {"harness": {"ok": False, "exit_code": "exception",
                                                    "seconds": None, "stderr_tail": str(exc)}}}
    scale_steps = steps_wanted - {"loop"}
    for scale in scales if scale_steps else []:
        result: dict[str, Any] = {"scale": scale, "rows": args.rows * scale, "steps": {}}
        report["scales"].append(result)
        try:
            bench_scale(result, work, keep=args.keep_data, steps_wanted=scale_steps,
                        full_refresh_flag=full_refresh_flag, timeout=args.step_timeout)
        except Exception as exc:  # noqa: BLE001 - recorded; the next scale still runs
            traceback.print_exc()
            result["steps"]["harness"] = {
                "ok": False, "exit_code": "exception", "seconds": None,
                "stderr_tail": "".join(traceback.format_exception(exc)[-TAIL_LINES:]).rstrip()}
    report["finished_at"] = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    report["load_average_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    add_measures(report)

    text = markdown(report)
    print("\n" + text)
    results = args.results_dir.resolve()
    results.mkdir(parents=True, exist_ok=True)
    stamp = started.strftime("%Y%m%dT%H%M%SZ")
    for name in (f"bench-{stamp}", "latest"):
        (results / f"{name}.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
        (results / f"{name}.md").write_text(text)
    print(f"written: {results}/bench-{stamp}.{{json,md}} and latest.{{json,md}}")
    failed = [f"{s['scale']}x {name}" for s in report["scales"] for name in s["failed_steps"]]
    failed += [f"loop {name}" for name, step in report.get("loop", {}).get("steps", {}).items()
               if not step.get("ok")]
    mismatched = [f"{s['scale']}x" for s in report["scales"]
                  if any(s.get(key) and not s[key]["match"]
                         for key in ("answers", "careful_answers"))]
    if failed:
        print("failed steps: " + ", ".join(failed))
    if mismatched:
        print("answers differ at: " + ", ".join(mismatched))
    return 1 if failed or mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
