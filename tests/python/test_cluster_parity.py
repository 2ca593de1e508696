"""Parity: the same generated data built through the embedded Spark session
(`local`) and through a real Spark cluster behind the Spark Thrift Server
(`cluster`: standalone master + worker + HiveThriftServer2, started here with
python_checks.cluster on free ports) gives identical marts and ledger.
"""

from __future__ import annotations

import csv
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from canonical import diff_marts, mart_hashes
from conftest import REPO_ROOT, isolated_env

from python_checks import cluster
from python_checks.generate import generate

ROWS = 20_000
SEED = 31
TIMEOUT_SECONDS = 30 * 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory: pytest.TempPathFactory):
    """A cluster of its own (state dir, ports), stopped whatever happens."""
    root = tmp_path_factory.mktemp("cluster")
    env = {
        "BILLUPS_CLUSTER_DIR": str(root / "state"),
        "BILLUPS_SPARK_MASTER_PORT": str(free_port()),
        "BILLUPS_SPARK_MASTER_UI_PORT": str(free_port()),
        "BILLUPS_SPARK_WORKER_UI_PORT": str(free_port()),
        "BILLUPS_THRIFT_PORT": str(free_port()),
    }
    config = cluster.ClusterConfig.from_env(env)
    try:
        cluster.up(config)
        yield env
    finally:
        cluster.down(config)


def run(target: str, data_dir: Path, root: Path, extra_env: dict[str, str]) -> Path:
    env = {**isolated_env(root), **extra_env}
    out = root / "output"
    command = [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
               "--output-dir", str(out), "--target", target]
    result = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=TIMEOUT_SECONDS, check=False)
    assert result.returncode == 0, (f"{target} run exited {result.returncode}\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return out


def ledger(out: Path) -> list[tuple[str, str, str]]:
    with open(out / "quality" / "row_ledger.csv", newline="") as handle:
        return sorted((row["source_name"], row["reason_code"], row["row_count"])
                      for row in csv.DictReader(handle))


def test_local_and_cluster_build_the_same_marts(
    cluster_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    data = tmp_path_factory.mktemp("parity_data")
    generate(data, rows=ROWS, seed=SEED, dirty=True)
    local = run("local", data, tmp_path_factory.mktemp("parity_local"), {})
    remote = run("cluster", data, tmp_path_factory.mktemp("parity_cluster"), cluster_env)

    local_hashes = mart_hashes(local / "marts")
    assert len(local_hashes) == 12
    assert diff_marts(local / "marts", remote / "marts") == ""
    assert mart_hashes(remote / "marts") == local_hashes
    assert ledger(local) == ledger(remote)


def test_cluster_target_without_a_server_says_how_to_start_one(tmp_path: Path) -> None:
    """No Thrift server on the port: one actionable line, no stack trace."""
    generate(tmp_path / "data", rows=2_000, seed=1)
    env = {**isolated_env(tmp_path), "BILLUPS_THRIFT_PORT": str(free_port())}
    result = subprocess.run(
        [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(tmp_path / "data"),
         "--output-dir", str(tmp_path / "out"), "--target", "cluster"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 2
    assert "make cluster-up" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
