"""The dbt docs site: everything described, and the site renders in a browser.

Once per module, on a small generated set and in an isolated Spark/target
folder: build the models (`dbt build` without the tests, which other modules
run), then `python -m python_checks.cli docs` (dbt docs generate + the
description check). The browser tests then serve that target folder with
`dbt docs serve` and drive headless Chromium through Selenium: the site root,
a mart's page and the full-screen lineage graph must render with no console
error. Screenshots land in test-artifacts/docs/.

Chromium and its driver come from Debian (`chromium`, `chromium-driver`); the
tests install them with apt-get when /usr/bin/chromium is missing.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import SharedBuild, isolated_env, parsed_manifest

from python_checks.docs import conventions, not_in_catalog

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "docs"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
APT_PACKAGES = ["chromium", "chromium-driver", "fonts-liberation"]
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--no-first-run", "--window-size=1400,900",
]
PROJECT = "billups_analytics"
MART = "top_merchants_by_month_city"
STEP_TIMEOUT_SECONDS = 900
PAGE_TIMEOUT_SECONDS = 60
# Console errors that come from dbt's own docs bundle, not from this project:
# the browser asks for the favicon, and for a few <img src="{{ ... }}"> before
# Angular has filled in the template (URL-encoded as %7B%7B).
IGNORED_CONSOLE_ERRORS = ("favicon", "%7B%7B")


@dataclass(frozen=True)
class DocsRun:
    root: Path
    env: dict[str, str]
    target: Path
    result: subprocess.CompletedProcess[str]


def _tail(text: str, chars: int = 4_000) -> str:
    return text[-chars:]


def _dbt(args: list[str], env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "dbt.cli.main", *args,
            "--project-dir", str(REPO), "--profiles-dir", env["DBT_PROFILES_DIR"]]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def docs_run(shared_build: SharedBuild) -> DocsRun:
    """`billups docs` on the session's shared build (docs generate reads the
    catalog from the built tables)."""
    root = shared_build.root
    env = {
        **isolated_env(root),
        "BILLUPS_DATA_DIR": str(shared_build.data_dir),
        "DBT_PROFILES_DIR": str(REPO / "profiles"),
        "BILLUPS_LOG4J_CONFIG": str(REPO / "profiles" / "log4j2.properties"),
        "SPARK_LOCAL_IP": "127.0.0.1",
        # Otherwise the generated site loads dbt's usage tracker from the internet.
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "python_checks.cli", "docs"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=STEP_TIMEOUT_SECONDS,
    )
    return DocsRun(root=root, env=env, target=root / "target", result=result)


def ensure_chromium() -> None:
    """Install Debian's chromium + chromium-driver when missing; fail (not skip)
    with a clear message when that is not possible."""
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return
    what = f"the docs browser tests need {CHROMIUM} and {CHROMEDRIVER}"
    if shutil.which("apt-get") is None:
        pytest.fail(f"{what}; apt-get is not available here: install Chromium and a matching "
                    "chromedriver at those paths by hand", pytrace=False)
    if os.geteuid() != 0:
        pytest.fail(f"{what}: run as root, or `sudo apt-get install {' '.join(APT_PACKAGES)}`",
                    pytrace=False)
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "--no-install-recommends",
                     *APT_PACKAGES]):
        done = subprocess.run(command, env=apt_env, capture_output=True, text=True,
                              timeout=STEP_TIMEOUT_SECONDS)
        if done.returncode != 0:
            pytest.fail(f"{what}; `{' '.join(command)}` failed:\n"
                        f"{_tail(done.stdout + done.stderr, 2_000)}", pytrace=False)
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        pytest.fail(f"{what}; apt-get installed {APT_PACKAGES} but they are still missing",
                    pytrace=False)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def docs_url(docs_run: DocsRun) -> Iterator[str]:
    if not (docs_run.target / "index.html").exists():
        pytest.fail("billups docs wrote no index.html:\n"
                    + _tail(docs_run.result.stdout + docs_run.result.stderr), pytrace=False)
    port = free_port()
    log = open(docs_run.root / "serve.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        _dbt(["docs", "serve", "--port", str(port), "--host", "127.0.0.1", "--no-browser"],
             docs_run.env),
        cwd=docs_run.target.parent, env=docs_run.env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + PAGE_TIMEOUT_SECONDS
        while True:
            if server.poll() is not None:
                pytest.fail("dbt docs serve exited: "
                            + (docs_run.root / "serve.log").read_text()[-2_000:], pytrace=False)
            try:
                with urllib.request.urlopen(url + "catalog.json", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"dbt docs serve did not answer on {url}", pytrace=False)
            time.sleep(0.5)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(pytestconfig: pytest.Config) -> Iterator[Any]:
    ensure_chromium()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is not installed: pip install -e '.[dev]'", pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="billups-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    driver.set_page_load_timeout(PAGE_TIMEOUT_SECONDS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
        # Say where the screenshots are, past pytest's output capture.
        reporter = pytestconfig.pluginmanager.getplugin("terminalreporter")
        capture = pytestconfig.pluginmanager.getplugin("capturemanager")
        shots = ", ".join(sorted(path.name for path in ARTIFACTS.glob("*.png")))
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.ensure_newline()
                reporter.write_line(f"docs screenshots in {ARTIFACTS}: {shots}")


# --------------------------------------------------------------------------- helpers


def open_page(driver: Any, url: str) -> None:
    """A full page load (the site routes on the #! fragment, and changing only
    the fragment would not reload it), then the console starts empty."""
    driver.get("about:blank")
    driver.get_log("browser")
    driver.get(url)


def wait_for(driver: Any, condition: Any, what: str) -> Any:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    try:
        return WebDriverWait(driver, PAGE_TIMEOUT_SECONDS, poll_frequency=0.25).until(condition)
    except TimeoutException:
        shot = ARTIFACTS / "timeout.png"
        driver.save_screenshot(str(shot))
        pytest.fail(f"timed out waiting for {what} (screenshot {shot})", pytrace=False)


def body_text(driver: Any) -> str:
    return driver.execute_script("return document.body ? document.body.innerText : ''")


def console_errors(driver: Any) -> list[str]:
    return [
        entry["message"] for entry in driver.get_log("browser")
        if entry["level"] == "SEVERE"
        and not any(ignored in entry["message"] for ignored in IGNORED_CONSOLE_ERRORS)
    ]


def screenshot(driver: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    assert driver.save_screenshot(str(path)), f"could not save {path}"
    return path


# --------------------------------------------------------------------------- description check


@pytest.mark.spark
@pytest.mark.xdist_group("shared_build")
def test_docs_command_finds_everything_described(docs_run: DocsRun) -> None:
    output = docs_run.result.stdout + docs_run.result.stderr
    assert docs_run.result.returncode == 0, _tail(output)
    assert "every model, seed, source, column and macro is described" in output
    for artifact in ("index.html", "manifest.json", "catalog.json"):
        assert (docs_run.target / artifact).exists(), artifact
    assert conventions(docs_run.target, catalog=True) == []
    assert not_in_catalog(docs_run.target) == []
    manifest = json.loads((docs_run.target / "manifest.json").read_text())
    overview = manifest["docs"].get(f"doc.{PROJECT}.__overview__")
    assert overview is not None, "docs/overview.md does not define __overview__"
    for question in ("Q1", "Q2", "Q3", "Q4", "Q5"):
        assert question in overview["block_contents"]


def test_conventions_catch_each_kind_of_gap(tmp_path: Path) -> None:
    """dbt-bouncer.yml can fail: on a parsed manifest with one gap of each kind
    planted, each is reported."""
    parsed = parsed_manifest(tmp_path / "parsed")
    manifest = json.loads(parsed.read_text())
    assert conventions(parsed.parent) == []
    mart = manifest["nodes"][f"model.{PROJECT}.advice_hours"]
    mart["columns"]["hour_label"]["description"] = " "
    mart["contract"]["enforced"] = False
    staging = manifest["nodes"][f"model.{PROJECT}.stg_billups__merchants"]
    staging["name"] = "merchants_staged"
    manifest["macros"][f"macro.{PROJECT}.installment_plan_type"]["arguments"][0][
        "description"] = ""
    for test in manifest["nodes"].values():
        if test.get("attached_node") == f"model.{PROJECT}.top_hours_by_category" and \
                test.get("test_metadata", {}).get("name") == "unique_combination_of_columns":
            test["test_metadata"]["name"] = "not_a_grain_test"
    parsed.write_text(json.dumps(manifest))
    gaps = "\n".join(conventions(parsed.parent))
    assert "check_model_column_description_populated: " in gaps and "hour_label" in gaps
    assert "check_model_contract_enforced_for_public_model: `advice_hours`" in gaps
    assert "check_model_names: `stg_billups__merchants` does not match" in gaps
    assert "check_macro_arguments_description_populated: Macro `installment_plan_type`" in gaps
    assert "check_model_has_unique_test: `top_hours_by_category`" in gaps


def test_missing_artifacts_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="dbt parse"):
        conventions(tmp_path)


def test_docs_command_lists_gaps_and_exits_1(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI wiring, with dbt replaced: generate succeeds, two gaps -> exit 1."""
    from click.testing import CliRunner

    import python_checks.docs
    import python_checks.inputs
    import python_checks.project
    from python_checks.cli import main

    calls: list[list[str]] = []

    def fake_invoke(args: list[str], **_: Any) -> python_checks.project.DbtInvocation:
        calls.append(args)
        return python_checks.project.DbtInvocation(args=args, success=True)

    gaps = ["check_model_description_populated: `a` does not have a populated description.",
            "check_seed_description_populated: `c` does not have a populated description."]
    monkeypatch.setattr(python_checks.project, "invoke_dbt", fake_invoke)
    monkeypatch.setattr(python_checks.docs, "conventions", lambda _target, catalog: gaps)
    monkeypatch.setattr(python_checks.docs, "not_in_catalog", lambda _target: [])
    monkeypatch.setattr(python_checks.inputs, "check_inputs", lambda _data_dir: None)
    monkeypatch.setenv("BILLUPS_SPARK_DIR", str(tmp_path / "spark"))
    monkeypatch.setenv("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")  # the CLI sets it
    for name in ("historical_transactions.parquet", "merchants.csv"):
        (tmp_path / name).write_text("")
    result = CliRunner().invoke(main, ["docs", "--data-dir", str(tmp_path)])
    assert result.exit_code == 1, result.output
    assert calls == [["docs", "generate"]]
    assert "2 convention or documentation gap(s)" in result.output
    for gap in gaps:
        assert f"  - {gap}" in result.output


