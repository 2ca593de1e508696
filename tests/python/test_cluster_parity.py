"""Parity: the same generated data built through the embedded Spark session
(`local`: the session's shared build) and through a real Spark cluster behind
the Spark Thrift Server (`cluster`: standalone master + worker +
HiveThriftServer2, started here with python_checks.cluster on free ports and
its own state dir, so a developer's `make cluster-up` cluster is never
touched) gives identical marts, ledger and quality metrics.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from canonical import canonical_rows, diff_marts, mart_hashes
from conftest import REPO_ROOT, SharedBuild, isolated_env

from python_checks import cluster
from python_checks.generate import generate
from python_checks.project import published_tables

TIMEOUT_SECONDS = 30 * 60
OUTPUT_TAIL_CHARS = 4_000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Build:
    """One `billups run` subprocess and where it writes."""

    target: str
    out: Path
    process: subprocess.Popen
    log: Path

    def wait(self) -> Path:
        try:
            code = self.process.wait(timeout=TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            stop(self.process)
            raise
        tail = self.log.read_text(errors="replace")[-OUTPUT_TAIL_CHARS:]
        assert code == 0, f"{self.target} run exited {code}; end of its output:\n{tail}"
        return self.out


def start_build(target: str, data_dir: Path, root: Path, extra_env: dict[str, str]) -> Build:
    """Start `billups run` in its own process group (so a failed test can stop
    it and its Spark JVM), with its own Spark dir, dbt target and logs."""
    env = {**isolated_env(root), **extra_env}
    out = root / "output"
    log = root / "run.log"
    command = [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
               "--output-dir", str(out), "--target", target]
    with open(log, "wb") as sink:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=sink,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Build(target, out, process, log)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture(scope="module")
def cluster_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A cluster of its own (state dir, free ports, small memory), stopped
    whatever happens."""
    root = tmp_path_factory.mktemp("cluster")
    env = {
        "BILLUPS_CLUSTER_DIR": str(root / "state"),
        "BILLUPS_SPARK_MASTER_PORT": str(free_port()),
        "BILLUPS_SPARK_MASTER_UI_PORT": str(free_port()),
        "BILLUPS_SPARK_WORKER_UI_PORT": str(free_port()),
        "BILLUPS_THRIFT_HOST": "127.0.0.1",
        "BILLUPS_THRIFT_PORT": str(free_port()),
        # A small data set needs little memory.
        "BILLUPS_SPARK_WORKER_MEMORY": "2g",
        "BILLUPS_SPARK_EXECUTOR_MEMORY": "2g",
        "BILLUPS_THRIFT_DRIVER_MEMORY": "1g",
    }
    config = cluster.ClusterConfig.from_env(env)
    try:
        cluster.up(config)
        yield env
    finally:
        cluster.down(config)


def quality_rows(out: Path, name: str) -> list[tuple[str, ...]]:
    header, rows = canonical_rows(out / "quality" / f"{name}.csv")
    return [tuple(header), *rows]


@pytest.mark.spark
@pytest.mark.xdist_group("shared_build")
def test_local_and_cluster_build_the_same_marts(
    shared_build: SharedBuild, cluster_env: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    remote = start_build("cluster", shared_build.data_dir,
                         tmp_path_factory.mktemp("parity_cluster"), cluster_env)
    try:
        remote_out = remote.wait()
    finally:
        stop(remote.process)
    local_out = shared_build.output

    marts, _ = published_tables(local_out / "dbt" / "manifest.json")
    local_hashes = mart_hashes(local_out / "marts")
    remote_hashes = mart_hashes(remote_out / "marts")
    assert sorted(local_hashes) == sorted(marts)
    differing = sorted(name for name in marts if local_hashes[name] != remote_hashes.get(name))
    assert not differing, (f"marts differ between local and cluster: {', '.join(differing)}\n"
                           + diff_marts(local_out / "marts", remote_out / "marts"))
    # Where every input row went, and the data-quality metrics built on it.
    for name in ("row_ledger", "metrics"):
        assert quality_rows(local_out, name) == quality_rows(remote_out, name), (
            f"quality/{name}.csv differs between local and cluster")


def test_cluster_target_without_a_server_says_how_to_start_one(tmp_path: Path) -> None:
    """No Thrift server on the port: one actionable line, no stack trace."""
    generate(tmp_path / "data", rows=2_000, seed=1)
    port = free_port()
    env = {**isolated_env(tmp_path), "BILLUPS_THRIFT_HOST": "127.0.0.1",
           "BILLUPS_THRIFT_PORT": str(port)}
    result = subprocess.run(
        [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(tmp_path / "data"),
         "--output-dir", str(tmp_path / "out"), "--target", "cluster"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 2
    errors = result.stderr.strip().splitlines()
    assert len(errors) == 1, result.stderr
    assert f"127.0.0.1:{port}" in errors[0]
    assert "make cluster-up" in errors[0]
    assert "BILLUPS_THRIFT_PORT" in errors[0]
    assert "Traceback" not in result.stderr + result.stdout
