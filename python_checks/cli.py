"""The `billups` command line: generate synthetic data, run the pipeline."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Any

import click

from python_checks.pipeline import PipelineError, format_summary, has_inputs, run_pipeline
from python_checks.project import first_error_line


class Billups(click.Group):
    """The `billups` commands: a PipelineError (bad input, an engine not there,
    a build that could not start) is one line and exit 2, in every command."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PipelineError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)


@click.group(cls=Billups)
def main() -> None:
    """Billups merchant analytics: dbt on Spark, with Python checks."""


@main.command()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder to write historical_transactions.parquet, merchants.csv, "
                   "manifest.json.")
@click.option("--rows", type=click.IntRange(min=1), default=None,
              help="Transaction rows (default: the real file's 7,274,367).")
@click.option("--seed", type=int, default=42, show_default=True)
@click.option("--dirty", is_flag=True, help="Plant every known data problem, counted in the "
              "manifest.")
def generate(out_dir: Path, rows: int | None, seed: int, dirty: bool) -> None:
    """Write a synthetic data set in the real files' formats and shape."""
    from python_checks.generate import FULL_ROWS
    from python_checks.generate import generate as generate_files

    started = time.perf_counter()
    manifest = generate_files(out_dir, rows=rows or FULL_ROWS, seed=seed, dirty=dirty)
    click.echo(f"wrote {manifest['transactions']['rows']:,} transactions and "
               f"{manifest['merchants']['rows']:,} merchant rows to {out_dir} "
               f"in {time.perf_counter() - started:.1f}s")


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path, readable=False),
              envvar="BILLUPS_DATA_DIR",
              default=Path("data/raw"), show_default=True,
              help="Folder with historical_transactions.parquet and merchants.csv "
                   "(env BILLUPS_DATA_DIR).")
@click.option("--output-dir", type=click.Path(path_type=Path, readable=False),
              default=Path("output"),
              show_default=True, help="Where the CSV exports land.")
@click.option("--target", type=click.Choice(["local", "cluster"]), default="local",
              show_default=True, help="local: embedded Spark; cluster: Spark Thrift Server.")
@click.option("--generate-if-missing", is_flag=True,
              help="Generate the full-scale synthetic set into --data-dir when it holds no "
                   "input files.")
@click.option("--strict", is_flag=True, help="Exit 1 on data-quality warnings too.")
@click.option("--vars", "extra_vars", default="{}",
              help="Extra dbt vars as JSON/YAML, e.g. "
                   "'{quality_threshold_overrides: {denied: {error_above: 0.05}}}'.")
@click.option("--full-refresh", is_flag=True,
              help="Rebuild every table from all the input (after a changed rule or var, or "
                   "an input file removed), not only the months of newer input files.")
@click.option("--months", default="", callback=lambda _ctx, _param, value: parse_months(value),
              help="Backfill: rewrite these purchase months from every input file, e.g. "
                   "2018-01,2018-02 (a file re-delivered with its old modification time, "
                   "or a month lost from the table). dbt: the var backfill_months.")
@click.option("--unit-tests", is_flag=True,
              help="Also run the dbt unit tests (static fixtures: `make test` runs them; "
                   "production runs skip them, as dbt recommends).")
def run(data_dir: Path, output_dir: Path, target: str, generate_if_missing: bool,
        strict: bool, extra_vars: str, full_refresh: bool, months: str,
        unit_tests: bool) -> None:
    """Build and test everything with dbt (write), check data quality (audit),
    publish the marts and the report only when no error gate tripped. Exit 0
    when all pass, 1 on warnings with --strict, 2 on any error (a gate tripped:
    a metric above its error threshold, a failed error test or model; bad input),
    the last line naming it."""
    if generate_if_missing and not has_inputs(data_dir):
        from python_checks.generate import generate as generate_files

        click.echo(f"==> no input files in {data_dir}: generating the full-scale synthetic "
                   "set there first")
        started = time.perf_counter()
        generate_files(data_dir)
        click.echo(f"    generate: done in {time.perf_counter() - started:.1f}s")
    dbt_vars = parse_vars(extra_vars)
    if months:
        dbt_vars["backfill_months"] = months
    summary = run_pipeline(data_dir, output_dir, target=target, echo=click.echo,
                           strict=strict, extra_vars=dbt_vars, full_refresh=full_refresh,
                           unit_tests=unit_tests)
    click.echo(format_summary(summary, output_dir.resolve()))
    sys.exit(summary.exit_code)


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path, readable=False),
              envvar="BILLUPS_DATA_DIR",
              default=Path("data/raw"), show_default=True,
              help="Folder with the input files (env BILLUPS_DATA_DIR).")
