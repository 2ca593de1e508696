"""The exported marts as the report reads them, and each mart's dbt status.

Which marts there are and which columns each must have come from the manifest
(the exposure mart_exports and the marts' YAML), never from a list here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from python_checks.artifacts import marts as manifest_marts
from python_checks.artifacts import outcomes, test_node, tested_models

# Text columns: read as strings so '0900' and ids keep their exact spelling.
TEXT_COLUMNS = ("merchant_id", "merchant_name", "category", "month_label", "hour_label",
                "scenario", "plan_type", "strength", "month")


def contract_columns(manifest: Any) -> dict[str, tuple[str, ...]]:
    """Each mart's columns, in the order of the export contract (its YAML)."""
    return {mart.name: mart.columns for mart in manifest_marts(manifest)}


@dataclass
class Mart:
    """One exported mart, or why it cannot be used."""

    name: str
    frame: pd.DataFrame | None
    problem: str | None = None

    @property
    def rows(self) -> int:
        return 0 if self.frame is None else len(self.frame)


def load_mart(marts_dir: Path, name: str, columns: Sequence[str] = ()) -> Mart:
    """Read one exported mart; say why it cannot be used (missing, unreadable,
    lacking a contract column, empty)."""
    path = marts_dir / f"{name}.csv"
    if not path.exists():
        return Mart(name, None, f"was not found ({path.name} is not in {marts_dir}): it was "
                                "not built or not exported in this run")
    try:
        header = pd.read_csv(path, nrows=0).columns
        frame = pd.read_csv(path, dtype={c: "string" for c in TEXT_COLUMNS if c in header})
    except (pd.errors.EmptyDataError, pd.errors.ParserError) as exc:
        return Mart(name, None, f"could not be read ({exc})")
    lacking = [c for c in columns if c not in frame.columns]
    if lacking:
        return Mart(name, None, f"lacks the contract column(s) {', '.join(lacking)}")
    if frame.empty:
        return Mart(name, None, "is empty (0 rows)")
    return Mart(name, frame)


@dataclass
class MartStatus:
    """The outcome of a mart's build and its tests in one dbt run."""

    mart: str
    known: bool = True          # False: no run_results.json to read
    build: str | None = None    # success / error / skipped; None: not in the results
    passed: int = 0
    warned: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def tests(self) -> int:
        return self.passed + self.warned + self.skipped + len(self.failed)

    @property
    def label(self) -> str:
        """'tests passed (12 of 12)', 'tests failed (1 of 12: ...)', ..."""
        if not self.known:
            return "test status unknown (no dbt run results)"
        if self.build == "error":
            return "build failed in this run"
        if self.build == "skipped":
            return "not built in this run (skipped after an upstream failure)"
        if self.failed:
            names = ", ".join(self.failed[:2]) + (", …" if len(self.failed) > 2 else "")
            return f"tests failed in this run ({len(self.failed)} of {self.tests}: {names})"
        if self.build is None and not self.tests:
            return "not rebuilt in this run (its inputs did not change)"
        if not self.tests:
            return "built in this run, no tests ran"
        extra = []
        if self.warned:
            extra.append(f"{self.warned} warned")
        if self.skipped:
            extra.append(f"{self.skipped} skipped")
        more = f", {', '.join(extra)}" if extra else ""
        return f"tests passed in this run ({self.passed} of {self.tests}{more})"


def mart_statuses(run_results: Path | None, manifest: Any | None,
                  marts: Sequence[str]) -> dict[str, MartStatus]:
    """Each mart's build status and test outcomes in a run (run_results.json),
    tests mapped to models through the manifest."""
    if run_results is None or not Path(run_results).exists() or manifest is None:
        return {mart: MartStatus(mart, known=False) for mart in marts}
    statuses = {mart: MartStatus(mart) for mart in marts}
    for record in outcomes(Path(run_results)):
        if record.kind == "model":
            if record.name in statuses:
                statuses[record.name].build = record.status
            continue
        if record.kind not in {"test", "unit_test"}:
            continue
        node = test_node(manifest, record.unique_id)
        name = getattr(node, "name", None) or record.name
        for model in tested_models(manifest, record.unique_id):
            if model not in statuses:
                continue
            target = statuses[model]
            if record.status in {"fail", "error", "runtime error"}:
                target.failed.append(name)
            elif record.status == "warn":
                target.warned += 1
            elif record.status == "skipped":
                target.skipped += 1
            else:
                target.passed += 1
    return statuses
