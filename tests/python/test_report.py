"""The stakeholder report on small hand-made marts (no Spark, no dbt): every
question answered with its key number, valid charts, a self-contained HTML, the
test status of each figure's mart, and a missing mart reported, not crashed."""

from __future__ import annotations

import csv
import json
import re
import shutil
from pathlib import Path

import pytest
from conftest import parsed_manifest

from python_checks.artifacts import load_manifest
from python_checks.artifacts import marts as manifest_marts
from python_checks.report import (
    _runs,
    fmt_amount,
    fmt_compact,
    fmt_int,
    fmt_pct,
    mart_statuses,
    write_report,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MARTS = ("top_merchants_by_month_city", "avg_sale_by_merchant_state", "top_hours_by_category",
         "popular_merchant_cities", "city_category_mix", "city_category_association",
         "advice_cities", "advice_categories", "advice_months", "advice_hours",
         "advice_opening_window", "advice_installments")


def _write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(["" if value is None else value for value in row] for row in rows)


def _months() -> list[tuple[str, str]]:
    names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    months = [(f"2017-{i + 1:02d}-01", f"{names[i]} 2017") for i in range(12)]
    return months + [("2018-01-01", "Jan 2018"), ("2018-02-01", "Feb 2018")]


def write_marts(marts: Path) -> None:
    """All 12 marts with the SPEC export columns, numbers chosen so the answers are known."""
    months = _months()
    rows = []
    for month, label in months:
        for city, scale in ((69, 10.0), (1, 6.0), (19, 3.0), (158, 2.0), (-1, 1.0)):
            for rank in range(1, 6):
                merchant = "M_ID_leader" if rank == 1 else f"M_ID_{city}_{rank}"
                name = "M_ID_leader" if rank == 1 else f"Shop {city}-{rank} inc"
                total = round(scale * 1_000_000 / rank, 2)
                rows.append([month, label, city, rank, merchant, name, total, int(total // 50)])
    _write(marts / "top_merchants_by_month_city.csv",
           ["month", "month_label", "city_id", "rank", "merchant_id", "merchant_name",
            "purchase_total", "no_of_sales"], rows)
    avg_rows = [[1, "M_ID_a", "Big Ticket inc", 5, "39896.82", 1, "39896.82"],
                [2, "M_ID_b", "Steady inc", 16, "25220.16", 32, "807045.26"],
                [3, "M_ID_c", "Small inc", -1, "100.50", 40, "4020.00"]]
    _write(marts / "avg_sale_by_merchant_state.csv",
           ["rank", "merchant_id", "merchant_name", "state_id", "average_amount", "no_of_sales",
            "purchase_total"], avg_rows)
    hour_rows = []
    for category, hours in (("A", (13, 12, 17)), ("B", (13, 12, 14)), ("C", (17, 16, 15)),
                            ("Unknown category", (0, 12, 13))):
        for rank, hour in enumerate(hours, start=1):
            hour_rows.append([category, rank, hour, f"{hour:02d}00", 5_000_000 - rank * 1000,
                              1000 - rank])
    _write(marts / "top_hours_by_category.csv",
           ["category", "rank", "hour", "hour_label", "purchase_total", "no_of_sales"],
           hour_rows)
    popular = []
    for rank, merchant in enumerate(("M_ID_leader", "M_ID_second", "M_ID_third"), start=1):
        total = 1000 // rank
        splits = ((69, 0.5), (1, 0.3), (19, 0.2))
        for city_rank, (city, share) in enumerate(splits, start=1):
            popular.append([rank, merchant, merchant, total, city, int(total * share), share,
                            city_rank, 69])
    _write(marts / "popular_merchant_cities.csv",
           ["merchant_rank", "merchant_id", "merchant_name", "merchant_transactions", "city_id",
            "city_transactions", "city_share", "rank_in_city", "registered_city_id"], popular)
    mix = []
    overall = {"A": 0.53, "B": 0.40, "C": 0.06, "Unknown category": 0.01}
    for city, shares in ((69, (0.56, 0.38, 0.05, 0.01)), (1, (0.12, 0.69, 0.18, 0.01)),
                         (19, (0.55, 0.39, 0.05, 0.01))):
        for (category, base), share in zip(overall.items(), shares, strict=True):
            mix.append([city, category, int(share * 10_000), share, base,
                        round(share / base, 4)])
    _write(marts / "city_category_mix.csv",
           ["city_id", "category", "no_of_sales", "city_share", "overall_share", "lift"], mix)
    _write(marts / "city_category_association.csv",
           ["n", "n_cities", "n_categories", "chi_square", "degrees_of_freedom", "cramers_v",
            "cramers_v_corrected", "strength", "excluded_unknown_city_rows"],
           [[30000, 3, 4, "740926.73", 6, "0.1843", "0.1841", "weak", 120]])
    _write(marts / "advice_cities.csv",
           ["rank", "city_id", "approved_amount", "approved_share", "approved_count",
            "average_ticket", "distinct_merchants", "amount_per_merchant", "growth_rate",
            "all_rows_amount"],
           [[1, 69, "16900000.00", "0.169000", 845, "20000.00", 120, "140833.33", "0.25",
             "18000000.00"],
            [2, 1, "7700000.00", "0.077000", 385, "20000.00", 80, "96250.00", "0.31",
             "8000000.00"],
            [3, 19, "3800000.00", "0.038000", 190, "20000.00", 40, "95000.00", None,
             "4000000.00"],
            [4, 158, "3000000.00", "0.030000", 150, "20000.00", 30, "100000.00", "-0.05",
             "3100000.00"]])
    _write(marts / "advice_categories.csv",
           ["rank", "category", "approved_amount", "approved_share", "approved_count",
            "average_ticket", "distinct_merchants", "amount_per_merchant", "all_rows_amount"],
           [[1, "A", "5370000.00", "0.537000", 268, "20037.31", 100, "53700.00", "5800000.00"],
            [2, "B", "3990000.00", "0.399000", 199, "20050.25", 90, "44333.33", "4300000.00"],
            [3, "C", "580000.00", "0.058000", 29, "20000.00", 10, "58000.00", "600000.00"],
            [4, "Unknown category", "60000.00", "0.006000", 3, "20000.00", 3, "20000.00",
             "61000.00"]])
    month_rows = []
    for month, label in months:
        index = 1.6 if label == "Dec 2017" else 0.54 if label == "Jan 2017" else 1.0
        days = 20 if label == "Feb 2018" else 28
        month_rows.append([month, label, 1000 * index * days, 50, days, 1000 * index,
                           index, "true" if days == 20 else "false"])
    _write(marts / "advice_months.csv",
           ["month", "month_label", "approved_amount", "approved_count", "observed_days",
            "amount_per_observed_day", "seasonality_index", "is_partial_month"], month_rows)
    shares = [0.01] * 9 + [0.06] * 13 + [0.01] * 2
    total = sum(shares)
    _write(marts / "advice_hours.csv",
           ["hour", "hour_label", "approved_amount", "approved_count", "approved_share"],
           [[h, f"{h:02d}00", round(share * 1e6, 2), 10, round(share / total, 6)]
            for h, share in enumerate(shares)])
    _write(marts / "advice_opening_window.csv",
           ["opening_hour", "closing_hour", "hours_open", "coverage", "coverage_target"],
           [[9, 22, 13, "0.8190", "0.80"]])
    inst = []
    for scenario, basis in (("monthly", "monthly"), ("flat", "flat")):
        inst.append([scenario, "single", None, "9000000.00", "9500000.00", 450, "20000.00",
                     "0", "0.25", "2250000.00", "2250000.00", "0", "true"])
        for n in (2, 3, 6, 12):
            p = 1 - (1 - 0.229) ** n if basis == "monthly" else 0.229
            rate = 0.25 - 0.5 * p
            uplift = 0.25 / rate - 1 if rate > 0 else None
            inst.append([scenario, "installments", n, "100000.00", "120000.00", 5,
                         "20000.00", round(p, 6), round(rate, 6), round(1e5 * rate, 2),
                         "25000.00", None if uplift is None else round(uplift, 6),
                         "true" if rate > 0 else "false"])
        inst.append([scenario, "unknown", None, "500.00", "600.00", 1, "500.00", None, None,
                     None, None, None, None])
    _write(marts / "advice_installments.csv",
           ["scenario", "plan_type", "installments", "approved_exposure", "all_rows_exposure",
            "approved_count", "average_ticket", "p_default", "expected_profit_rate",
            "expected_profit", "single_payment_profit", "break_even_uplift", "is_recommended"],
           inst)


def write_ledger(quality: Path) -> None:
    _write(quality / "row_ledger.csv",
           ["source_name", "source_file", "reason_code", "reason_description", "row_count"],
           [["transactions", "file:///data/historical_transactions.parquet", "cleaned",
             "Row passed validation.", 29979],
            ["transactions", "file:///data/historical_transactions.parquet",
             "invalid_purchase_date", "purchase_date does not parse.", 12],
            ["transactions", "file:///data/historical_transactions.parquet",
             "missing_purchase_amount", "purchase_amount is null.", 9],
            ["merchants", "file:///data/merchants.csv", "cleaned", "Row passed validation.",
             1386]])


def _result(unique_id: str, status: str) -> dict:
    """One record of a run_results.json (schema v6), as dbt writes it."""
    return {"status": status, "timing": [], "thread_id": "Thread-1", "execution_time": 0.5,
            "adapter_response": {}, "message": None, "failures": 1 if status == "fail" else 0,
            "unique_id": unique_id, "compiled": True, "compiled_code": "select 1",
            "relation_name": None, "batch_results": None}


def write_dbt_artifacts(target: Path, manifest: Path,
                        failing_mart: str | None = "advice_hours") -> Path:
    """run_results.json beside the project's real manifest.json: every mart
    built, its data tests and unit tests run; one data test of `failing_mart`
    fails."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(manifest, target / "manifest.json")
    nodes = json.loads(manifest.read_text())
    results = []
    for mart in MARTS:
        model = f"model.billups_analytics.{mart}"
        results.append(_result(model, "success"))
        tests = sorted(test_id for test_id, node in nodes["nodes"].items()
                       if test_id.startswith("test.") and node.get("attached_node") == model)
        for index, test_id in enumerate(tests):
            results.append(_result(test_id, "fail" if mart == failing_mart and index == 0
                                   else "pass"))
        results += [_result(unit_id, "pass") for unit_id, node in nodes["unit_tests"].items()
                    if node["model"] == mart]
    run_results = target / "run_results.json"
    run_results.write_text(json.dumps({
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                     "dbt_version": "1.11.16", "generated_at": "2026-01-01T00:00:00Z",
                     "invocation_id": "00000000-0000-0000-0000-000000000000", "env": {}},
        "results": results, "elapsed_time": 1.0,
        "args": {"vars": {"data_dir": "/data"}}}))
    return run_results


def write_project(project: Path) -> Path:
    project.mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: billups_analytics\n"
        "vars:\n"
        "  data_dir: \"{{ env_var('BILLUPS_DATA_DIR', 'data/raw') }}\"\n"
        "  gross_margin: 0.25\n"
        "  monthly_default_rate: 0.229\n"
        "  opening_coverage_target: 0.8\n")
    _write(project / "seeds" / "installment_scenarios.csv",
           ["scenario", "description", "default_rate_basis"],
           [["monthly", "Rate applies every month.", "monthly"],
            ["flat", "Flat lifetime rate.", "flat"]])
    return project


@pytest.fixture(scope="module")
def manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return parsed_manifest(tmp_path_factory.mktemp("parsed"))


def complete_columns(marts: Path, manifest: Path) -> None:
    """Give each hand-made mart every column of its contract (the extra ones
    empty), as an export has them."""
    for mart in manifest_marts(load_manifest(manifest)):
        path = marts / f"{mart.name}.csv"
        if not path.exists():
            continue
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        header = list(rows[0]) if rows else []
        header += [column for column in mart.columns if column not in header]
        _write(path, header, [[row.get(column, "") for column in header] for row in rows])


@pytest.fixture()
def run_dir(tmp_path: Path, manifest: Path) -> tuple[Path, Path, Path]:
    out = tmp_path / "out"
    write_marts(out / "marts")
    complete_columns(out / "marts", manifest)
    write_ledger(out / "quality")
    run_results = write_dbt_artifacts(tmp_path / "target", manifest)
    project = write_project(tmp_path / "project")
    return out, run_results, project


def _plain(text: str) -> str:
    return text.replace("**", "").replace("`", "")


def _section(markdown: str, heading: str) -> str:
    """The text from `heading` to the next heading of the same or a higher level."""
    level = heading.split(" ")[0]
    start = markdown.index(heading)
    rest = markdown[start + len(heading):]
    ends = [m.start() for m in re.finditer(rf"^#{{1,{len(level)}}} ", rest, re.M)]
    return heading + (rest[: ends[0]] if ends else rest)


def _caption_of(markdown: str, chart: str) -> str:
    lines = markdown.splitlines()
    index = next(i for i, line in enumerate(lines) if f"charts/{chart}" in line)
    return next(line for line in lines[index + 1:] if line.startswith("*Figure"))


def test_report_answers_every_question_with_its_key_number(run_dir):
    out, run_results, project = run_dir
    paths = write_report(out, run_results, {"data_dir": "/data"}, project_dir=project)
    markdown = paths.markdown.read_text()
    expected = {
        "## Q1.": "In Jan 2018, the largest city, City 69, was led by "
                  "M_ID_leader with 10.0 M of purchases (200,000 sales)",
        "## Q2.": "among pairs with at least 30 sales it is Steady inc in State 16: 25,220.16",
        "## Q3.": "Category A at 13:00",
        "### Q4a.": "The most popular, M_ID_leader (1,000 transactions in 3 cities)",
        "### Q4b.": "Cramér's V = 0.184",
        "### Q5a.": "City 69 brings 16.9% of approved sales",
        "### Q5b.": "Category A brings 53.7% of approved sales",
        "### Q5c.": "The strongest month is Dec 2017 (index 1.60",
        "### Q5d.": "Open 09:00–22:00 (13 hours)",
        "### Q5e.": "Only 2-installment plans stay profitable under the monthly scenario",
    }
    assert "Later months (Feb 2018) are partial" in markdown
    for heading, sentence in expected.items():
        section = _section(markdown, heading)
        assert "**Answer.**" in section, heading
        assert sentence in _plain(section), (heading, section[:600])
    assert "Under the flat scenario every plan stays profitable (13.6% of the sale)" in \
        _plain(markdown)
    # The at-a-glance list repeats each answer before the details.
    glance = _section(markdown, "## At a glance")
    for key in ("Q1", "Q2", "Q3", "Q4a", "Q4b", "Q5a", "Q5b", "Q5c", "Q5d", "Q5e"):
        assert f"- **{key}**" in glance


def test_assumptions_parameters_and_data_quality(run_dir):
    out, run_results, project = run_dir
    markdown = write_report(out, run_results, {"data_dir": "/data", "top_popular_merchants": 3},
                            project_dir=project).markdown.read_text()
    params = _section(markdown, "## Assumptions and parameters")
    assert "| `gross_margin` | `0.25` | dbt_project.yml default |" in params
    assert "| `data_dir` | `/data` | this run |" in params
    assert "| `top_popular_merchants` | `3` | this run |" in params
    assert "Rate applies every month." in params          # the scenarios seed
    assert "0.25 − 0.5 · p(n)" in params                  # the installment model
    quality = _section(markdown, "## Data quality")
    assert "transactions: 30,000 rows in, 29,979 cleaned, 21 rejected" in quality
    assert "| transactions | `invalid_purchase_date` | purchase_date does not parse. | 12 |" \
        in quality


def test_charts_are_valid_pngs_and_the_html_is_self_contained(run_dir):
    out, run_results, project = run_dir
    paths = write_report(out, run_results, {}, project_dir=project)
    names = {path.name for path in paths.charts}
    assert {"q1_top_merchants_largest_cities.png", "q5c_monthly_seasonality.png",
            "q5d_hours_opening_window.png", "q4b_city_category_mix.png",
            "q5e_installment_profit_rate.png"} <= names
    assert len(paths.charts) >= 5
    for chart in paths.charts:
        data = chart.read_bytes()
        assert chart.parent == out / "charts"
        assert data.startswith(PNG_SIGNATURE) and data[12:16] == b"IHDR"
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        assert width >= 600 and height >= 300
    page = paths.html.read_text()
    assert page.count('src="data:image/png;base64,') == len(paths.charts)
    assert not re.search(r"https?://", page)
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert "<style>" in page


def test_each_figure_names_its_mart_and_whether_its_tests_passed(run_dir):
    out, run_results, project = run_dir
    markdown = write_report(out, run_results, {}, project_dir=project).markdown.read_text()
    failing = _caption_of(markdown, "q5d_hours_opening_window.png")
    assert "`advice_hours`: tests failed in this run (1 of " in failing
    assert "row_checks_advice_hours" in failing  # the failing test, by name
    passing = _caption_of(markdown, "q1_top_merchants_largest_cities.png")
    assert re.search(r"`top_merchants_by_month_city`: tests passed in this run \((\d+) of \1\)",
                     passing), passing
    assert "tests failed" not in passing
    assert "tests failed or build incomplete for advice_hours" in markdown


def test_a_missing_mart_is_reported_not_crashed(run_dir):
    out, run_results, project = run_dir
    (out / "marts" / "advice_months.csv").unlink()
    (out / "marts" / "city_category_association.csv").write_text("n,n_cities\n1,2\n")
    paths = write_report(out, run_results, {}, project_dir=project)
    markdown = paths.markdown.read_text()
    q5c = _section(markdown, "### Q5c.")
    assert "Not available in this run: mart `advice_months` was not found" in q5c
    q4b = _section(markdown, "### Q4b.")
    assert "mart `city_category_association` lacks the contract column(s)" in q4b
    names = {path.name for path in paths.charts}
    assert "q5c_monthly_seasonality.png" not in names
    assert "q4b_city_category_mix.png" not in names
    assert "q5d_hours_opening_window.png" in names
    assert "City 69 brings 16.9% of approved sales" in _plain(markdown)
    assert "not available: city_category_association, advice_months" in markdown


def test_report_without_any_mart_or_run_results(tmp_path, manifest):
    paths = write_report(tmp_path, None, {}, project_dir=tmp_path, manifest=manifest)
    markdown = paths.markdown.read_text()
    assert markdown.count("Not available in this run: mart") == len(MARTS)
    assert "Not available in this run: the row ledger" in markdown
    assert "test status unknown (no dbt run results)" in markdown
    assert paths.charts == []
    assert paths.html.exists()


def test_the_marts_and_their_columns_come_from_the_manifest(manifest):
    """One truth: the exposure mart_exports lists the marts in order; their YAML
    the columns, the SPEC's export columns first."""
    marts = manifest_marts(load_manifest(manifest))
    assert tuple(mart.name for mart in marts) == MARTS
    q1 = marts[0]
    assert q1.columns[:8] == ("month", "month_label", "city_id", "rank", "merchant_id",
                              "merchant_name", "purchase_total", "no_of_sales")
    assert q1.data_types["purchase_total"] == "decimal(38,2)"
    assert q1.grain == ("month", "city_id", "merchant_id")


def test_opening_window_crossing_midnight(run_dir, manifest):
    out, run_results, project = run_dir
    _write(out / "marts" / "advice_opening_window.csv",
           ["opening_hour", "closing_hour", "hours_open", "coverage", "coverage_target"],
           [[20, 2, 6, "0.8100", "0.80"]])
    complete_columns(out / "marts", manifest)
    paths = write_report(out, run_results, {}, project_dir=project)
    q5d = _plain(_section(paths.markdown.read_text(), "### Q5d."))
    assert "Open 20:00–02:00 (6 hours) (the window crosses midnight)" in q5d
    assert (out / "charts" / "q5d_hours_opening_window.png").exists()
    assert _runs([20, 21, 22, 23, 0, 1]) == [(0, 2), (20, 24)]
    assert _runs(range(24)) == [(0, 24)]


def test_mart_statuses_from_run_results_and_manifest(tmp_path, manifest):
    run_results = write_dbt_artifacts(tmp_path, manifest, failing_mart="top_hours_by_category")
    parsed = load_manifest(tmp_path / "manifest.json")
    statuses = mart_statuses(run_results, parsed, MARTS)
    hours = statuses["top_hours_by_category"]
    assert len(hours.failed) == 1 and hours.tests > 1
    assert hours.label.startswith(f"tests failed in this run (1 of {hours.tests}: ")
    cities = statuses["advice_cities"]
    assert cities.passed > 1 and not cities.failed
    assert cities.label == f"tests passed in this run ({cities.passed} of {cities.passed})"
    assert not mart_statuses(None, parsed, MARTS)["advice_cities"].known


def test_mart_status_of_a_failed_build(tmp_path, manifest):
    run_results = write_dbt_artifacts(tmp_path, manifest, failing_mart=None)
    document = json.loads(run_results.read_text())
    statuses = {"model.billups_analytics.advice_months": "error",
                "model.billups_analytics.advice_hours": "skipped"}
    document["results"] = [_result(unique_id, status) for unique_id, status in statuses.items()]
    run_results.write_text(json.dumps(document))
    found = mart_statuses(run_results, load_manifest(manifest), MARTS)
    assert found["advice_months"].label == "build failed in this run"
    assert found["advice_hours"].label.startswith("not built in this run")
    assert found["advice_cities"].label == "not rebuilt in this run (its inputs did not change)"


def test_numbers_are_formatted_for_humans():
    assert fmt_int(7274367) == "7,274,367"
    assert fmt_amount(1234567.891) == "1,234,568"
    assert fmt_amount(20097.1145, 2) == "20,097.11"
    assert fmt_pct(0.169) == "16.9%"
    assert fmt_pct(-0.0001, signed=True) == "+0.0%"  # never "-0.0%"
    assert fmt_pct(0.298, signed=True) == "+29.8%"
    assert fmt_compact(21979580633) == "22.0 bn"
    assert fmt_compact(68891733.96) == "68.9 M"
    assert fmt_compact(273217.3) == "273.2 k"
    assert fmt_pct(None) == "–"


def test_a_mart_the_report_cannot_read_is_said_in_its_section(run_dir, manifest):
    out, run_results, project = run_dir
    _write(out / "marts" / "advice_months.csv",
           ["month", "month_label", "approved_amount", "approved_count", "observed_days",
            "amount_per_observed_day", "seasonality_index", "is_partial_month"],
           [["2017-01-01", "Jan 2017", "1.00", 1, 1, "1.00", None, "false"]])
    complete_columns(out / "marts", manifest)
    paths = write_report(out, run_results, {}, project_dir=project)
    markdown = paths.markdown.read_text()
    q5c = _plain(_section(markdown, "### Q5c."))
    assert "This part could not be written from the exported marts" in q5c
    assert "mart advice_months has no numeric value in column seasonality_index" in q5c
    assert "Open 09:00–22:00 (13 hours)" in _plain(_section(markdown, "### Q5d."))