@click.option("--output-dir", type=click.Path(path_type=Path, readable=False),
              default=Path("output"),
              show_default=True, help="Reports land in OUTPUT_DIR/quality/.")
@click.option("--target", type=click.Choice(["local", "cluster"]), default="local",
              show_default=True)
@click.option("--strict", is_flag=True, help="Exit 1 on warnings too.")
@click.option("--vars", "extra_vars", default="{}", help="Extra dbt vars as JSON/YAML.")
def check(data_dir: Path, output_dir: Path, target: str, strict: bool, extra_vars: str) -> None:
    """Re-run the data-quality metrics and every dbt data test on the built tables,
    write OUTPUT_DIR/quality/quality_report.{json,md,html}. Exit 0 all pass, 1 on
    warnings with --strict, 2 when a gate trips (the last line names it)."""
    from python_checks.inputs import check_inputs, prepare_output_dir
    from python_checks.pipeline import check_engine, verdict
    from python_checks.project import export_models, invoke_dbt, published_tables
    from python_checks.quality import collect_quality, format_table, write_quality_report

    data_dir, output_dir = data_dir.resolve(), output_dir.resolve()
    dbt_vars = {"data_dir": str(data_dir), **parse_vars(extra_vars)}
    inputs = check_inputs(data_dir)
    prepare_output_dir(output_dir)
    check_engine(target)
    click.echo("==> dbt run (quality metrics) and dbt test")
    metrics = invoke_dbt(["run", "--select", "path:models/quality"], target=target,
                         dbt_vars=dbt_vars)
    if not metrics.success:
        raise PipelineError("the quality models did not build (run `billups run` first): "
                            + first_error_line(metrics.error))
    # Data tests only: unit tests check SQL logic on fixtures, not the data.
    tests = invoke_dbt(["test", "--exclude-resource-type", "unit_test"], target=target,
                       dbt_vars=dbt_vars)
    if not tests.results:
        raise PipelineError("dbt test did not run: " + first_error_line(tests.error))
    _, quality_tables = published_tables()
    export_models({name: output_dir / "quality" / f"{file}.csv"
                   for name, file in quality_tables.items()},
                  output_dir / ".export", target=target, dbt_vars=dbt_vars)
    result = collect_quality(output_dir, inputs, metrics.results + tests.results,
                             target=target, dbt_vars=dbt_vars, strict=strict)
    paths = write_quality_report(result, output_dir)
    click.echo(format_table(result))
    click.echo(f"report: {paths['html']}")
    click.echo(verdict(result["exit_code"], result["gates"]))
    sys.exit(result["exit_code"])


# A purchase month, yyyy-MM (or the first day of one).
MONTH = re.compile(r"([0-9]{4}-(0[1-9]|1[0-2]))(-01)?")


def parse_months(text: str) -> str:
    """--months as the var backfill_months reads it: 'yyyy-MM,yyyy-MM'. Checked
    before Spark starts: a typo such as 2018-13 would otherwise name a month
    that matches no row and rewrite nothing."""
    months = [part.strip() for part in (text or "").split(",") if part.strip()]
    wrong = [month for month in months if not MONTH.fullmatch(month)]
    if wrong:
        raise click.BadParameter(
            f"{', '.join(repr(month) for month in wrong)}: not a month; expected yyyy-MM "
            "(01-12), e.g. 2018-02, or several: 2018-01,2018-02")
    return ",".join(sorted({MONTH.fullmatch(month).group(1) for month in months}))


def parse_vars(text: str) -> dict:
    """--vars as dbt takes them: a YAML (or JSON) mapping."""
    import yaml

    value = yaml.safe_load(text) or {}
    if not isinstance(value, dict):
        raise click.BadParameter("--vars must be a mapping, e.g. '{key: value}'")
    return value


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path, readable=False),
              envvar="BILLUPS_DATA_DIR",
              default=Path("data/raw"), show_default=True,
              help="Folder with the input files (registered on-run-start; env "
                   "BILLUPS_DATA_DIR). Build first: the catalog reads the built tables.")
@click.option("--target", type=click.Choice(["local", "cluster"]), default="local",
              show_default=True, help="local: embedded Spark; cluster: Spark Thrift Server.")
