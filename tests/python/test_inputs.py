"""How inputs are read: by column name, from a file or a folder of part files,
extra columns ignored. (Bad input: test_bad_inputs.py.)"""

from __future__ import annotations

import csv
import json
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
    generate(data, rows=20_000, seed=3)  # clean: the quality gate must be green
    return data


def run_cli(data_dir: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = isolated_env(tmp_path)
    return subprocess.run(
        [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data_dir),
         "--output-dir", str(tmp_path / "out")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )


def test_folder_of_parts_with_extra_and_reordered_columns(
    good_data: Path, tmp_path: Path
) -> None:
    """Columns are matched by name (order shuffled, an extra column ignored) and a
    folder of part files is read whole; the ledger reconciles per part file."""
    table = pq.read_table(good_data / "historical_transactions.parquet")
    table = table.select(list(reversed(table.column_names)))
    table = table.append_column("loyalty_tier", pa.array(["gold"] * table.num_rows))
    data = tmp_path / "parts"
    folder = data / "historical_transactions.parquet"
    folder.mkdir(parents=True)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), folder / "part-00000.parquet")
    pq.write_table(table.slice(half), folder / "part-00001.parquet")
    merchants = (good_data / "merchants.csv").read_text().splitlines()
    header = merchants[0].split(",")
    order = list(reversed(range(len(header))))  # merchants.csv columns reversed too
    with open(data / "merchants.csv", "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        for line in merchants:
            fields = line.split(",")
            writer.writerow([fields[i] for i in order] + ["extra"])

    result = run_cli(data, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    with open(tmp_path / "out" / "quality" / "row_ledger.csv", newline="") as handle:
        ledger = [row for row in csv.DictReader(handle) if row["source_name"] == "transactions"]
    per_file: dict[str, int] = {}
    for row in ledger:
        name = row["source_file"].rsplit("/", 1)[-1]
        per_file[name] = per_file.get(name, 0) + int(row["row_count"])
    assert per_file == {"part-00000.parquet": half, "part-00001.parquet": table.num_rows - half}
    with open(tmp_path / "out" / "marts" / "top_hours_by_category.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {row["category"] for row in rows} >= {"A", "B", "C"}
    # A clean data set passes the quality gate with no warning at all.
    quality = json.loads((tmp_path / "out" / "quality" / "quality_report.json").read_text())
    assert quality["status"] == "pass", [
        (m["name"], m["status"]) for m in quality["metrics"] if m["status"] != "pass"
    ] + [(t["name"], t["status"]) for t in quality["tests"] if t["status"] != "pass"]
