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

.PHONY: help setup run test lint pytest generate clean java-check docs

help:
	@echo "make run   [DATA_DIR=data/raw OUTPUT_DIR=output TARGET=local]  build, test, export"
	@echo "make test                                                    lint + all tests"
	@echo "make docs  [DATA_DIR=data/raw DOCS_PORT=8080]                 docs site on 127.0.0.1 (after make run)"
	@echo "make lint | pytest | generate | clean"

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

setup: $(STAMP) java-check

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
	$(BIN)/ruff check python_checks tests/python
	$(BIN)/sqlfluff lint models tests analyses

pytest: setup
	$(BIN)/python -m pytest tests/python

test: lint pytest

clean:
	rm -rf target logs .spark output .pytest_cache .ruff_cache
