"""The input files against their contract, before Spark starts.

The contract is the source YAML (models/staging/billups/_billups__sources.yml):
each table's `meta` names its file and format, each column's `meta` the type
families it may have and whether a rule or an answer reads it. The on-run-start
macro register_sources applies the same contract inside dbt; checking here
first turns every bad input into one line that names the file and what was
expected, instead of a Java stack trace, and finds what the quality report
states about the inputs (rows per file, documented columns missing).
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from python_checks.project import PROJECT_DIR, PipelineError

SOURCES_YAML = PROJECT_DIR / "models" / "staging" / "billups" / "_billups__sources.yml"

#: Arrow type names -> the families register_sources checks (billups_type_family).
_FAMILIES = (("int", "integer"), ("uint", "integer"), ("double", "numeric"),
             ("float", "numeric"), ("halffloat", "numeric"), ("decimal", "numeric"),
             ("timestamp", "timestamp"), ("string", "string"), ("large_string", "string"))


@dataclass(frozen=True)
class ColumnRule:
    name: str
    data_type: str
    required: bool
    types: tuple[str, ...]


@dataclass(frozen=True)
class SourceSpec:
    """One input file as the source YAML describes it."""

    name: str
    file_name: str
    path_var: str
    format: str
    columns: tuple[ColumnRule, ...]

    @property
    def required(self) -> list[str]:
        return [column.name for column in self.columns if column.required]


@dataclass
class InputFile:
    """One file read (a part file of a folder counts as one)."""

    source: str
    path: Path
    rows: int
    bytes: int
    modified: float = 0.0  # modification time, epoch seconds


@dataclass
class CheckedInputs:
    """What the pre-check found: the paths dbt reads, every file with its rows,
    and the documented columns a file lacks (filled with nulls, reported)."""

    paths: dict[str, Path]
    files: list[InputFile] = field(default_factory=list)
    missing_optional: dict[str, list[str]] = field(default_factory=dict)
    extra_columns: dict[str, list[str]] = field(default_factory=dict)


def sources(path: Path = SOURCES_YAML) -> dict[str, SourceSpec]:
    """The input contract, by source table name."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    specs = {}
    for table in document["sources"][0]["tables"]:
        meta = table["config"]["meta"]
        columns = tuple(
            ColumnRule(column["name"], column["data_type"],
                       bool(column["config"]["meta"]["required"]),
                       tuple(column["config"]["meta"]["types"]))
            for column in table["columns"] if not column["name"].startswith("_"))
        specs[table["name"]] = SourceSpec(table["name"], meta["file_name"], meta["path_var"],
                                          meta["format"], columns)
    return specs


def family(arrow_type: Any) -> str:
    """The type family of a pyarrow type (as register_sources names them)."""
    name = str(arrow_type).lower()
    for prefix, found in _FAMILIES:
        if name.startswith(prefix):
            return found
    return name


def check_inputs(data_dir: Path, specs: dict[str, SourceSpec] | None = None) -> CheckedInputs:
    """Check the data folder and each input file against the contract; raise
    PipelineError with one line naming the file and what was expected."""
    specs = specs or sources()
    _check_folder(data_dir)
    checked = CheckedInputs(paths={})
    for spec in specs.values():
        path = data_dir / spec.file_name
        checked.paths[spec.name] = path
        try:
            found = path.exists()
        except PermissionError as exc:
            raise PipelineError(f"cannot read {path}: permission denied.") from exc
        if not found:
            raise PipelineError(
                f"input file not found: {path} ({spec.name}). Pass --data-dir DIR holding "
                + " and ".join(s.file_name for s in specs.values())
                + f", or generate a synthetic set with `billups generate --out {data_dir}`.")
        reader = _check_parquet if spec.format == "parquet" else _check_csv
        columns, files = reader(spec, path)
        names = {column.lower() for column in columns}
        checked.missing_optional[spec.name] = [
            rule.name for rule in spec.columns if not rule.required and rule.name not in names]
        documented = {rule.name for rule in spec.columns}
        checked.extra_columns[spec.name] = sorted(names - documented)
        checked.files.extend(files)
    return checked


def _check_folder(data_dir: Path) -> None:
    try:
        if not data_dir.exists():
            return  # check_inputs names the file it does not find
        if not data_dir.is_dir():
            raise PipelineError(f"--data-dir {data_dir} is a file, not a folder: pass the "
                                "folder that holds the input files.")
        next(os.scandir(data_dir), None)
    except PermissionError as exc:
        raise PipelineError(f"cannot read the data folder {data_dir}: permission denied (the "
                            "user running billups needs read and execute access).") from exc


