"""Shared test helpers."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
if str(REPO_ROOT) not in sys.path:  # plain `pytest` does not add the repo root
    sys.path.insert(0, str(REPO_ROOT))


def isolated_env(root: Path) -> dict[str, str]:
    """Environment for a pipeline subprocess that shares nothing with the
    project's own runs: its own Spark warehouse + metastore, dbt target and logs."""
    return {
        **os.environ,
        "BILLUPS_SPARK_DIR": str(root / "spark"),
        "DBT_TARGET_PATH": str(root / "target"),
        "DBT_LOG_PATH": str(root / "logs"),
    }


def parsed_manifest(directory: Path) -> Path:
    """The project's manifest.json, from `dbt parse` (no Spark, no warehouse)
    into `directory`."""
    from dbt.cli.main import dbtRunner

    from python_checks.project import PROFILES_DIR, PROJECT_DIR

    result = dbtRunner().invoke(["parse", "--quiet", "--project-dir", str(PROJECT_DIR),
                                 "--profiles-dir", str(PROFILES_DIR),
                                 "--target-path", str(directory)])
    assert result.success, result.exception
    return directory / "manifest.json"


@dataclass(frozen=True)
class SharedBuild:
    """One real `billups run --unit-tests` on the dirty generated set, shared by
    the modules that only read what it built (end to end, docs, cluster
    parity), and then by test_quality, which changes it: pytest runs modules in
    alphabetical order, and test_quality comes after the others. Under
    pytest-xdist their tests share the group "shared_build" (one worker, in
    that order)."""

    root: Path
    data_dir: Path
    output: Path
    manifest: dict[str, Any]
    result: subprocess.CompletedProcess[str]


SHARED_ROWS = 30_000
SHARED_SEED = 7


@pytest.fixture(scope="session")
def shared_build(tmp_path_factory: pytest.TempPathFactory) -> SharedBuild:
    from python_checks.generate import generate

    root = tmp_path_factory.mktemp("shared_build")
    data_dir = root / "data"
    manifest = generate(data_dir, rows=SHARED_ROWS, seed=SHARED_SEED, dirty=True)
    command = [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
               "--output-dir", str(root / "output"), "--unit-tests"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=isolated_env(root),
                            capture_output=True, text=True, timeout=3600, check=False)
    if result.returncode != 0:
        pytest.fail(f"{' '.join(command)} exited {result.returncode}\n"
                    f"{result.stdout[-5000:]}\n{result.stderr[-3000:]}", pytrace=False)
    return SharedBuild(root, data_dir, root / "output", manifest, result)
