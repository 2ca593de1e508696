"""Fast tests of the run wrapper's own logic (no Spark)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import python_checks.pipeline as pipeline_module
from python_checks import pipeline
from python_checks.pipeline import (
    PipelineError,
    RunSummary,
    check_metastore_free,
    first_error_line,
    summarise_results,
)
from python_checks.project import collect_part_files

HOLD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a")
fcntl.lockf(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(60)
"""


def test_locked_metastore_gives_an_actionable_message(tmp_path: Path, monkeypatch) -> None:
    # Derby holds a POSIX lock on metastore_db/dbex.lck while a JVM has it open.
    lock = tmp_path / "metastore_db" / "dbex.lck"
    lock.parent.mkdir(parents=True)
    lock.touch()
    monkeypatch.setenv("BILLUPS_SPARK_DIR", str(tmp_path))
    # A lock held after the wait for a just-finished run's JVM to let go.
    monkeypatch.setattr(pipeline_module, "LOCK_WAIT_SECONDS", 2)
    check_metastore_free()  # nobody holds it: no error
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(lock)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(PipelineError, match="in use by another process.*BILLUPS_SPARK_DIR"):
            check_metastore_free()
    finally:
        holder.kill()
        holder.wait()


def test_first_error_line_drops_dbt_framing() -> None:
    error = (
        "Compilation Error in operation billups_analytics-on-run-start-0 (./dbt_project.yml)\n"
        "  /data/merchants.csv: required column 'merchant_id' is missing (found: a, b).\n"
        "  \n  > in macro register_sources (macros/register_sources.sql)\n"
    )
    assert first_error_line(error) == (
        "/data/merchants.csv: required column 'merchant_id' is missing (found: a, b)."
    )
    assert first_error_line(None) == "see the dbt output above"


def test_summarise_results_counts_tests_and_failures() -> None:
    summary = RunSummary(build_ok=True)
    summarise_results([
        {"unique_id": "model.p.a", "status": "success", "message": None},
        {"unique_id": "test.p.t1", "status": "pass", "message": None},
        {"unique_id": "unit_test.p.a.u1", "status": "pass", "message": None},
        {"unique_id": "test.p.t2", "status": "warn", "message": "Got 1 result"},
        {"unique_id": "test.p.t3", "status": "fail", "message": "Got 3 results"},
    ], summary)
    assert summary.tests["pass"] == 2 and summary.tests["warn"] == 1
    assert summary.tests["fail"] == 1
    assert summary.failed_tests == ["test.p.t3: Got 3 results"]
    assert not summary.ok


def test_collect_exports_joins_parts_under_one_header(tmp_path: Path) -> None:
    staged = tmp_path / "staged" / "mart"
    staged.mkdir(parents=True)
    (staged / "part-00000-x.csv").write_text("a,b\n1,2\n")
    (staged / "part-00001-x.csv").write_text("a,b\n3,4\n")
    rows = collect_part_files(staged, tmp_path / "out" / "mart.csv")
    assert rows == 2
    assert (tmp_path / "out" / "mart.csv").read_text() == "a,b\n1,2\n3,4\n"


def test_missing_input_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"input file not found: .*historical_transactions"):
        pipeline.check_inputs(tmp_path)


@pytest.mark.parametrize("months", ["2018-13", "2018-00", "foo", "2018-1", "2018-02,18-03"])
def test_months_option_refuses_a_non_month_before_spark_starts(months: str, monkeypatch) -> None:
    from click.testing import CliRunner

    from python_checks import cli

    def no_run(*_args, **_kwargs):
        raise AssertionError("run_pipeline must not start on a bad --months")

    monkeypatch.setattr(cli, "run_pipeline", no_run)
    result = CliRunner().invoke(cli.main, ["run", "--months", months])
    assert result.exit_code == 2
    assert "not a month; expected yyyy-MM (01-12)" in result.output


def test_months_option_passes_the_backfill_months_to_dbt(monkeypatch) -> None:
    """--months becomes the var backfill_months: the months as yyyy-MM, sorted,
    each once."""
    from click.testing import CliRunner

    from python_checks import cli

    seen = {}

    def fake_run(*_args, extra_vars, **_kwargs):
        seen.update(extra_vars)
        raise PipelineError("stop here")

    monkeypatch.setattr(cli, "run_pipeline", fake_run)
    result = CliRunner().invoke(cli.main, ["run", "--months", " 2018-01, ,2017-12-01,2018-01 "])
    assert seen["backfill_months"] == "2017-12,2018-01"
    assert result.exit_code == 2 and "error: stop here" in result.output
