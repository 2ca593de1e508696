# billups-analytics: `make run` and `make test` are the two entry points; both
# create .venv and (re)install into it when it is missing or pyproject.toml
# changed.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= data/raw
OUTPUT_DIR ?= output
TARGET ?= local

export SPARK_LOCAL_IP ?= 127.0.0.1

.PHONY: help setup run test test-fast changed lint conventions pytest generate clean java-check docs bench cluster-up cluster-down cluster-status

help:
	@echo "make run   [DATA_DIR=data/raw OUTPUT_DIR=output TARGET=local]  build, test, export"
	@echo "make test                                                    lint + all tests"
	@echo "make test-fast                                               lint + the tests without Spark"
	@echo "make changed [DATA_DIR=data/raw]                             build + test only what your edits touched"
	@echo "make docs  [DATA_DIR=data/raw DOCS_PORT=8080]                 docs site on 127.0.0.1 (after make run)"
	@echo "make bench [BENCH_ARGS='--scales 1,4']                        benchmark table -> bench/results/"
	@echo "make cluster-up | cluster-down | cluster-status              local Spark cluster + Thrift Server"
	@echo "make lint | conventions | pytest | generate | clean"

java-check:
	@command -v java >/dev/null 2>&1 || { \
		echo "error: Java (17) is required by Spark but 'java' is not on PATH." \
		     "Install it, e.g. apt-get install openjdk-17-jre-headless." >&2; exit 1; }

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
		echo "error: $(PYTHON) not found; set PYTHON=/path/to/python3.11" >&2; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# The JVM class archive (python_checks/class_archive.py): Spark starts about
# 4.5 s sooner in every dbt command. Rewritten with each (re)install.
ARCHIVE := $(VENV)/spark-classes.jsa
$(ARCHIVE): $(STAMP)
	$(BIN)/billups class-archive

setup: $(STAMP) java-check $(ARCHIVE)

# Generates the full-scale synthetic set into DATA_DIR first when it is empty.
run: setup
	$(BIN)/billups run --data-dir $(DATA_DIR) --output-dir $(OUTPUT_DIR) --target $(TARGET) \
		--generate-if-missing

generate: setup
	$(BIN)/billups generate --out $(DATA_DIR)

# The dbt docs site: generate (reads the built tables, so `make run` first), check
# every model/seed/source/column/macro is described, serve on 127.0.0.1:DOCS_PORT.
DOCS_PORT ?= 8080
docs: setup
	$(BIN)/billups docs --data-dir $(DATA_DIR) --target $(TARGET) --serve --port $(DOCS_PORT)

lint: setup
	$(BIN)/ruff check python_checks tests/python bench
	$(BIN)/sqlfluff lint models tests analyses
	$(BIN)/billups conventions

# dbt-bouncer's checks of dbt-bouncer.yml on a parsed manifest (no Spark).
conventions: setup
	$(BIN)/billups conventions

# One process: on 2 cores two pytest-xdist workers were slower (CI pytest
# 27.6 min against 25.9 min in one), each Spark build wanting both cores. With more
# cores: PYTEST_ARGS="-n 4 --dist loadgroup" (the modules that share a build,
# or their own fixtures, keep to one worker each: xdist groups).
PYTEST_ARGS ?=
pytest: setup
	$(BIN)/python -m pytest tests/python $(PYTEST_ARGS)

test: lint pytest

# The inner loop: lint and every test that needs no Spark (about a minute).
test-fast: lint
	$(BIN)/python -m pytest tests/python -m "not spark"

# Slim build: only what your edits touched since the last `make run` (dbt build
# --select state:modified+ against that run's artifacts), unit tests included.
changed: setup
	$(BIN)/billups changed --data-dir $(DATA_DIR) --target $(TARGET)

# A local Spark standalone cluster and the Spark Thrift Server (port
# BILLUPS_THRIFT_PORT, default 10000) for `make run TARGET=cluster`.
cluster-up: setup java-check
	$(BIN)/billups cluster up

cluster-down: setup
	$(BIN)/billups cluster down

cluster-status: setup
	$(BIN)/billups cluster status

# Not part of `make test`: generates the 1x (7.3M rows) and 4x sets under
# bench/work/ and runs every step at both scales: hours on 2 cores.
BENCH_ARGS ?= --scales 1,4
bench: setup
	$(BIN)/python -m python_checks.bench $(BENCH_ARGS)

clean:
	rm -rf target logs .spark output .pytest_cache .ruff_cache