# --------------------------------------------------------------------------- the site in a browser


@pytest.mark.spark
@pytest.mark.xdist_group("shared_build")
def test_site_root_renders(browser: Any, docs_url: str) -> None:
    open_page(browser, docs_url)
    wait_for(browser, lambda driver: "The five questions" in body_text(driver),
             "the project overview (docs/overview.md)")
    text = body_text(browser)
    for expected in ("Billups merchant analytics", MART, "advice_installments", "Lineage graph"):
        assert expected in text
    # The project tree lists the folders.
    for folder in ("models", "seeds", "macros", "analyses"):
        assert folder in text
    screenshot(browser, "site")
    assert console_errors(browser) == []


@pytest.mark.spark
@pytest.mark.xdist_group("shared_build")
def test_mart_page_renders(browser: Any, docs_url: str) -> None:
    from selenium.webdriver.common.by import By

    open_page(browser, f"{docs_url}#!/model/model.{PROJECT}.{MART}")
    wait_for(browser, lambda driver: any(
        MART in heading.text for heading in driver.find_elements(By.TAG_NAME, "h1")),
        f"the {MART} page heading")
    wait_for(browser, lambda driver: "purchase_total" in body_text(driver),
             "the column list")
    text = body_text(browser)
    assert "Q1. Top 5 merchants" in text  # the model's YAML description
    for column in ("month_label", "merchant_name", "no_of_sales"):
        assert column in text
    screenshot(browser, "model")
    assert console_errors(browser) == []


