# The two set-up commands of the README, plus a few helpers. Everything runs from a virtualenv
# in .venv that these targets create and keep in step with pyproject.toml.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin

.PHONY: demo test lint bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

## demo: SQLite + console gateway + demo data; texts print here, Ctrl-C stops
demo: $(BIN)/.installed
	$(BIN)/followup db upgrade
	$(BIN)/followup demo
	$(BIN)/followup run

## test: lint, then the whole suite (SQLite always, PostgreSQL when reachable)
test: $(BIN)/.installed
	$(BIN)/ruff check followup tests bench migrations
	$(BIN)/followup templates check
	$(BIN)/pytest

lint: $(BIN)/.installed
	$(BIN)/ruff check followup tests bench migrations

## bench: the benchmarks in bench/ (figures printed and written to bench/results/)
bench: $(BIN)/.installed
	$(BIN)/python bench/plan.py
	$(BIN)/python bench/dispatch.py
	$(BIN)/python bench/webhook.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis *.egg-info
