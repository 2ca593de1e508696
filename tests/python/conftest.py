"""Shared test helpers."""

from __future__ import annotations

import os
import sys
from pathlib import Path

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
