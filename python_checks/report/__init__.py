"""The stakeholder report: Q1-Q5 answered in words, tables and charts.

`write_report` reads what `billups run` exports (OUTPUT_DIR/marts/<mart>.csv and
OUTPUT_DIR/quality/row_ledger.csv) plus dbt's run_results.json and manifest.json
(which marts to report and their columns; each mart's build and test status),
and writes

- OUTPUT_DIR/report.md      Markdown, charts referenced as charts/<name>.png
- OUTPUT_DIR/report.html    the same report, self-contained (inline CSS, charts
                            embedded as base64 data URIs, no external resources)
- OUTPUT_DIR/charts/*.png   the charts

Every figure names the mart it was drawn from and whether that mart's dbt tests
passed in the run. A mart that is missing, empty or lacks a contract column is
reported as such in its section; the rest of the report is still written.

The parts: marts.py (loading and dbt status), charts.py, sections.py (the text),
formats.py (numbers and labels); python_checks/document.py renders.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from python_checks.artifacts import load_manifest
from python_checks.document import Document, render_html, render_markdown
from python_checks.report.context import ReportContext, guarded
from python_checks.report.formats import (
    fmt_amount,
    fmt_compact,
    fmt_int,
    fmt_pct,
)
from python_checks.report.marts import contract_columns, load_mart, mart_statuses
from python_checks.report.sections import (
    _runs,
    _section_parameters,
    _section_q1,
    _section_q2,
    _section_q3,
    _section_q4,
    _section_q5,
    _section_quality,
    _section_sources,
)

__all__ = ["ReportPaths", "write_report", "save_run_artifacts", "mart_statuses", "fmt_amount",
           "fmt_compact", "fmt_int", "fmt_pct", "_runs"]


@dataclass
class ReportPaths:
    """What `write_report` wrote."""

    markdown: Path
    html: Path
    charts: list[Path] = field(default_factory=list)


def write_report(output_dir: Path, run_results: Path | None, parameters: dict,
                 *, project_dir: Path | None = None, quality_dir: Path | None = None,
                 manifest: Path | None = None) -> ReportPaths:
    """Write report.md, report.html and charts/*.png into `output_dir` from its marts/
    exports and the row ledger in `quality_dir` (default output_dir/quality), with each
    mart's test status from `run_results`. The marts and their columns come from the
    manifest (default: the manifest.json beside run_results). `parameters` are the dbt
    vars of the run (shown beside dbt_project.yml's)."""
    if project_dir is None:
        from python_checks.project import PROJECT_DIR

        project_dir = PROJECT_DIR
    output_dir = Path(output_dir)
    charts_dir = output_dir / "charts"
    charts_dir.mkdir(parents=True, exist_ok=True)
    for old in charts_dir.glob("*.png"):  # never show a previous run's chart
        old.unlink()
    manifest_path = manifest or (Path(run_results).parent / "manifest.json"
                                 if run_results else None)
    if manifest_path is None or not manifest_path.exists():
        raise FileNotFoundError(f"no dbt manifest.json ({manifest_path}): it says which marts "
                                "to report; run `billups run` first")
    parsed = load_manifest(manifest_path)
    columns = contract_columns(parsed)
    marts = {name: load_mart(output_dir / "marts", name, cols) for name, cols in columns.items()}
    statuses = mart_statuses(run_results, parsed, list(columns))
    body = Document("body")
    ctx = ReportContext(output_dir, charts_dir, marts, statuses, body, run_results,
                   Path(project_dir))
    sections: list[Callable[[ReportContext], None]] = [
        _section_q1, _section_q2, _section_q3, _section_q4, _section_q5]
    for number, section in enumerate(sections, start=1):
        guarded(ctx, f"Q{number}", section)
    _section_parameters(ctx, parameters, Path(project_dir))
    _section_quality(ctx, (quality_dir or output_dir / "quality") / "row_ledger.csv")
    _section_sources(ctx, run_results)

    title = "Billups merchant analytics: answers to Q1–Q5"
    head = Document(title)
    head.heading(1, title)
    failing = [s.mart for s in statuses.values() if s.failed or s.build in {"error", "skipped"}]
    missing = [m.name for m in marts.values() if m.frame is None]
    status = ("every mart's dbt tests passed in this run" if not failing and not missing
              and all(s.known for s in statuses.values()) else
              "; ".join(filter(None, [
                  f"tests failed or build incomplete for {', '.join(failing)}" if failing
                  else "",
                  f"not available: {', '.join(missing)}" if missing else "",
                  "test status unknown (no dbt run results)"
                  if not all(s.known for s in statuses.values()) else ""])))
    head.para(f"Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. "
              f"Status: {status}. Each section gives the answer first, then a table and a "
              f"chart; every figure names the mart behind it and its test status.")
    head.heading(2, "At a glance")
    head.bullets(ctx.glance)
    doc = Document(title, head.blocks + body.blocks)

    markdown = output_dir / "report.md"
    markdown.write_text(render_markdown(doc, output_dir), encoding="utf-8")
    html_path = output_dir / "report.html"
    html_path.write_text(render_html(doc), encoding="utf-8")
    return ReportPaths(markdown=markdown, html=html_path, charts=list(ctx.charts))


def save_run_artifacts(target: Path, dest: Path) -> Path | None:
    """Copy dbt's run_results.json and manifest.json from `target` to `dest`, so the
    report reads the build's results even after a later dbt command replaced them.
    Returns the copied run_results.json, or None when there was none."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("run_results.json", "manifest.json"):
        (dest / name).unlink(missing_ok=True)
        if (target / name).exists():
            (dest / name).write_bytes((target / name).read_bytes())
    return dest / "run_results.json" if (dest / "run_results.json").exists() else None
