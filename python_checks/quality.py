"""The audit of a run: every test outcome and every data-quality metric
against its threshold, with samples of the failing rows, each metric's recent
history, freshness, the row ledger and the inputs' provenance, gathered into
one result that is printed, written as JSON / Markdown / HTML, and turned into
the gates that decide whether the run publishes (exit code 2 when one trips).
"""

from __future__ import annotations

import csv
import hashlib
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from python_checks.artifacts import (
    Outcome,
    invocation_id,
    load_manifest,
    test_node,
    tested_models,
)
from python_checks.document import Document, Sparkline, render_html, render_markdown
from python_checks.inputs import CheckedInputs
from python_checks.project import PROJECT_DIR, invoke_dbt, target_dir

SCHEMA_PATH = Path(__file__).with_name("quality_report.schema.json")
RECENT_RUNS = 10
SAMPLE_ROWS = 10
EXIT_OK, EXIT_WARN, EXIT_ERROR = 0, 1, 2
#: The dbt tests that enforce the metric thresholds inside dbt: their outcome
#: is the metrics', reported metric by metric rather than as one test.
METRIC_GATE_TESTS = ("qa_metrics_no_metric_above_error_threshold",
                     "qa_metrics_no_metric_above_warn_threshold")


# --------------------------------------------------------------------------- reading