@click.option("--serve", is_flag=True, help="Then serve the site on 127.0.0.1 (Ctrl+C stops).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True,
              help="Port for --serve.")
def docs(data_dir: Path, target: str, serve: bool, port: int) -> None:
    """Generate the dbt docs site and check the conventions on it.

    Exits 1 listing every gap dbt-bouncer finds (dbt-bouncer.yml: descriptions,
    naming, contracts, grain tests, exposures, table columns missing from the
    YAML) and every model the catalog lacks.
    """
    import os

    from python_checks.docs import conventions, not_in_catalog
    from python_checks.docs import serve as serve_site
    from python_checks.inputs import check_inputs
    from python_checks.pipeline import check_engine
    from python_checks.project import invoke_dbt, target_dir

    # The generated site would otherwise load dbt's usage tracker from the internet.
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    data_dir = data_dir.resolve()
    check_inputs(data_dir)
    check_engine(target)
    click.echo("==> dbt docs generate")
    started = time.perf_counter()
    generated = invoke_dbt(["docs", "generate"], target=target,
                           dbt_vars={"data_dir": str(data_dir)})
    if not generated.success:
        click.echo(f"error: dbt docs generate failed: {first_error_line(generated.error)}",
                   err=True)
        sys.exit(1)
    click.echo(f"    docs generate: done in {time.perf_counter() - started:.1f}s "
               f"({target_dir() / 'index.html'})")
    missing = not_in_catalog(target_dir()) + conventions(target_dir(), catalog=True)
    if missing:
        click.echo(f"{len(missing)} convention or documentation gap(s) (dbt-bouncer.yml):")
        for item in missing:
            click.echo(f"  - {item}")
    else:
        click.echo("every model, seed, source, column and macro is described, and every "
                   "convention of dbt-bouncer.yml holds")
    if serve:
        click.echo(f"==> serving the docs on http://127.0.0.1:{port} (Ctrl+C to stop)")
        try:
            serve_site(target_dir(), port)
        except OSError as exc:
            click.echo(f"error: cannot serve on 127.0.0.1:{port} ({exc.strerror or exc}); "
                       "pick another port with --port", err=True)
            sys.exit(2)
    sys.exit(1 if missing else 0)


@main.command()
@click.option("--output-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("output"), show_default=True,
              help="The folder `billups run` wrote (marts/, quality/); the report lands there.")
@click.option("--run-results", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="dbt's run_results.json of the build, manifest.json beside it (default: "
                   "OUTPUT_DIR/dbt/run_results.json, else the project's target/).")
def report(output_dir: Path, run_results: Path | None) -> None:
    """Write the stakeholder report (report.md, report.html, charts/*.png) from the
    exported marts, without running dbt again."""
    from python_checks.project import target_dir
    from python_checks.report import write_report

    output_dir = output_dir.resolve()
    if not (output_dir / "marts").is_dir():
        click.echo(f"error: {output_dir / 'marts'} does not exist: run `billups run "
                   f"--output-dir {output_dir}` first.", err=True)
        sys.exit(2)
    if run_results is None:
        saved = output_dir / "dbt" / "run_results.json"
        run_results = saved if saved.exists() else target_dir() / "run_results.json"
    manifest = output_dir / "dbt" / "manifest.json"
    paths = write_report(output_dir, run_results if run_results.exists() else None, {},
                         manifest=manifest if manifest.exists() else None)
    click.echo(f"report: {paths.markdown}\n        {paths.html}\n"
               f"charts: {len(paths.charts)} in {output_dir / 'charts'}")


@main.command()
@click.argument("action", type=click.Choice(["up", "down", "status"]))
def cluster(action: str) -> None:
    """Start, stop or show the local Spark cluster (standalone master, one worker,
    Spark Thrift Server) that `--target cluster` builds through. State and logs
    in BILLUPS_CLUSTER_DIR (default .cluster/); ports from BILLUPS_THRIFT_PORT,
    BILLUPS_SPARK_MASTER_PORT, BILLUPS_SPARK_MASTER_UI_PORT, BILLUPS_SPARK_WORKER_UI_PORT.
    `status` exits 1 when the Thrift server does not answer."""
    from python_checks import cluster as local_cluster

    if action == "up":
        local_cluster.up(echo=click.echo)
    elif action == "down":
        local_cluster.down(echo=click.echo)
    elif not local_cluster.status(echo=click.echo):
        sys.exit(1)


