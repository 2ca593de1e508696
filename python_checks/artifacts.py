"""dbt's artifacts, read in one place through dbt-artifacts-parser's typed models.

The YAML is the one statement of what the project publishes: the exposures
(models/_exposures.yml) list the public models each consumer reads, in order,
and each model's properties give its columns, export order and grain. The
export, the reports and the bench read them here, never from Python lists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from dbt_artifacts_parser.parser import parse_manifest, parse_run_results

PROJECT_NAME = "billups_analytics"
#: The exposures that say what is published: the marts, and the quality tables.
MART_EXPOSURE = "mart_exports"
QUALITY_EXPOSURE = "quality_report"
#: Tests that state a model's grain (a unique key).
GRAIN_TESTS = ("unique_combination_of_columns", "unique")


@dataclass(frozen=True)
class PublishedModel:
    """A public model as its YAML describes it."""

    name: str
    unique_id: str
    columns: tuple[str, ...]
    data_types: dict[str, str | None]
    export_order: str | None
    grain: tuple[str, ...]
    description: str

    @property
    def export_name(self) -> str:
        """The CSV's file stem: the model name, without the quality prefix."""
        return self.name.removeprefix("qa_")


@dataclass(frozen=True)
class Outcome:
    """One node's result in a dbt invocation."""

    unique_id: str
    status: str
    message: str | None
    failures: int | None
    execution_time: float
    compiled_code: str | None

    @property
    def kind(self) -> str:
        return self.unique_id.split(".", 1)[0]

    @property
    def name(self) -> str:
        return self.unique_id.split(".")[-1] if self.kind != "test" else \
            self.unique_id.split(".")[2]


def load_manifest(path: Path) -> Any:
    """The typed manifest (dbt-artifacts-parser's ManifestV12)."""
    return _parsed_manifest(str(Path(path).resolve()), Path(path).stat().st_mtime_ns)


@lru_cache(maxsize=4)
def _parsed_manifest(path: str, _mtime: int) -> Any:
    return parse_manifest(json.loads(Path(path).read_text(encoding="utf-8")))


def outcomes(path: Path) -> list[Outcome]:
    """Every node's result in a run_results.json."""
    if not Path(path).exists():
        return []
    parsed = parse_run_results(json.loads(Path(path).read_text(encoding="utf-8")))
    return [Outcome(str(result.unique_id), _value(result.status), result.message,
                    result.failures, float(result.execution_time or 0.0),
                    getattr(result, "compiled_code", None))
            for result in parsed.results]


def invocation_id(path: Path) -> str | None:
    """The dbt invocation a run_results.json comes from."""
    if not Path(path).exists():
        return None
    parsed = parse_run_results(json.loads(Path(path).read_text(encoding="utf-8")))
    return parsed.metadata.invocation_id


def _value(status: Any) -> str:
    return str(getattr(status, "value", status)).lower()


def exposure_models(manifest: Any, exposure: str) -> list[PublishedModel]:
    """The models an exposure reads, in the order its YAML lists them."""
    found = manifest.exposures.get(f"exposure.{PROJECT_NAME}.{exposure}")
    if found is None:
        raise KeyError(f"no exposure {exposure} in the manifest")
    return [published(manifest, unique_id) for unique_id in found.depends_on.nodes]


def published(manifest: Any, unique_id: str) -> PublishedModel:
    node = manifest.nodes[unique_id]
    meta = dict(node.config.meta or {}) if node.config else {}
    return PublishedModel(
        name=node.name,
        unique_id=unique_id,
        columns=tuple(node.columns),
        data_types={name: column.data_type for name, column in node.columns.items()},
        export_order=meta.get("export_order"),
        grain=grain(manifest, unique_id),
        description=node.description or "",
    )


def grain(manifest: Any, unique_id: str) -> tuple[str, ...]:
    """A model's grain: the columns of its first uniqueness test, a
    unique_combination_of_columns before a column's unique (by test id)."""
    tests = sorted((GRAIN_TESTS.index(test.test_metadata.name), test_id, test)
                   for test_id, test in manifest.nodes.items()
                   if test_id.startswith("test.") and getattr(test, "test_metadata", None)
                   and test.test_metadata.name in GRAIN_TESTS
                   and getattr(test, "attached_node", None) == unique_id)
    for _, _, test in tests:
        kwargs = test.test_metadata.kwargs or {}
        columns = kwargs.get("combination_of_columns") or [kwargs.get("column_name")]
        return tuple(str(column) for column in columns if column)
    return ()


def marts(manifest: Any) -> list[PublishedModel]:
    return exposure_models(manifest, MART_EXPOSURE)


def quality_tables(manifest: Any) -> list[PublishedModel]:
    return exposure_models(manifest, QUALITY_EXPOSURE)


def tested_models(manifest: Any, test_id: str) -> list[str]:
    """The models a test or unit test checks: its attached node, else its
    model parents."""
    node = test_node(manifest, test_id)
    if node is None:
        return []
    if test_id.startswith("unit_test."):
        return [str(node.model)]
    attached = getattr(node, "attached_node", None)
    parents = [attached] if attached else list(node.depends_on.nodes or [])
    return [parent.split(".")[-1] for parent in parents if str(parent).startswith("model.")]


def test_node(manifest: Any, test_id: str) -> Any:
    return manifest.nodes.get(test_id) or manifest.unit_tests.get(test_id)