def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(inputs: CheckedInputs) -> list[dict[str, Any]]:
    """Path, size, SHA-256 and row count of every input file (or part file)."""
    return [{"source": file.source, "path": str(file.path), "bytes": file.bytes,
             "sha256": sha256_of(file.path), "rows": file.rows} for file in inputs.files]


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def number(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def test_records(results: list[Outcome], manifest: Any | None) -> list[dict[str, Any]]:
    """One record per data test or unit test that ran, with the model it checks."""
    records = []
    for result in results:
        if result.kind not in {"test", "unit_test"}:
            continue
        node = test_node(manifest, result.unique_id) if manifest is not None else None
        models = tested_models(manifest, result.unique_id) if manifest is not None else []
        config = getattr(node, "config", None)
        records.append({
            "unique_id": result.unique_id,
            "name": getattr(node, "name", None) or result.name,
            "kind": "unit" if result.kind == "unit_test" else "data",
            "model": models[0] if models else None,
            "column": getattr(node, "column_name", None),
            "severity": str(getattr(getattr(config, "severity", None), "value",
                                    getattr(config, "severity", None)) or "ERROR").lower(),
            "status": result.status,
            "failures": result.failures,
            "message": result.message,
            "seconds": round(result.execution_time, 3),
            "compiled_code": result.compiled_code,
            "sample": [],
        })
    return records


def metric_records(quality_dir: Path, run_id: str | None) -> list[dict[str, Any]]:
    """This run's metrics (quality/metrics.csv) with their recent history and
    anomaly flag (quality/metric_history.csv)."""
    history: dict[str, list[tuple[str, str, float]]] = {}
    for row in read_csv(quality_dir / "metric_history.csv"):
        history.setdefault(row["metric_name"], []).append(
            (row["run_started_at"], row["run_id"], float(row["metric_value"])))
    metrics = []
    for row in read_csv(quality_dir / "metrics.csv"):
        value = float(row["metric_value"])
        past = sorted(history.get(row["metric_name"], []))
        previous = [v for _, rid, v in past if rid != run_id][-RECENT_RUNS:]
        tolerance = number(row["anomaly_tolerance"])
        median = statistics.median(previous) if previous else None
        anomaly = (median is not None and tolerance is not None
                   and abs(value - median) > tolerance * max(abs(median), 1.0))
        metrics.append({
            "name": row["metric_name"],
            "group": row["metric_group"],
            "value": int(value),
            "denominator": int(number(row["denominator"]) or 0),
            "rate": number(row["metric_rate"]),
            "threshold_on": row["threshold_on"] or None,
            "warn_above": number(row["warn_above"]),
            "error_above": number(row["error_above"]),
            "threshold_source": row.get("threshold_source") or None,
            "status": row["status"],
            "description": row["description"] or None,
            "recent_values": [int(v) for v in previous] + [int(value)],
            "recent_median": median,
            "anomaly_tolerance": tolerance,
            "is_anomaly": bool(anomaly),
            "sample": [],
        })
    return metrics


def newly_failing(tests: list[dict[str, Any]], quality_dir: Path,
                  run_started: str | None) -> list[str]:
    """Tests failing now that passed the last earlier time they ran."""
    last_status: dict[str, tuple[str, str]] = {}
    for row in read_csv(quality_dir / "test_history.csv"):
        if run_started and row["run_started_at"] >= run_started:
            continue
        seen = last_status.get(row["test_unique_id"])
        if seen is None or row["run_started_at"] > seen[0]:
            last_status[row["test_unique_id"]] = (row["run_started_at"], row["status"])
    return [test["unique_id"] for test in tests
            if test["status"] in {"fail", "error"}
            and last_status.get(test["unique_id"], ("", ""))[1] == "pass"]


def freshness(target: str, dbt_vars: dict) -> list[dict[str, Any]]:
    """`dbt source freshness` on the sources that declare it (warn-only)."""
    outcome = invoke_dbt(["source", "freshness"], target=target, dbt_vars=dbt_vars, quiet=True)
    sources = target_dir() / "sources.json"
    if not sources.exists():
        return [{"source": "billups", "status": "runtime error",
                 "message": outcome.error or "dbt source freshness did not run"}]
    return [
        {"source": result["unique_id"].split(".", 2)[-1],
         "status": result["status"],
         "max_loaded_at": result.get("max_loaded_at"),
         "age_hours": round(result.get("max_loaded_at_time_ago_in_s", 0) / 3600, 1),
         "warn_after": result.get("criteria", {}).get("warn_after")}
        for result in json.loads(sources.read_text())["results"]
    ]


def _quoted(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def attach_samples(tests: list[dict[str, Any]], metrics: list[dict[str, Any]], target: str,
                   dbt_vars: dict) -> None:
    """Up to SAMPLE_ROWS failing rows of every failed or warned data test and of
    every metric that warns or fails, in one `dbt show` (one query, a union of
    one limited branch per item, each row as JSON)."""
    branches: list[tuple[str, dict[str, Any], str]] = []
    for test in tests:
        code = test.pop("compiled_code", None)
        if test["kind"] == "data" and test["status"] in {"fail", "warn"} and code \
                and test["name"] not in METRIC_GATE_TESTS:
            branches.append((test["unique_id"], test, code))
    for metric in metrics:
        if metric["status"] in {"warn", "error"}:
            branches.append((f"metric.{metric['name']}", metric,
                             "{{ metric_failing_rows(" + _quoted(metric["name"]) + ") }}"))
    if not branches:
        return
    query = "\nunion all\n".join(
        f"select * from (select {_quoted(key)} as sample_of, to_json(struct(*)) as sample_row "
        f"from ({code.strip().rstrip(';')}) as failing limit {SAMPLE_ROWS})"
        for key, _, code in branches)
    shown = invoke_dbt(["show", "--inline", query, "--limit", str(SAMPLE_ROWS * len(branches))],
                       target=target, dbt_vars=dbt_vars, quiet=True)
    if shown.agate_table is None:
        return
    owners = {key: owner for key, owner, _ in branches}
    for key, row in shown.agate_table.rows:
        owners[key]["sample"].append(json.loads(row))


# --------------------------------------------------------------------------- gates

def fmt_threshold(value: float | None, on: str | None) -> str:
    """A threshold in the unit of the value it is compared with."""
    if value is None:
        return ""
    return f"{value:.2%}".replace(".00%", "%") if on == "rate" else f"{value:,.0f}"


def metric_gate(metric: dict[str, Any]) -> str:
    """One line naming a tripped metric, its value, rate and threshold."""
    rate = f" ({metric['rate']:.1%})" if metric["rate"] is not None else ""
    threshold = fmt_threshold(metric["error_above"], metric["threshold_on"])
    unit = "" if metric["threshold_on"] == "rate" else " rows"
    return (f"{metric['name']} {metric['value']:,} rows{rate} > error {threshold}{unit} "
            f"({metric['threshold_source'] or 'seeds/quality_thresholds.csv'})")


def override_hint(metric: dict[str, Any]) -> str:
    """The exact option that accepts this metric's value for one run."""
    value = metric["rate"] if metric["threshold_on"] == "rate" else metric["value"]
    accept = f"{value:.6g}" if metric["threshold_on"] == "rate" else str(metric["value"])
    return ("billups run --vars '{quality_threshold_overrides: {"
            f"{metric['name']}: {{error_above: {accept}}}}}}}'")


def gates(tests: list[dict[str, Any]], metrics: list[dict[str, Any]],
          fresh: list[dict[str, Any]], results: list[Outcome],
          expected_marts: list[str]) -> list[str]:
    """Every error gate this run tripped, one line each: a metric above its
    error threshold, an error test that failed, a model that did not build, a
    mart missing from the build, a freshness error."""
    tripped = [metric_gate(m) for m in metrics if m["status"] == "error"]
    for test in tests:
        if test["status"] in {"fail", "error"} and test["name"] not in METRIC_GATE_TESTS:
            rows = f" ({test['failures']:,} failing rows)" if test["failures"] else ""
            outcome = "failed" if test["status"] == "fail" else "errored"
            tripped.append(f"test {test['name']} on {test['model'] or 'the project'} "
                           f"{outcome}{rows}")
    for record in results:
        if record.kind in {"model", "seed"} and record.status == "error":
            message = (record.message or "").strip().splitlines()
            tripped.append(f"{record.name} did not build ({message[0] if message else 'error'})")
    unbuilt = {record.name for record in results
               if record.kind == "model" and record.status in {"error", "skipped"}}
    missing = [mart for mart in expected_marts if mart in unbuilt]
    if missing:
        tripped.append(f"marts not built by this run: {', '.join(missing)}")
    tripped += [f"freshness of {item['source']}: {item['status']}" for item in fresh
                if item["status"] in {"error", "runtime error"}]
    return tripped


def verdict(tripped: list[str], tests: list[dict[str, Any]], metrics: list[dict[str, Any]],
            fresh: list[dict[str, Any]], strict: bool) -> tuple[str, int]:
    """Overall status and exit code: 2 on any error gate, 1 on warnings with strict."""
    warnings = any(t["status"] == "warn" for t in tests) or any(
        m["status"] == "warn" or m["is_anomaly"] for m in metrics) or any(
        f["status"] == "warn" for f in fresh)
    if tripped:
        return "error", EXIT_ERROR
    if warnings:
        return "warn", EXIT_WARN if strict else EXIT_OK
    return "pass", EXIT_OK


# --------------------------------------------------------------------------- result

def collect_quality(
    output_dir: Path,
    inputs: CheckedInputs,
    results: list[Outcome],
    *,
    target: str = "local",
    dbt_vars: dict | None = None,
    strict: bool = False,
    timings: dict[str, float] | None = None,
    artifacts_dir: Path | None = None,
    expected_marts: list[str] | None = None,
    fresh: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The quality result of a run whose dbt results are `results`, from the
    quality tables already exported to OUTPUT_DIR/quality (artifacts_dir: where
    that run's manifest.json / run_results.json were kept; fresh: the run's
    `dbt source freshness` results, when it already has them)."""
    dbt_vars = dbt_vars or {}
    quality_dir = output_dir / "quality"
    artifacts = artifacts_dir or target_dir()
    manifest = load_manifest(artifacts / "manifest.json") \
        if (artifacts / "manifest.json").exists() else None
    tests = test_records(results, manifest)
    history = read_csv(quality_dir / "metric_history.csv")
    latest = max(history, key=lambda row: row["run_started_at"]) if history else None
    run_id = latest["run_id"] if latest else None
    metrics = metric_records(quality_dir, run_id)
    attach_samples(tests, metrics, target, dbt_vars)
    fresh = freshness(target, dbt_vars) if fresh is None else fresh
    ledger = [{**row, "row_count": int(row["row_count"])}
              for row in read_csv(quality_dir / "row_ledger.csv")]
    tripped = gates(tests, metrics, fresh, results, expected_marts or [])
    status, exit_code = verdict(tripped, tests, metrics, fresh, strict)
    counts: dict[str, int] = {}
    for test in tests:
        counts[test["status"]] = counts.get(test["status"], 0) + 1
    return {
        "schema_version": 2,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": run_id,
        "dbt_invocation_id": invocation_id(artifacts / "run_results.json"),
        "target": target,
        "status": status,
        "exit_code": exit_code,
        "strict": strict,
        "gates": tripped,
        "overrides": {m["name"]: override_hint(m) for m in metrics if m["status"] == "error"},
        "tests": tests,
        "test_counts": counts,
        "newly_failing_tests": newly_failing(
            tests, quality_dir, latest["run_started_at"] if latest else None),
        "metrics": metrics,
        "anomalies": [m["name"] for m in metrics if m["is_anomaly"]],
        "freshness": fresh,
        "ledger": ledger,
        "layer_rows": layer_rows(metrics),
        "timings": timings or {},
        "model_timings": {r.unique_id: round(r.execution_time, 3) for r in results
                          if r.kind in {"model", "seed"}},
        "inputs": provenance(inputs),
        "missing_optional_columns": inputs.missing_optional,
        "extra_columns": inputs.extra_columns,
        "project_dir": str(PROJECT_DIR),
    }


def layer_rows(metrics: list[dict[str, Any]]) -> dict[str, int]:
    by_name = {m["name"]: m["value"] for m in metrics}
    return {
        "raw_transactions": by_name.get("transactions_raw_rows", 0),
        "cleaned_transactions": by_name.get("transactions_cleaned_rows", 0),
        "rejected_transactions": by_name.get("transactions_rejected_rows", 0),
    }


# --------------------------------------------------------------------------- output

def _value(metric: dict[str, Any]) -> str:
    return f"{metric['value']:,}"


def _rate(metric: dict[str, Any]) -> str:
    return "" if metric["rate"] is None else f"{metric['rate']:.2%}"


def format_table(result: dict[str, Any]) -> str:
    """The terminal summary: gate, metrics against thresholds, failing tests."""
    lines = [f"data quality: {result['status'].upper()} (exit code {result['exit_code']})",
             f"{'metric':<34}{'value':>12}{'rate':>10}{'warn >':>10}{'error >':>10}  status"]
    for m in result["metrics"]:
        flag = m["status"] + (" ANOMALY" if m["is_anomaly"] else "")
        lines.append(f"{m['name']:<34}{_value(m):>12}{_rate(m):>10}"
                     f"{fmt_threshold(m['warn_above'], m['threshold_on']):>10}"
                     f"{fmt_threshold(m['error_above'], m['threshold_on']):>10}  {flag}")
    counts = result["test_counts"]
    lines.append("tests: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for test in result["tests"]:
        if test["status"] not in {"pass", "success", "skipped"}:
            failing = f" ({test['failures']:,} failing rows)" if test["failures"] else ""
            lines.append(f"  {test['status'].upper():<5} {test['name']} on {test['model']}"
                         f"{failing}")
    for test_id in result["newly_failing_tests"]:
        lines.append(f"  NEWLY FAILING {test_id}")
    for fresh in result["freshness"]:
        lines.append(f"freshness {fresh['source']}: {fresh['status']}"
                     f" (newest {fresh.get('max_loaded_at')})")
    return "\n".join(lines)


def _sample_table(doc: Document, sample: list[dict[str, Any]]) -> None:
    """Failing rows as a table (the union of their columns, in first-seen order)."""
    if not sample:
        return
    columns: list[str] = []
    for row in sample:
        columns += [column for column in row if column not in columns]
    doc.table(columns, [[_cell(row.get(column)) for column in columns] for row in sample])


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(", ", ": "))
    return str(value)


def to_document(result: dict[str, Any]) -> Document:
    """The quality report: the verdict and the tripped gates first, then each
    failing metric and test with its rows, then every metric with its recent
    history, the ledger, freshness and the inputs."""
    doc = Document("Data-quality report")
    doc.heading(1, f"Data quality: {result['status'].upper()}")
    counts = ", ".join(f"{n} {s}" for s, n in sorted(result["test_counts"].items()))
    doc.para(f"Generated {result['generated_at']}, run `{result['run_id']}`, target "
             f"`{result['target']}`, exit code {result['exit_code']}. "
             + (f"Tests: {counts}." if counts else
                "No test ran: no input was fresher and no model changed since the last build, "
                "so nothing was rebuilt; the metrics are those of the tables as built."))
    if result["gates"]:
        doc.alert("Quality gate failed; nothing was published (the candidate exports are in "
                  "`unpublished/`): " + "; ".join(result["gates"]))
    elif result["status"] == "warn":
        doc.note("Warnings only: the run published. `--strict` turns warnings into exit 1.")
    else:
        doc.answer("Every gate passed.")

    failing = [m for m in result["metrics"] if m["status"] in {"error", "warn"}]
    if failing:
        doc.heading(2, "Metrics above a threshold")
        for metric in sorted(failing, key=lambda m: m["status"] != "error"):
            doc.heading(3, f"{metric['name']}: {metric['status']}")
            doc.para(f"{metric['description'] or ''} **{_value(metric)}** rows of "
                     f"{metric['denominator']:,} ({_rate(metric)}); warn above "
                     f"{fmt_threshold(metric['warn_above'], metric['threshold_on'])}, error above "
                     f"{fmt_threshold(metric['error_above'], metric['threshold_on'])} "
                     f"(`{metric['threshold_source']}`).")
            if metric["status"] == "error":
                doc.para(f"To accept it for one run: `{override_hint(metric)}`")
            _sample_table(doc, metric["sample"])
    tests = [t for t in result["tests"]
             if t["status"] in {"fail", "error", "warn"} and t["name"] not in METRIC_GATE_TESTS]
    if tests:
        doc.heading(2, "Tests not passing")
        for test in tests:
            doc.heading(3, f"{test['name']}: {test['status']}")
            column = f", column `{test['column']}`" if test["column"] else ""
            failures = "" if test["failures"] is None else f"{test['failures']:,} "
            message = f" {test['message']}" if test["message"] else ""
            doc.para(f"On `{test['model']}`{column}, severity {test['severity']}, "
                     f"{failures}failing rows.{message}")
            _sample_table(doc, test["sample"])
    if result["newly_failing_tests"]:
        doc.note("Newly failing (passed the last time they ran): "
                 + ", ".join(f"`{t}`" for t in result["newly_failing_tests"]))

    doc.heading(2, "Metrics")
    doc.table(["metric", "value", "rate", "warn above", "error above", "status", "recent runs"],
              [[m["name"], _value(m), _rate(m), fmt_threshold(m["warn_above"], m["threshold_on"]),
                fmt_threshold(m["error_above"], m["threshold_on"]),
                m["status"] + (" (anomaly)" if m["is_anomaly"] else ""),
                " → ".join(f"{v:,}" for v in m["recent_values"][-5:])]
               for m in result["metrics"]],
              numeric=[False, True, True, True, True, False, False],
              row_classes=[m["status"] if m["status"] in {"error", "warn"} else ""
                           for m in result["metrics"]])
    doc.heading(3, "Recent history")
    doc.sparklines([Sparkline(f"{m['name']} ({_value(m)})", [float(v) for v in m["recent_values"]])
                    for m in result["metrics"] if m["threshold_on"]])

    doc.heading(2, "Ledger (raw = cleaned + rejected)")
    doc.table(["source", "file", "outcome", "rows"],
              [[r["source_name"], r["source_file"], r["reason_code"], f"{r['row_count']:,}"]
               for r in result["ledger"]], numeric=[False, False, False, True])
    doc.heading(2, "Freshness")
    doc.bullets([f"{f['source']}: {f['status']}, newest record {f.get('max_loaded_at')}"
                 for f in result["freshness"]])
    doc.heading(2, "Inputs")
    doc.table(["source", "path", "bytes", "rows", "sha256"],
              [[i["source"], i["path"], f"{i['bytes']:,}", f"{i['rows']:,}",
                f"`{i['sha256'][:16]}…`"] for i in result["inputs"]],
              numeric=[False, False, True, True, False])
    missing = {source: columns for source, columns in result["missing_optional_columns"].items()
               if columns}
    if missing:
        doc.note("Documented columns missing from the input (no model reads them; filled with "
                 "nulls): " + "; ".join(f"{source}: {', '.join(columns)}"
                                        for source, columns in missing.items()))
    return doc


def write_quality_report(result: dict[str, Any], output_dir: Path) -> dict[str, Path]:
    quality_dir = output_dir / "quality"
    quality_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": quality_dir / "quality_report.json",
             "md": quality_dir / "quality_report.md",
             "html": quality_dir / "quality_report.html"}
    paths["json"].write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    doc = to_document(result)
    paths["md"].write_text(render_markdown(doc, quality_dir), encoding="utf-8")
    paths["html"].write_text(render_html(doc), encoding="utf-8")
    return paths
