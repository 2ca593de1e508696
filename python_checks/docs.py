"""The project's conventions, checked by dbt-bouncer (dbt-bouncer.yml) on dbt's
artifacts, and the docs site's server.

`conventions` runs dbt-bouncer's manifest checks (naming by layer, a
properties file per folder, layers reading downwards, every model, column,
source, seed and macro argument described, public marts with contracts, a
grain test and an exposure) and, with `catalog=True`, its catalog checks
(columns of the real tables the YAML does not list). `not_in_catalog` adds
what dbt-bouncer does not check: a model or seed the catalog lacks (not
built), whose real columns therefore could not be compared.
"""

from __future__ import annotations

import contextlib
import functools
import json
import subprocess
import sys
import tempfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from python_checks.project import PROJECT_DIR

BOUNCER_CONFIG = PROJECT_DIR / "dbt-bouncer.yml"


def conventions(target_dir: Path, catalog: bool = False) -> list[str]:
    """dbt-bouncer's checks on the manifest.json (and catalog.json) in
    `target_dir`: one line per failure, empty when every check passes."""
    target = Path(target_dir)
    for artifact in ["manifest.json"] + (["catalog.json"] if catalog else []):
        if not (target / artifact).exists():
            raise FileNotFoundError(f"{target / artifact} not found: run `dbt parse` "
                                    "(or `dbt docs generate` for the catalog)")
    config = yaml.safe_load(BOUNCER_CONFIG.read_text(encoding="utf-8"))
    config["dbt_artifacts_dir"] = str(target)
    only = "manifest_checks,catalog_checks" if catalog else "manifest_checks"
    with tempfile.TemporaryDirectory() as scratch:
        config_path, results = Path(scratch) / "dbt-bouncer.yml", Path(scratch) / "failures.json"
        config_path.write_text(yaml.safe_dump(config), encoding="utf-8")
        run = subprocess.run(
            [str(Path(sys.executable).parent / "dbt-bouncer"), "run", "--config-file",
             str(config_path), "--only", only, "--output-file", str(results),
             "--output-only-failures"],
            cwd=PROJECT_DIR, capture_output=True, text=True, check=False)
        if not results.exists():
            raise RuntimeError("dbt-bouncer did not run: "
                               + (run.stderr or run.stdout).strip().splitlines()[-1])
        failures = json.loads(results.read_text())
    return sorted(f"{item['check_run_id'].split(':')[0]}: {item['failure_message']}"
                  for item in failures)


def not_in_catalog(target_dir: Path) -> list[str]:
    """Models and seeds of the project that catalog.json lacks (not built)."""
    target = Path(target_dir)
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    project = manifest["metadata"].get("project_name")
    return sorted(
        f"{unique_id}: not in catalog.json (build it before `docs generate`)"
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] in {"model", "seed"} and node.get("package_name") == project
        and node.get("config", {}).get("materialized") != "ephemeral"
        and unique_id not in catalog.get("nodes", {}))


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
