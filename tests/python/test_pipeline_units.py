"""Fast tests of the run wrapper's own logic (no Spark)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import python_checks.pipeline as pipeline_module
from python_checks import pipeline
from python_checks.artifacts import Outcome
from python_checks.inputs import check_inputs
from python_checks.pipeline import check_metastore_free, count_tests
from python_checks.project import PipelineError, collect_part_files, first_error_line
from python_checks.quality import gates, override_hint, verdict

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


def _outcome(unique_id: str, status: str, message: str | None = None) -> Outcome:
    return Outcome(unique_id, status, message, None, 0.1, None)


def test_count_tests_by_status() -> None:
    counts = count_tests([_outcome("model.p.a", "success"), _outcome("test.p.t1.x", "pass"),
                          _outcome("unit_test.p.a.u1", "pass"), _outcome("test.p.t2.x", "warn"),
                          _outcome("test.p.t3.x", "fail")])
    assert counts == {"pass": 2, "warn": 1, "fail": 1, "error": 0, "skipped": 0}


def _metric(name: str, value: int, denominator: int, status: str, on: str = "rate",
            error_above: float = 0.05) -> dict:
    return {"name": name, "value": value, "denominator": denominator,
            "rate": value / denominator, "threshold_on": on, "warn_above": 0.0,
            "error_above": error_above, "threshold_source": "seeds/quality_thresholds.csv",
            "status": status, "is_anomaly": False}


def test_gates_name_every_tripped_gate_in_one_line_each() -> None:
    metrics = [_metric("merchant_id_not_in_merchants", 98_420, 196_447, "error"),
               _metric("transactions_unreconciled_rows", 12, 1000, "error", on="count",
                       error_above=0),
               _metric("denied", 10, 1000, "warn")]
    tests = [{"name": "assert_every_input_row_is_cleaned_or_rejected", "model": None,
              "status": "fail", "failures": 1},
             {"name": "qa_metrics_no_metric_above_error_threshold", "model": "qa_metrics",
              "status": "fail", "failures": 2},
             {"name": "row_checks_x", "model": "x", "status": "warn", "failures": 3}]
    results = [_outcome("model.p.advice_hours", "error", "Runtime Error\n  boom"),
               _outcome("model.p.advice_cities", "success")]
    tripped = gates(tests, metrics, [{"source": "billups.t", "status": "pass"}], results,
                    ["advice_cities", "advice_hours", "advice_months"])
    assert tripped == [
        "merchant_id_not_in_merchants 98,420 rows (50.1%) > error 5% "
        "(seeds/quality_thresholds.csv)",
        "transactions_unreconciled_rows 12 rows (1.2%) > error 0 rows "
        "(seeds/quality_thresholds.csv)",
        "test assert_every_input_row_is_cleaned_or_rejected on the project failed "
        "(1 failing rows)",
        "advice_hours did not build (Runtime Error)",
        "marts not built by this run: advice_hours",
    ]
    assert verdict(tripped, [], metrics, [], strict=False) == ("error", 2)
    assert verdict([], tests[2:], metrics[2:], [], strict=True) == ("warn", 1)
    assert verdict([], tests[2:], metrics[2:], [], strict=False) == ("warn", 0)
    assert pipeline.verdict(2, tripped[:1]) == "quality gate failed: " + tripped[0]
    assert "{merchant_id_not_in_merchants: {error_above: 0.501" in override_hint(metrics[0])


def test_publish_replaces_the_set_and_hold_back_keeps_it(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "marts").mkdir(parents=True)
    (out / "marts" / "q1.csv").write_text("old\n")
    (out / "report.md").write_text("old report\n")
    candidate = out / ".candidate"
    (candidate / "marts").mkdir(parents=True)
    (candidate / "marts" / "q1.csv").write_text("held\n")
    held = pipeline.hold_back(candidate, out, ["denied 1 rows (1.0%) > error 0%"])
    assert (out / "marts" / "q1.csv").read_text() == "old\n"
    assert (held / "marts" / "q1.csv").read_text() == "held\n"
    assert "denied" in (held / "NOT_PUBLISHED.txt").read_text()
    (candidate / "marts").mkdir(parents=True)
    (candidate / "marts" / "q1.csv").write_text("new\n")
    (candidate / "report.md").write_text("new report\n")
    pipeline.publish(candidate, out)
    assert (out / "marts" / "q1.csv").read_text() == "new\n"
    assert (out / "report.md").read_text() == "new report\n"
    assert not candidate.exists()
    assert sorted(path.name for path in out.iterdir()) == ["marts", "report.md", "unpublished"]


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
        check_inputs(tmp_path)


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
