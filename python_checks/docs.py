"""Documentation checks on dbt's artifacts: is everything described?

`dbt docs generate` writes ``manifest.json`` (what the YAML says) and
``catalog.json`` (what the tables in Spark really hold). `missing_descriptions`
reads both and lists every model, seed, source, column and macro that has no
description, including columns that exist in the real table but are not in the
YAML at all. `billups docs` prints that list and fails when it is not empty.
"""

from __future__ import annotations

import contextlib
import functools
import json
import re
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Resource types whose node and columns must be described.
DOCUMENTED_NODE_TYPES = ("model", "seed")

_MACRO_SIGNATURE = re.compile(
    r"{%-?\s*(?:macro|test)\s+(?P<name>\w+)\s*\((?P<args>.*?)\)\s*-?%}", re.DOTALL
)


def _load(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run `dbt docs generate` (or `billups docs`)")
    return json.loads(path.read_text())


def _blank(text: str | None) -> bool:
    return not (text or "").strip()


def _column_gaps(unique_id: str, documented: dict[str, Any],
                 catalog_entry: dict[str, Any] | None) -> list[str]:
    """Undescribed YAML columns, and table columns the YAML does not list."""
    missing = [
        f"{unique_id}.{name}: column has no description"
        for name, column in documented.items()
        if _blank(column.get("description"))
    ]
    if catalog_entry is None:
        return missing
    known = {name.lower() for name in documented}
    missing += [
        f"{unique_id}.{name}: column is in the table but not documented in YAML"
        for name in catalog_entry.get("columns", {})
        if name.lower() not in known
    ]
    return missing


def _split_arguments(text: str) -> list[str]:
    """Argument names of a Jinja signature: `a, b=[1, 2], c=none` -> a, b, c."""
    names, depth, current = [], 0, ""
    for char in text + ",":
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            name = current.split("=", 1)[0].strip()
            if name:
                names.append(name)
            current = ""
        else:
            current += char
    return names


def _macro_gaps(unique_id: str, macro: dict[str, Any]) -> list[str]:
    if _blank(macro.get("description")):
        return [f"{unique_id}: macro has no description (macros/_macros.yml)"]
    documented = {arg["name"]: arg for arg in macro.get("arguments") or []}
    missing = [
        f"{unique_id}({name}): argument has no description"
        for name, arg in documented.items()
        if _blank(arg.get("description"))
    ]
    signature = _MACRO_SIGNATURE.search(macro.get("macro_sql") or "")
    if signature:
        missing += [
            f"{unique_id}({name}): argument is not documented"
            for name in _split_arguments(signature.group("args"))
            if name not in documented
        ]
    return missing


def missing_descriptions(target_dir: Path | str) -> list[str]:
    """Everything of this project that `dbt docs` would show undescribed.

    Reads ``manifest.json`` and ``catalog.json`` in `target_dir` (as written by
    `dbt docs generate`). Returns one line per gap, sorted; empty when every
    model, seed and source (and each of their columns, including columns found
    only in the real table) and every macro and macro argument of the project
    has a non-empty description. A model or seed absent from the catalog
    (not built) is reported too, since its real columns cannot be checked.
    """
    target = Path(target_dir)
    manifest = _load(target / "manifest.json")
    catalog = _load(target / "catalog.json")
    project = manifest["metadata"].get("project_name")
    catalog_nodes = {**catalog.get("nodes", {}), **catalog.get("sources", {})}

    missing: list[str] = []
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] not in DOCUMENTED_NODE_TYPES:
            continue
        if project and node.get("package_name") != project:
            continue
        if _blank(node.get("description")):
            missing.append(f"{unique_id}: {node['resource_type']} has no description")
        catalog_entry = catalog_nodes.get(unique_id)
        if catalog_entry is None and node.get("config", {}).get("materialized") != "ephemeral":
            missing.append(f"{unique_id}: not in catalog.json (build it before `docs generate`)")
        missing += _column_gaps(unique_id, node.get("columns", {}), catalog_entry)

    described_sources: set[str] = set()
    for unique_id, source in manifest["sources"].items():
        if project and source.get("package_name") != project:
            continue
        if _blank(source.get("source_description")) and source["source_name"] not in \
                described_sources:
            missing.append(f"source {source['source_name']}: source has no description")
        described_sources.add(source["source_name"])
        if _blank(source.get("description")):
            missing.append(f"{unique_id}: source table has no description")
        catalog_entry = catalog_nodes.get(unique_id)
        if catalog_entry is None:
            missing.append(f"{unique_id}: not in catalog.json (the raw table is not registered)")
        missing += _column_gaps(unique_id, source.get("columns", {}), catalog_entry)

    for unique_id, macro in manifest.get("macros", {}).items():
        if project and macro.get("package_name") != project:
            continue
        missing += _macro_gaps(unique_id, macro)

    return sorted(missing)


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No line per request: the terminal keeps the check's output."""


def serve(target_dir: Path | str, port: int = 8080, host: str = "127.0.0.1") -> None:
    """Serve the generated site (the dbt target folder) until interrupted.

    The same as `dbt docs serve --host 127.0.0.1 --no-browser`, without starting
    dbt again and without changing the working directory; Ctrl+C returns.
    """
    target = Path(target_dir)
    if not (target / "index.html").exists():
        raise FileNotFoundError(f"{target / 'index.html'} not found: run `dbt docs generate`")
    handler = functools.partial(_QuietHandler, directory=str(target))
    with ThreadingHTTPServer((host, port), handler) as server, \
            contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
