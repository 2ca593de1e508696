"""The marts' contracts are enforced by dbt itself: a mart whose SQL drifts
from the column types its YAML states stops the build with dbt's contract
error, before any table is written. (dbt-spark checks names and types when it
creates the table; --empty builds every model with no rows, so this takes one
short run.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT, isolated_env

from python_checks.generate import generate

MART = Path("models/marts/new_merchant_advice/advice_hours.sql")


def dbt_run(project: Path, data: Path, root: Path) -> subprocess.CompletedProcess[str]:
    dbt = Path(sys.executable).parent / "dbt"
    return subprocess.run(
        [str(dbt), "run", "--empty", "--select", "+advice_hours", "--project-dir", str(project),
         "--profiles-dir", str(REPO_ROOT / "profiles"), "--vars", f"{{data_dir: {data}}}"],
        cwd=project, env=isolated_env(root), capture_output=True, text=True, timeout=900,
        check=False)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A copy of the project, and a small data set."""
    root = tmp_path_factory.mktemp("contracts")
    copy = root / "project"
    shutil.copytree(REPO_ROOT, copy, ignore=shutil.ignore_patterns(
        ".git", ".venv", "target", "logs", ".spark", "output", "data", "bench", "tests",
        "test-artifacts", "*.egg-info", "__pycache__"))
    generate(root / "data", rows=1_000, seed=2)
    return copy, root / "data", root


def test_a_type_drift_in_a_mart_stops_the_build(project: tuple[Path, Path, Path]) -> None:
    copy, data, root = project
    intact = dbt_run(copy, data, root)
    assert intact.returncode == 0, intact.stdout[-3000:]

    sql = (copy / MART).read_text()
    drifted = sql.replace("        approved_count,\n        -- Exact decimal division",
                          "        cast(approved_count as string) as approved_count,\n"
                          "        -- Exact decimal division")
    assert drifted != sql, "the mart's SQL changed: update the planted drift"
    (copy / MART).write_text(drifted)
    broken = dbt_run(copy, data, root)
    assert broken.returncode != 0
    output = broken.stdout + broken.stderr
    assert "This model has an enforced contract that failed" in output, output[-3000:]
    assert "approved_count" in output and "string" in output