@pytest.mark.spark
@pytest.mark.xdist_group("shared_build")
def test_lineage_graph_renders(browser: Any, docs_url: str) -> None:
    open_page(browser, f"{docs_url}#!/overview?g_v=1")
    # The graph service of dbt's docs app holds the elements drawn by Cytoscape.
    graph_state = """
        var app = document.querySelector('[ng-app]') || document.body;
        if (!window.angular || !angular.element(app).injector()) { return null; }
        var graph = angular.element(app).injector().get('graph');
        var nodes = graph.graph.elements.filter(function (e) { return e.group === 'nodes'; });
        return {expanded: graph.expanded,
                names: nodes.map(function (e) { return e.data.name; })};
    """

    def expanded_graph(driver: Any) -> dict[str, Any] | bool:
        state = driver.execute_script(graph_state)
        return state if state and state["expanded"] and state["names"] else False

    state = wait_for(browser, expanded_graph, "the full-screen lineage graph")
    names = set(state["names"])
    for expected in ("historical_transactions", "stg_billups__transactions",
                     "int_transactions_validated", "qa_rejected_rows", MART):
        assert expected in names, f"{expected} missing from the lineage graph"
    # Cytoscape draws the nodes on a canvas: it must hold painted pixels.
    painted = """
        var canvas = document.querySelector('canvas[data-id="layer2-node"]');
        if (!canvas || !canvas.width) { return 0; }
        var pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        var painted = 0;
        for (var i = 3; i < pixels.length; i += 4) { if (pixels[i] > 0) { painted++; } }
        return painted;
    """
    wait_for(browser, lambda driver: driver.execute_script(painted) > 1_000,
             "the graph's nodes to be drawn")
    assert "Lineage Graph" in body_text(browser)
    screenshot(browser, "lineage")
    assert console_errors(browser) == []
