# The two commands of the README, and their parts. Each target sets up what it needs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit setup clean

## demo: set up, then run `carbonshift demo` on embedded defaults
demo: $(STAMP)
	$(BIN)/carbonshift demo

## test: set up, then lint, type-check and run the whole test suite
test: $(STAMP) lint typecheck unit

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check scheduler forecasts plugins tests benchmarks scripts
	$(BIN)/ruff format --check scheduler forecasts plugins tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
