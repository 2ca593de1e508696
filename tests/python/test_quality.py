"""The data-quality layer end to end: on the session's shared build of a dirty
generated set the report's metrics equal the generator's planted counts, a
lowered threshold turns the gate red and holds the exports back, runs
accumulate history, and a planted jump is flagged. These tests change the
shared build, so the module runs after the ones that only read it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, SharedBuild, isolated_env

from python_checks.quality import SCHEMA_PATH

# Generator manifest counts -> qa_metrics names (the same conditions, counted twice).
MANIFEST_TO_METRIC = {
    "null_merchant_id": "null_merchant_id",
    "null_or_blank_category": "unknown_category",
    "amount_le_zero": "amount_le_zero",
    "denied": "denied",
    "unknown_city": "unknown_city",
    "unknown_state": "unknown_state",
    "installments_unknown": "unknown_installments",
    "future_timestamp": "future_timestamp",
    "merchant_id_not_in_merchants": "merchant_id_not_in_merchants",
    "exact_duplicate_extra_rows": "exact_duplicate_extra_rows",
}


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "python_checks.cli", *args],
        cwd=REPO_ROOT, env=isolated_env(root), capture_output=True, text=True, timeout=1800,
    )


def report(out_dir: Path) -> dict[str, Any]:
    return json.loads((out_dir / "quality" / "quality_report.json").read_text())


def metrics_of(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {metric["name"]: metric for metric in result["metrics"]}


pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("shared_build")]


@pytest.fixture(scope="module")
def dirty_run(shared_build: SharedBuild) -> tuple[Path, dict, Path]:
    """The session's shared build of the dirty set: its root, the generator's
    manifest (the planted counts) and the output folder."""
    assert "data quality: WARN" in shared_build.result.stdout  # planted problems warn only
    return shared_build.root, shared_build.manifest, shared_build.output


def test_report_files_exist_and_json_matches_schema(dirty_run) -> None:
    _, _, out = dirty_run
    for name in ("quality_report.json", "quality_report.md", "quality_report.html"):
        assert (out / "quality" / name).stat().st_size > 0
    jsonschema.validate(report(out), json.loads(SCHEMA_PATH.read_text()))
    html = (out / "quality" / "quality_report.html").read_text()
    assert "http://" not in html and "https://" not in html  # self-contained


def test_metrics_equal_the_planted_counts(dirty_run) -> None:
    _, manifest, out = dirty_run
    metrics = metrics_of(report(out))
    for manifest_name, metric_name in MANIFEST_TO_METRIC.items():
        assert metrics[metric_name]["value"] == manifest["transactions"]["counts"][manifest_name], \
            metric_name
    for name in ("conflicting_name_ids", "ids_without_name"):
        assert metrics[name]["value"] == manifest["merchants"]["counts"][name], name
    rows = manifest["transactions"]["rows"]
    assert metrics["transactions_raw_rows"]["value"] == rows
    assert metrics["transactions_cleaned_rows"]["value"] == manifest["transactions"]["cleaned_rows"]
    assert metrics["transactions_rejected_rows"]["value"] == sum(
        manifest["transactions"]["rejected"].values())
    assert metrics["transactions_unreconciled_rows"]["value"] == 0


def test_ledger_reconciles_and_inputs_have_provenance(dirty_run) -> None:
    root, manifest, out = dirty_run
    result = report(out)
    tx = [row for row in result["ledger"] if row["source_name"] == "transactions"]
    assert sum(row["row_count"] for row in tx) == manifest["transactions"]["rows"]
    inputs = {item["source"]: item for item in result["inputs"]}
    assert inputs["historical_transactions"]["rows"] == manifest["transactions"]["rows"]
    assert inputs["merchants"]["rows"] == manifest["merchants"]["rows"]
    assert all(len(item["sha256"]) == 64 for item in result["inputs"])


def test_warnings_are_listed_with_failing_rows_and_strict_exits_1(dirty_run) -> None:
    root, _, out = dirty_run
    result = report(out)
    # The warn gate's failing rows are the metrics above their warn threshold:
    # each comes with a sample of its own failing rows.
    warned = [m for m in result["metrics"] if m["status"] == "warn"]
    assert warned and all(0 < len(m["sample"]) <= 10 for m in warned), [
        (m["name"], len(m["sample"])) for m in warned]
    strict = cli(root, "check", "--data-dir", str(root / "data"), "--output-dir",
                 str(root / "strict"), "--strict")
    assert strict.returncode == 1, strict.stdout[-3000:] + strict.stderr[-2000:]


def test_lowered_threshold_turns_the_gate_red(dirty_run) -> None:
    """billups check: an error threshold below the planted share trips the gate;
    the report names the metric, its rate and threshold, where the threshold
    came from, the option that accepts it, and a sample of the failing rows."""
    root, manifest, _ = dirty_run
    planted = manifest["transactions"]["counts"]["future_timestamp"]
    assert planted > 0
    lowered = cli(root, "check", "--data-dir", str(root / "data"), "--output-dir",
                  str(root / "red"), "--vars",
                  "{quality_threshold_overrides: {future_timestamp: {error_above: 0}}}")
    assert lowered.returncode == 2, lowered.stdout[-3000:] + lowered.stderr[-2000:]
    result = report(root / "red")
    metrics = metrics_of(result)
    assert metrics["future_timestamp"]["status"] == "error"
    assert [name for name, m in metrics.items() if m["status"] == "error"] == ["future_timestamp"]
    last = lowered.stdout.strip().splitlines()[-1]
    assert last == (f"quality gate failed: future_timestamp {planted:,} rows "
                    f"({planted / manifest['transactions']['rows']:.1%}) > error 0% "
                    "(--vars quality_threshold_overrides)"), last
    assert result["gates"] == [last.removeprefix("quality gate failed: ")]
    assert "future_timestamp: {error_above: " in result["overrides"]["future_timestamp"]
    sample = metrics["future_timestamp"]["sample"]
    assert len(sample) == planted and all(row["purchase_ts"] > "2018-03" for row in sample)
    page = (root / "red" / "quality" / "quality_report.html").read_text()
    assert "Quality gate failed" in page and "<svg" in page


def test_a_tripped_gate_keeps_the_published_set_and_holds_back_the_candidates(dirty_run) -> None:
    """Write-audit-publish: a run whose gate trips publishes nothing; the set an
    earlier run published stays as it was, the candidates go to unpublished/."""
    root, _, out = dirty_run
    published = {path.name: path.read_bytes() for path in (out / "marts").glob("*.csv")}
    report_md = (out / "report.md").read_bytes()
    tripped = cli(root, "run", "--data-dir", str(root / "data"), "--output-dir", str(out),
                  "--vars", "{quality_threshold_overrides: {denied: {error_above: 0.01}}}")
    assert tripped.returncode == 2, tripped.stdout[-3000:] + tripped.stderr[-2000:]
    last = tripped.stdout.strip().splitlines()[-1]
    assert last.startswith("quality gate failed: denied ") and "> error 1%" in last, last
    assert {path.name: path.read_bytes() for path in (out / "marts").glob("*.csv")} == published
    assert (out / "report.md").read_bytes() == report_md
    held = out / "unpublished"
    assert sorted(path.name for path in (held / "marts").glob("*.csv")) == sorted(published)
    assert "denied" in (held / "NOT_PUBLISHED.txt").read_text()
    assert metrics_of(report(out))["denied"]["status"] == "error"
    # The next run that passes publishes again and clears the held-back set.
    passed = cli(root, "run", "--data-dir", str(root / "data"), "--output-dir", str(out))
    assert passed.returncode == 0, passed.stdout[-3000:]
    assert not held.exists()


def test_history_grows_and_a_planted_jump_is_flagged(dirty_run) -> None:
    root, _, _ = dirty_run
    # A second delivery where a fifth of the merchant ids went missing.
    jumped = root / "jumped"
    jumped.mkdir()
    shutil.copy(root / "data" / "merchants.csv", jumped / "merchants.csv")
    table = pq.read_table(root / "data" / "historical_transactions.parquet")
    mask = pa.array([i % 5 == 0 for i in range(table.num_rows)])
    index = table.schema.get_field_index("merchant_id")
    table = table.set_column(index, "merchant_id",
                             pc.if_else(mask, pa.scalar(None, pa.string()), table["merchant_id"]))
    pq.write_table(table, jumped / "historical_transactions.parquet")
    # The next scheduled run brings it (a newer file: every month is reloaded).
    result = cli(root, "run", "--data-dir", str(jumped), "--output-dir", str(root / "jump"))
    assert result.returncode in (0, 2), result.stdout[-3000:] + result.stderr[-2000:]
    after = report(root / "jump")
    null_ids = metrics_of(after)["null_merchant_id"]
    # Every run appends to the history: the first run plus this check at least.
    assert len(null_ids["recent_values"]) >= 2
    assert null_ids["is_anomaly"] and "null_merchant_id" in after["anomalies"]
    assert not metrics_of(after)["denied"]["is_anomaly"]