@main.command("class-archive")
def class_archive_command() -> None:
    """Write the JVM class archive that starts Spark about 4.5 s sooner
    (`make setup` does it once per virtualenv; BILLUPS_CLASS_ARCHIVE moves it).
    Without it Spark starts as usual, so a failure here is a warning."""
    from python_checks import class_archive

    try:
        class_archive.build(echo=click.echo)
    except Exception as exc:  # noqa: BLE001 - an optional speed-up must not stop setup
        click.echo(f"warning: class archive not written ({exc.__class__.__name__}: "
                   f"{str(exc).splitlines()[0] if str(exc) else ''}); Spark starts without it",
                   err=True)


@main.command()
@click.option("--data-dir", type=click.Path(path_type=Path, readable=False),
              envvar="BILLUPS_DATA_DIR", default=Path("data/raw"), show_default=True,
              help="Folder with the input files (env BILLUPS_DATA_DIR).")
@click.option("--target", type=click.Choice(["local", "cluster"]), default="local",
              show_default=True)
def changed(data_dir: Path, target: str) -> None:
    """Build and test only what a change touched: the models, seeds, macros and
    configs modified since the last clean `billups run` on this warehouse, and
    everything downstream (dbt build --select state:modified+ --defer --state
    ...), their unit tests included. Exports are left as they are. Exit 0 when
    everything built and passed, 2 otherwise."""
    from python_checks.inputs import check_inputs
    from python_checks.pipeline import check_engine, state_dir
    from python_checks.project import invoke_dbt, target_dir

    state = state_dir(target)
    if not (state / "manifest.json").exists():
        raise PipelineError(f"no saved state in {state}: run `billups run` once, then "
                            "`billups changed` after each edit")
    check_inputs(data_dir.resolve())
    check_engine(target)
    built = invoke_dbt(["build", "--select", "state:modified+", "--defer", "--state",
                        str(state)], target=target, dbt_vars={"data_dir": str(data_dir.resolve())})
    failed = [r for r in built.results if r.status in {"error", "fail"}]
    models = [r.name for r in built.results if r.kind == "model"]
    tests = [r for r in built.results if r.kind in {"test", "unit_test"}]
    click.echo(f"changed: {len(models)} model(s) rebuilt ({', '.join(models) or 'none'}), "
               f"{len(tests)} test(s) run, {len(failed)} failed")
    for record in failed:
        click.echo(f"  FAILED {record.unique_id}: {first_error_line(record.message)}")
    if not built.success or failed:
        sys.exit(2)
    # The warehouse now holds the edited models: the next `changed` starts here.
    if (target_dir() / "manifest.json").exists():
        (state / "manifest.json").write_bytes((target_dir() / "manifest.json").read_bytes())
    sys.exit(0)


@main.command("conventions")
def conventions_command() -> None:
    """Check the project's conventions without Spark: `dbt parse`, then
    dbt-bouncer's manifest checks (dbt-bouncer.yml). Exit 1 listing each gap."""
    import tempfile

    from python_checks.docs import conventions
    from python_checks.project import invoke_dbt

    with tempfile.TemporaryDirectory() as scratch:
        parsed = invoke_dbt(["parse", "--target-path", scratch], quiet=True)
        if not parsed.success:
            click.echo(f"error: dbt parse failed: {first_error_line(parsed.error)}", err=True)
            sys.exit(2)
        gaps = conventions(Path(scratch))
    for gap in gaps:
        click.echo(f"  - {gap}")
    click.echo(f"{len(gaps)} convention gap(s)" if gaps else
               "conventions: every check of dbt-bouncer.yml passes")
    sys.exit(1 if gaps else 0)


def entry() -> None:
    """The `billups` command: a crash is one line and exit 2 (1 means
    warnings with --strict), its traceback kept in a file."""
    import tempfile
    import traceback

    try:
        main(standalone_mode=True)
    except Exception as exc:  # noqa: BLE001 - anything click did not handle
        log = Path(tempfile.gettempdir()) / f"billups-error-{time.strftime('%Y%m%dT%H%M%S')}.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        first = str(exc).splitlines()[0] if str(exc) else ""
        click.echo(f"error: internal error, {type(exc).__name__}: {first} (traceback in {log})",
                   err=True)
        sys.exit(2)


# Last, so `python -m python_checks.cli` sees every command defined above.
if __name__ == "__main__":
    entry()
