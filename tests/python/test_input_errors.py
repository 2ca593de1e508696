"""Bad input stops the run with one clear line naming the file and the column,
never a stack trace alone and never a partial result."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import isolated_env

from python_checks.generate import generate

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def good_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("good")
    generate(data, rows=2_000, seed=3)
    return data


def run_cli(data_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = isolated_env(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
         "--output-dir", str(tmp_path / "out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


def copy_with(data: Path, tmp_path: Path, table: pa.Table) -> Path:
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(data / "merchants.csv", bad / "merchants.csv")
    pq.write_table(table, bad / "historical_transactions.parquet")
    return bad


def test_missing_file_names_the_file(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "nowhere", tmp_path)
    assert result.returncode == 2
    assert "input file not found" in result.stderr
    assert "historical_transactions.parquet" in result.stderr
    assert not (tmp_path / "out" / "marts").exists()


def test_missing_column_names_file_and_column(good_data: Path, tmp_path: Path) -> None:
    table = pq.read_table(good_data / "historical_transactions.parquet").drop(["purchase_date"])
    result = run_cli(copy_with(good_data, tmp_path, table), tmp_path)
    assert result.returncode == 2, result.stdout[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error:")
    assert "historical_transactions.parquet" in message
    assert "required column 'purchase_date' is missing" in message
    assert not (tmp_path / "out" / "marts").exists()


def test_uncastable_type_names_file_column_and_types(good_data: Path, tmp_path: Path) -> None:
    table = pq.read_table(good_data / "historical_transactions.parquet")
    index = table.schema.get_field_index("city_id")
    table = table.set_column(index, "city_id", pa.compute.cast(table["city_id"], pa.string()))
    result = run_cli(copy_with(good_data, tmp_path, table), tmp_path)
    assert result.returncode == 2, result.stdout[-2000:]
    message = result.stderr.strip().splitlines()[-1]
    assert "historical_transactions.parquet" in message
    assert "column 'city_id' has type string, expected integer" in message
