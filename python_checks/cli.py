"""The `billups` command line: generate synthetic data, run the pipeline."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from python_checks.pipeline import PipelineError, format_summary, has_inputs, run_pipeline


@click.group()
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
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="BILLUPS_DATA_DIR",
              default=Path("data/raw"), show_default=True,
              help="Folder with historical_transactions.parquet and merchants.csv "
                   "(env BILLUPS_DATA_DIR).")
@click.option("--output-dir", type=click.Path(path_type=Path), default=Path("output"),
              show_default=True, help="Where the CSV exports land.")
@click.option("--target", type=click.Choice(["local", "cluster"]), default="local",
              show_default=True, help="local: embedded Spark; cluster: Spark Thrift Server.")
@click.option("--generate-if-missing", is_flag=True,
              help="Generate the full-scale synthetic set into --data-dir when it holds no "
                   "input files.")
def run(data_dir: Path, output_dir: Path, target: str, generate_if_missing: bool) -> None:
    """Build and test everything with dbt, export the marts, print a summary."""
    if generate_if_missing and not has_inputs(data_dir):
        from python_checks.generate import generate as generate_files

        click.echo(f"==> no input files in {data_dir}: generating the full-scale synthetic "
                   "set there first")
        started = time.perf_counter()
        generate_files(data_dir)
        click.echo(f"    generate: done in {time.perf_counter() - started:.1f}s")
    try:
        summary = run_pipeline(data_dir, output_dir, target=target, echo=click.echo)
    except PipelineError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    click.echo(format_summary(summary, output_dir.resolve()))
    sys.exit(0 if summary.ok else 1)


if __name__ == "__main__":
    main()
