"""The data-quality layer around dbt: every test outcome with failing-row
samples, every metric against its threshold and its recent history, freshness,
the row ledger and the inputs' provenance, gathered into one result that is
printed, written as JSON / Markdown / HTML, and turned into an exit code."""

from __future__ import annotations

import csv
import hashlib
import html
import json
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from python_checks.project import (
    PROJECT_DIR,
    QUALITY_EXPORTS,
    export_models,
    invoke_dbt,
    target_dir,
)

SCHEMA_PATH = Path(__file__).with_name("quality_report.schema.json")
RECENT_RUNS = 10
SAMPLE_ROWS = 10
EXIT_OK, EXIT_WARN, EXIT_ERROR = 0, 1, 2


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def provenance(paths: dict[str, Path]) -> list[dict[str, Any]]:
    """Path, size, SHA-256 and row count of every input file (or part file)."""
    import pyarrow.parquet as pq

    files = []
    for source, path in paths.items():
        parts = sorted(path.rglob("*.parquet")) if path.is_dir() else [path]
        for part in parts:
            if part.suffix == ".parquet":
                rows = pq.ParquetFile(part).metadata.num_rows
            else:
                with open(part, newline="") as handle:
                    rows = sum(1 for _ in csv.reader(handle)) - 1
            files.append({"source": source, "path": str(part), "bytes": part.stat().st_size,
                          "sha256": sha256_of(part), "rows": rows})
    return files


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def number(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def test_records(results: list[dict[str, Any]], manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per data test or unit test that ran, with where it is attached."""
    nodes = {**manifest.get("nodes", {}), **manifest.get("unit_tests", {})}
    records = []
    for result in results:
        unique_id = result["unique_id"]
        if not unique_id.startswith(("test.", "unit_test.")):
            continue
        node = nodes.get(unique_id, {})
        attached = node.get("attached_node") or (node.get("depends_on", {}).get("nodes") or [""])[0]
        records.append({
            "unique_id": unique_id,
            "name": node.get("name", unique_id.split(".")[-1]),
            "kind": "unit" if unique_id.startswith("unit_test.") else "data",
            "model": node.get("model") or attached.split(".")[-1],
            "column": node.get("column_name"),
            "severity": str(node.get("config", {}).get("severity", "ERROR")).lower(),
            "status": result["status"],
            "failures": result.get("failures"),
            "message": result.get("message"),
            "seconds": round(result.get("execution_time") or 0.0, 3),
            "compiled_code": result.get("compiled_code"),
            "sample": [],
        })
    return records


def failing_samples(tests: list[dict[str, Any]], target: str, dbt_vars: dict) -> None:
    """Up to SAMPLE_ROWS failing rows of every failed or warned data test."""
    for test in tests:
        code = test.pop("compiled_code", None)
        if test["kind"] != "data" or test["status"] not in {"fail", "warn"} or not code:
            continue
        shown = invoke_dbt(["show", "--inline", code, "--limit", str(SAMPLE_ROWS)],
                           target=target, dbt_vars=dbt_vars, quiet=True)
        table = shown.agate_table
        if table is not None:
            test["sample"] = [
                {name: (None if value is None else str(value))
                 for name, value in zip(table.column_names, row, strict=True)}
                for row in table.rows
            ]


def metric_records(output_quality: Path, run_id: str | None) -> list[dict[str, Any]]:
    """Metrics of this run with their recent trend and anomaly flag."""
    history: dict[str, list[tuple[str, str, float]]] = {}
    for row in read_csv(output_quality / "metric_history.csv"):
        history.setdefault(row["metric_name"], []).append(
            (row["run_started_at"], row["run_id"], float(row["metric_value"])))
    metrics = []
    for row in read_csv(output_quality / "metrics.csv"):
        value = float(row["metric_value"])
        past = sorted(history.get(row["metric_name"], []))
        previous = [v for _, rid, v in past if rid != run_id][-RECENT_RUNS:]
        tolerance = number(row["anomaly_tolerance"])
        median = statistics.median(previous) if previous else None
        anomaly = (
            median is not None and tolerance is not None
            and abs(value - median) > tolerance * max(abs(median), 1.0)
        )
        metrics.append({
            "name": row["metric_name"],
            "group": row["metric_group"],
            "value": int(value),
            "denominator": int(number(row["denominator"]) or 0),
            "rate": number(row["metric_rate"]),
            "threshold_on": row["threshold_on"] or None,
            "warn_above": number(row["warn_above"]),
            "error_above": number(row["error_above"]),
            "status": row["status"],
            "description": row["description"] or None,
            "recent_values": [int(v) for v in previous] + [int(value)],
            "recent_median": median,
            "anomaly_tolerance": tolerance,
            "is_anomaly": bool(anomaly),
        })
    return metrics


def newly_failing(tests: list[dict[str, Any]], output_quality: Path,
                  run_started: str | None) -> list[str]:
    """Tests failing now that passed the last earlier time they ran."""
    last_status: dict[str, tuple[str, str]] = {}
    for row in read_csv(output_quality / "test_history.csv"):
        if run_started and row["run_started_at"] >= run_started:
            continue
        seen = last_status.get(row["test_unique_id"])
        if seen is None or row["run_started_at"] > seen[0]:
            last_status[row["test_unique_id"]] = (row["run_started_at"], row["status"])
    return [
        test["unique_id"] for test in tests
        if test["status"] in {"fail", "error"}
        and last_status.get(test["unique_id"], ("", ""))[1] == "pass"
    ]


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


def gate(tests: list[dict[str, Any]], metrics: list[dict[str, Any]],
         fresh: list[dict[str, Any]], strict: bool) -> tuple[str, int]:
    """Overall status and exit code: 2 on any error, 1 on warnings with strict."""
    errors = any(t["status"] in {"fail", "error"} for t in tests) or any(
        m["status"] == "error" for m in metrics) or any(f["status"] == "error" for f in fresh)
    warnings = any(t["status"] == "warn" for t in tests) or any(
        m["status"] == "warn" or m["is_anomaly"] for m in metrics) or any(
        f["status"] == "warn" for f in fresh)
    if errors:
        return "error", EXIT_ERROR
    if warnings:
        return "warn", EXIT_WARN if strict else EXIT_OK
    return "pass", EXIT_OK


def collect_quality(
    output_dir: Path,
    input_files: dict[str, Path],
    results: list[dict[str, Any]],
    *,
    target: str = "local",
    dbt_vars: dict | None = None,
    strict: bool = False,
    timings: dict[str, float] | None = None,
    artifacts_dir: Path | None = None,
) -> dict[str, Any]:
    """Assemble the quality result of a run whose dbt results are `results`
    (artifacts_dir: where that run's manifest.json / run_results.json were kept)."""
    dbt_vars = dbt_vars or {}
    quality_dir = output_dir / "quality"
    artifacts = artifacts_dir or target_dir()
    manifest = json.loads((artifacts / "manifest.json").read_text())
    run_info = json.loads((artifacts / "run_results.json").read_text()) \
        if (artifacts / "run_results.json").exists() else {}
    tests = test_records(results, manifest)
    failing_samples(tests, target, dbt_vars)
    export_models(
        {name: quality_dir / f"{file}.csv" for name, file in QUALITY_EXPORTS.items()},
        output_dir / ".export", target=target, dbt_vars=dbt_vars,
    )
    metrics_now = read_csv(quality_dir / "metric_history.csv")
    latest = max(metrics_now, key=lambda row: row["run_started_at"]) if metrics_now else None
    run_id = latest["run_id"] if latest else None
    metrics = metric_records(quality_dir, run_id)
    fresh = freshness(target, dbt_vars)
    ledger = [{**row, "row_count": int(row["row_count"])}
              for row in read_csv(quality_dir / "row_ledger.csv")]
    status, exit_code = gate(tests, metrics, fresh, strict)
    counts: dict[str, int] = {}
    for test in tests:
        counts[test["status"]] = counts.get(test["status"], 0) + 1
    return {
        "schema_version": 1,
        "generated_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "run_id": run_id,
        "dbt_invocation_id": run_info.get("metadata", {}).get("invocation_id"),
        "target": target,
        "status": status,
        "exit_code": exit_code,
        "strict": strict,
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
        "model_timings": {
            r["unique_id"]: round(r.get("execution_time") or 0.0, 3) for r in results
            if r["unique_id"].startswith(("model.", "seed."))
        },
        "inputs": provenance(input_files),
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


def format_table(result: dict[str, Any]) -> str:
    """The terminal summary: gate, metrics against thresholds, failing tests."""
    lines = [f"data quality: {result['status'].upper()} (exit code {result['exit_code']})",
             f"{'metric':<34}{'value':>12}{'rate':>12}{'warn>':>10}{'error>':>10}  status"]
    for m in result["metrics"]:
        rate = "" if m["rate"] is None else f"{m['rate']:.4%}"
        flag = m["status"] + (" ANOMALY" if m["is_anomaly"] else "")
        lines.append(f"{m['name']:<34}{m['value']:>12,}{rate:>12}"
                     f"{_fmt(m['warn_above']):>10}{_fmt(m['error_above']):>10}  {flag}")
    counts = result["test_counts"]
    lines.append("tests: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    for test in result["tests"]:
        if test["status"] != "pass":
            lines.append(f"  {test['status'].upper():<5} {test['name']} on {test['model']}"
                         f" ({test['failures']} failing rows)")
    for test_id in result["newly_failing_tests"]:
        lines.append(f"  NEWLY FAILING {test_id}")
    for fresh in result["freshness"]:
        lines.append(f"freshness {fresh['source']}: {fresh['status']}"
                     f" (newest {fresh.get('max_loaded_at')})")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}"


def to_markdown(result: dict[str, Any]) -> str:
    out = [f"# Data-quality report: {result['status'].upper()}", "",
           f"Generated {result['generated_at']}, run `{result['run_id']}`, target "
           f"`{result['target']}`, exit code {result['exit_code']}.", "",
           "## Metrics", "",
           "| metric | value | rate | warn above | error above | status | recent values |",
           "|---|---:|---:|---:|---:|---|---|"]
    for m in result["metrics"]:
        rate = "" if m["rate"] is None else f"{m['rate']:.4%}"
        status = m["status"] + (" **anomaly**" if m["is_anomaly"] else "")
        trend = " → ".join(f"{v:,}" for v in m["recent_values"])
        out.append(f"| {m['name']} | {m['value']:,} | {rate} | {_fmt(m['warn_above'])} | "
                   f"{_fmt(m['error_above'])} | {status} | {trend} |")
    out += ["", "## Ledger (raw = cleaned + rejected)", "",
            "| source | file | outcome | rows |", "|---|---|---|---:|"]
    out += [f"| {r['source_name']} | {r['source_file']} | {r['reason_code']} | "
            f"{r['row_count']:,} |" for r in result["ledger"]]
    out += ["", "## Tests", "", "| status | test | model | column | severity | failing rows |",
            "|---|---|---|---|---|---:|"]
    order = {"error": 0, "fail": 1, "warn": 2, "skipped": 3, "pass": 4}
    for t in sorted(result["tests"], key=lambda t: (order.get(t["status"], 5), t["name"])):
        out.append(f"| {t['status']} | {t['name']} | {t['model']} | {t['column'] or ''} | "
                   f"{t['severity']} | {t['failures'] if t['failures'] is not None else ''} |")
        if t["sample"]:
            out.append(f"| | sample: `{json.dumps(t['sample'][:3])[:300]}` | | | | |")
    out += ["", "## Freshness", ""]
    out += [f"- {f['source']}: {f['status']}, newest record {f.get('max_loaded_at')}"
            for f in result["freshness"]]
    out += ["", "## Inputs", "", "| source | path | bytes | rows | sha256 |",
            "|---|---|---:|---:|---|"]
    out += [f"| {i['source']} | {i['path']} | {i['bytes']:,} | {i['rows']:,} | "
            f"`{i['sha256'][:16]}…` |" for i in result["inputs"]]
    return "\n".join(out) + "\n"


def to_html(result: dict[str, Any]) -> str:
    """A self-contained page (inline CSS, no external resources)."""
    colour = {"pass": "#1a7f37", "warn": "#9a6700", "error": "#cf222e", "fail": "#cf222e",
              "info": "#57606a", "skipped": "#57606a"}

    def badge(status: str) -> str:
        return (f'<span style="color:{colour.get(status, "#000")};font-weight:600">'
                f"{html.escape(status)}</span>")

    rows = "".join(
        f"<tr><td>{html.escape(m['name'])}</td><td class=n>{m['value']:,}</td>"
        f"<td class=n>{'' if m['rate'] is None else format(m['rate'], '.4%')}</td>"
        f"<td class=n>{_fmt(m['warn_above'])}</td><td class=n>{_fmt(m['error_above'])}</td>"
        f"<td>{badge(m['status'])}{' <b>anomaly</b>' if m['is_anomaly'] else ''}</td>"
        f"<td>{html.escape(' → '.join(f'{v:,}' for v in m['recent_values']))}</td></tr>"
        for m in result["metrics"])
    tests = "".join(
        f"<tr><td>{badge(t['status'])}</td><td>{html.escape(t['name'])}</td>"
        f"<td>{html.escape(t['model'] or '')}</td><td>{html.escape(t['column'] or '')}</td>"
        f"<td>{t['severity']}</td><td class=n>{'' if t['failures'] is None else t['failures']}"
        f"</td></tr>"
        + (f"<tr><td></td><td colspan=5><pre>{html.escape(json.dumps(t['sample'], indent=1))}"
           f"</pre></td></tr>" if t["sample"] else "")
        for t in result["tests"] if t["status"] != "pass")
    ledger = "".join(
        f"<tr><td>{html.escape(r['source_name'])}</td><td>{html.escape(r['source_file'])}</td>"
        f"<td>{html.escape(r['reason_code'])}</td><td class=n>{r['row_count']:,}</td></tr>"
        for r in result["ledger"])
    inputs = "".join(
        f"<tr><td>{html.escape(i['source'])}</td><td>{html.escape(i['path'])}</td>"
        f"<td class=n>{i['bytes']:,}</td><td class=n>{i['rows']:,}</td>"
        f"<td><code>{i['sha256']}</code></td></tr>" for i in result["inputs"])
    passed = result["test_counts"].get("pass", 0)
    return f"""<!doctype html><html><head><meta charset="utf-8">
<title>Data-quality report</title><style>
body{{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}}
table{{border-collapse:collapse;margin:1em 0}}td,th{{border:1px solid #d0d7de;padding:4px 8px}}
.n{{text-align:right}}pre{{margin:0;font-size:12px}}</style></head><body>
<h1>Data quality: {badge(result['status'])}</h1>
<p>Generated {result['generated_at']} &middot; run <code>{result['run_id']}</code> &middot;
exit code {result['exit_code']} &middot; {passed} tests passed</p>
<h2>Metrics</h2><table><tr><th>metric</th><th>value</th><th>rate</th><th>warn above</th>
<th>error above</th><th>status</th><th>recent values</th></tr>{rows}</table>
<h2>Tests not passing</h2><table><tr><th>status</th><th>test</th><th>model</th><th>column</th>
<th>severity</th><th>failing rows</th></tr>{tests}</table>
<h2>Ledger</h2><table><tr><th>source</th><th>file</th><th>outcome</th><th>rows</th></tr>
{ledger}</table>
<h2>Freshness</h2><ul>{''.join(f"<li>{html.escape(f['source'])}: {badge(f['status'])}</li>"
                              for f in result['freshness'])}</ul>
<h2>Inputs</h2><table><tr><th>source</th><th>path</th><th>bytes</th><th>rows</th>
<th>sha256</th></tr>{inputs}</table></body></html>
"""


def write_quality_report(result: dict[str, Any], output_dir: Path) -> dict[str, Path]:
    quality_dir = output_dir / "quality"
    quality_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": quality_dir / "quality_report.json",
             "md": quality_dir / "quality_report.md",
             "html": quality_dir / "quality_report.html"}
    paths["json"].write_text(json.dumps(result, indent=2, default=str))
    paths["md"].write_text(to_markdown(result))
    paths["html"].write_text(to_html(result))
    return paths