def _required_missing(spec: SourceSpec, path: Path, columns: list[str]) -> None:
    names = {column.lower() for column in columns}
    for rule in spec.columns:
        if rule.required and rule.name not in names:
            raise PipelineError(f"{path}: required column '{rule.name}' is missing "
                                f"(found: {', '.join(columns)}).")


def _check_parquet(spec: SourceSpec, path: Path) -> tuple[list[str], list[InputFile]]:
    import pyarrow.parquet as pq

    if path.is_dir():
        parts = sorted(part for part in path.rglob("*.parquet")
                       if not part.name.startswith((".", "_")))
        if not parts:
            raise PipelineError(f"input folder {path} ({spec.name}) holds no parquet part files; "
                                "expected the card transactions as *.parquet files.")
    else:
        parts = [path]
    files: list[InputFile] = []
    columns: list[str] = []
    for part in parts:
        try:
            with open(part, "rb") as handle:
                parquet = pq.ParquetFile(handle)
                schema = parquet.schema_arrow
                rows = parquet.metadata.num_rows
        except PermissionError as exc:
            raise PipelineError(f"cannot read {part}: permission denied.") from exc
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise PipelineError(f"{part}: not a readable parquet file ({reason}); expected the "
                                "card transactions in parquet (a truncated or partial copy?).") \
                from exc
        columns = schema.names
        _required_missing(spec, part, columns)
        types = {name.lower(): schema.field(name).type for name in columns}
        for rule in spec.columns:
            if rule.name in types and family(types[rule.name]) not in rule.types:
                raise PipelineError(
                    f"{part}: column '{rule.name}' has type {types[rule.name]}, expected "
                    f"{' or '.join(rule.types)}.")
        stat = part.stat()
        files.append(InputFile(spec.name, part, rows, stat.st_size, stat.st_mtime))
    if sum(file.rows for file in files) == 0:
        raise PipelineError(f"{path}: holds no rows; expected the card transactions "
                            f"({', '.join(spec.required)}, ...).")
    return columns, files


def _check_csv(spec: SourceSpec, path: Path) -> tuple[list[str], list[InputFile]]:
    if path.is_dir():
        raise PipelineError(f"{path} is a folder; expected {spec.file_name} as one CSV file.")
    try:
        with open(path, "rb") as raw:
            # Bytes that are not UTF-8 are read as U+FFFD, as Spark reads them;
            # the quality metric merchant_text_not_utf8 counts such rows.
            text = io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")
            reader = csv.reader(text)
            header = next(reader, None)
            rows = sum(1 for row in reader if row)
    except PermissionError as exc:
        raise PipelineError(f"cannot read {path}: permission denied.") from exc
    except csv.Error as exc:
        raise PipelineError(f"{path}: not a readable CSV file ({exc}); expected a header line "
                            "and one merchant per line.") from exc
    if not header or not any(cell.strip() for cell in header):
        raise PipelineError(f"{path}: is empty; expected a header line ("
                            f"{', '.join(spec.required)}, ...) and one merchant per line.")
    columns = [cell.strip() for cell in header]
    seen: dict[str, int] = {}
    for position, column in enumerate(columns, start=1):
        if column.lower() in seen:
            raise PipelineError(
                f"{path}: column '{column}' appears twice in the header (columns "
                f"{seen[column.lower()]} and {position}); expected each column once.")
        seen[column.lower()] = position
    _required_missing(spec, path, columns)
    if rows == 0:
        raise PipelineError(f"{path}: holds a header and no rows; expected one merchant per "
                            "line.")
    stat = path.stat()
    return columns, [InputFile(spec.name, path, rows, stat.st_size, stat.st_mtime)]


def prepare_output_dir(output_dir: Path) -> None:
    """Create --output-dir (and its parents), or say in one line why not."""
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as exc:
        blocker = next((parent for parent in [output_dir, *output_dir.parents]
                        if parent.exists() and not parent.is_dir()), output_dir)
        raise PipelineError(f"--output-dir {output_dir}: {blocker} is a file, not a folder; "
                            "pass a folder path.") from exc
    except PermissionError as exc:
        raise PipelineError(f"--output-dir {output_dir}: cannot create it (permission "
                            "denied).") from exc
    if not os.access(output_dir, os.W_OK | os.X_OK):
        raise PipelineError(f"--output-dir {output_dir}: not writable by this user.")
