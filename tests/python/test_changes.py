"""An analyst's change, on a copy of the project built once (`billups run` on a
clean generated set, which passes every gate without a warning):

* the slim build (`billups changed`: dbt build --select state:modified+ against
  the last run's artifacts) rebuilds only the edited mart and what reads it;
* a mart whose SQL drifts from the column types its YAML states stops the
  build with dbt's contract error (contracts are enforced by dbt itself).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, isolated_env

from python_checks.generate import generate

pytestmark = [pytest.mark.spark, pytest.mark.xdist_group("changes")]

MONTHS = Path("models/marts/new_merchant_advice/advice_months.sql")
HOURS = Path("models/marts/new_merchant_advice/advice_hours.sql")


def billups(project: Path, root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The copy's own CLI (run from the copy, so its PROJECT_DIR is the copy)."""
    return subprocess.run([sys.executable, "-m", "python_checks.cli", *args], cwd=project,
                          env=isolated_env(root), capture_output=True, text=True, timeout=1800,
                          check=False)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A copy of the project, built once on a clean set."""
    root = tmp_path_factory.mktemp("changes")
    project = root / "project"
    skipped = shutil.ignore_patterns(".git", ".venv", "target", "logs", ".spark", "output",
                                     "data", "bench", "test-artifacts", "*.egg-info",
                                     "__pycache__", ".cluster")
    shutil.copytree(REPO_ROOT, project, ignore=lambda folder, names: (
        set(skipped(folder, names)) | ({"python"} if Path(folder).name == "tests" else set())))
    data = root / "data"
    generate(data, rows=20_000, seed=3)  # clean: every gate passes without a warning
    run = billups(project, root, "run", "--data-dir", str(data), "--output-dir",
                  str(root / "out"))
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    return project, data, root


def test_a_clean_set_passes_every_gate_without_a_warning(built: tuple[Path, Path, Path]) -> None:
    _, _, root = built
    quality = json.loads((root / "out" / "quality" / "quality_report.json").read_text())
    assert quality["status"] == "pass", [
        (m["name"], m["status"]) for m in quality["metrics"] if m["status"] != "pass"
    ] + [(t["name"], t["status"]) for t in quality["tests"] if t["status"] != "pass"]
    assert quality["gates"] == []


def test_the_slim_build_rebuilds_the_edited_mart_and_what_reads_it(
    built: tuple[Path, Path, Path],
) -> None:
    project, data, root = built
    sql = project / MONTHS
    sql.write_text(sql.read_text().replace("-- Q5c.", "-- Q5c (edited).", 1))
    slim = billups(project, root, "changed", "--data-dir", str(data))
    assert slim.returncode == 0, slim.stdout[-4000:] + slim.stderr[-2000:]
    # advice_cities reads advice_months; nothing else does.
    assert "2 model(s) rebuilt (advice_months, advice_cities)" in slim.stdout \
        or "2 model(s) rebuilt (advice_cities, advice_months)" in slim.stdout, slim.stdout
    results = json.loads((root / "target" / "run_results.json").read_text())["results"]
    touched = {record["unique_id"].split(".")[2] if record["unique_id"].startswith("test.")
               else record["unique_id"].split(".")[-1] for record in results}
    assert "top_hours_by_category" not in touched and "int_transactions_validated" not in touched
    # Nothing changed since: the next slim build has nothing to do.
    again = billups(project, root, "changed", "--data-dir", str(data))
    assert again.returncode == 0 and "0 model(s) rebuilt" in again.stdout, again.stdout[-2000:]


def test_a_type_drift_in_a_mart_stops_the_build(built: tuple[Path, Path, Path]) -> None:
    project, data, root = built
    sql = project / HOURS
    original = sql.read_text()
    drifted = original.replace("        approved_count,\n        -- Exact decimal division",
                               "        cast(approved_count as string) as approved_count,\n"
                               "        -- Exact decimal division")
    assert drifted != original, "the mart's SQL changed: update the planted drift"
    sql.write_text(drifted)
    try:
        broken = billups(project, root, "changed", "--data-dir", str(data))
    finally:
        sql.write_text(original)
    assert broken.returncode == 2
    log = (root / "logs" / "dbt.log").read_text(errors="replace")
    assert "This model has an enforced contract that failed" in broken.stdout + log
    assert "FAILED model.billups_analytics.advice_hours" in broken.stdout, broken.stdout[-2000:]
