"""The bad-input battery: what a user sees for each kind of bad or odd input,
and what is kept. Every error is one line naming the file and what was
expected, exit 2, no traceback and nothing published; odd but valid input
(a BOM, CRLF line ends, quoted commas, bytes that are not UTF-8, a documented
column no model reads left out) builds, with its oddities counted in the
quality report; a run killed in the middle of its build leaves the published
set as it was, and the next run recovers.

The README's table "Bad input" lists the same cases.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import REPO_ROOT, isolated_env

from python_checks.generate import generate

TX = "historical_transactions.parquet"
MERCHANTS = "merchants.csv"
ROWS = 5_000
TIMEOUT = 1_200


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("battery") / "clean"
    generate(data, rows=ROWS, seed=5)
    return data


def billups(*args: str, root: Path, user: list[str] | None = None, wait: bool = True,
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), sys.executable, "-m", "python_checks.cli", *args],
                          cwd=REPO_ROOT, env=isolated_env(root), capture_output=True, text=True,
                          timeout=TIMEOUT, check=False)


def run_on(data: Path, root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return billups("run", "--data-dir", str(data), "--output-dir", str(root / "out"), *extra,
                   root=root)


def copy_of(clean: Path, tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(clean, data)
    return data


def assert_one_line_error(result: subprocess.CompletedProcess[str], *fragments: str) -> str:
    """Exit 2, no traceback, and the last line of stderr is the one error line
    holding every fragment."""
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), result.stderr[-2000:]
    for fragment in fragments:
        assert fragment in line, line
    return line


def nothing_published(root: Path) -> bool:
    return not (root / "out" / "marts").exists() and not (root / "out" / "report.md").exists()


# ------------------------------------------------------------ stopped before Spark starts

def test_amounts_stored_as_strings(clean: Path, tmp_path: Path) -> None:
    data = copy_of(clean, tmp_path)
    table = pq.read_table(data / TX)
    index = table.schema.get_field_index("purchase_amount")
    table = table.set_column(index, "purchase_amount",
                             pa.compute.cast(table["purchase_amount"], pa.string()))
    pq.write_table(table, data / TX)
    assert_one_line_error(run_on(data, tmp_path), TX,
                          "column 'purchase_amount' has type string, expected numeric or integer")
    assert nothing_published(tmp_path)


def test_transactions_file_with_no_rows(clean: Path, tmp_path: Path) -> None:
    data = copy_of(clean, tmp_path)
    pq.write_table(pq.read_table(data / TX).slice(0, 0), data / TX)
    assert_one_line_error(run_on(data, tmp_path), TX, "holds no rows")
    assert nothing_published(tmp_path)


def test_truncated_parquet_part_file(clean: Path, tmp_path: Path) -> None:
    data = copy_of(clean, tmp_path)
    (data / TX).unlink()
    (data / TX).mkdir()
    table = pq.read_table(clean / TX)
    pq.write_table(table.slice(0, ROWS // 2), data / TX / "part-00000.parquet")
    pq.write_table(table.slice(ROWS // 2), data / TX / "part-00001.parquet")
    part = data / TX / "part-00001.parquet"
    part.write_bytes(part.read_bytes()[: part.stat().st_size // 2])
    assert_one_line_error(run_on(data, tmp_path), "part-00001.parquet",
                          "not a readable parquet file")
    assert nothing_published(tmp_path)


def test_merchants_header_and_no_rows(clean: Path, tmp_path: Path) -> None:
    data = copy_of(clean, tmp_path)
    header = (data / MERCHANTS).read_text().splitlines()[0]
    (data / MERCHANTS).write_text(header + "\n")
    assert_one_line_error(run_on(data, tmp_path), MERCHANTS, "holds a header and no rows")
    assert nothing_published(tmp_path)


def test_merchants_duplicated_header_column(clean: Path, tmp_path: Path) -> None:
    data = copy_of(clean, tmp_path)
    lines = (data / MERCHANTS).read_text().splitlines()
    lines[0] = lines[0].replace("numerical_2", "merchant_name")
    (data / MERCHANTS).write_text("\n".join(lines) + "\n")
    assert_one_line_error(run_on(data, tmp_path), MERCHANTS,
                          "column 'merchant_name' appears twice in the header")
    assert nothing_published(tmp_path)


def test_missing_required_column(clean: Path, tmp_path: Path) -> None:
    data = copy_of(clean, tmp_path)
    pq.write_table(pq.read_table(data / TX).drop(["merchant_id"]), data / TX)
    assert_one_line_error(run_on(data, tmp_path), TX, "required column 'merchant_id' is missing")
    assert nothing_published(tmp_path)


def test_missing_data_dir(tmp_path: Path) -> None:
    assert_one_line_error(run_on(tmp_path / "nowhere", tmp_path), "input file not found", TX)


def test_data_dir_is_a_file(clean: Path, tmp_path: Path) -> None:
    assert_one_line_error(run_on(clean / MERCHANTS, tmp_path), "is a file, not a folder")


def test_unreadable_data_dir(clean: Path, tmp_path: Path) -> None:
    """A folder the user may not read (root reads anything: the run is then
    made as user nobody, on folders nobody may enter)."""
    base = Path(os.environ.get("TMPDIR", "/tmp")) / f"billups-unreadable-{os.getpid()}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(mode=0o755)
    try:
        data = base / "data"
        shutil.copytree(clean, data)
        data.chmod(0o000)
        user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] \
            if os.geteuid() == 0 else None
        result = billups("run", "--data-dir", str(data), "--output-dir", str(base / "out"),
                         root=base, user=user)
        assert_one_line_error(result, str(data), "permission denied")
    finally:
        (base / "data").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


def test_output_dir_below_a_regular_file(clean: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = billups("run", "--data-dir", str(clean), "--output-dir", str(blocker / "out"),
                     root=tmp_path)
    assert_one_line_error(result, "--output-dir", f"{blocker} is a file, not a folder")


# ------------------------------------------------------------ odd but valid; killed runs

def odd_merchants(clean: Path, data: Path) -> dict[str, str]:
    """merchants.csv with a UTF-8 BOM and CRLF line ends, without the documented
    column active_months_lag12 (no model reads it), one name holding a comma
    (quoted) and one holding a byte that is not UTF-8. Returns the two ids."""
    with open(clean / MERCHANTS, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    sales = pq.read_table(clean / TX, columns=["merchant_id"]).column(0).to_pylist()
    counts: dict[str, int] = {}
    for merchant_id in sales:
        counts[merchant_id] = counts.get(merchant_id, 0) + 1
    listed: dict[str, int] = {}
    for row in rows:
        listed[row["merchant_id"]] = listed.get(row["merchant_id"], 0) + 1
    single = sorted((mid for mid, n in listed.items() if n == 1 and mid in counts),
                    key=lambda mid: -counts[mid])
    comma_id, latin_id = single[0], single[1]
    for row in rows:
        if row["merchant_id"] == comma_id:
            row["merchant_name"] = "Smith, Jones & Co inc"
        if row["merchant_id"] == latin_id:
            row["merchant_name"] = "LATIN1_PLACEHOLDER"
    columns = [name for name in rows[0] if name != "active_months_lag12"]
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=columns, extrasaction="ignore",
                            lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    raw = text.getvalue().encode("utf-8-sig").replace(b"LATIN1_PLACEHOLDER", b"Caf\xe9 inc")
    (data / MERCHANTS).write_bytes(raw)
    return {"comma": comma_id, "latin": latin_id}


def mart_digest(out: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted((out / "marts").glob("*.csv"))}


@pytest.mark.spark
def test_odd_but_valid_merchants_build_and_a_killed_run_changes_nothing(
    clean: Path, tmp_path: Path
) -> None:
    data = copy_of(clean, tmp_path)
    ids = odd_merchants(clean, data)
    first = run_on(data, tmp_path)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-3000:]
    out = tmp_path / "out"
    with open(out / "marts" / "avg_sale_by_merchant_state.csv", newline="",
              encoding="utf-8") as handle:
        names = {row["merchant_id"]: row["merchant_name"] for row in csv.DictReader(handle)}
    assert names[ids["comma"]] == "Smith, Jones & Co inc"
    assert names[ids["latin"]] == "Caf\ufffd inc"

    quality = json.loads((out / "quality" / "quality_report.json").read_text())
    metrics = {metric["name"]: metric for metric in quality["metrics"]}
    assert metrics["merchant_text_not_utf8"]["value"] == 1
    assert metrics["merchant_text_not_utf8"]["status"] == "warn"
    assert metrics["merchants_rejected_rows"]["value"] == 0
    merchants_read = sum(row["row_count"] for row in quality["ledger"]
                         if row["source_name"] == "merchants")
    assert merchants_read == len(clean.joinpath(MERCHANTS).read_text().splitlines()) - 1
    assert quality["missing_optional_columns"]["merchants"] == ["active_months_lag12"]
    assert "active_months_lag12" in (out / "quality" / "quality_report.md").read_text()

    # Killed while dbt builds: the published set is untouched, and the next
    # run (same Spark folder, a metastore lock left behind) recovers.
    published = mart_digest(out)
    report = (out / "report.md").read_bytes()
    log = tmp_path / "killed.log"
    with open(log, "wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "python_checks.cli", "run", "--data-dir", str(data),
             "--output-dir", str(out), "--full-refresh"],
            cwd=REPO_ROOT, env=isolated_env(tmp_path), stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while b"START sql" not in log.read_bytes():
            assert process.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, "the build never started"
            time.sleep(0.5)
        time.sleep(3)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    assert mart_digest(out) == published
    assert (out / "report.md").read_bytes() == report
    # Where the kill lands varies; a kill inside a table's write leaves its
    # folder without the table, as this one (Spark then refuses to create the
    # table there). The next run removes such folders.
    orphan = tmp_path / "spark" / "warehouse" / "billups_marts.db" / "killed_while_written"
    (orphan / "_temporary" / "0").mkdir(parents=True)
    (orphan / "_temporary" / "0" / "part-00000.parquet").write_bytes(b"PAR1")
    again = run_on(data, tmp_path)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-3000:]
    assert "billups_marts.killed_while_written" in again.stdout
    assert not orphan.exists()
    assert again.stdout.strip().splitlines()[-1] == "OK"
    assert mart_digest(out) == published
